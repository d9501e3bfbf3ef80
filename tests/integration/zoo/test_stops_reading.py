"""Stops reading: the client sends command after command but never reads
a reply, until the replies fill its receive buffer and the socket.

The daemon must give up when a reply cannot be sent within
timeouts.command ("lost ... reason="reply not sent in time""), end that
session without blocking its worker, and serve the next client.
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from smtptrap_harness import DaemonTest, main  # noqa: E402


class StopsReading(DaemonTest):
    CONFIG = "timeouts = { command = 0.5; };\nlimits = { errors = 100000; };\n"

    def test_write_timeout_ends_the_session_and_others_go_on(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((self.d.host, self.d.port))
        port = s.getsockname()[1]
        s.settimeout(10)
        self.assertTrue(s.recv(1000).startswith(b"220 "))
        s.sendall(b"EHLO rude.example\r\n")
        got = b""
        while b"\r\n250 " not in got:     # the whole EHLO reply, then no more reading
            got += s.recv(4096)
        chunk = b"NOOP\r\n" * 10000
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:   # until the daemon gives up on us
                s.sendall(chunk)
        except OSError:
            pass
        self.d.wait_log(r"\]:%d lost after=NOOP reason=\"reply not sent in time\"" % port)
        s.close()
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("QUIT").code, 221)


if __name__ == "__main__":
    main()
