"""SMTP session engine against the real daemon: transactions, pipelining,
command order, syntax, limits, ESMTP parameters, DATA and BDAT content
rules. Every test checks reply codes and what lands in the maildir."""

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import DaemonTest, body_of, main  # noqa: E402

CONFIG = """
limits = { message_size = 2000; recipients = 3; errors = 50; };
"""

MSG = "Subject: hi\r\n\r\nhello\r\n"


def bdat(chunk, last=False):
    """A BDAT command with its chunk, the size counted for us."""
    return "BDAT %d%s\r\n%s" % (len(chunk.encode()), " LAST" if last else "", chunk)


class Transaction(DaemonTest):
    CONFIG = CONFIG

    def test_full_transaction_lands_in_maildir(self):
        c = self.connect()
        self.start_tx(c)
        c.expect_code = None
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(MSG + ".\r\n")
        r = c.expect(250, "2.0.0 Ok: queued as ")
        name = r.text.split("queued as ")[1]
        self.assertEqual(c.cmd("QUIT").code, 221)
        msgs = self.wait_messages(1)
        self.assertEqual(msgs[0][0], name)
        data = msgs[0][1]
        self.assertTrue(data.startswith(b"Return-Path: <alice@example.com>\r\nReceived: from client.example ([127.0.0.1])\r\n"), data)
        self.assertIn(b"\tfor <bob@example.com>; ", data)
        self.assertIn(b"X-Smtptrap-Mail-From: <alice@example.com>\r\n", data)
        self.assertIn(b"X-Smtptrap-Rcpt-To: <bob@example.com>\r\n", data)
        self.assertEqual(body_of(data), MSG.encode())
        self.assertEqual(self.d.messages("tmp"), [])

    def test_greeting_and_ehlo_keywords(self):
        c = self.connect(greet=False)
        g = c.reply()
        self.assertEqual(g.code, 220)
        self.assertIn("ESMTP smtptrapd", g.text)
        r = self.ehlo(c)
        self.assertEqual(r.code, 250)
        for kw in ("PIPELINING", "SIZE 2000", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES",
                   "CHUNKING", "BINARYMIME", "DSN"):
            self.assertIn(kw, r.lines)

    def test_pipelined_transaction_in_one_write(self):
        c = self.connect()
        # EHLO ends a group (RFC 2920 3.1): pipelining starts after it.
        self.assertEqual(c.cmd("EHLO p.example").code, 250)
        c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
               "RCPT TO:<c@example.com>\r\nDATA\r\n")
        self.assertEqual([c.reply().code for _ in range(4)], [250, 250, 250, 354])
        c.send(MSG + ".\r\nMAIL FROM:<d@example.com>\r\nRCPT TO:<e@example.com>\r\nDATA\r\n")
        self.assertEqual([c.reply().code for _ in range(4)], [250, 250, 250, 354])
        c.send("second\r\n.\r\nQUIT\r\n")
        self.assertEqual([c.reply().code for _ in range(2)], [250, 221])
        msgs = self.wait_messages(2)
        bodies = sorted(body_of(m[1]) for m in msgs)
        self.assertEqual(bodies, sorted([MSG.encode(), b"second\r\n"]))
        first = [m[1] for m in msgs if body_of(m[1]) == MSG.encode()][0]
        self.assertIn(b"X-Smtptrap-Rcpt-To: <b@example.com>\r\nX-Smtptrap-Rcpt-To: <c@example.com>\r\n", first)

    def test_pipelined_replies_come_in_one_segment(self):
        c = self.connect()
        self.assertEqual(c.cmd("EHLO p.example").code, 250)
        c.send("RSET\r\nNOOP\r\nNOOP\r\nNOOP\r\n")
        # All four replies were flushed together: once the first arrives,
        # the rest are already in our buffer or the same segment.
        c.reply()
        for _ in range(3):
            self.assertEqual(c.reply().code, 250)

    def test_rset_mid_transaction(self):
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("RSET").code, 250)
        r = c.cmd("DATA")
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: need MAIL command"))
        self.assertEqual(c.cmd("MAIL FROM:<x@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<y@example.com>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(".\r\n")
        c.expect(250)
        msgs = self.wait_messages(1)
        self.assertIn(b"Return-Path: <x@example.com>", msgs[0][1])

    def test_rset_after_every_recipient(self):
        c = self.connect()
        self.ehlo(c)
        for i in range(3):
            self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
            self.assertEqual(c.cmd("RCPT TO:<r%d@example.com>" % i).code, 250)
            self.assertEqual(c.cmd("RSET").code, 250)
        self.assertEqual(c.cmd("QUIT").code, 221)
        self.assertEqual(self.d.messages(), [])

    def test_null_sender(self):
        c = self.connect()
        self.ehlo(c)
        self.assertEqual(c.cmd("MAIL FROM:<>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("bounce\r\n.\r\n")
        c.expect(250)
        msg = self.wait_messages(1)[0][1]
        self.assertTrue(msg.startswith(b"Return-Path: <>\r\n"))
        self.assertIn(b"X-Smtptrap-Mail-From: <>\r\n", msg)

    def test_postmaster_without_domain(self):
        c = self.connect()
        self.ehlo(c)
        c.cmd("MAIL FROM:<a@example.com>")
        self.assertEqual(c.cmd("RCPT TO:<Postmaster>").code, 250)

    def test_helo_gives_smtp_protocol(self):
        c = self.connect()
        r = c.cmd("HELO old.example")
        self.assertEqual(r.code, 250)
        self.assertEqual(len(r.lines), 1)
        c.cmd("MAIL FROM:<a@example.com>")
        c.cmd("RCPT TO:<b@example.com>")
        c.cmd("DATA")
        c.send("x\r\n.\r\n")
        c.expect(250)
        self.assertIn(b"with SMTP id ", self.wait_messages(1)[0][1])

    def test_params_after_helo_refused(self):
        c = self.connect()
        c.cmd("HELO old.example")
        r = c.cmd("MAIL FROM:<a@example.com> SIZE=10")
        self.assertEqual(r.code, 555)

    def test_dot_stuffing(self):
        c = self.connect()
        self.start_tx(c)
        c.cmd("DATA")
        c.send("..leading dot\r\n...\r\nmid.dot\r\n.\r\n")
        c.expect(250)
        self.assertEqual(body_of(self.wait_messages(1)[0][1]), b".leading dot\r\n..\r\nmid.dot\r\n")


class Order(DaemonTest):
    CONFIG = CONFIG

    def test_wrong_order_commands(self):
        c = self.connect()
        cases = [
            ("MAIL FROM:<a@example.com>", 503, "5.5.1 Error: send HELO/EHLO first"),
            ("RCPT TO:<a@example.com>", 503, "5.5.1 Error: need MAIL command"),
            ("DATA", 503, "5.5.1 Error: need MAIL command"),
            ("BDAT 0 LAST", 503, "5.5.1 Error: send HELO/EHLO first"),
        ]
        for line, code, text in cases:
            r = c.cmd(line)
            self.assertEqual((r.code, r.text), (code, text), line)
        self.ehlo(c)
        self.assertEqual(c.cmd("RCPT TO:<a@example.com>").code, 503)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        r = c.cmd("MAIL FROM:<a@example.com>")
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: nested MAIL command"))
        r = c.cmd("DATA")
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: need RCPT command"))
        self.assertEqual(c.cmd("RCPT TO:<bad address>").code, 501)
        r = c.cmd("DATA")
        self.assertEqual((r.code, r.text), (554, "5.5.1 Error: no valid recipients"))

    def test_unknown_and_unimplemented(self):
        c = self.connect()
        for line, code, enh in [("FOO", 500, "5.5.2"), ("MAILFROM:<a@b.c>", 500, "5.5.2"),
                                ("EXPN list", 502, "5.5.1"), ("STARTTLS now", 501, "5.5.4"),
                                ("AUTH PLAIN", 503, "5.5.1"), ("VRFY bob", 252, "2.0.0"),
                                ("VRFY", 501, "5.5.4"), ("NOOP", 250, "2.0.0"),
                                ("EHLO", 501, "5.5.4"), ("HELO a b", 501, "5.5.4"),
                                ("RSET x", 501, "5.5.4"), ("QUIT now", 501, "5.5.4")]:
            r = c.cmd(line)
            self.assertEqual(r.code, code, line)
            self.assertTrue(r.lines[-1].startswith(enh), (line, r))
        r = c.cmd("HELP")
        self.assertEqual(r.code, 214)
        self.assertIn("MAIL", r.text)

    def test_commands_case_insensitive(self):
        c = self.connect()
        self.assertEqual(c.cmd("ehlo x.example").code, 250)
        self.assertEqual(c.cmd("mail from:<a@example.com>").code, 250)
        self.assertEqual(c.cmd("RcPt To:<b@example.com>").code, 250)
        self.assertEqual(c.cmd("data").code, 354)
        c.send(".\r\n")
        c.expect(250)

    def test_nul_in_command(self):
        c = self.connect()
        r = c.cmd("NO\x00OP")
        self.assertEqual((r.code, r.text), (500, "5.5.2 Error: NUL octet in command"))
        self.assertEqual(c.cmd("NOOP").code, 250)


class Syntax(DaemonTest):
    CONFIG = CONFIG

    def setUp(self):
        super().setUp()
        self.c = self.connect()
        self.ehlo(self.c)

    def test_mail_syntax(self):
        c = self.c
        for line, code, enh in [
            ("MAIL FROM:a@example.com", 501, "5.5.4"),
            ("MAIL TO:<a@example.com>", 501, "5.5.4"),
            ("MAIL FROM:<a@@example.com>", 501, "5.1.7"),
            ("MAIL FROM:<a@-bad.example>", 501, "5.1.7"),
            ("MAIL FROM:<%s@example.com>" % ("x" * 65), 501, "5.1.7"),
            ("MAIL FROM:<a@example.com> FOO=bar", 555, "5.5.4"),
            ("MAIL FROM:<a@example.com> SIZE=abc", 501, "5.5.4"),
            ("MAIL FROM:<a@example.com> SIZE=1 SIZE=2", 501, "5.5.4"),
            ("MAIL FROM:<a@example.com> BODY=9BIT", 501, "5.5.4"),
            ("MAIL FROM:<a@example.com> RET=ALL", 501, "5.5.4"),
            ("MAIL FROM:<a@example.com> SIZE=2001", 552, "5.3.4"),
            ("MAIL FROM:<jos\u00e9@example.com>", 553, "5.6.7"),
        ]:
            r = c.cmd(line)
            self.assertEqual(r.code, code, line)
            self.assertTrue(r.text.startswith(enh), (line, r))

    def test_accepted_paths(self):
        c = self.c
        for line in ["MAIL FROM: <a@example.com>",
                     "MAIL FROM:<\"john doe\"@example.com>",
                     "MAIL FROM:<a@[192.0.2.1]>",
                     "MAIL FROM:<a@[IPv6:2001:db8::1]>",
                     "MAIL FROM:<@relay.example:a@example.com>",
                     "MAIL FROM:<a@example.com> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=abc+2B",
                     "MAIL FROM:<jos\u00e9@ex\u00e4mple.com> SMTPUTF8 BODY=8BITMIME"]:
            self.assertEqual(c.cmd(line).code, 250, line)
            self.assertEqual(c.cmd("RSET").code, 250)

    def test_rcpt_params_and_smtputf8(self):
        c = self.c
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com> SMTPUTF8 RET=FULL ENVID=e1").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<b@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.com").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<\u00fcser@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<c@example.com> NOTIFY=NEVER,SUCCESS").code, 501)
        self.assertEqual(c.cmd("RCPT TO:<c@example.com> ORCPT=bad").code, 501)
        self.assertEqual(c.cmd("RCPT TO:<c@example.com> XFOO").code, 555)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("hi\r\n.\r\n")
        c.expect(250)
        msg = self.wait_messages(1)[0][1]
        self.assertIn(b"X-Smtptrap-Mail-From: <a@example.com> SMTPUTF8 RET=FULL ENVID=e1\r\n", msg)
        self.assertIn(b"X-Smtptrap-Rcpt-To: <b@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.com\r\n", msg)
        self.assertIn("X-Smtptrap-Rcpt-To: <\u00fcser@example.com>\r\n".encode(), msg)
        self.assertIn(b"with UTF8SMTP id", msg)

    def test_utf8_rcpt_without_smtputf8(self):
        c = self.c
        c.cmd("MAIL FROM:<a@example.com>")
        r = c.cmd("RCPT TO:<\u00fcser@example.com>")
        self.assertEqual((r.code, r.text[:5]), (553, "5.6.7"))

    def test_command_line_too_long(self):
        c = self.c
        r = c.cmd("NOOP " + "x" * 600)
        self.assertEqual((r.code, r.text), (500, "5.5.6 Error: line too long"))
        # The rest of the line was discarded, the session goes on.
        self.assertEqual(c.cmd("NOOP").code, 250)
        # 510 octets + CRLF = 512 is allowed; 511 is not.
        self.assertEqual(c.cmd("NOOP " + "y" * 505).code, 250)
        self.assertEqual(c.cmd("NOOP " + "y" * 506).code, 500)

    def test_too_many_recipients(self):
        c = self.c
        c.cmd("MAIL FROM:<a@example.com>")
        for i in range(3):
            self.assertEqual(c.cmd("RCPT TO:<r%d@example.com>" % i).code, 250)
        r = c.cmd("RCPT TO:<r9@example.com>")
        self.assertEqual((r.code, r.text), (452, "4.5.3 Error: too many recipients"))
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("x\r\n.\r\n")
        c.expect(250)
        msg = self.wait_messages(1)[0][1]
        self.assertEqual(msg.count(b"X-Smtptrap-Rcpt-To:"), 3)


class Content(DaemonTest):
    CONFIG = CONFIG

    def data(self, content):
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send(content)
        return c

    def test_message_too_large(self):
        c = self.data("Subject: big\r\n\r\n" + ("x" * 99 + "\r\n") * 30 + ".\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text[:5]), (552, "5.3.4"))
        self.assertEqual(c.cmd("NOOP").code, 250)
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])

    def test_bare_lf_rejected_and_never_ends_data(self):
        c = self.data("a\n.\nMAIL FROM:<evil@example.com>\r\n")
        # Still inside DATA: no reply to the smuggled command yet.
        self.assertFalse(c.closed(timeout=0.2))
        self.assertEqual(c.buf, b"")
        c.send("tail\r\n.\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text[:5]), (550, "5.6.0"))
        self.assertEqual(self.d.messages(), [])

    def test_smuggling_variants(self):
        for variant in ["\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r"]:
            c = self.data("x" + variant + "RCPT TO:<smuggled@example.com>\r\n")
            c.send("y\r\n.\r\n")
            r = c.reply()
            self.assertEqual(r.code, 550, repr(variant))
            self.assertEqual(c.cmd("NOOP").code, 250)
        self.assertEqual(self.d.messages(), [])

    def test_long_text_line_rejected(self):
        c = self.data("x" * 1200 + "\r\n.\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text[:5]), (500, "5.5.6"))
        self.assertEqual(self.d.messages(), [])

    def test_nul_in_data_rejected(self):
        c = self.data("a\x00b\r\n.\r\n")
        self.assertEqual(c.reply().code, 550)
        self.assertEqual(self.d.messages(), [])

    def test_bdat_chunks(self):
        c = self.connect()
        self.start_tx(c)
        c.send("BDAT 6\r\nHello ")
        c.expect(250, "6 octets")
        c.send("BDAT 9\r\nworld\r\n\r\nBDAT 0 LAST\r\n")
        c.expect(250)
        c.expect(250, "queued as")
        msg = self.wait_messages(1)[0][1]
        self.assertEqual(body_of(msg), b"Hello world\r\n\r\n")

    def test_bdat_single_last_chunk_binary(self):
        c = self.connect()
        self.ehlo(c)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com> BODY=BINARYMIME").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<b@example.com>").code, 250)
        payload = b"bin\x00ary\nDATA\r\n.\r\n"
        c.send(b"BDAT %d LAST\r\n" % len(payload) + payload)
        c.expect(250, "queued as")
        self.assertEqual(c.cmd("NOOP").code, 250)
        self.assertTrue(self.wait_messages(1)[0][1].endswith(payload))

    def test_bdat_text_body_obeys_line_rules(self):
        c = self.connect()
        self.start_tx(c)
        # A leading dot is content in BDAT, and is kept as sent.
        c.send(bdat(".dot\r\n\r"))
        c.expect(250)
        c.send(bdat("x\ny", last=True))
        r = c.reply()
        self.assertEqual((r.code, r.text[:5]), (550, "5.6.0"))
        self.assertEqual(self.d.messages(), [])
        c.cmd("MAIL FROM:<a@example.com>")
        c.cmd("RCPT TO:<b@example.com>")
        c.send(bdat(".dot\r\n\r", last=True))
        r = c.reply()
        self.assertEqual(r.code, 550, "a final bare CR is a bare line ending")
        c.cmd("MAIL FROM:<a@example.com>")
        c.cmd("RCPT TO:<b@example.com>")
        c.send(bdat(".a\r\n", last=True))
        c.expect(250)
        self.assertEqual(body_of(self.wait_messages(1)[0][1]), b".a\r\n")

    def test_binarymime_requires_bdat(self):
        c = self.connect()
        self.ehlo(c)
        c.cmd("MAIL FROM:<a@example.com> BODY=BINARYMIME")
        c.cmd("RCPT TO:<b@example.com>")
        r = c.cmd("DATA")
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: BODY=BINARYMIME requires BDAT"))
        c.send(bdat("ok\r\n", last=True))
        c.expect(250, "queued as")

    def test_bdat_then_data_refused(self):
        c = self.connect()
        self.start_tx(c)
        c.send("BDAT 3\r\nabc")
        c.expect(250)
        r = c.cmd("DATA")
        self.assertEqual((r.code, r.text[:5]), (503, "5.5.1"))
        self.assertEqual(c.cmd("RSET").code, 250)
        self.assertEqual(self.d.messages(), [])

    def test_bdat_too_large(self):
        c = self.connect()
        self.start_tx(c)
        c.send("BDAT 2500\r\n" + "z" * 2500)
        r = c.reply()
        self.assertEqual((r.code, r.text), (552, "5.3.4 Error: message too large (limit 2000 octets)"))
        c.send("BDAT 1 LAST\r\nz")
        self.assertEqual(c.reply().code, 552)
        self.assertEqual(c.cmd("NOOP").code, 250)
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])

    def test_bdat_without_transaction_consumes_chunk(self):
        c = self.connect()
        self.ehlo(c)
        c.send("BDAT 6\r\nQUIT\r\n")
        r = c.reply()
        self.assertEqual(r.code, 503)
        # The chunk's "QUIT" was data, not a command.
        self.assertEqual(c.cmd("NOOP").code, 250)


class ErrorLimit(DaemonTest):
    CONFIG = "limits = { errors = 3; };"

    def test_hard_error_limit_closes(self):
        c = self.connect()
        self.assertEqual(c.cmd("BOGUS1").code, 500)
        self.assertEqual(c.cmd("BOGUS2").code, 500)
        c.send("BOGUS3\r\n")
        self.assertEqual(c.reply().code, 500)
        r = c.reply()
        self.assertEqual((r.code, r.text[:5]), (421, "4.7.0"))
        self.assertTrue(c.closed())


class ReducedExtensions(DaemonTest):
    CONFIG = """
    server = { log_level = "debug"; };
    smtp = { extensions = ["PIPELINING", "8BITMIME"]; bare_line_endings = "normalize"; long_lines = "accept"; };
    """

    def test_only_configured_extensions(self):
        c = self.connect()
        r = self.ehlo(c)
        # STARTTLS is the listener's business, not an smtp.extensions one.
        self.assertEqual(r.lines[1:], ["PIPELINING", "8BITMIME", "STARTTLS"])
        # Without ENHANCEDSTATUSCODES replies carry no enhanced code.
        r = c.cmd("MAIL FROM:<a@example.com> SIZE=10")
        self.assertEqual((r.code, r.text), (555, "Unsupported option: SIZE"))
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com> SMTPUTF8").code, 555)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<b@example.com> NOTIFY=NEVER").code, 555)
        self.assertEqual(c.cmd("RCPT TO:<b@example.com>").code, 250)
        c.send("BDAT 4\r\nNOOP")
        r = c.reply()
        self.assertEqual(r.code, 502)
        # The log (debug level) shows the reply as sent: without an enhanced code.
        self.d.wait_log(r' reply code=250 status=- stage=mail cmd="MAIL FROM:<a@example.com>" text=Ok$')

    def test_bare_line_endings_normalized(self):
        c = self.connect()
        self.start_tx(c)
        c.cmd("DATA")
        c.send("a\nb\rc\r\n" + "L" * 1500 + "\r\n.\r\n")
        c.expect(250)
        msg = self.wait_messages(1)[0][1]
        self.assertEqual(body_of(msg), b"a\r\nb\r\nc\r\n" + b"L" * 1500 + b"\r\n")


class NormalizedBdat(DaemonTest):
    CONFIG = 'smtp = { bare_line_endings = "normalize"; };'

    def test_bdat_bare_line_endings_normalized(self):
        c = self.connect()
        self.start_tx(c)
        c.send(bdat("a\r"))
        c.expect(250)
        c.send(bdat("b\nc", last=True))
        c.expect(250)
        self.assertEqual(body_of(self.wait_messages(1)[0][1]), b"a\r\nb\r\nc")


if __name__ == "__main__":
    main()
