"""Interoperability: real SMTP clients (Python smtplib, swaks, curl, msmtp)
against the real daemon. Every test checks the client's own outcome and
then the exact envelope and bytes that landed in the maildir.

The external clients are required, not optional: the project's bootstrap
installs them, so a missing one fails the test and names the package."""

import email
import email.policy
import os
import smtplib
import sys
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import DaemonTest, ToolMixin, body_of, envelope, main, trace_of  # noqa: E402

def assert_crlf_only(test, data):
    """Every LF is preceded by CR and every CR is followed by LF."""
    test.assertNotRegex(data, rb"(?<!\r)\n", "bare LF in %r" % data)
    test.assertNotRegex(data, rb"\r(?!\n)", "bare CR in %r" % data)


def parse(content):
    return email.message_from_bytes(content, policy=email.policy.default)


class ToolTest(ToolMixin, DaemonTest):
    """Helpers for running an external client binary."""


# --------------------------------------------------------------------------
# Python smtplib
# --------------------------------------------------------------------------

class Smtplib(DaemonTest):

    def smtp(self):
        s = smtplib.SMTP(self.d.host, self.d.port, local_hostname="smtplib.example", timeout=10)
        self.addCleanup(s.close)
        return s

    def test_send_message_email_message(self):
        text = "Grüße aus Köln — naïve café, ✓ UTF-8.\nSecond line.\n"
        msg = EmailMessage()
        msg["Subject"] = "Interop: smtplib send_message"
        msg["From"] = "Alice <alice@example.com>"
        msg["To"] = "Bob <bob@example.com>, carol@example.com"
        msg["Cc"] = "Dave <dave@example.org>"
        msg["Bcc"] = "eve@example.net"
        msg.set_content(text)
        with self.smtp() as s:
            refused = s.send_message(msg)
        self.assertEqual(refused, {})
        msgs = self.wait_messages(1)
        data = msgs[0][1]
        sender, rcpts = envelope(data)
        self.assertEqual(sender, "alice@example.com")
        # send_message() takes the envelope from To, Bcc, Cc, in that order.
        self.assertEqual(rcpts, ["bob@example.com", "carol@example.com",
                                 "eve@example.net", "dave@example.org"])
        self.assertTrue(data.startswith(b"Return-Path: <alice@example.com>\r\n"
                                        b"Received: from smtplib.example ([127.0.0.1])\r\n"), data)
        self.assertIn(b" with ESMTP id ", trace_of(data))
        content = body_of(data)
        assert_crlf_only(self, content)
        got = parse(content)
        self.assertEqual(got["Subject"], "Interop: smtplib send_message")
        self.assertEqual(got["From"], "Alice <alice@example.com>")
        self.assertEqual(got["To"], "Bob <bob@example.com>, carol@example.com")
        self.assertEqual(got["Cc"], "Dave <dave@example.org>")
        self.assertIsNone(got["Bcc"], "send_message must not transmit Bcc")
        self.assertEqual(got.get_content_charset(), "utf-8")
        self.assertEqual(got.get_content().replace("\r\n", "\n"), text)
        self.assertEqual(self.d.messages("tmp"), [])

    def test_sendmail_sixty_recipients_in_order(self):
        rcpts = ["r%02d@example.com" % i for i in range(60)]
        content = b"Subject: many\r\n\r\nsixty recipients\r\n"
        with self.smtp() as s:
            refused = s.sendmail("many@example.com", rcpts, content)
        self.assertEqual(refused, {})
        data = self.wait_messages(1)[0][1]
        sender, got = envelope(data)
        self.assertEqual(sender, "many@example.com")
        self.assertEqual(got, rcpts)
        expected = b"".join(b"X-Smtptrap-Rcpt-To: <%s>\r\n" % r.encode() for r in rcpts)
        self.assertIn(expected, data)
        self.assertEqual(data.count(b"\r\nX-Smtptrap-Rcpt-To: "), 60)
        self.assertEqual(body_of(data), content)

    def test_sendmail_smtputf8(self):
        content = "Subject: ünïcödé\r\nFrom: jösé@example.com\r\n\r\nhéllo wörld\r\n".encode("utf-8")
        with self.smtp() as s:
            s.ehlo()
            self.assertTrue(s.has_extn("smtputf8"))
            refused = s.sendmail("jösé@example.com", ["ünï@example.com"], content,
                                 mail_options=["SMTPUTF8"])
        self.assertEqual(refused, {})
        data = self.wait_messages(1)[0][1]
        trace = trace_of(data)
        self.assertIn(" with UTF8SMTP id ".encode(), trace)
        self.assertTrue(data.startswith("Return-Path: <jösé@example.com>\r\n".encode("utf-8")), data)
        self.assertIn("\tfor <ünï@example.com>; ".encode("utf-8"), trace)
        self.assertEqual(envelope(data), ("jösé@example.com", ["ünï@example.com"]))
        self.assertRegex(trace, rb"X-Smtptrap-Mail-From: <[^>]*>.*\bSMTPUTF8\b")
        self.assertEqual(body_of(data), content)

    def test_sender_syntax_refused(self):
        with self.smtp() as s:
            with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
                s.sendmail("bad@@example.com", ["bob@example.com"], b"Subject: x\r\n\r\nx\r\n")
        self.assertEqual(cm.exception.smtp_code, 501, cm.exception)
        self.assertIn(b"5.1.7", cm.exception.smtp_error)
        self.assertEqual(cm.exception.sender, "bad@@example.com")
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])

    def test_str_body_with_bare_lf_is_converted_to_crlf(self):
        # smtplib converts line endings of a *str* message to CRLF.
        content = "Subject: lf\n\nline one\nline two\n.dot line\n"
        with self.smtp() as s:
            self.assertEqual(s.sendmail("a@example.com", ["b@example.com"], content), {})
        data = self.wait_messages(1)[0][1]
        assert_crlf_only(self, data)
        self.assertEqual(body_of(data), b"Subject: lf\r\n\r\nline one\r\nline two\r\n.dot line\r\n")

    def test_bytes_body_with_bare_lf_is_rejected(self):
        # smtplib sends a *bytes* message "as is" (see SMTP.data), so bare
        # LF reaches the server, which rejects it by default.
        content = b"Subject: lf\n\nline one\nline two\n"
        with self.smtp() as s:
            with self.assertRaises(smtplib.SMTPDataError) as cm:
                s.sendmail("a@example.com", ["b@example.com"], content)
            self.assertEqual(s.noop()[0], 250)
        self.assertEqual(cm.exception.smtp_code, 550, cm.exception)
        self.assertIn(b"5.6.0", cm.exception.smtp_error)
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])

    def test_bytes_body_with_crlf_and_dots_round_trips(self):
        content = b"Subject: dots\r\n\r\n.one dot\r\n..two dots\r\n.\r\nend\r\n"
        with self.smtp() as s:
            self.assertEqual(s.sendmail("a@example.com", ["b@example.com"], content), {})
        data = self.wait_messages(1)[0][1]
        assert_crlf_only(self, data)
        self.assertEqual(body_of(data), content)


BIG = b"Subject: big\r\n\r\n" + b"x" * 78 + b"\r\n" + (b"y" * 78 + b"\r\n") * 25


class SmtplibSizeDeclared(DaemonTest):
    CONFIG = "limits = { message_size = 1000; };\n"

    def test_oversize_refused_at_mail_from(self):
        self.assertGreater(len(BIG), 1000)
        s = smtplib.SMTP(self.d.host, self.d.port, timeout=10)
        self.addCleanup(s.close)
        s.ehlo()
        self.assertEqual(s.esmtp_features.get("size"), "1000")
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            s.sendmail("a@example.com", ["b@example.com"], BIG)
        self.assertEqual(cm.exception.smtp_code, 552, cm.exception)
        self.assertIn(b"5.3.4", cm.exception.smtp_error)
        self.assertEqual(s.quit()[0], 221)
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])

    def test_small_message_under_limit_accepted(self):
        content = b"Subject: small\r\n\r\nsmall\r\n"
        with smtplib.SMTP(self.d.host, self.d.port, timeout=10) as s:
            self.assertEqual(s.sendmail("a@example.com", ["b@example.com"], content), {})
        data = self.wait_messages(1)[0][1]
        self.assertIn(b"X-Smtptrap-Mail-From: <a@example.com> SIZE=%d\r\n" % len(content), data)
        self.assertEqual(body_of(data), content)


class SmtplibSizeNotOffered(DaemonTest):
    CONFIG = ("limits = { message_size = 1000; };\n"
              'smtp = { extensions = ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"]; };\n')

    def test_oversize_refused_after_data(self):
        s = smtplib.SMTP(self.d.host, self.d.port, timeout=10)
        self.addCleanup(s.close)
        s.ehlo()
        self.assertFalse(s.has_extn("size"), s.esmtp_features)
        self.assertFalse(s.has_extn("chunking"), s.esmtp_features)
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            s.sendmail("a@example.com", ["b@example.com"], BIG)
        self.assertEqual(cm.exception.smtp_code, 552, cm.exception)
        self.assertIn(b"5.3.4", cm.exception.smtp_error)
        # The session survives the rejection.
        self.assertEqual(s.sendmail("a@example.com", ["b@example.com"],
                                    b"Subject: ok\r\n\r\nok\r\n"), {})
        self.assertEqual(s.quit()[0], 221)
        msgs = self.wait_messages(1)
        self.assertEqual(body_of(msgs[0][1]), b"Subject: ok\r\n\r\nok\r\n")
        self.assertEqual(self.d.messages("tmp"), [])

    def test_oversize_alone_leaves_nothing(self):
        with smtplib.SMTP(self.d.host, self.d.port, timeout=10) as s:
            with self.assertRaises(smtplib.SMTPDataError) as cm:
                s.sendmail("a@example.com", ["b@example.com"], BIG)
        self.assertEqual(cm.exception.smtp_code, 552, cm.exception)
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])


# --------------------------------------------------------------------------
# swaks
# --------------------------------------------------------------------------

class Swaks(ToolTest):

    def swaks(self, *args):
        return self.run_tool([self.tool("swaks", "swaks"),
                              "--server", "%s:%d" % (self.d.host, self.d.port),
                              "--helo", "swaks.example", "--timeout", "20"] + list(args))

    def test_two_recipients_and_header(self):
        p = self.swaks("--from", "a@example.com", "--to", "b@example.com,c@example.com",
                       "--header", "Subject: swaks test", "--body", "hello swaks")
        self.assert_ok(p)
        msgs = self.d.messages()
        self.assertEqual(len(msgs), 1, self.show(p))
        data = msgs[0][1]
        self.assertEqual(envelope(data), ("a@example.com", ["b@example.com", "c@example.com"]))
        self.assertIn(b" with ESMTP id ", trace_of(data))
        content = body_of(data)
        assert_crlf_only(self, content)
        got = parse(content)
        self.assertEqual(got["Subject"], "swaks test")
        self.assertIn(b"\r\nSubject: swaks test\r\n", content)
        self.assertIn(b"\r\nTo: b@example.com,c@example.com\r\n", content)
        self.assertEqual(got.get_content().rstrip("\r\n"), "hello swaks")
        # Exactly what swaks sent (it adds blank lines after --body).
        self.assertEqual(content, self.swaks_data(p))
        self.assertIn(b"\r\n\r\nhello swaks\r\n", content)
        self.assertEqual(self.d.messages("tmp"), [])

    def test_pipeline(self):
        p = self.swaks("--pipeline", "--from", "a@example.com",
                       "--to", "b@example.com,c@example.com", "--body", "pipelined")
        self.assert_ok(p)
        # swaks really pipelined: all envelope commands and DATA went out
        # before the first reply to them came back.
        out = p.stdout.decode("utf-8", "replace").split("\n")
        i = out.index(" -> MAIL FROM:<a@example.com>")
        self.assertEqual(out[i:i + 8], [
            " -> MAIL FROM:<a@example.com>", " -> RCPT TO:<b@example.com>",
            " -> RCPT TO:<c@example.com>", " -> DATA",
            "<-  250 2.1.0 Ok", "<-  250 2.1.5 Ok", "<-  250 2.1.5 Ok",
            "<-  354 End data with <CR><LF>.<CR><LF>"], self.show(p))
        msgs = self.d.messages()
        self.assertEqual(len(msgs), 1, self.show(p))
        self.assertEqual(envelope(msgs[0][1]), ("a@example.com", ["b@example.com", "c@example.com"]))
        self.assertEqual(body_of(msgs[0][1]), self.swaks_data(p))
        self.assertIn(b"\r\n\r\npipelined\r\n", msgs[0][1])

    def test_protocol_smtp_uses_helo(self):
        p = self.swaks("--protocol", "SMTP", "--from", "a@example.com", "--to", "b@example.com",
                       "--body", "old school")
        self.assert_ok(p)
        self.assertIn("-> HELO swaks.example", p.stdout.decode("utf-8", "replace"), self.show(p))
        msgs = self.d.messages()
        self.assertEqual(len(msgs), 1, self.show(p))
        trace = trace_of(msgs[0][1])
        self.assertIn(b"Received: from swaks.example ([127.0.0.1])\r\n", trace)
        self.assertIn(b" with SMTP id ", trace)
        self.assertEqual(envelope(msgs[0][1]), ("a@example.com", ["b@example.com"]))

    def test_data_dot_stuffing_round_trips(self):
        content = (b"Subject: dots\r\nFrom: a@example.com\r\nTo: b@example.com\r\n\r\n"
                   b"first\r\n.leading dot\r\n..two dots\r\nlast\r\n")
        path = self.write_file("dots.eml", content)
        p = self.swaks("--from", "a@example.com", "--to", "b@example.com", "--data", "@" + path)
        self.assert_ok(p)
        out = p.stdout.decode("utf-8", "replace")
        self.assertIn(" -> ..leading dot", out, self.show(p))
        self.assertIn(" -> ...two dots", out, self.show(p))
        msgs = self.d.messages()
        self.assertEqual(len(msgs), 1, self.show(p))
        # swaks ends the data with one extra CRLF before the final dot.
        self.assertEqual(body_of(msgs[0][1]), content + b"\r\n")
        self.assertEqual(body_of(msgs[0][1]), self.swaks_data(p))
        self.assertIn(b"\r\nfirst\r\n.leading dot\r\n..two dots\r\n", msgs[0][1])

    def test_refused_recipient_syntax_fails_swaks(self):
        p = self.swaks("--from", "a@example.com", "--to", "bad@@example.com", "--body", "x")
        self.assertNotEqual(p.returncode, 0, self.show(p))
        self.assertIn("<** 501 5.1.3", p.stdout.decode("utf-8", "replace"), self.show(p))
        self.assertEqual(self.d.messages(), [])


# --------------------------------------------------------------------------
# curl
# --------------------------------------------------------------------------

CURL_CRLF = (b"From: a@example.com\r\nTo: b@example.com, c@example.com\r\nSubject: curl test\r\n\r\n"
             b"hello curl\r\n.leading dot\r\nend\r\n")
CURL_LF = CURL_CRLF.replace(b"\r\n", b"\n")


class Curl(ToolTest):

    def curl(self, path, *extra):
        return self.run_tool([self.tool("curl", "curl"), "-sS",
                              "smtp://%s:%d/curl.example" % (self.d.host, self.d.port),
                              "--mail-from", "a@example.com",
                              "--mail-rcpt", "b@example.com", "--mail-rcpt", "c@example.com",
                              "-T", path] + list(extra))

    def test_crlf_file(self):
        p = self.curl(self.write_file("crlf.eml", CURL_CRLF))
        self.assert_ok(p)
        msgs = self.d.messages()
        self.assertEqual(len(msgs), 1, self.show(p))
        data = msgs[0][1]
        self.assertEqual(envelope(data), ("a@example.com", ["b@example.com", "c@example.com"]))
        self.assertIn(b"Received: from curl.example ([127.0.0.1])\r\n", data)
        self.assertEqual(body_of(data), CURL_CRLF)
        self.assertEqual(self.d.messages("tmp"), [])

    def test_bare_lf_file_rejected(self):
        p = self.curl(self.write_file("lf.eml", CURL_LF), "-v")
        self.assertNotEqual(p.returncode, 0, self.show(p))
        self.assertIn("550 5.6.0", p.stderr.decode("utf-8", "replace"), self.show(p))
        self.assertEqual(self.d.messages(), [], self.show(p))
        self.assertEqual(self.d.messages("tmp"), [], self.show(p))

    def test_bare_lf_file_with_crlf_option(self):
        p = self.curl(self.write_file("lf.eml", CURL_LF), "--crlf")
        self.assert_ok(p)
        msgs = self.d.messages()
        self.assertEqual(len(msgs), 1, self.show(p))
        data = msgs[0][1]
        assert_crlf_only(self, data)
        self.assertEqual(body_of(data), CURL_CRLF)
        self.assertEqual(envelope(data), ("a@example.com", ["b@example.com", "c@example.com"]))


# --------------------------------------------------------------------------
# msmtp
# --------------------------------------------------------------------------

class Msmtp(ToolTest):

    def test_send_lf_message(self):
        msmtp = self.tool("msmtp", "msmtp")
        # An empty configuration file so no user or system account interferes.
        conf = self.write_file("msmtprc", b"")
        os.chmod(conf, 0o600)
        content = (b"From: a@example.com\nTo: b@example.com\nSubject: msmtp test\n"
                   b"Date: Mon, 01 Jan 2024 00:00:00 +0000\nMessage-ID: <msmtp-1@example.com>\n\n"
                   b"hello msmtp\n.leading dot\nend\n")
        p = self.run_tool([msmtp, "--file=" + conf, "--host=%s" % self.d.host,
                           "--port=%d" % self.d.port, "--domain=msmtp.example",
                           "--from=a@example.com", "--auth=off", "--tls=off",
                           "b@example.com"], stdin=content)
        self.assert_ok(p)
        msgs = self.d.messages()
        self.assertEqual(len(msgs), 1, self.show(p))
        data = msgs[0][1]
        self.assertEqual(envelope(data), ("a@example.com", ["b@example.com"]))
        self.assertIn(b"Received: from msmtp.example ([127.0.0.1])\r\n", data)
        assert_crlf_only(self, data)
        self.assertEqual(body_of(data), content.replace(b"\n", b"\r\n"))
        self.assertEqual(self.d.messages("tmp"), [])


if __name__ == "__main__":
    main()
