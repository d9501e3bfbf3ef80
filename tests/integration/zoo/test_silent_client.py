"""Silent client: it connects, or gets as far as EHLO, a transaction or
DATA, and then says nothing at all, holding a session slot.

The daemon must answer "421 4.4.2 ... timeout exceeded" once
timeouts.command (timeouts.data inside DATA) has passed, not sooner and
not much later, close the connection, log the timeout on the session's
"reject" line at info level (a silent client is no trouble of the
daemon's: no warning), keep nothing of an unfinished message, and serve
the next client.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from smtptrap_harness import DaemonTest, main  # noqa: E402
from zoo import NOISE, local_port, wait_session_end  # noqa: E402

TIMEOUT = 0.5


class Silent(DaemonTest):
    CONFIG = "timeouts = { command = %g; data = %g; };\n" % (TIMEOUT, TIMEOUT)

    def assert_timed_out(self, c):
        """Say nothing; the daemon must give up on us on time."""
        start = time.monotonic()
        r = c.reply()
        elapsed = time.monotonic() - start
        self.assertEqual((r.code, r.text.split()[0]), (421, "4.4.2"), r)
        self.assertIn("timeout exceeded", r.text)
        # The daemon's clock started when it flushed its last reply,
        # a little before we read it.
        self.assertGreater(elapsed, TIMEOUT - 0.1)
        self.assertLess(elapsed, TIMEOUT + 2.5)
        self.assertTrue(c.closed())
        lines = wait_session_end(self.d, local_port(c))
        self.assertTrue([l for l in lines if " reject code=421 status=4.4.2 " in l
                         and "timeout exceeded" in l], lines)
        self.assertEqual([l for l in self.d.lines if NOISE.search(l)], [])

    def assert_next_client_served(self):
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("Subject: next\r\n\r\nserved\r\n.\r\n")
        c.expect(250)
        self.assertEqual(c.cmd("QUIT").code, 221)
        self.assertEqual(len(self.d.messages()), 1)

    def test_silent_after_the_greeting(self):
        c = self.connect()
        self.assert_timed_out(c)
        self.assert_next_client_served()

    def test_silent_after_ehlo(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        self.assert_timed_out(c)
        self.assert_next_client_served()

    def test_silent_inside_a_transaction_keeps_nothing(self):
        c = self.connect()
        self.start_tx(c)
        self.assert_timed_out(c)
        self.assertEqual(self.d.messages(), [])
        self.assert_next_client_served()

    def test_silent_inside_data_keeps_nothing(self):
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("Subject: never finished\r\n\r\nhalf")
        self.assert_timed_out(c)
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])
        self.assert_next_client_served()


if __name__ == "__main__":
    main()
