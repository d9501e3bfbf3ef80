"""TLS against the real daemon over raw sockets: STARTTLS offer and reset
(RFC 3207), starttls-required listeners, implicit TLS, the discarding of
commands pipelined after STARTTLS, handshakes that fail, are abandoned or
time out (the worker survives them), protocol versions, configured and
client certificates, and certificate errors reported by "smtptrapd -t"."""

import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import SMTPTRAPD, Client, Daemon, DaemonTest, main  # noqa: E402

LISTENERS = """
listeners = (
    { name = "smtp"; port = 0; tls = "starttls"; },
    { name = "required"; port = 0; tls = "starttls-required"; },
    { name = "smtps"; port = 0; tls = "implicit"; },
    { name = "plain"; port = 0; tls = "none"; }
);
"""


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True,
                   timeout=60)


def make_cert(dirname, name, cn):
    """A self-signed EC certificate and key: (certfile, keyfile)."""
    cert = os.path.join(dirname, name + ".crt")
    key = os.path.join(dirname, name + ".key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn,
            cwd=dirname)
    return cert, key


def der_fingerprint(certfile):
    with open(certfile) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return "SHA256:" + ":".join("%02X" % b for b in hashlib.sha256(der).digest())


def client_hello():
    """The first flight of a real TLS client, as bytes."""
    ctx = Client.tls_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_side=False, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


class TLSTest(DaemonTest):
    LISTEN = ()  # the listeners of CONFIG
    CONFIG = LISTENERS

    def on(self, listener, tls=False):
        c = self.d.connect(port=self.d.port_of[listener], tls=tls)
        self.clients.append(c)
        c.expect(220)
        return c

    def pool(self):
        """Worker pids once the pool has served a session."""
        c = self.on("smtps", tls=True)
        self.assertEqual(c.cmd("QUIT").code, 221)
        self.d.wait_log(r" disconnect commands=")
        return set(self.d.worker_pids())

    def assert_worker_survives(self, pids_before):
        """No worker died: the pool is the same and a new session works."""
        c = self.on("smtps", tls=True)
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("QUIT").code, 221)
        self.assertEqual(self.d.find_all(r"worker \d+ (killed|exited with)"), [])
        self.assertEqual(pids_before - set(self.d.worker_pids()), set())


class StartTLS(TLSTest):
    def test_offered_and_reset(self):
        c = self.on("smtp")
        r = self.ehlo(c)
        self.assertIn("STARTTLS", r.lines)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        r = c.cmd("STARTTLS")
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: MAIL transaction in progress"))
        self.assertEqual(c.cmd("RSET").code, 250)
        r = c.starttls()
        self.assertEqual(r.text, "2.0.0 Ready to start TLS")
        self.assertEqual(c.sock.version(), "TLSv1.3")
        # RFC 3207 4.2: the session starts over; HELO/EHLO must come first.
        r = c.cmd("MAIL FROM:<a@example.com>")
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: send HELO/EHLO first"))
        r = self.ehlo(c)
        self.assertNotIn("STARTTLS", r.lines)
        r = c.cmd("STARTTLS")
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: TLS already active"))
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        self.assertEqual(c.cmd("Subject: t\r\n\r\nover TLS\r\n.").code, 250)
        (_, data), = self.wait_messages(1)
        self.assertRegex(data, rb"Received: from client\.example \(\[127\.0\.0\.1\]\)\r\n"
                               rb"\t\(using TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)\)\r\n"
                               rb"\tby \S+ \(smtptrapd\) with ESMTPS id ")
        self.assertRegex(data, rb"\r\nX-Smtptrap-TLS: version=TLSv1\.3 cipher=\S+ bits=\d+\r\n")
        self.d.wait_log(r" tls version=TLSv1\.3 cipher=\S+ bits=\d+ via=starttls$")

    def test_syntax_and_plain_listener(self):
        c = self.on("smtp")
        self.assertEqual(c.cmd("STARTTLS now").code, 501)
        p = self.on("plain")
        self.assertNotIn("STARTTLS", self.ehlo(p).lines)
        r = p.cmd("STARTTLS")
        self.assertEqual((r.code, r.text), (502, "5.5.1 Error: command not implemented"))

    def test_starttls_before_ehlo(self):
        c = self.on("smtp")
        c.starttls()
        self.assertEqual(self.ehlo(c).code, 250)

    def test_pipelined_command_after_starttls_is_discarded(self):
        # CVE-2011-0411: a command injected behind STARTTLS in plaintext
        # must never be executed inside the TLS session.
        c = self.on("smtp")
        self.assertEqual(self.ehlo(c).code, 250)
        injected = b"MAIL FROM:<injected@example.com>\r\n"
        c.send(b"STARTTLS\r\n" + injected)
        c.expect(220)
        c.wrap_tls()
        # The first reply inside TLS answers our EHLO, not the injected MAIL.
        r = self.ehlo(c)
        self.assertEqual(r.code, 250)
        self.assertIn("PIPELINING", r.lines)
        r = c.cmd("RCPT TO:<bob@example.com>")
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: need MAIL command"))
        self.d.wait_log(r" injection octets=%d$" % len(injected))
        self.assertEqual(self.d.find_all(r"injected"), [])

    def test_second_starttls_after_implicit(self):
        c = self.on("smtps", tls=True)
        self.assertNotIn("STARTTLS", self.ehlo(c).lines)
        self.assertEqual(c.cmd("STARTTLS").code, 503)


class Required(TLSTest):
    def test_commands_need_tls(self):
        c = self.on("required")
        r = self.ehlo(c)
        self.assertIn("STARTTLS", r.lines)
        for line in ("MAIL FROM:<a@example.com>", "RCPT TO:<b@example.com>", "DATA",
                     "VRFY bob", "AUTH PLAIN AGEAYg=="):
            r = c.cmd(line)
            self.assertEqual((r.code, r.text), (530, "5.7.0 Must issue a STARTTLS command first"),
                             line)
        for line, code in (("NOOP", 250), ("RSET", 250), ("HELP", 214)):
            self.assertEqual(c.cmd(line).code, code, line)
        c.starttls()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        self.assertEqual(c.cmd("\r\nx\r\n.").code, 250)
        self.wait_messages(1)


class Implicit(TLSTest):
    def test_transaction(self):
        c = self.on("smtps", tls=True)
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        self.assertEqual(c.cmd("Subject: s\r\n\r\nsmtps\r\n.").code, 250)
        (_, data), = self.wait_messages(1)
        self.assertIn(b" with ESMTPS id ", data)
        self.assertIn(b"X-Smtptrap-TLS: version=TLSv1.3 ", data)

    def test_plaintext_sent_to_implicit_listener(self):
        pids = self.pool()
        s = socket.create_connection((self.d.host, self.d.port_of["smtps"]), timeout=10)
        s.sendall(b"EHLO client.example\r\n")
        # No greeting in plaintext, and the daemon closes the connection.
        s.settimeout(10)
        data = b""
        try:
            while True:
                more = s.recv(4096)
                if not more:
                    break
                data += more
        except ConnectionResetError:
            pass
        self.assertNotIn(b"220 ", data)
        s.close()
        self.d.wait_log(r' tls result=failed reason="handshake failed: ')
        self.assert_worker_survives(pids)

    def test_handshake_abandoned_half_way(self):
        pids = self.pool()
        hello = client_hello()
        s = socket.create_connection((self.d.host, self.d.port_of["smtps"]), timeout=10)
        s.sendall(hello[:len(hello) // 2])
        s.close()
        self.d.wait_log(r' tls result=failed reason="handshake failed: ')
        self.assert_worker_survives(pids)

    def test_starttls_then_garbage(self):
        pids = self.pool()
        c = self.on("smtp")
        self.assertEqual(c.cmd("STARTTLS").code, 220)
        c.send(b"\x16\x03\x01\x00\x05hello-this-is-not-tls")
        self.assertTrue(c.closed())
        self.d.wait_log(r' tls result=failed reason="handshake failed: ')
        self.assert_worker_survives(pids)


class Saturated(TLSTest):
    CONFIG = LISTENERS + "workers = { min_spare = 1; max_spare = 1; max_workers = 1; sessions = 1; };"

    def test_full_pool_closes_implicit_connections_without_plaintext(self):
        busy = self.on("smtps", tls=True)
        self.assertEqual(self.ehlo(busy).code, 250)
        s = socket.create_connection((self.d.host, self.d.port_of["smtps"]), timeout=10)
        self.addCleanup(s.close)
        self.assertEqual(s.recv(100), b"")
        self.d.wait_log(r"connection on \S+ closed: all 1 workers busy")
        # A plaintext listener still gets its 421.
        c = self.d.connect(port=self.d.port_of["smtp"])
        self.clients.append(c)
        c.expect(421)


class HandshakeTimeout(TLSTest):
    CONFIG = LISTENERS + "timeouts = { tls_handshake = 0.3; };"

    def test_silent_client_times_out(self):
        pids = self.pool()
        hello = client_hello()
        s = socket.create_connection((self.d.host, self.d.port_of["smtps"]), timeout=10)
        s.sendall(hello[:20])
        s.settimeout(10)
        self.assertEqual(s.recv(100), b"")  # closed by the daemon, no reply
        s.close()
        self.d.wait_log(r' tls result=failed reason="handshake timed out after \d+ ms"$')
        self.assert_worker_survives(pids)


class Versions(TLSTest):
    CONFIG = LISTENERS + 'tls = { min_protocol = "TLSv1.3"; };'

    def test_old_client_refused(self):
        s = socket.create_connection((self.d.host, self.d.port_of["smtps"]), timeout=10)
        ctx = Client.tls_context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with self.assertRaises(ssl.SSLError):
            ctx.wrap_socket(s, server_hostname="localhost")
        s.close()
        self.d.wait_log(r' tls result=failed reason="handshake failed: .*(protocol|version)')


class MaxVersion(TLSTest):
    CONFIG = LISTENERS + 'tls = { max_protocol = "TLSv1.2"; ciphers = "ECDHE+AESGCM"; };'

    def test_tls12_negotiated(self):
        c = self.on("smtps", tls=True)
        self.assertEqual(c.sock.version(), "TLSv1.2")
        self.assertIn("GCM", c.sock.cipher()[0])


class Certificates(unittest.TestCase):
    """Configured server and client certificates."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="smtptrap-certs-")
        cls.server = make_cert(cls.tmp, "server", "mx.example.test")
        cls.client = make_cert(cls.tmp, "client", "app.example.test")
        cls.other = make_cert(cls.tmp, "other", "other.example.test")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def daemon(self, tls_group):
        d = Daemon(LISTENERS + "tls = { %s };" % tls_group, listen=())
        self.addCleanup(d.cleanup)
        return d

    def test_configured_certificate_is_served(self):
        d = self.daemon('certificate = "%s"; key = "%s";' % self.server)
        d.wait_log(r"TLS: certificate .*server\.crt \(/CN=mx\.example\.test\)")
        c = d.connect(port=d.port_of["smtps"], tls=True)
        self.addCleanup(c.close)
        c.expect(220)
        der = c.sock.getpeercert(binary_form=True)
        self.assertEqual("SHA256:" + ":".join("%02X" % b for b in hashlib.sha256(der).digest()),
                         der_fingerprint(self.server[0]))

    def test_ephemeral_certificate_names_the_host(self):
        d = Daemon(LISTENERS + 'server = { hostname = "trap.example.test"; };', listen=())
        self.addCleanup(d.cleanup)
        d.wait_log(r"TLS: ephemeral self-signed certificate for trap\.example\.test")
        c = d.connect(port=d.port_of["smtps"], tls=True)
        self.addCleanup(c.close)
        c.expect(220)
        pem = ssl.DER_cert_to_PEM_cert(c.sock.getpeercert(binary_form=True))
        out = subprocess.run(["openssl", "x509", "-noout", "-subject", "-ext", "subjectAltName"],
                             input=pem.encode(), capture_output=True, timeout=30, check=True)
        self.assertIn(b"CN = trap.example.test", out.stdout)
        self.assertIn(b"DNS:trap.example.test", out.stdout)

    def send_with_client_cert(self, d, cert):
        c = d.connect(port=d.port_of["smtps"], tls=False)
        self.addCleanup(c.close)
        c.wrap_tls(cert)
        c.expect(220)
        self.assertEqual(c.cmd("EHLO app.example.test").code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<app@example.test>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<bob@example.test>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        self.assertEqual(c.cmd("\r\nx\r\n.").code, 250)
        (_, data), = d.messages()
        return data

    def test_client_certificate_recorded(self):
        d = self.daemon("client_certificate = true;")
        data = self.send_with_client_cert(d, self.client)
        fp = der_fingerprint(self.client[0])
        self.assertIn(("\t(client certificate %s, /CN=app.example.test)\r\n" % fp).encode(), data)
        self.assertIn((" client-certificate=%s\r\n" % fp).encode(), data)
        d.wait_log(r" tls version=\S+ cipher=\S+ bits=\d+ via=\w+ cert_fingerprint=%s cert_subject=/CN=app\.example\.test cert_verified=unchecked$" % fp)

    def test_client_certificate_verified_against_ca(self):
        d = self.daemon('client_certificate = true; client_ca = "%s";' % self.client[0])
        data = self.send_with_client_cert(d, self.client)
        self.assertIn(b"/CN=app.example.test, verified)\r\n", data)

    def test_client_certificate_not_verified(self):
        d = self.daemon('client_certificate = true; client_ca = "%s";' % self.other[0])
        data = self.send_with_client_cert(d, self.client)
        self.assertIn(b"/CN=app.example.test, not verified)\r\n", data)
        d.wait_log(r" cert_subject=/CN=app\.example\.test cert_verified=no cert_error=\S")


class ConfigErrors(unittest.TestCase):
    """smtptrapd -t names the file, the line and OpenSSL's reason."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="smtptrap-certs-")
        cls.server = make_cert(cls.tmp, "server", "mx.example.test")
        cls.other = make_cert(cls.tmp, "other", "other.example.test")
        cls.garbage = os.path.join(cls.tmp, "garbage.pem")
        with open(cls.garbage, "w") as f:
            f.write("this is not PEM\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def check(self, body):
        conf = os.path.join(self.tmp, "t.conf")
        with open(conf, "w") as f:
            f.write(body)
        p = subprocess.run([SMTPTRAPD, "-t", "-c", conf, "-m", self.tmp], capture_output=True,
                           timeout=30)
        return p.returncode, p.stderr.decode(), conf

    def assert_error(self, body, line, pattern):
        rc, err, conf = self.check(body)
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, "^%s:%d: %s" % (conf.replace(".", r"\."), line, pattern))

    def test_good_certificate(self):
        rc, err, _ = self.check('tls = {\n certificate = "%s";\n key = "%s";\n};\n' % self.server)
        self.assertEqual((rc, err), (0, ""))

    def test_missing_certificate_file(self):
        self.assert_error('tls = {\n certificate = "%s/none.crt";\n};\n' % self.tmp, 2,
                          r"tls: certificate '.*/none\.crt': No such file or directory")

    def test_certificate_not_pem(self):
        self.assert_error('tls = {\n certificate = "%s";\n key = "%s";\n};\n'
                          % (self.garbage, self.server[1]), 2,
                          r"tls: certificate '.*garbage\.pem': no start line$")

    def test_key_not_pem(self):
        self.assert_error('tls = {\n certificate = "%s";\n\n key = "%s";\n};\n'
                          % (self.server[0], self.garbage), 4, r"tls: key '.*garbage\.pem': ")

    def test_key_does_not_match(self):
        self.assert_error('tls = {\n certificate = "%s";\n key = "%s";\n};\n'
                          % (self.server[0], self.other[1]), 3,
                          r"tls: key '.*other\.key': key values mismatch$")

    def test_certificate_without_key(self):
        # The key defaults to the certificate file, which holds none.
        self.assert_error('tls = {\n certificate = "%s";\n};\n' % self.server[0], 2,
                          r"tls: key '.*server\.crt': ")

    def test_bad_cipher_list(self):
        self.assert_error('tls = {\n ciphers = "NO-SUCH-CIPHER";\n};\n', 2,
                          r"tls: ciphers 'NO-SUCH-CIPHER': no cipher match")

    def test_key_without_certificate(self):
        self.assert_error('tls = {\n key = "%s";\n};\n' % self.server[1], 2,
                          r"tls: 'key' is set but 'certificate' is not")

    def test_versions_reversed(self):
        self.assert_error('tls = {\n min_protocol = "TLSv1.3";\n max_protocol = "TLSv1.2";\n};\n',
                          1, r"tls: max_protocol is older than min_protocol")

    def test_tls_group_checked_without_tls_listeners(self):
        self.assert_error('listeners = ( { port = 0; tls = "none"; } );\n'
                          'tls = {\n ciphers = "NO-SUCH-CIPHER";\n};\n', 3,
                          r"tls: ciphers 'NO-SUCH-CIPHER': no cipher match")

    def test_user_and_tls_errors_reported_together(self):
        rc, err, conf = self.check('auth = {\n users = ( { name = "a"; hash = "secret"; } );\n};\n'
                                   'tls = {\n ciphers = "NO-SUCH-CIPHER";\n};\n')
        self.assertEqual(rc, 1)
        lines = err.splitlines()
        self.assertEqual(len(lines), 2, err)
        self.assertRegex(lines[0], r":2: hash of user 'a': ")
        self.assertRegex(lines[1], r":5: tls: ciphers 'NO-SUCH-CIPHER': no cipher match$")

    def test_bad_listener_mode(self):
        self.assert_error('listeners = (\n { port = 0;\n tls = "sometimes"; }\n);\n', 3,
                          r"'tls' must be one of \"none\", \"starttls\", \"starttls-required\", "
                          r"\"implicit\"")


if __name__ == "__main__":
    main()
