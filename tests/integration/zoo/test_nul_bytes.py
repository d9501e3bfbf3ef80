"""NUL octets: the client puts NUL (0x00) at the start, in the middle and
at the end of commands, of message lines and of BDAT chunks.

A command with a NUL anywhere is refused with "500 5.5.2 Error: NUL
octet in command" and not run (a NUL never ends or shortens a line);
the session goes on, and the log shows the NUL as "?". Content with a
NUL is refused with "550 5.6.0" whatever bare_line_endings says, and
nothing is stored; a NUL before a dot does not make an end of data.
Only BODY=BINARYMIME content, which is opaque, keeps NULs as sent.
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from smtptrap_harness import DaemonTest, body_of, main  # noqa: E402
from zoo import local_port, session_lines  # noqa: E402

NUL_REPLY = "5.5.2 Error: NUL octet in command"
NUL_CONTENT = "5.6.0 Error: message contains NUL octets"

CONTENTS = [
    b"\x00Subject: NUL first\r\n\r\nx\r\n",
    b"Subject: NUL in the middle\r\n\r\na\x00b\r\n",
    b"Subject: NUL at the end of a line\r\n\r\nab\x00\r\n",
    b"Subject: a line of NUL\r\n\r\n\x00\r\n",
    b"Subject: NUL last\r\n\r\nx\r\n\x00\r\n",
]


class NulTest(DaemonTest):
    CONFIG = "limits = { errors = 1000; };\n"

    def assert_content_refused(self):
        for content in CONTENTS:
            c = self.connect()
            self.start_tx(c)
            self.assertEqual(c.cmd("DATA").code, 354)
            c.send(content + b".\r\n")
            r = c.reply()
            self.assertEqual((r.code, r.text), (550, NUL_CONTENT), content)
            self.assertEqual(c.cmd("NOOP").code, 250)
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])


class Commands(NulTest):
    def test_nul_anywhere_in_a_command_refuses_it(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        for line in [b"\x00NOOP", b"NO\x00OP", b"NOOP\x00", b"\x00", b"\x00\x00\x00",
                     b"EHLO \x00client.example", b"VRFY bob\x00"]:
            c.send(line + b"\r\n")
            r = c.reply()
            self.assertEqual((r.code, r.text), (500, NUL_REPLY), line)
        self.assertEqual(c.cmd("NOOP").code, 250)
        for shown in ["cmd=?NOOP ", "cmd=NO?OP ", "cmd=NOOP? ", "cmd=? ", "cmd=??? "]:
            self.d.wait_log(r"\]:%d reject code=500 .* %s" % (local_port(c), re.escape(shown)))
        self.assertFalse([l for l in session_lines(self.d, local_port(c)) if "\0" in l])

    def test_command_with_nul_is_not_run(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        # A NUL does not cut the line short: the MAIL is refused whole.
        c.send(b"MAIL FROM:<a@example.com>\x00\r\n")
        self.assertEqual(c.reply().text, NUL_REPLY)
        r = c.cmd("RCPT TO:<b@example.com>")
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: need MAIL command"))
        # Nor does a NUL end the line: "RSET\0MAIL ..." is one command.
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        c.send(b"RSET\x00MAIL FROM:<x@example.com>\r\n")
        self.assertEqual(c.reply().text, NUL_REPLY)
        # The transaction was neither reset nor replaced.
        self.assertEqual(c.cmd("RCPT TO:<b@example.com>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(b"ok\r\n.\r\n")
        c.expect(250, "queued as")
        (_, data), = self.wait_messages(1)
        self.assertIn(b"X-Smtptrap-Mail-From: <a@example.com>\r\n", data)


class Data(NulTest):
    def test_nul_in_content_refused(self):
        self.assert_content_refused()

    def test_nul_before_a_dot_is_not_the_end(self):
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(b"a\r\n\x00.\r\nMAIL FROM:<evil@example.com>\r\n.\r\nHELP\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text), (550, NUL_CONTENT))
        # The next reply answers HELP: the MAIL was content.
        self.assertEqual(c.reply().code, 214)
        self.assertEqual(self.d.messages(), [])


class Bdat(NulTest):
    def test_nul_in_text_chunks_refused_at_last(self):
        c = self.connect()
        for chunks in [[b"\x00first"], [b"mid\x00dle"], [b"last\x00"],
                       [b"clean\r\n", b"then \x00"], [b"\x00 early\r\n", b"clean\r\n"]]:
            self.start_tx(c)
            for i, chunk in enumerate(chunks):
                last = i == len(chunks) - 1
                c.send(b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk)
                r = c.reply()
                if last:
                    self.assertEqual((r.code, r.text), (550, NUL_CONTENT), chunks)
                else:
                    self.assertEqual(r.code, 250, chunks)
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])

    def test_chunk_with_nul_is_data_not_commands(self):
        c = self.connect()
        self.start_tx(c)
        chunk = b"\x00QUIT\r\nRSET\r\n"
        c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        self.assertEqual(c.reply().text, NUL_CONTENT)
        self.assertEqual(c.cmd("NOOP").code, 250)

    def test_binarymime_keeps_nul_as_sent(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com> BODY=BINARYMIME").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<b@example.com>").code, 250)
        payload = b"\x00start, mid\x00dle, end\x00"
        c.send(b"BDAT %d LAST\r\n" % len(payload) + payload)
        c.expect(250, "queued as")
        (_, data), = self.wait_messages(1)
        self.assertEqual(body_of(data), payload)


class Normalized(NulTest):
    CONFIG = NulTest.CONFIG + 'smtp = { bare_line_endings = "normalize"; };\n'

    def test_nul_in_content_refused_even_when_normalizing(self):
        self.assert_content_refused()


if __name__ == "__main__":
    main()
