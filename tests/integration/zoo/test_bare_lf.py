"""Bare LF: the client ends lines with LF alone, in commands and in
message content (DATA and BDAT).

In commands the daemon takes a bare LF as the end of the line, as
Postfix does: "NOOP\\n" is NOOP, and commands pipelined with bare LFs
are separate commands. In content a bare LF is refused by default with
"550 5.6.0" (nothing is stored); with bare_line_endings = "normalize"
it is stored as CRLF. Either way a bare LF never ends DATA, and a MAIL
pipelined after the end of the message is a command of the same
session: it starts a transaction of its own and is never part of the
first message.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from smtptrap_harness import DaemonTest, body_of, envelope, main  # noqa: E402
from zoo import local_port, wait_session_end  # noqa: E402

NEXT_TX = (b"MAIL FROM:<second@example.com>\r\nRCPT TO:<carol@example.com>\r\n"
           b"DATA\r\n")


class BareLfTest(DaemonTest):
    def message_then_pipelined_tx(self, content):
        """Send content, its end and a whole second transaction in one
        write; the replies to the end of the first message and to the
        second transaction's commands."""
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(content + b".\r\n" + NEXT_TX)
        first = c.reply()
        self.assertEqual([c.reply().code for _ in range(3)], [250, 250, 354])
        c.send(b"second\r\n.\r\n")
        c.expect(250, "queued as")
        self.assertEqual(c.cmd("QUIT").code, 221)
        return c, first

    def stored_second(self, msgs):
        seconds = [d for _, d in msgs if envelope(d)[0] == "second@example.com"]
        self.assertEqual(len(seconds), 1, msgs)
        self.assertEqual(envelope(seconds[0]), ("second@example.com", ["carol@example.com"]))
        self.assertEqual(body_of(seconds[0]), b"second\r\n")


class Strict(BareLfTest):
    def test_bare_lf_ends_a_command_line(self):
        c = self.connect()
        c.send(b"EHLO lf.example\n")
        self.assertEqual(c.reply().code, 250)
        for line, code in [(b"NOOP\n", 250), (b"MAIL FROM:<a@example.com>\n", 250),
                           (b"RCPT TO:<b@example.com>\n", 250), (b"DATA\n", 354)]:
            c.send(line)
            self.assertEqual(c.reply().code, code, line)
        c.send(b"Subject: lf commands\r\n\r\nbody\r\n.\r\n")
        c.expect(250, "queued as")
        (_, data), = self.wait_messages(1)
        self.assertEqual(envelope(data), ("a@example.com", ["b@example.com"]))
        self.assertEqual(body_of(data), b"Subject: lf commands\r\n\r\nbody\r\n")

    def test_commands_pipelined_with_bare_lf_are_separate_commands(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        c.send(b"MAIL FROM:<a@example.com>\nRCPT TO:<b@example.com>\n"
               b"RCPT TO:<c@example.com>\nDATA\n")
        self.assertEqual([c.reply().code for _ in range(4)], [250, 250, 250, 354])
        c.send(b"x\r\n.\r\n")
        c.expect(250, "queued as")
        (_, data), = self.wait_messages(1)
        self.assertEqual(envelope(data), ("a@example.com", ["b@example.com", "c@example.com"]))

    def test_bare_lf_in_data_refused(self):
        for content in [b"a\nb\r\n", b"\nstarts with LF\r\n", b"ends with LF\n\r\n",
                        b"Subject: x\r\n\r\n" + b"line\n" * 50 + b"last\r\n"]:
            c = self.connect()
            self.start_tx(c)
            self.assertEqual(c.cmd("DATA").code, 354)
            c.send(content + b".\r\n")
            r = c.expect(550)
            self.assertEqual(r.text, "5.6.0 Error: message contains bare LF line endings; use CRLF",
                             content)
            # The session goes on.
            self.assertEqual(c.cmd("NOOP").code, 250)
            self.assertEqual(c.cmd("QUIT").code, 221)
            lines = wait_session_end(self.d, local_port(c))
            self.assertTrue([l for l in lines if " reject code=550 status=5.6.0 " in l
                             and "bare LF" in l], lines)
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])

    def test_refused_message_then_pipelined_mail_is_a_new_transaction(self):
        c, first = self.message_then_pipelined_tx(b"Subject: lf\r\n\r\na\nb\r\n")
        self.assertEqual((first.code, first.text.split()[0]), (550, "5.6.0"))
        msgs = self.wait_messages(1)
        self.stored_second(msgs)
        # One session served both: the second message is its only one.
        lines = wait_session_end(self.d, local_port(c))
        self.assertRegex(lines[-1], r" disconnect commands=\d+ messages=1 ")

    def test_bdat_text_with_bare_lf_refused(self):
        c = self.connect()
        self.start_tx(c)
        chunk = b"a\nb\n"
        c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (550, "5.6.0"))
        self.assertEqual(c.cmd("NOOP").code, 250)
        self.assertEqual(self.d.messages(), [])


class Normalized(BareLfTest):
    CONFIG = 'smtp = { bare_line_endings = "normalize"; };\n'

    def test_bare_lf_in_data_stored_as_crlf(self):
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(b"Subject: lf\n\na\nb\r\n\nc\r\n.\r\n")
        c.expect(250, "queued as")
        (_, data), = self.wait_messages(1)
        self.assertEqual(body_of(data), b"Subject: lf\r\n\r\na\r\nb\r\n\r\nc\r\n")

    def test_stored_message_then_pipelined_mail_is_a_second_transaction(self):
        c, first = self.message_then_pipelined_tx(b"Subject: lf\r\n\r\na\nb\r\n")
        self.assertEqual(first.code, 250)
        msgs = self.wait_messages(2)
        self.stored_second(msgs)
        firsts = [d for _, d in msgs if envelope(d)[0] == "alice@example.com"]
        self.assertEqual(len(firsts), 1, msgs)
        self.assertEqual(envelope(firsts[0]), ("alice@example.com", ["bob@example.com"]))
        # The first message ends where its sender ended it: nothing of
        # the second transaction is in it.
        self.assertEqual(body_of(firsts[0]), b"Subject: lf\r\n\r\na\r\nb\r\n")

    def test_bdat_text_with_bare_lf_stored_as_crlf(self):
        c = self.connect()
        self.start_tx(c)
        chunk = b"a\nb\n"
        c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        c.expect(250, "queued as")
        (_, data), = self.wait_messages(1)
        self.assertEqual(body_of(data), b"a\r\nb\r\n")


if __name__ == "__main__":
    main()
