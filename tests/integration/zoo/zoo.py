"""What the rude-sender zoo shares: the log pattern of trouble, and the
helpers that find one session in the log and pace a slow client.

A session's log lines are found by the client's own port ("[ADDR]:PORT
EVENT ..."), so a test never mistakes another session's lines for its
own. Pacing a client is the behaviour under test, never a wait for the
daemon: drip() watches for the daemon's answer between octets.
"""

import re
import select
import socket
import time

# A log line of severity warning or worse.
NOISE = re.compile(r"\]: (warning|error|critical|alert|emergency|fatal)\b", re.I)


def local_port(c):
    """The client's own port: how the daemon's log names its session."""
    return c.sock.getsockname()[1]


def session_lines(d, port):
    """The daemon's log lines of the session from client port `port`."""
    with d.cond:
        return [l for l in d.lines if "]:%d " % port in l]


def wait_session_end(d, port):
    """Wait for the "disconnect" line of that session; its lines."""
    d.wait_log(r"\]:%d disconnect " % port)
    return session_lines(d, port)


def drip(sock, data, interval):
    """Send data one octet at a time, one every `interval` seconds, and
    stop as soon as the daemon answers or closes.

    Returns (sent, got, elapsed): how many octets went out, what came
    back (b"" when nothing did), and the seconds from the first octet to
    the answer or to the last octet.
    """
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    start = time.monotonic()
    for i in range(len(data)):
        try:
            sock.sendall(data[i:i + 1])
        except OSError:         # closed under us: the answer came first
            return i, _drain(sock), time.monotonic() - start
        readable, _, _ = select.select([sock], [], [], interval)
        if readable:
            return i + 1, _drain(sock), time.monotonic() - start
    return len(data), b"", time.monotonic() - start


def _drain(sock):
    """Whatever the daemon has sent: one recv, or b"" at EOF/reset."""
    try:
        return sock.recv(65536)
    except OSError:
        return b""
