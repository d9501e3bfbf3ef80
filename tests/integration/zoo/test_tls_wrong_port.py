"""TLS on the wrong port: a client that expects implicit TLS (SMTPS)
starts its handshake right after connecting to a plaintext port, and a
plaintext client talks to, or waits on, an implicit-TLS port.

On a plaintext listener (tls = "none" or "starttls") a TLS handshake
record (0x16 0x03 ...) as the first input of a session is answered at
once, after the greeting the client already got, with "554 5.5.1"
naming TLS, and the session is closed and logged; the client's
handshake fails promptly instead of hanging until timeouts.command.
On an implicit listener, plaintext instead of a ClientHello fails the
handshake at once: the connection is closed without a plaintext reply
and the reason logged on a "tls result=failed" line; a plaintext client
that waits for a greeting gets none and is closed after
timeouts.tls_handshake. Either way the next client is served.
"""

import os
import re
import select
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from smtptrap_harness import Client, DaemonTest, main  # noqa: E402
from zoo import wait_session_end  # noqa: E402

LISTENERS = """
listeners = (
    { name = "plain"; port = 0; tls = "none"; },
    { name = "submission"; port = 0; tls = "starttls"; },
    { name = "smtps"; port = 0; tls = "implicit"; }
);
"""
# Far longer than any wait below: a prompt end cannot be a timeout.
PATIENT = "timeouts = { command = 30; tls_handshake = 30; };\n"
PROMPT = 5.0


def read_until_eof(sock, deadline):
    """Everything the daemon sends until it closes; (data, closed)."""
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False
        readable, _, _ = select.select([sock], [], [], left)
        if not readable:
            return data, False
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk


def implicit_tls_client(host, port, timeout=10.0):
    """A real TLS client (Python's OpenSSL) that starts its handshake
    right after connecting, as an SMTPS client does, with the socket
    I/O in our hands so that the octets it got stay visible.

    Returns (port, error, failed_after, raw, closed, closed_after): the
    client's own port, the handshake's SSLError (None if it succeeded),
    seconds from connect to that failure, every octet the daemon sent,
    whether the daemon closed the connection, and seconds from connect
    to that close.
    Once the handshake failed nothing more is sent (not even the TLS
    alert): the daemon's own reaction is what is measured.
    """
    sock = socket.create_connection((host, port), timeout=timeout)
    start = time.monotonic()
    port = sock.getsockname()[1]
    deadline = start + timeout
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = Client.tls_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    raw, error, closed = b"", None, False
    try:
        while True:
            try:
                tls.do_handshake()
                break                          # handshake done: not expected here
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as e:
                error = e
                break
            pending = outgoing.read()
            if pending:
                sock.sendall(pending)
            if closed:
                incoming.write_eof()
                continue
            chunk, closed = read_some(sock, deadline)
            if not chunk and not closed:
                raise AssertionError("handshake neither done nor failed in %.0f s; got %r"
                                     % (timeout, raw))
            raw += chunk
            incoming.write(chunk)
        failed_after = time.monotonic() - start
        if not closed:
            more, closed = read_until_eof(sock, deadline)
            raw += more
        return port, error, failed_after, raw, closed, time.monotonic() - start
    finally:
        sock.close()


def read_some(sock, deadline):
    """One read: (octets, closed)."""
    readable, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
    if not readable:
        return b"", False
    try:
        chunk = sock.recv(65536)
    except ConnectionResetError:
        return b"", True
    return chunk, not chunk


class WrongPortTest(DaemonTest):
    LISTEN = ()  # the listeners of CONFIG
    CONFIG = LISTENERS + PATIENT

    def on(self, listener, tls=False):
        c = self.d.connect(port=self.d.port_of[listener], tls=tls)
        self.clients.append(c)
        c.expect(220)
        return c

    def assert_served(self, listener, tls=False):
        c = self.on(listener, tls=tls)
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("QUIT").code, 221)


class TlsToPlaintextPort(WrongPortTest):
    def handshake_on(self, listener):
        port, error, failed_after, raw, closed, closed_after = implicit_tls_client(
            self.d.host, self.d.port_of[listener])
        self.assertIsInstance(error, ssl.SSLError, "the TLS handshake did not fail")
        self.assertLess(failed_after, PROMPT)
        # The greeting the daemon sent before it knew, then the 554.
        self.assertTrue(raw.startswith(b"220 "), raw)
        lines = raw.split(b"\r\n")
        self.assertGreaterEqual(len(lines), 3, "no reply after the greeting: %r" % raw)
        self.assertTrue(lines[1].startswith(b"554 5.5.1 "), raw)
        self.assertRegex(lines[1], rb"(?i)\btls\b")
        self.assertEqual(lines[2:], [b""], raw)
        self.assertTrue(closed, "the daemon did not close the connection: %r" % raw)
        self.assertLess(closed_after, PROMPT,
                        "closed after %.1f s: a timeout, not an answer" % closed_after)
        # Its own session says why it ended.
        said = [l for l in wait_session_end(self.d, port)
                if not re.search(r"\]:\d+ (connect|disconnect) ", l)]
        self.assertTrue([l for l in said if re.search(r"(?i)\btls\b", l)],
                        "no log line about TLS: %r" % said)
        self.assertTrue([l for l in said if " reject code=554 status=5.5.1 " in l], said)
        self.assert_served(listener)

    def test_handshake_on_a_plain_listener(self):
        self.handshake_on("plain")

    def test_handshake_on_a_starttls_listener(self):
        self.handshake_on("submission")


class PlaintextToImplicitPort(WrongPortTest):
    def test_ehlo_to_implicit_listener_closed_at_once(self):
        mark = self.d.log_mark()
        start = time.monotonic()
        s = socket.create_connection((self.d.host, self.d.port_of["smtps"]), timeout=10)
        self.addCleanup(s.close)
        port = s.getsockname()[1]
        s.sendall(b"EHLO client.example\r\n")
        data, closed = read_until_eof(s, start + 10)
        elapsed = time.monotonic() - start
        self.assertTrue(closed, "the daemon did not close the connection")
        self.assertLess(elapsed, PROMPT,
                        "closed after %.1f s: a timeout, not a failed handshake" % elapsed)
        # No plaintext greeting or reply: at most a TLS alert record.
        self.assertNotIn(b"220", data)
        self.assertTrue(data == b"" or data.startswith(b"\x15\x03"), data)
        m = self.d.wait_log(r"\]:%d tls result=failed reason=\"handshake failed: ([^\"]+)\"" % port,
                            start=mark)
        self.assertTrue(m.group(1).strip())
        wait_session_end(self.d, port)
        self.assert_served("smtps", tls=True)


class PlaintextWaitsOnImplicitPort(WrongPortTest):
    HANDSHAKE_TIMEOUT = 0.5
    CONFIG = LISTENERS + "timeouts = { command = 30; tls_handshake = %g; };\n" % HANDSHAKE_TIMEOUT

    def test_client_waiting_for_a_greeting_gets_none(self):
        start = time.monotonic()
        s = socket.create_connection((self.d.host, self.d.port_of["smtps"]), timeout=10)
        self.addCleanup(s.close)
        port = s.getsockname()[1]
        data, closed = read_until_eof(s, start + 10)
        elapsed = time.monotonic() - start
        self.assertEqual(data, b"")
        self.assertTrue(closed)
        self.assertGreater(elapsed, self.HANDSHAKE_TIMEOUT - 0.05)
        self.assertLess(elapsed, self.HANDSHAKE_TIMEOUT + 2.5)
        self.d.wait_log(r"\]:%d tls result=failed reason=\"handshake timed out after \d+ ms\"" % port)
        wait_session_end(self.d, port)
        self.assert_served("smtps", tls=True)


if __name__ == "__main__":
    main()
