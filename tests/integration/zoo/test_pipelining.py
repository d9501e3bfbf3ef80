"""Pipelining: the client writes a whole group of commands at once and
only then reads the replies (RFC 2920), or pipelines where PIPELINING is
not in force (before EHLO, after HELO, behind EHLO in one write).

Where PIPELINING is in force (after the EHLO reply) the daemon must
answer every command of the group, in order, one reply each, and run
the transaction as if sent one by one. Where it is not, with the default
smtp.pipelining_check = true, the first command with more data behind
it gets "554 5.5.0 Error: SMTP protocol synchronization" and the session
is closed, logged as check=pipelining; a HELO client that waits for each
reply is served as usual. With pipelining_check = false even EHLO..DATA
in one write is answered in order.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from smtptrap_harness import DaemonTest, envelope, main  # noqa: E402
from zoo import local_port, wait_session_end  # noqa: E402

SYNC = "5.5.0 Error: SMTP protocol synchronization"

# Six commands, EHLO to DATA.
EHLO_TO_DATA = ("EHLO pipe.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                "RCPT TO:<c@example.com>\r\nRCPT TO:<d@example.com>\r\nDATA\r\n")


class Default(DaemonTest):
    def assert_refused_as_unsynchronized(self, c):
        r = c.reply()
        self.assertEqual((r.code, r.text), (554, SYNC))
        self.assertTrue(c.closed())
        self.assertEqual(c.buf, b"", "a reply after the 554")
        lines = wait_session_end(self.d, local_port(c))
        self.assertTrue([l for l in lines if " reject code=554 status=5.5.0 " in l
                         and " check=pipelining " in l], lines)
        self.assertEqual(self.d.messages(), [])

    def test_six_commands_in_one_write_answered_in_order(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        # Replies that differ from each other show their order.
        c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<bad address>\r\n"
               "RCPT TO:<b@example.com>\r\nVRFY b\r\nRCPT TO:<c@example.com>\r\nDATA\r\n")
        got = [(r.code, r.text.split()[0]) for r in (c.reply() for _ in range(6))]
        self.assertEqual(got, [(250, "2.1.0"), (501, "5.1.3"), (250, "2.1.5"),
                               (252, "2.0.0"), (250, "2.1.5"), (354, "End")])
        c.send("Subject: pipelined\r\n\r\nhi\r\n.\r\nQUIT\r\n")
        c.expect(250, "queued as")
        c.expect(221)
        (_, data), = self.wait_messages(1)
        self.assertEqual(envelope(data), ("a@example.com", ["b@example.com", "c@example.com"]))

    def test_ehlo_with_commands_behind_it_is_refused(self):
        # RFC 2920 3.1: EHLO ends a group; the client must wait for it.
        c = self.connect()
        c.send(EHLO_TO_DATA)
        self.assert_refused_as_unsynchronized(c)

    def test_pipelining_before_ehlo_is_refused(self):
        c = self.connect()
        c.send("NOOP\r\nNOOP\r\n")
        self.assert_refused_as_unsynchronized(c)

    def test_pipelining_after_helo_is_refused(self):
        c = self.connect()
        self.assertEqual(c.cmd("HELO old.example").code, 250)
        c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
        self.assert_refused_as_unsynchronized(c)

    def test_helo_client_waiting_for_each_reply_is_served(self):
        c = self.connect()
        self.assertEqual(c.cmd("HELO old.example").code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<b@example.com>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        # Content after the 354 is not a pipelined command.
        c.send("Subject: lockstep\r\n\r\nhi\r\n.\r\n")
        c.expect(250, "queued as")
        self.assertEqual(c.cmd("QUIT").code, 221)
        self.wait_messages(1)


class Unchecked(DaemonTest):
    CONFIG = "smtp = { pipelining_check = false; };\n"

    def test_ehlo_to_data_in_one_write_answered_in_order(self):
        c = self.connect()
        c.send(EHLO_TO_DATA)
        r = c.reply()
        self.assertEqual(r.code, 250)
        self.assertIn("PIPELINING", r.lines)
        got = [(r.code, r.text.split()[0]) for r in (c.reply() for _ in range(5))]
        self.assertEqual(got, [(250, "2.1.0"), (250, "2.1.5"), (250, "2.1.5"),
                               (250, "2.1.5"), (354, "End")])
        c.send("Subject: pipelined\r\n\r\nhi\r\n.\r\n")
        c.expect(250, "queued as")
        (_, data), = self.wait_messages(1)
        self.assertEqual(envelope(data),
                         ("a@example.com", ["b@example.com", "c@example.com", "d@example.com"]))


if __name__ == "__main__":
    main()
