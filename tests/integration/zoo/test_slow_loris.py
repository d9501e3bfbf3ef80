"""Slow loris: the client sends a command one octet at a time, each octet
well within timeouts.command of the one before, so that a timeout per
read never fires and the connection is held for as long as the client
likes.

The daemon must treat timeouts.command as a deadline for the whole
command line: once the line has taken longer than that, it answers
"421 4.4.2" and closes, and the next client is served. A client that
sends every line in time is never cut off, however long its session.

Inside DATA and BDAT chunks, limits.min_data_rate (default 500 octets
per second) bounds the dribble: the transfer may last timeouts.data plus
one second per min_data_rate octets received, then "421 4.4.2"; a
client faster than that is never cut off, however long its transfer.
With the rate off, timeouts.session is the bound.
"""

import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from smtptrap_harness import DaemonTest, main  # noqa: E402
from zoo import drip, local_port, wait_session_end  # noqa: E402

COMMAND_TIMEOUT = 1.0
# One octet every 0.2 s: far inside the command timeout between octets.
SLOW = 0.2
# A line that would take 4 s to finish at that pace.
LONG_LINE = b"NOOP " + b"x" * 15 + b"\r\n"


class CommandLineDeadline(DaemonTest):
    CONFIG = "timeouts = { command = %g; };\n" % COMMAND_TIMEOUT

    def drip_until_answer(self, c, line, interval):
        sent, got, elapsed = drip(c.sock, line, interval)
        c.buf += got
        return sent, elapsed

    def assert_cut_off(self, c, sent, elapsed, line):
        self.assertLess(sent, len(line),
                        "the whole %d-octet line went through in %.1f s: the command "
                        "timeout is per read, not a deadline for the line" % (len(line), elapsed))
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (421, "4.4.2"), r)
        self.assertIn("timeout exceeded", r.text)
        # Not before the deadline, and not long after it.
        self.assertGreaterEqual(elapsed, COMMAND_TIMEOUT - 0.05)
        self.assertLess(elapsed, COMMAND_TIMEOUT + 2.0)
        self.assertTrue(c.closed())
        lines = wait_session_end(self.d, local_port(c))
        self.assertTrue([l for l in lines if " reject code=421 status=4.4.2 " in l], lines)

    def assert_next_client_served(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("QUIT").code, 221)

    def test_first_command_dripped_is_cut_off_at_the_deadline(self):
        c = self.connect()
        sent, elapsed = self.drip_until_answer(c, LONG_LINE, SLOW)
        self.assert_cut_off(c, sent, elapsed, LONG_LINE)
        self.assert_next_client_served()

    def test_command_dripped_after_ehlo_is_cut_off_at_the_deadline(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        line = b"RCPT TO:<r@example.com>\r\n"
        sent, elapsed = self.drip_until_answer(c, line, SLOW)
        self.assert_cut_off(c, sent, elapsed, line)
        self.assertEqual(self.d.messages(), [])
        self.assert_next_client_served()

    def test_lines_each_in_time_are_never_cut_off(self):
        # Each line takes a quarter of the timeout; together, twice it.
        c = self.connect()
        start = time.monotonic()
        for _ in range(8):
            sent, _ = self.drip_until_answer(c, b"NOOP\r\n", COMMAND_TIMEOUT / 20)
            self.assertEqual(sent, 6)
            self.assertEqual(c.reply().code, 250)
        self.assertGreater(time.monotonic() - start, 2 * COMMAND_TIMEOUT)
        self.assertEqual(c.cmd("QUIT").code, 221)


class DataDrip(DaemonTest):
    # One octet every 0.2 s never trips the data timeout (inactivity);
    # without a minimum rate the session time limit ends it.
    SESSION_TIMEOUT = 2.0
    CONFIG = ("timeouts = { command = 1; data = 1; session = %g; };\n"
              "limits = { min_data_rate = 0; };\n" % SESSION_TIMEOUT)

    def test_dribbled_message_ends_at_the_session_limit(self):
        start = time.monotonic()
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        content = b"Subject: slow\r\n\r\n" + b"z" * 200 + b"\r\n.\r\n"
        sent, got, _ = drip(c.sock, content, SLOW)
        elapsed = time.monotonic() - start
        c.buf += got
        self.assertLess(sent, len(content), "the dribbled message was never cut off")
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (421, "4.4.2"), r)
        self.assertIn("session time limit exceeded", r.text)
        self.assertGreaterEqual(elapsed, self.SESSION_TIMEOUT - 0.05)
        self.assertLess(elapsed, self.SESSION_TIMEOUT + 2.0)
        self.assertTrue(c.closed())
        wait_session_end(self.d, local_port(c))
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])
        c2 = self.connect()
        self.assertEqual(self.ehlo(c2).code, 250)


class DataRate(DaemonTest):
    # The default minimum rate (500 octets/s) with a 1 s data timeout: a
    # dribble gets 1 s plus 2 ms per octet.
    DATA_TIMEOUT = 1.0
    CONFIG = "timeouts = { command = 30; data = %g; session = 60; };\n" % DATA_TIMEOUT

    def assert_cut(self, c, content, start):
        sent, got, _ = drip(c.sock, content, SLOW)
        elapsed = time.monotonic() - start
        c.buf += got
        self.assertLess(sent, len(content), "the dribbled content was never cut off")
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (421, "4.4.2"), r)
        self.assertIn("timeout exceeded", r.text)
        self.assertGreaterEqual(elapsed, self.DATA_TIMEOUT - 0.05)
        self.assertLess(elapsed, self.DATA_TIMEOUT + 2.0)
        self.assertTrue(c.closed())
        wait_session_end(self.d, local_port(c))
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])

    def test_dribbled_message_is_cut_at_the_rate_deadline(self):
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        self.assert_cut(c, b"Subject: slow\r\n\r\n" + b"z" * 200 + b"\r\n.\r\n", time.monotonic())

    def test_dribbled_bdat_chunk_is_cut_at_the_rate_deadline(self):
        c = self.connect()
        self.start_tx(c)
        c.send("BDAT 300 LAST\r\n")
        self.assert_cut(c, b"z" * 300, time.monotonic())


class DataFastEnough(DaemonTest):
    # 100 octets/s minimum, 0.5 s data timeout: a client sending 400
    # octets/s in small writes for 2 s earns more time than it takes, and
    # its message is stored.
    CONFIG = ("timeouts = { command = 30; data = 0.5; session = 60; };\n"
              "limits = { min_data_rate = 100; };\n")

    def test_transfer_longer_than_data_timeout_but_fast_enough(self):
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = time.monotonic()
        line = b"y" * 38 + b"\r\n"
        for _ in range(20):
            c.sock.sendall(line)
            # Pace the client: any early answer would be a cut-off.
            readable, _, _ = select.select([c.sock], [], [], 0.1)
            self.assertEqual(readable, [], "cut off while sending 400 octets/s")
        self.assertGreater(time.monotonic() - start, 1.5)
        c.send(".\r\n")
        c.expect(250)
        self.assertEqual(len(self.d.messages()), 1)


if __name__ == "__main__":
    main()
