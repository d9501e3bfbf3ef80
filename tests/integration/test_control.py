"""The control socket against the real daemon: status counters, the
clock (and the rate windows that follow it), malformed requests, silent
and surplus clients, a socket path that is stale, taken or not a socket,
and the master going on with its other duties while clients hang on.
"""

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import (SMTPTRAPD, ControlClient, Daemon, DaemonTest, control,  # noqa: E402
                              main)

BASE = """
server = { hostname = "mx.test"; };
listeners = ( { name = "smtp"; address = "127.0.0.1"; port = 0; tls = "none"; } );
workers = { min_spare = 2; max_spare = 4; max_workers = 16; };
control = { socket = "@DIR@/ctl"; clock_control = true; %(control)s };
%(extra)s
"""


def config(control="", extra=""):
    return BASE % {"control": control, "extra": extra}


class ControlTest(DaemonTest):
    LISTEN = ()  # the listeners of CONFIG
    CONFIG = config()

    def setUp(self):
        super().setUp()
        self.ctl = os.path.join(self.d.dir, "ctl")

    def cc(self):
        c = ControlClient(self.ctl)
        self.addCleanup(c.close)
        return c

    def send_message(self, c, rcpt="bob@example.com"):
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<%s>" % rcpt).code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("Subject: x\r\n\r\nhi\r\n.\r\n")
        self.assertEqual(c.reply().code, 250)


class Status(ControlTest):
    CONFIG = config(extra="""
rules = ( { stage = "rcpt"; rcpt_domains = [ "nowhere.example" ]; action = "reject"; } );
""")

    def fields(self):
        r = control(self.ctl, "status")
        self.assertEqual(r.code, 200)
        self.assertEqual(r.lines[-1], "ok")
        return {l.split(" ", 1)[0]: l.split(" ", 1)[1] for l in r.lines[:-1]
                if not l.startswith("worker ")}, r.lines

    def test_status_counts_sessions_messages_and_rejects(self):
        f, _ = self.fields()
        self.assertRegex(f["version"], r"^\d+\.\d+\.\d+$")
        self.assertEqual(f["pid"], str(self.d.proc.pid))
        self.assertRegex(f["uptime"], r"^\d+$")
        self.assertRegex(f["clock"], r"^now=\d+ offset=0 time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertRegex(f["workers"], r"^starting=\d+ idle=\d+ busy=0 exiting=\d+ max=16$")
        self.assertEqual(f["sessions"], "0")
        self.assertEqual(f["messages"], "0")
        self.assertEqual(f["rejects"], "none")
        self.assertEqual(f["greylist"], "off")

        c = self.connect()
        self.send_message(c)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<x@nowhere.example>").code, 550)
        self.assertEqual(c.cmd("RCPT TO:<x@nowhere.example>").code, 550)
        self.assertEqual(c.cmd("FOO").code, 500)
        _, lines = self.fields()
        busy = [l for l in lines if l.startswith("worker ") and "state=busy" in l]
        self.assertEqual(len(busy), 1, lines)
        self.assertRegex(busy[0], r"^worker pid=\d+ generation=1 state=busy sessions=0 messages=0 active=1$")
        c.cmd("QUIT")
        self.assertTrue(c.closed())
        self.d.wait_log(r"\[127\.0\.0\.1\]:\d+ disconnect ")
        # The session is counted when its worker is done with it.
        for _ in range(100):
            f, _ = self.fields()
            if f["sessions"] == "1":
                break
        self.assertEqual(f["sessions"], "1")
        self.assertEqual(f["messages"], "1")
        self.assertEqual(f["rejects"], "500=1 550=2")


class Protocol(ControlTest):

    def test_help_lists_every_command(self):
        r = control(self.ctl, "help")
        self.assertEqual(r.code, 200)
        for cmd in ("status", "clock", "greylist", "reload", "help", "quit"):
            self.assertTrue(any(l.split()[0] == cmd for l in r.lines[:-1]), (cmd, r.lines))

    def test_malformed_requests_get_error_lines(self):
        c = self.cc()
        cases = [
            ("bogus", 500, "unknown command 'bogus' (try help)"),
            ("", 500, "empty command (try help)"),
            ("   ", 500, "empty command (try help)"),
            ("clock advance", 501, None),
            ("clock advance soon", 501, None),
            ("clock advance 5x", 501, None),
            ("clock set 999999999999", 501, None),
            ("clock backwards 5", 501, None),
            ("greylist", 501, None),
            ("greylist list extra", 501, None),
            ("greylist whitelist not-an-address", 501, None),
            ("a b c d e f g h i", 501, "too many words"),
            ("greylist list", 504, "greylisting is not configured: no rule uses the greylist action"),
            ("reload now", 501, "usage: reload"),
        ]
        for line, code, text in cases:
            r = c.cmd(line)
            self.assertEqual(r.code, code, (line, r.text))
            if text is not None:
                self.assertEqual(r.text, text, line)
        # Still usable after all of that.
        self.assertEqual(c.cmd("clock").code, 200)

    def test_nul_and_crlf(self):
        c = self.cc()
        c.send(b"clo\0ck\n")
        self.assertEqual(c.reply().code, 501)
        c.send(b"clock\r\n")
        self.assertEqual(c.reply().code, 200)

    def test_line_too_long_closes(self):
        c = self.cc()
        c.send(b"x" * 5000)
        r = c.reply()
        self.assertEqual((r.code, r.text), (500, "line too long (at most 1024 octets)"))
        self.assertTrue(c.closed())

    def test_pipelined_commands_answered_in_order(self):
        c = self.cc()
        c.send("clock set 60\nclock advance -10\nclock\nquit\n")
        self.assertRegex(c.reply().text, r" offset=60 ")
        self.assertRegex(c.reply().text, r" offset=50 ")
        self.assertRegex(c.reply().text, r" offset=50 ")
        self.assertEqual(c.reply().text, "bye")
        self.assertTrue(c.closed())
        self.d.wait_log(r"control: clock offset changed from 60 to 50 seconds")

    def test_last_command_without_newline_before_eof(self):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.ctl)
        s.sendall(b"clock")
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertRegex(data.decode(), r"^200 now=\d+ offset=0 ")

    def test_socket_mode_default(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.ctl).st_mode), 0o600)
        self.assertTrue(stat.S_ISSOCK(os.stat(self.ctl).st_mode))

    def test_socket_removed_at_stop(self):
        self.assertEqual(self.d.stop(), 0)
        self.assertFalse(os.path.exists(self.ctl))


class Mode(ControlTest):
    CONFIG = config(control='mode = "0660";')

    def test_socket_mode_configured(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.ctl).st_mode), 0o660)


class Clients(ControlTest):
    CONFIG = config(control="timeout = 0.5; max_clients = 4;")

    def test_silent_client_is_timed_out(self):
        c = self.cc()
        self.assertEqual(c.readline(), "421 timeout, closing")
        self.assertTrue(c.closed())
        self.d.wait_log(r"control socket: dropped a client idle for 500 ms")

    def test_surplus_clients_are_refused_and_the_master_goes_on(self):
        silent = [self.cc() for _ in range(4)]
        extra = self.cc()
        self.assertEqual(extra.readline(), "421 too many control clients, try again later")
        self.assertTrue(extra.closed())
        self.d.wait_log(r"control socket: refused a client: 4 clients already connected")
        # With every slot taken, the master still reaps and replaces workers
        # and the workers still serve mail.
        pids = self.d.worker_pids()
        self.assertTrue(pids)
        os.kill(pids[0], signal.SIGKILL)
        self.d.wait_log(r"worker %d killed by signal 9" % pids[0])
        c = self.connect()
        self.send_message(c)
        self.assertEqual(len(self.d.messages()), 1)
        for s in silent:
            self.assertTrue(s.closed(), "a silent client was never timed out")
        self.assertEqual(control(self.ctl, "clock").code, 200)


class RateWindows(ControlTest):
    CONFIG = config(extra="limits = { message_rate = 2; };")

    def test_rate_window_follows_the_daemon_clock(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        for _ in range(2):
            self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
            self.assertEqual(c.cmd("RSET").code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 450)
        self.assertEqual(control(self.ctl, "clock advance 61").code, 200)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)


class SocketPath(unittest.TestCase):

    def setUp(self):
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.cleanup()

    def start(self, cfg):
        d = Daemon(cfg, listen=())
        self.daemons.append(d)
        return d

    def check_fails(self, cfg, pattern):
        tmp = tempfile.mkdtemp(prefix="smtptrap-test-")
        self.addCleanup(shutil.rmtree, tmp, True)
        conf = os.path.join(tmp, "c.conf")
        with open(conf, "w") as f:
            f.write(cfg.replace("@DIR@", tmp))
        p = subprocess.run([SMTPTRAPD, "-f", "-c", conf, "-m", os.path.join(tmp, "m")],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stderr.decode(), pattern)
        return tmp

    def test_stale_socket_is_replaced(self):
        d1 = self.start(config())
        path = os.path.join(d1.dir, "ctl")
        # A socket left behind by a daemon that died without cleaning up.
        d1.proc.kill()
        d1.proc.wait()
        try:
            os.killpg(d1.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.assertTrue(os.path.exists(path))
        cfg = config().replace("@DIR@/ctl", path)
        d2 = self.start(cfg)
        self.assertEqual(control(path, "clock").code, 200)
        self.assertEqual(d2.stop(), 0)

    def test_socket_taken_by_a_running_daemon(self):
        d1 = self.start(config())
        path = os.path.join(d1.dir, "ctl")
        self.check_fails(config().replace("@DIR@/ctl", path),
                         r"control socket \S+ctl: another daemon is answering on it")
        self.assertEqual(control(path, "clock").code, 200)

    def test_path_not_a_socket(self):
        tmp = tempfile.mkdtemp(prefix="smtptrap-test-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "plain")
        with open(path, "w") as f:
            f.write("keep me\n")
        self.check_fails(config().replace("@DIR@/ctl", path),
                         r"control socket \S+plain: exists and is not a socket")
        with open(path) as f:
            self.assertEqual(f.read(), "keep me\n")


if __name__ == "__main__":
    main()
