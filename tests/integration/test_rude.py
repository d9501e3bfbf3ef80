"""Rude senders against the real daemon: a health check that connects and
leaves, a client that stops reading its replies, half-closed sockets,
EHLO with a thousand arguments, ten thousand recipients in one pipelined
write, a one-megabyte line in a command and in a message, and invalid
UTF-8. Each gets a precise reply or a quiet end, never a hang, and the
daemon goes on serving others.

Nothing sleeps: every wait is for a reply, a log line, EOF or a file.
"""

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import DaemonTest, body_of, main  # noqa: E402

# A log line of severity warning or worse.
NOISE = re.compile(r"\]: (warning|error|critical|alert|emergency|fatal)\b", re.I)


class HealthCheck(DaemonTest):
    """A load balancer's probe: connect, close at once."""

    def test_connect_and_drop_is_one_quiet_session(self):
        s = socket.create_connection((self.d.host, self.d.port))
        port = s.getsockname()[1]
        s.close()
        self.d.wait_log(r"\]:%d disconnect " % port)
        lines = [l for l in self.d.lines if "]:%d " % port in l]
        events = [re.search(r"\]:\d+ (\S+)", l).group(1) for l in lines]
        self.assertEqual(events[0], "connect", lines)
        self.assertEqual(events[-1], "disconnect", lines)
        self.assertLessEqual(len(events), 3, lines)  # at most a "lost" between
        self.assertEqual([l for l in self.d.lines if NOISE.search(l)], [])
        c = self.connect()
        self.assertEqual(c.cmd("QUIT").code, 221)


class StopsReading(DaemonTest):
    """Replies pile up unread: the write times out, the session ends."""
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


class HalfClosed(DaemonTest):
    def test_pipelined_commands_then_shutdown_all_answered(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nNOOP\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        codes = [c.reply().code for _ in range(3)]
        self.assertEqual(codes, [250, 250, 250])
        self.assertTrue(c.closed())
        port = c.sock.getsockname()[1]
        self.d.wait_log(r"\]:%d lost after=NOOP" % port)

    def test_shutdown_inside_data_stores_nothing(self):
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("Subject: cut\r\n\r\nhalf a message\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        self.assertTrue(c.closed())
        port = c.sock.getsockname()[1]
        self.d.wait_log(r"\]:%d disconnect " % port)
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])


class HugeInput(DaemonTest):
    CONFIG = "limits = { recipients = 100; errors = 100000; };\n"

    def test_ehlo_with_a_thousand_arguments(self):
        c = self.connect()
        r = c.cmd("EHLO " + " ".join("arg%d" % i for i in range(1000)))
        self.assertEqual((r.code, r.text.split()[0]), (500, "5.5.6"))
        self.assertEqual(self.ehlo(c).code, 250)

    def test_ten_thousand_recipients_in_one_write(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        c.send("MAIL FROM:<a@example.com>\r\n" +
               "".join("RCPT TO:<r%d@example.com>\r\n" % i for i in range(10000)))
        self.assertEqual(c.reply().code, 250)
        codes = [c.reply().code for _ in range(10000)]
        self.assertEqual(codes[:100], [250] * 100)
        self.assertEqual(set(codes[100:]), {452})
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("Subject: many\r\n\r\nhi\r\n.\r\n")
        self.assertEqual(c.reply().code, 250)
        (name, data), = self.wait_messages(1)
        self.assertEqual(data.count(b"X-Smtptrap-Rcpt-To: "), 100)

    def test_megabyte_line_in_a_command(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        c.send("NOOP " + "x" * (1 << 20) + "\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (500, "5.5.6"))
        self.assertEqual(c.cmd("NOOP").code, 250)

    def test_megabyte_line_in_a_message(self):
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("Subject: long\r\n\r\n" + "y" * (1 << 20) + "\r\n.\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (500, "5.5.6"))
        self.assertEqual(c.cmd("NOOP").code, 250)
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])


class InvalidUtf8(DaemonTest):
    def test_in_addresses_refused_in_content_kept_as_sent(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        c.send(b"MAIL FROM:<\xc3\x28@example.com>\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (501, "5.1.7"))
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        c.send(b"RCPT TO:<\xff\xfe@example.com>\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (501, "5.1.3"))
        self.assertEqual(c.cmd("RCPT TO:<b@example.com>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        body = b"Subject: \xc3\x28 \xff\r\n\r\nbody \xfe\x80\r\n"
        c.send(body + b".\r\n")
        self.assertEqual(c.reply().code, 250)
        (name, data), = self.wait_messages(1)
        self.assertEqual(body_of(data), body)


if __name__ == "__main__":
    main()
