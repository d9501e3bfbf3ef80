"""SMTP AUTH (RFC 4954) over raw sockets against the real daemon: PLAIN
with and without an initial response, LOGIN step by step, CRAM-MD5 with a
right and a wrong digest, every refusal code, the error limit, secrets kept
out of the log, the AUTH= MAIL parameter, require_auth_for_mail, and what a
successful login leaves in the stored message."""

import base64
import hmac
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import DaemonTest, main  # noqa: E402

SHA512_PASSWORD = "through-the-looking-glass"


def b64(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def plain(user, password, authzid=""):
    return b64("%s\0%s\0%s" % (authzid, user, password))


def sha512_hash(password):
    out = subprocess.run(["openssl", "passwd", "-6", password], capture_output=True,
                         check=True, timeout=30)
    return out.stdout.decode().strip()


USERS = """
auth = {
    users = (
        { name = "alice"; password = "wonderland"; },
        { name = "bob"; hash = "%s"; }
    );
};
""" % sha512_hash(SHA512_PASSWORD)

LISTENERS = """
listeners = (
    { name = "open"; port = 0; tls = "none"; auth_without_tls = true; },
    { name = "smtp"; port = 0; tls = "starttls"; },
    { name = "cram"; port = 0; tls = "starttls"; auth_without_tls = ["CRAM-MD5"]; },
    { name = "submission"; port = 0; tls = "none"; auth_without_tls = true;
      require_auth_for_mail = true; },
    { name = "noauth"; port = 0; tls = "none"; auth = false; },
    { name = "reqtls"; port = 0; tls = "starttls-required"; auth_without_tls = true; }
);
"""


class AuthTest(DaemonTest):
    LISTEN = ()  # the listeners of CONFIG
    CONFIG = LISTENERS + USERS

    def on(self, listener, ehlo=True):
        c = self.connect(port=self.d.port_of[listener])
        if ehlo:
            self.assertEqual(self.ehlo(c).code, 250)
        return c

    def auth_line(self, r):
        """The mechanisms of the AUTH line of an EHLO reply, or None."""
        for line in r.lines:
            if line.startswith("AUTH "):
                return line.split()[1:]
        return None


class Offer(AuthTest):
    def test_plaintext_listener_offers_no_auth_before_tls(self):
        c = self.on("smtp", ehlo=False)
        self.assertIsNone(self.auth_line(self.ehlo(c)))
        r = c.cmd("AUTH PLAIN " + plain("alice", "wonderland"))
        self.assertEqual((r.code, r.text),
                         (538, "5.7.11 Encryption required for requested authentication mechanism"))
        c.starttls()
        self.assertEqual(self.auth_line(self.ehlo(c)), ["PLAIN", "LOGIN", "CRAM-MD5"])
        self.assertEqual(c.cmd("AUTH PLAIN " + plain("alice", "wonderland")).code, 235)

    def test_only_listed_mechanisms_before_tls(self):
        c = self.on("cram", ehlo=False)
        self.assertEqual(self.auth_line(self.ehlo(c)), ["CRAM-MD5"])
        self.assertEqual(c.cmd("AUTH LOGIN").code, 538)
        self.assertEqual(c.cmd("AUTH CRAM-MD5").code, 334)

    def test_nothing_offered_where_tls_is_required(self):
        # auth_without_tls cannot open what starttls-required closes.
        c = self.on("reqtls", ehlo=False)
        self.assertIsNone(self.auth_line(self.ehlo(c)))
        self.assertEqual(c.cmd("AUTH PLAIN " + plain("alice", "wonderland")).code, 530)
        c.starttls()
        self.assertEqual(self.auth_line(self.ehlo(c)), ["PLAIN", "LOGIN", "CRAM-MD5"])

    def test_helo_does_not_enable_auth(self):
        c = self.on("open", ehlo=False)
        self.assertEqual(c.cmd("HELO client.example").code, 250)
        r = c.cmd("AUTH PLAIN " + plain("alice", "wonderland"))
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: send EHLO first"))

    def test_auth_disabled_on_listener(self):
        c = self.on("noauth", ehlo=False)
        self.assertIsNone(self.auth_line(self.ehlo(c)))
        r = c.cmd("AUTH PLAIN " + plain("alice", "wonderland"))
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: authentication not enabled"))
        r = c.cmd("MAIL FROM:<a@example.com> AUTH=<>")
        self.assertEqual(r.code, 555)


class Plain(AuthTest):
    def test_initial_response_then_message_records_user(self):
        c = self.on("open")
        r = c.cmd("AUTH PLAIN " + plain("alice", "wonderland"))
        self.assertEqual((r.code, r.text), (235, "2.7.0 Authentication successful"))
        r = c.cmd("AUTH PLAIN " + plain("alice", "wonderland"))
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: already authenticated"))
        self.assertEqual(c.cmd("MAIL FROM:<alice@example.com> AUTH=alice@example.com").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        self.assertEqual(c.cmd("Subject: hi\r\n\r\nbody\r\n.").code, 250)
        (_, data), = self.wait_messages(1)
        self.assertIn(b"\tby ", data)
        self.assertRegex(data, rb"\twith ESMTPA id |\) with ESMTPA id ")
        self.assertIn(b"X-Smtptrap-Auth: user=alice mechanism=PLAIN\r\n", data)
        self.assertIn(b"X-Smtptrap-Mail-From: <alice@example.com> AUTH=alice@example.com\r\n", data)
        self.assertNotIn(b"X-Smtptrap-TLS:", data)
        self.d.wait_log(r" auth mechanism=PLAIN user=alice result=ok$")

    def test_continuation(self):
        c = self.on("open")
        r = c.cmd("AUTH PLAIN")
        self.assertEqual((r.code, r.lines), (334, [""]))
        self.assertEqual(c.cmd(plain("alice", "wonderland")).code, 235)

    def test_crypt_hash_user(self):
        c = self.on("open")
        self.assertEqual(c.cmd("AUTH PLAIN " + plain("bob", SHA512_PASSWORD)).code, 235)

    def test_wrong_password_and_unknown_user(self):
        c = self.on("open")
        for user, pw in [("alice", "Wonderland"), ("bob", "wrong"), ("nobody", "wonderland")]:
            r = c.cmd("AUTH PLAIN " + plain(user, pw))
            self.assertEqual((r.code, r.text), (535, "5.7.8 Authentication credentials invalid"))
        self.d.wait_log(r' auth mechanism=PLAIN user=alice result=failed reason="wrong credentials"$')
        self.d.wait_log(r' auth mechanism=PLAIN user=nobody result=failed reason="unknown user"$')
        # Still not authenticated: a later success works.
        self.assertEqual(c.cmd("AUTH PLAIN " + plain("alice", "wonderland")).code, 235)

    def test_other_authorization_identity_refused(self):
        c = self.on("open")
        r = c.cmd("AUTH PLAIN " + plain("alice", "wonderland", authzid="bob"))
        self.assertEqual(r.code, 535)
        self.assertEqual(c.cmd("AUTH PLAIN " + plain("alice", "wonderland", authzid="alice")).code, 235)

    def test_bad_base64_cancel_and_malformed(self):
        c = self.on("open")
        r = c.cmd("AUTH PLAIN not*base64")
        self.assertEqual((r.code, r.text), (501, "5.5.2 Cannot decode response"))
        self.assertEqual(c.cmd("AUTH PLAIN").code, 334)
        r = c.cmd("*")
        self.assertEqual((r.code, r.text), (501, "5.7.0 Authentication canceled"))
        self.assertEqual(c.cmd("AUTH PLAIN").code, 334)
        r = c.cmd("%%%")
        self.assertEqual((r.code, r.text), (501, "5.5.2 Cannot decode response"))
        r = c.cmd("AUTH PLAIN " + b64("no-nul-here"))
        self.assertEqual(r.code, 501)
        self.assertTrue(r.text.startswith("5.5.2 Invalid authentication response"), r)
        # A user name with CR LF would end up in headers: refused.
        r = c.cmd("AUTH PLAIN " + b64("\0ev\r\nX-Evil: 1\0pw"))
        self.assertEqual(r.code, 501)
        # After all that the session is still usable.
        self.assertEqual(c.cmd("NOOP").code, 250)
        self.assertEqual(c.cmd("AUTH PLAIN " + plain("alice", "wonderland")).code, 235)

    def test_order_and_syntax(self):
        c = self.on("open", ehlo=False)
        r = c.cmd("AUTH PLAIN " + plain("alice", "wonderland"))
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: send EHLO first"))
        self.assertEqual(self.ehlo(c).code, 250)
        r = c.cmd("AUTH")
        self.assertEqual((r.code, r.text[:5]), (501, "5.5.4"))
        r = c.cmd("AUTH DIGEST-MD5")
        self.assertEqual((r.code, r.text), (504, "5.5.4 Unrecognized authentication type"))
        r = c.cmd("AUTH PLAIN a b")
        self.assertEqual(r.code, 501)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        r = c.cmd("AUTH PLAIN " + plain("alice", "wonderland"))
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: MAIL transaction in progress"))

    def test_secrets_not_logged(self):
        c = self.on("open")
        bad = plain("alice", "Wonderland")
        self.assertEqual(c.cmd("AUTH PLAIN " + bad).code, 535)
        ir = plain("alice", "wonderland")
        self.assertEqual(c.cmd("AUTH PLAIN " + ir).code, 235)
        c2 = self.on("open")
        self.assertEqual(c2.cmd("AUTH LOGIN").code, 334)
        self.assertEqual(c2.cmd(b64("alice")).code, 334)
        self.assertEqual(c2.cmd(b64("wonderland")).code, 235)
        c2.cmd("QUIT")
        self.d.wait_log(r" auth mechanism=LOGIN user=alice result=ok$")
        self.d.wait_log(r' reject code=535 status=5\.7\.8 stage=auth rule=- cmd="AUTH PLAIN \*\*\*" ')
        log = "\n".join(self.d.lines)
        for secret in ("wonderland", "Wonderland", ir, bad, b64("wonderland")):
            self.assertNotIn(secret, log)

    def test_long_auth_line_accepted(self):
        # RFC 4954 4: AUTH lines may exceed 512 octets; other commands may not.
        c = self.on("open")
        r = c.cmd("AUTH PLAIN " + plain("alice", "x" * 1000))
        self.assertEqual(r.code, 535)
        r = c.cmd("NOOP " + "x" * 600)
        self.assertEqual((r.code, r.text), (500, "5.5.6 Error: line too long"))

    def test_auth_parameter_on_mail(self):
        c = self.on("open")
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com> AUTH=<>").code, 250)
        self.assertEqual(c.cmd("RSET").code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com> AUTH=").code, 501)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com> AUTH").code, 501)


class Login(AuthTest):
    def test_step_by_step(self):
        c = self.on("open")
        r = c.cmd("AUTH LOGIN")
        self.assertEqual((r.code, r.lines), (334, ["VXNlcm5hbWU6"]))
        r = c.cmd(b64("alice"))
        self.assertEqual((r.code, r.lines), (334, ["UGFzc3dvcmQ6"]))
        self.assertEqual(c.cmd(b64("wonderland")).code, 235)

    def test_initial_response_and_wrong_password(self):
        c = self.on("open")
        r = c.cmd("AUTH LOGIN " + b64("alice"))
        self.assertEqual((r.code, r.lines), (334, ["UGFzc3dvcmQ6"]))
        self.assertEqual(c.cmd(b64("nope")).code, 535)

    def test_cancel_at_password(self):
        c = self.on("open")
        self.assertEqual(c.cmd("AUTH LOGIN").code, 334)
        self.assertEqual(c.cmd(b64("alice")).code, 334)
        self.assertEqual(c.cmd("*").code, 501)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)


class CramMD5(AuthTest):
    def challenge(self, c):
        r = c.cmd("AUTH CRAM-MD5")
        self.assertEqual(r.code, 334)
        text = base64.b64decode(r.lines[0])
        self.assertRegex(text, rb"^<\d+\.\d+@[^>]+>$")
        return text

    def test_right_digest(self):
        c = self.on("open")
        ch = self.challenge(c)
        digest = hmac.new(b"wonderland", ch, "md5").hexdigest()
        self.assertEqual(c.cmd(b64("alice " + digest)).code, 235)

    def test_wrong_digest(self):
        c = self.on("open")
        ch = self.challenge(c)
        digest = hmac.new(b"Wonderland", ch, "md5").hexdigest()
        self.assertEqual(c.cmd(b64("alice " + digest)).code, 535)

    def test_challenges_differ(self):
        c = self.on("open")
        a = self.challenge(c)
        self.assertEqual(c.cmd("*").code, 501)
        b = self.challenge(c)
        self.assertNotEqual(a, b)

    def test_hash_only_user_cannot_use_cram(self):
        c = self.on("open")
        ch = self.challenge(c)
        digest = hmac.new(SHA512_PASSWORD.encode(), ch, "md5").hexdigest()
        self.assertEqual(c.cmd(b64("bob " + digest)).code, 535)
        self.d.wait_log(r' auth mechanism=CRAM-MD5 user=bob result=failed reason="no plaintext secret for CRAM-MD5"$')

    def test_initial_response_refused(self):
        c = self.on("open")
        self.assertEqual(c.cmd("AUTH CRAM-MD5 " + b64("alice 0123")).code, 501)


class RequireAuth(AuthTest):
    def test_mail_needs_auth(self):
        c = self.on("submission")
        r = c.cmd("MAIL FROM:<a@example.com>")
        self.assertEqual((r.code, r.text), (530, "5.7.0 Authentication required"))
        self.assertEqual(c.cmd("AUTH PLAIN " + plain("alice", "wonderland")).code, 235)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)


class NoCramWithoutSecrets(AuthTest):
    CONFIG = LISTENERS + """
    auth = { users = ( { name = "bob"; hash = "%s"; } ); };
    """ % sha512_hash(SHA512_PASSWORD)

    def test_cram_not_offered(self):
        c = self.on("open", ehlo=False)
        self.assertEqual(self.auth_line(self.ehlo(c)), ["PLAIN", "LOGIN"])
        r = c.cmd("AUTH CRAM-MD5")
        self.assertEqual(r.code, 504)


class Mechanisms(AuthTest):
    CONFIG = LISTENERS + """
    auth = { mechanisms = ["LOGIN"]; users = ( { name = "alice"; password = "wonderland"; } ); };
    """

    def test_only_configured_mechanisms(self):
        c = self.on("open", ehlo=False)
        self.assertEqual(self.auth_line(self.ehlo(c)), ["LOGIN"])
        self.assertEqual(c.cmd("AUTH PLAIN " + plain("alice", "wonderland")).code, 504)


class AcceptAny(AuthTest):
    CONFIG = LISTENERS + "auth = { accept_any = true; };"

    def test_any_credentials(self):
        c = self.on("open")
        self.assertEqual(self.auth_line(self.ehlo(c)), ["PLAIN", "LOGIN", "CRAM-MD5"])
        self.assertEqual(c.cmd("AUTH PLAIN " + plain("whoever", "whatever")).code, 235)
        c2 = self.on("open")
        self.challenge_any(c2)

    def challenge_any(self, c):
        self.assertEqual(c.cmd("AUTH CRAM-MD5").code, 334)
        self.assertEqual(c.cmd(b64("someone " + "0" * 32)).code, 235)


class NoUsers(AuthTest):
    CONFIG = 'listeners = ( { name = "open"; port = 0; tls = "none"; auth_without_tls = true; } );'

    def test_auth_not_offered_without_users(self):
        c = self.on("open", ehlo=False)
        self.assertIsNone(self.auth_line(self.ehlo(c)))
        self.assertEqual(c.cmd("AUTH PLAIN " + plain("a", "b")).code, 503)


class ErrorLimit(AuthTest):
    CONFIG = LISTENERS + USERS + "limits = { errors = 3; };"

    def test_failed_logins_count(self):
        c = self.on("open")
        self.assertEqual(c.cmd("AUTH PLAIN " + plain("alice", "1")).code, 535)
        self.assertEqual(c.cmd("AUTH PLAIN " + plain("alice", "2")).code, 535)
        c.send("AUTH PLAIN " + plain("alice", "3") + "\r\n")
        self.assertEqual(c.reply().code, 535)
        r = c.reply()
        self.assertEqual((r.code, r.text[:5]), (421, "4.7.0"))
        self.assertTrue(c.closed())


if __name__ == "__main__":
    main()
