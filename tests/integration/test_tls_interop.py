"""TLS and AUTH interoperability: real clients (openssl s_client, Python
smtplib, swaks, curl, msmtp) against the real daemon on a
"starttls-required" submission listener (AUTH needed for MAIL) and an
"implicit" TLS listener. The daemon uses its ephemeral self-signed
certificate, so no client verifies it.

Every test checks the client's own outcome and then exactly what landed in
the maildir: envelope, content, the "with ESMTPSA"/"with ESMTPS" protocol,
the TLS comment in the Received header, X-Smtptrap-TLS and X-Smtptrap-Auth.

The external clients are required, not optional: the project's bootstrap
installs them, so a missing one fails the test and names the package."""

import base64
import os
import re
import select
import smtplib
import ssl
import subprocess
import sys
import threading
import time
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import (CLIENT_TIMEOUT, Daemon, DaemonTest, ToolMixin, body_of,  # noqa: E402
                              envelope, main, trace_of)

USER = "alice"
PASSWORD = "wonderland"

CONFIG = """\
listeners = (
  { name = "submission"; address = "127.0.0.1"; port = 0; tls = "starttls-required";
    require_auth_for_mail = true; },
  { name = "smtps"; address = "127.0.0.1"; port = 0; tls = "implicit"; }
);
auth = { users = ( { name = "alice"; password = "wonderland"; } ); };
"""


def no_verify_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class TlsTest(ToolMixin, DaemonTest):
    """A daemon with the submission and smtps listeners of CONFIG, and
    helpers to run clients and check the stored message."""

    CONFIG = CONFIG

    def setUp(self):
        # listen=(): only the configuration's own listeners.
        self.d = Daemon(self.CONFIG, self.ARGS, listen=())
        self.clients = []
        self.submission = self.d.port_of["submission"]
        self.smtps = self.d.port_of["smtps"]

    # -- the stored message --------------------------------------------------

    def assert_nothing_stored(self, why=""):
        self.assertEqual(self.d.messages(), [], why)
        self.assertEqual(self.d.messages("tmp"), [], why)

    def assert_stored(self, sender, rcpts, helo, mech, content=None, cipher=None, why=""):
        """Exactly one message, received over TLSv1.3 (and with AUTH as alice
        using `mech`, or no AUTH when mech is None); returns its bytes."""
        msgs = self.d.messages()
        self.assertEqual(len(msgs), 1, "expected 1 stored message, found %d\n%s" % (len(msgs), why))
        self.assertEqual(self.d.messages("tmp"), [], why)
        data = msgs[0][1]
        trace = trace_of(data)
        self.assertEqual(envelope(data), (sender, rcpts), why)
        protocol = b"ESMTPSA" if mech else b"ESMTPS"
        m = re.match(rb"Return-Path: <%s>\r\n"
                     rb"Received: from %s \(\[127\.0\.0\.1\]\)\r\n"
                     rb"\t\(using TLSv1\.3 with cipher (\S+) \((\d+)/(\d+) bits\)\)\r\n"
                     rb"\tby \S+ \(smtptrapd\) with %s id [0-9A-Za-z.]+(?:\r\n\tfor <%s>; |;\r\n\t)"
                     % (re.escape(sender.encode()), re.escape(helo.encode()), protocol,
                        re.escape(rcpts[0].encode()) if len(rcpts) == 1 else b"(?!)"),
                     trace)
        self.assertIsNotNone(m, "unexpected trace block:\n%s\n%s" % (
            trace.decode("utf-8", "replace"), why))
        got_cipher, bits = m.group(1).decode(), int(m.group(2))
        self.assertGreaterEqual(bits, 128, trace)
        self.assertEqual(int(m.group(3)), bits, trace)
        if cipher is not None:
            self.assertEqual(got_cipher, cipher, "client and daemon disagree on the cipher\n" + why)
        tls = "X-Smtptrap-TLS: version=TLSv1.3 cipher=%s bits=%d\r\n" % (got_cipher, bits)
        self.assertEqual(trace.count(b"X-Smtptrap-TLS: "), 1, trace)
        self.assertIn(tls.encode(), trace)
        if mech:
            auth = b"X-Smtptrap-Auth: user=%s mechanism=%s\r\n" % (USER.encode(), mech.encode())
            self.assertIn(auth, trace)
            self.assertEqual(trace.count(b"X-Smtptrap-Auth: "), 1, trace)
            self.assertTrue(trace.endswith(tls.encode() + auth), trace)
        else:
            self.assertNotIn(b"X-Smtptrap-Auth:", trace)
            self.assertTrue(trace.endswith(tls.encode()), trace)
        self.assertNotRegex(data, rb"(?<!\r)\n", "bare LF in %r" % data)
        if content is not None:
            self.assertEqual(body_of(data), content, why)
        return data


# --------------------------------------------------------------------------
# openssl s_client
# --------------------------------------------------------------------------

class SClient:
    """openssl s_client driven line by line: write a command, read the
    whole reply, like an SMTP client would."""

    def __init__(self, test, argv):
        self.test = test
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        test.addCleanup(self._reap)
        self.out = b""      # everything read from stdout so far
        self.pos = 0        # how much of it the replies consumed
        self.err = []
        self.err_reader = threading.Thread(target=lambda: self.err.append(self.proc.stderr.read()),
                                           daemon=True)
        self.err_reader.start()
        self.deadline = time.monotonic() + CLIENT_TIMEOUT

    def _reap(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.err_reader.join(5)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass

    def stderr(self):
        self.err_reader.join(0.5 if self.proc.poll() is None else 5)
        return b"".join(self.err).decode("utf-8", "replace")

    def describe(self):
        return "argv: %r\nexit: %r\nstdout:\n%s\nstderr:\n%s" % (
            self.argv, self.proc.poll(), self.out.decode("utf-8", "replace"), self.stderr())

    def send(self, *lines):
        """Write lines; s_client -crlf turns each LF into CRLF."""
        try:
            self.proc.stdin.write("".join(l + "\n" for l in lines).encode("utf-8"))
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.test.fail("s_client went away\n" + self.describe())

    def _line(self):
        while b"\n" not in self.out[self.pos:]:
            left = self.deadline - time.monotonic()
            if left <= 0:
                self.test.fail("s_client: no complete reply within %d s\n%s"
                               % (CLIENT_TIMEOUT, self.describe()))
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if not r:
                continue
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                self.test.fail("s_client: EOF before a complete reply\n" + self.describe())
            self.out += chunk
        end = self.out.index(b"\n", self.pos)
        line = self.out[self.pos:end]
        self.pos = end + 1
        return line

    def reply(self):
        """(code, [texts]) of the next whole reply."""
        texts = []
        while True:
            line = self._line()
            if not line.endswith(b"\r"):
                self.test.fail("reply line without CRLF: %r\n%s" % (line, self.describe()))
            line = line[:-1].decode("utf-8", "replace")
            if not re.match(r"\d{3}[ -]", line):
                self.test.fail("malformed reply line %r\n%s" % (line, self.describe()))
            texts.append(line[4:])
            if line[3] == " ":
                return int(line[:3]), texts

    def expect(self, code, *lines):
        if lines:
            self.send(*lines)
        got, texts = self.reply()
        if got != code:
            self.test.fail("after %r expected %d, got %d %r\n%s" % (lines, code, got, texts,
                                                                    self.describe()))
        return texts

    def finish(self):
        """Close stdin and wait for s_client to exit; return its status."""
        self.proc.stdin.close()
        try:
            rc = self.proc.wait(max(1, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.test.fail("s_client did not exit within %d s\n%s" % (CLIENT_TIMEOUT,
                                                                     self.describe()))
        rest = self.proc.stdout.read()
        self.out += rest
        self.test.assertEqual(rest, b"", "output after 221:\n" + self.describe())
        return rc


S_CLIENT_CONTENT = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: s_client\r\n\r\n"
                    b"hello from openssl s_client\r\n.leading dot\r\nend\r\n")


class OpensslSClient(TlsTest):

    def s_client(self, *args):
        return SClient(self, [self.tool("openssl", "openssl"), "s_client", "-quiet", "-crlf",
                              "-servername", "localhost"] + list(args))

    def transaction(self, c, rcpts):
        """MAIL, RCPT..., DATA with S_CLIENT_CONTENT (dot-stuffed), QUIT."""
        c.expect(250, "MAIL FROM:<a@example.com>")
        for r in rcpts:
            c.expect(250, "RCPT TO:<%s>" % r)
        c.expect(354, "DATA")
        lines = S_CLIENT_CONTENT.decode().split("\r\n")[:-1]
        c.expect(250, *[("." + l if l.startswith(".") else l) for l in lines] + ["."])
        c.expect(221, "QUIT")
        rc = c.finish()
        self.assertEqual(rc, 0, c.describe())

    def test_starttls_auth_plain_submission(self):
        c = self.s_client("-starttls", "smtp", "-connect", "127.0.0.1:%d" % self.submission)
        # s_client consumed the greeting and did EHLO/STARTTLS itself.
        ehlo = c.expect(250, "EHLO sclient.example")
        self.assertIn("AUTH PLAIN LOGIN CRAM-MD5", ehlo, c.describe())
        self.assertNotIn("STARTTLS", ehlo, c.describe())
        token = base64.b64encode(b"\0alice\0wonderland").decode()
        texts = c.expect(235, "AUTH PLAIN " + token)
        self.assertIn("2.7.0", texts[0])
        self.transaction(c, ["b@example.com", "c@example.com"])
        self.assert_stored("a@example.com", ["b@example.com", "c@example.com"], "sclient.example",
                           "PLAIN", S_CLIENT_CONTENT, why=c.describe())

    def test_starttls_without_auth_refused_at_mail(self):
        # require_auth_for_mail: TLS alone is not enough on submission.
        c = self.s_client("-starttls", "smtp", "-connect", "127.0.0.1:%d" % self.submission)
        c.expect(250, "EHLO sclient.example")
        texts = c.expect(530, "MAIL FROM:<a@example.com>")
        self.assertIn("5.7.0", texts[0])
        c.expect(221, "QUIT")
        self.assertEqual(c.finish(), 0, c.describe())
        self.assert_nothing_stored(c.describe())

    def test_implicit_tls_smtps(self):
        c = self.s_client("-connect", "127.0.0.1:%d" % self.smtps)
        c.expect(220)
        ehlo = c.expect(250, "EHLO sclient.example")
        self.assertNotIn("STARTTLS", ehlo, c.describe())
        self.assertIn("AUTH PLAIN LOGIN CRAM-MD5", ehlo, c.describe())
        self.transaction(c, ["b@example.com"])
        self.assert_stored("a@example.com", ["b@example.com"], "sclient.example", None,
                           S_CLIENT_CONTENT, why=c.describe())


# --------------------------------------------------------------------------
# Python smtplib
# --------------------------------------------------------------------------

class Smtplib(TlsTest):

    def smtp(self, port):
        s = smtplib.SMTP(self.d.host, port, local_hostname="smtplib.example", timeout=10)
        self.addCleanup(s.close)
        return s

    def test_starttls_login_send_message(self):
        msg = EmailMessage()
        msg["Subject"] = "smtplib over STARTTLS"
        msg["From"] = "Alice <alice@example.com>"
        msg["To"] = "Bob <bob@example.com>"
        msg.set_content("Grüße über TLS.\nSecond line.\n")
        s = self.smtp(self.submission)
        s.ehlo()
        self.assertTrue(s.has_extn("starttls"), s.esmtp_features)
        self.assertFalse(s.has_extn("auth"), "AUTH offered before TLS: %r" % s.esmtp_features)
        self.assertEqual(s.starttls(context=no_verify_context())[0], 220)
        version, cipher = s.sock.version(), s.sock.cipher()[0]
        s.ehlo()
        self.assertFalse(s.has_extn("starttls"), s.esmtp_features)
        self.assertEqual(s.esmtp_features.get("auth", "").split(), ["PLAIN", "LOGIN", "CRAM-MD5"])
        # smtplib prefers CRAM-MD5 of the three.
        self.assertEqual(s.login(USER, PASSWORD)[0], 235)
        self.assertEqual(s.send_message(msg), {})
        self.assertEqual(s.quit()[0], 221)
        self.assertEqual(version, "TLSv1.3")
        data = self.assert_stored("alice@example.com", ["bob@example.com"], "smtplib.example",
                                  "CRAM-MD5", cipher=cipher)
        self.assertEqual(body_of(data), msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))

    def test_starttls_login_plain(self):
        s = self.smtp(self.submission)
        s.starttls(context=no_verify_context())
        s.ehlo()
        s.user, s.password = USER, PASSWORD
        self.assertEqual(s.auth("PLAIN", s.auth_plain, initial_response_ok=True)[0], 235)
        content = b"Subject: plain\r\n\r\nauth plain\r\n"
        self.assertEqual(s.sendmail("a@example.com", ["b@example.com"], content), {})
        s.quit()
        self.assert_stored("a@example.com", ["b@example.com"], "smtplib.example", "PLAIN", content)

    def test_smtp_ssl_login_sendmail(self):
        s = smtplib.SMTP_SSL(self.d.host, self.smtps, local_hostname="smtplib.example",
                             timeout=10, context=no_verify_context())
        self.addCleanup(s.close)
        cipher = s.sock.cipher()[0]
        s.ehlo()
        self.assertFalse(s.has_extn("starttls"), s.esmtp_features)
        s.user, s.password = USER, PASSWORD
        self.assertEqual(s.auth("LOGIN", s.auth_login, initial_response_ok=False)[0], 235)
        content = b"Subject: smtps\r\n\r\nimplicit TLS\r\n.dot\r\n"
        self.assertEqual(s.sendmail("a@example.com", ["b@example.com", "c@example.com"],
                                    content), {})
        self.assertEqual(s.quit()[0], 221)
        self.assert_stored("a@example.com", ["b@example.com", "c@example.com"],
                           "smtplib.example", "LOGIN", content, cipher=cipher)

    def test_smtp_ssl_login(self):
        s = smtplib.SMTP_SSL(self.d.host, self.smtps, local_hostname="smtplib.example",
                             timeout=10, context=no_verify_context())
        self.addCleanup(s.close)
        self.assertEqual(s.login(USER, PASSWORD)[0], 235)
        content = b"Subject: smtps login\r\n\r\nlogin()\r\n"
        self.assertEqual(s.sendmail("a@example.com", ["b@example.com"], content), {})
        self.assertEqual(s.quit()[0], 221)
        self.assert_stored("a@example.com", ["b@example.com"], "smtplib.example", "CRAM-MD5",
                           content)

    def test_wrong_password_535(self):
        s = self.smtp(self.submission)
        s.starttls(context=no_verify_context())
        with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
            s.login(USER, "looking-glass")
        self.assertEqual(cm.exception.smtp_code, 535, cm.exception)
        self.assertIn(b"5.7.8", cm.exception.smtp_error)
        # Still not authenticated: MAIL is refused.
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            s.sendmail("a@example.com", ["b@example.com"], b"Subject: x\r\n\r\nx\r\n")
        self.assertEqual(cm.exception.smtp_code, 530, cm.exception)
        self.assertIn(b"Authentication required", cm.exception.smtp_error)
        self.assertEqual(s.quit()[0], 221)
        self.assert_nothing_stored()

    def test_no_starttls_sendmail_530(self):
        s = self.smtp(self.submission)
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            s.sendmail("a@example.com", ["b@example.com"], b"Subject: x\r\n\r\nx\r\n")
        self.assertEqual(cm.exception.smtp_code, 530, cm.exception)
        self.assertIn(b"5.7.0 Must issue a STARTTLS command first", cm.exception.smtp_error)
        self.assertEqual(s.quit()[0], 221)
        self.assert_nothing_stored()

    def test_no_starttls_no_auth(self):
        # Before TLS AUTH is neither offered nor accepted; on a
        # starttls-required listener the refusal is the STARTTLS one.
        s = self.smtp(self.submission)
        s.ehlo()
        self.assertTrue(s.has_extn("starttls"), s.esmtp_features)
        self.assertFalse(s.has_extn("auth"), "AUTH offered before TLS: %r" % s.esmtp_features)
        with self.assertRaises(smtplib.SMTPNotSupportedError):
            s.login(USER, PASSWORD)
        code, text = s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0alice\0wonderland").decode())
        self.assertEqual((code, text), (530, b"5.7.0 Must issue a STARTTLS command first"))
        self.assertEqual(s.quit()[0], 221)
        self.assert_nothing_stored()


# --------------------------------------------------------------------------
# swaks
# --------------------------------------------------------------------------

class Swaks(TlsTest):

    def swaks(self, port, *args):
        return self.run_tool([self.tool("swaks", "swaks"),
                              "--server", "127.0.0.1:%d" % port,
                              "--helo", "swaks.example", "--timeout", "20",
                              "--from", "a@example.com", "--to", "b@example.com",
                              "--header", "Subject: swaks over TLS",
                              "--body", "hello swaks"] + list(args))

    def check(self, p, mech):
        self.assert_ok(p)
        out = p.stdout.decode("utf-8", "replace")
        m = re.search(r"^=== TLS started with cipher TLSv1\.3:(\S+):\d+$", out, re.M)
        self.assertIsNotNone(m, self.show(p))
        if mech:
            self.assertRegex(out, r"(?m)^ ~> AUTH %s\b" % mech, self.show(p))
            self.assertRegex(out, r"(?m)^<~  235 ", self.show(p))
        else:
            self.assertNotIn("AUTH ", "\n".join(l for l in out.split("\n")
                                                if l.startswith(" ~> ")), self.show(p))
        data = self.assert_stored("a@example.com", ["b@example.com"], "swaks.example", mech,
                                  self.swaks_data(p, tls=True), cipher=m.group(1), why=self.show(p))
        self.assertIn(b"\r\nSubject: swaks over TLS\r\n", data)
        self.assertIn(b"\r\n\r\nhello swaks\r\n", data)

    def auth(self, mech):
        p = self.swaks(self.submission, "--tls", "--auth", mech,
                       "--auth-user", USER, "--auth-password", PASSWORD)
        self.check(p, mech)
        self.assertIn(" -> STARTTLS", p.stdout.decode("utf-8", "replace"), self.show(p))

    def test_starttls_auth_plain(self):
        self.auth("PLAIN")

    def test_starttls_auth_login(self):
        self.auth("LOGIN")

    def test_starttls_auth_cram_md5(self):
        self.auth("CRAM-MD5")

    def test_tls_on_connect_smtps(self):
        p = self.swaks(self.smtps, "--tlsc")
        self.check(p, None)
        self.assertNotIn("STARTTLS", p.stdout.decode("utf-8", "replace"), self.show(p))

    def test_tls_on_connect_smtps_auth(self):
        p = self.swaks(self.smtps, "--tlsc", "--auth", "PLAIN",
                       "--auth-user", USER, "--auth-password", PASSWORD)
        self.check(p, "PLAIN")

    def test_wrong_password_fails(self):
        p = self.swaks(self.submission, "--tls", "--auth", "PLAIN",
                       "--auth-user", USER, "--auth-password", "looking-glass")
        self.assertNotEqual(p.returncode, 0, self.show(p))
        self.assertIn("<~* 535 5.7.8", p.stdout.decode("utf-8", "replace"), self.show(p))
        self.assert_nothing_stored(self.show(p))


# --------------------------------------------------------------------------
# curl
# --------------------------------------------------------------------------

CURL_CONTENT = (b"From: a@example.com\r\nTo: b@example.com, c@example.com\r\n"
                b"Subject: curl over TLS\r\n\r\nhello curl\r\n.leading dot\r\nend\r\n")


class Curl(TlsTest):

    def curl(self, url, password=PASSWORD, *extra):
        path = self.write_file("curl.eml", CURL_CONTENT)
        return self.run_tool([self.tool("curl", "curl"), "-sS", "-v", "-k", url,
                              "--user", "%s:%s" % (USER, password),
                              "--mail-from", "a@example.com",
                              "--mail-rcpt", "b@example.com", "--mail-rcpt", "c@example.com",
                              "--upload-file", path] + list(extra))

    def check(self, p):
        self.assert_ok(p)
        err = p.stderr.decode("utf-8", "replace")
        m = re.search(r"SSL connection using TLSv1\.3 / (\S+)", err)
        self.assertIsNotNone(m, self.show(p))
        # Whichever mechanism curl chose is what the daemon recorded.
        mech = re.search(r"(?m)^> AUTH (\S+)", err)
        self.assertIsNotNone(mech, self.show(p))
        self.assertIn(mech.group(1), ("PLAIN", "LOGIN", "CRAM-MD5"))
        self.assertRegex(err, r"(?m)^< 235 ", self.show(p))
        self.assert_stored("a@example.com", ["b@example.com", "c@example.com"], "curl.example",
                           mech.group(1), CURL_CONTENT, cipher=m.group(1), why=self.show(p))
        return mech.group(1)

    def test_ssl_reqd_starttls(self):
        p = self.curl("smtp://127.0.0.1:%d/curl.example" % self.submission, PASSWORD,
                      "--ssl-reqd")
        self.check(p)
        self.assertRegex(p.stderr.decode("utf-8", "replace"), r"(?m)^> STARTTLS", self.show(p))

    def test_ssl_reqd_starttls_auth_plain(self):
        p = self.curl("smtp://127.0.0.1:%d/curl.example" % self.submission, PASSWORD,
                      "--ssl-reqd", "--login-options", "AUTH=PLAIN")
        self.assertEqual(self.check(p), "PLAIN")

    def test_smtps(self):
        p = self.curl("smtps://127.0.0.1:%d/curl.example" % self.smtps)
        self.check(p)
        self.assertNotRegex(p.stderr.decode("utf-8", "replace"), r"(?m)^> STARTTLS", self.show(p))

    def test_wrong_password_login_denied(self):
        p = self.curl("smtp://127.0.0.1:%d/curl.example" % self.submission, "looking-glass",
                      "--ssl-reqd")
        self.assertEqual(p.returncode, 67, self.show(p))
        err = p.stderr.decode("utf-8", "replace")
        self.assertIn("login denied", err.lower(), self.show(p))
        self.assertRegex(err, r"(?m)^< 535 5\.7\.8 ", self.show(p))
        self.assert_nothing_stored(self.show(p))


# --------------------------------------------------------------------------
# msmtp
# --------------------------------------------------------------------------

MSMTP_CONTENT = (b"From: a@example.com\nTo: b@example.com\nSubject: msmtp over TLS\n"
                 b"Date: Mon, 01 Jan 2024 00:00:00 +0000\nMessage-ID: <msmtp-tls-1@example.com>\n\n"
                 b"hello msmtp\n.leading dot\nend\n")


class Msmtp(TlsTest):

    def msmtp(self, *args):
        msmtp = self.tool("msmtp", "msmtp")
        # An empty configuration file so no user or system account interferes.
        conf = self.write_file("msmtprc", b"", 0o600)
        return self.run_tool([msmtp, "--file=" + conf, "--host=127.0.0.1",
                              "--domain=msmtp.example", "--from=a@example.com",
                              "--tls=on", "--tls-certcheck=off"] + list(args)
                             + ["b@example.com"], stdin=MSMTP_CONTENT)

    def check(self, p, mech):
        self.assert_ok(p)
        self.assert_stored("a@example.com", ["b@example.com"], "msmtp.example", mech,
                           MSMTP_CONTENT.replace(b"\n", b"\r\n"), why=self.show(p))

    def test_starttls_auth_plain(self):
        p = self.msmtp("--port=%d" % self.submission, "--tls-starttls=on",
                       "--auth=plain", "--user=" + USER, "--passwordeval=echo " + PASSWORD)
        self.check(p, "PLAIN")

    def test_starttls_auth_login_config_file(self):
        msmtp = self.tool("msmtp", "msmtp")
        conf = self.write_file("msmtprc-login", (
            "account default\nhost 127.0.0.1\nport %d\ndomain msmtp.example\n"
            "from a@example.com\ntls on\ntls_starttls on\ntls_certcheck off\n"
            "auth login\nuser %s\npassword %s\n" % (self.submission, USER, PASSWORD)).encode(),
            0o600)
        p = self.run_tool([msmtp, "--file=" + conf, "b@example.com"], stdin=MSMTP_CONTENT)
        self.check(p, "LOGIN")

    def test_implicit_tls_smtps(self):
        p = self.msmtp("--port=%d" % self.smtps, "--tls-starttls=off",
                       "--auth=cram-md5", "--user=" + USER, "--passwordeval=echo " + PASSWORD)
        self.check(p, "CRAM-MD5")

    def test_without_auth_refused(self):
        p = self.msmtp("--port=%d" % self.submission, "--tls-starttls=on", "--auth=off")
        self.assertNotEqual(p.returncode, 0, self.show(p))
        self.assertIn("530 5.7.0 Authentication required", p.stderr.decode("utf-8", "replace"),
                      self.show(p))
        self.assert_nothing_stored(self.show(p))


if __name__ == "__main__":
    main()
