"""Bare CR: the client puts a CR without LF in commands and in message
content (DATA and BDAT).

In commands a bare CR is an ordinary octet of the line, never its end:
"NOOP\\rMAIL FROM:<...>" is one line, refused as an unknown command, and
the MAIL in it is never run; a CR before the CRLF makes the line
invalid. In content a bare CR is refused by default with "550 5.6.0"
(nothing is stored); with bare_line_endings = "normalize" it is stored
as CRLF. A CR and its LF arriving in different reads are still one
CRLF. A MAIL pipelined after the end of the message is a command of the
same session, never part of the message.
"""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from smtptrap_harness import DaemonTest, body_of, envelope, main  # noqa: E402
from zoo import local_port, session_lines, wait_session_end  # noqa: E402


class Strict(DaemonTest):
    def test_bare_cr_does_not_end_a_command_line(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        c.send(b"NOOP\rMAIL FROM:<a@example.com>\r\nHELP\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text), (500, "5.5.2 Error: command not recognized"))
        # The next reply answers HELP: the line held one command.
        self.assertEqual(c.reply().code, 214)
        r = c.cmd("RCPT TO:<b@example.com>")
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: need MAIL command"))
        # The log shows the CR as "?", never raw.
        self.d.wait_log(r'\]:%d reject code=500 .* cmd="NOOP\?MAIL FROM:<a@example\.com>" '
                        % local_port(c))
        self.assertFalse([l for l in session_lines(self.d, local_port(c)) if "\r" in l])

    def test_cr_before_crlf_makes_the_line_invalid(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        for line, code, enh in [(b"NOOP\r\r\n", 500, "5.5.2"),
                                (b"\r\r\n", 500, "5.5.2"),
                                (b"MAIL FROM:<a@example.com>\r\r\n", 501, "5.5.4"),
                                (b"MAIL FROM:<a@example.com>\rSIZE=10\r\n", 501, "5.5.4")]:
            c.send(line)
            r = c.reply()
            self.assertEqual((r.code, r.text.split()[0]), (code, enh), line)
        # None of them started a transaction; a clean MAIL does.
        self.assertEqual(c.cmd("RCPT TO:<b@example.com>").code, 503)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)

    def test_bare_cr_in_data_refused(self):
        for content in [b"a\rb\r\n", b"\rstarts with CR\r\n", b"ends with CR\r\r\n",
                        b"Subject: x\r\n\r\n" + b"line\r" * 50 + b"last\r\n"]:
            c = self.connect()
            self.start_tx(c)
            self.assertEqual(c.cmd("DATA").code, 354)
            c.send(content + b".\r\n")
            r = c.expect(550)
            self.assertEqual(r.text, "5.6.0 Error: message contains bare CR line endings; use CRLF",
                             content)
            self.assertEqual(c.cmd("NOOP").code, 250)
            self.assertEqual(c.cmd("QUIT").code, 221)
            wait_session_end(self.d, local_port(c))
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])

    def test_cr_and_lf_in_different_writes_are_one_crlf(self):
        c = self.connect()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        for piece in [b"Subject: split\r", b"\n\r", b"\nbody\r", b"\n.", b"\r", b"\n"]:
            c.send(piece)
        c.expect(250, "queued as")
        (_, data), = self.wait_messages(1)
        self.assertEqual(body_of(data), b"Subject: split\r\n\r\nbody\r\n")

    def test_refused_message_then_pipelined_mail_is_a_new_transaction(self):
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(b"Subject: cr\r\n\r\na\rb\r\n.\r\n"
               b"MAIL FROM:<second@example.com>\r\nRCPT TO:<carol@example.com>\r\nDATA\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (550, "5.6.0"))
        self.assertEqual([c.reply().code for _ in range(3)], [250, 250, 354])
        c.send(b"second\r\n.\r\n")
        c.expect(250, "queued as")
        self.assertEqual(c.cmd("QUIT").code, 221)
        (_, data), = self.wait_messages(1)
        self.assertEqual(envelope(data), ("second@example.com", ["carol@example.com"]))
        self.assertEqual(body_of(data), b"second\r\n")
        lines = wait_session_end(self.d, local_port(c))
        self.assertRegex(lines[-1], r" disconnect commands=\d+ messages=1 ")

    def test_bdat_text_with_bare_cr_refused(self):
        c = self.connect()
        self.start_tx(c)
        for chunk in [b"a\rb\r\n", b"ends with CR\r"]:
            c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
            r = c.reply()
            self.assertEqual((r.code, r.text.split()[0]), (550, "5.6.0"), chunk)
            self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
            self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 250)
        self.assertEqual(self.d.messages(), [])


class Normalized(DaemonTest):
    CONFIG = 'smtp = { bare_line_endings = "normalize"; };\n'

    def test_bare_cr_in_data_stored_as_crlf(self):
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(b"Subject: cr\r\ra\rb\r\r\n.\r\n")
        c.expect(250, "queued as")
        (_, data), = self.wait_messages(1)
        self.assertEqual(body_of(data), b"Subject: cr\r\n\r\na\r\nb\r\n\r\n")

    def test_bdat_text_with_bare_cr_stored_as_crlf(self):
        c = self.connect()
        self.start_tx(c)
        c.send(b"BDAT 2\r\na\r")
        c.expect(250)
        c.send(b"BDAT 3 LAST\r\nb\rc")
        c.expect(250, "queued as")
        (_, data), = self.wait_messages(1)
        self.assertEqual(body_of(data), b"a\r\nb\r\nc")


if __name__ == "__main__":
    main()
