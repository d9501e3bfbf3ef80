"""Health check: a load balancer's probe connects and closes at once,
without reading the greeting or saying anything.

The daemon must log it as one quiet session (connect, at most a "lost",
disconnect; nothing at warning level or worse) and go on serving.
"""

import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from smtptrap_harness import DaemonTest, main  # noqa: E402
from zoo import NOISE, wait_session_end  # noqa: E402


class HealthCheck(DaemonTest):
    def test_connect_and_drop_is_one_quiet_session(self):
        s = socket.create_connection((self.d.host, self.d.port))
        port = s.getsockname()[1]
        s.close()
        lines = wait_session_end(self.d, port)
        events = [re.search(r"\]:\d+ (\S+)", l).group(1) for l in lines]
        self.assertEqual(events[0], "connect", lines)
        self.assertEqual(events[-1], "disconnect", lines)
        self.assertLessEqual(len(events), 3, lines)  # at most a "lost" between
        self.assertEqual([l for l in self.d.lines if NOISE.search(l)], [])
        c = self.connect()
        self.assertEqual(c.cmd("QUIT").code, 221)


if __name__ == "__main__":
    main()
