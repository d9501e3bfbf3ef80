"""Signals and reloads: SIGHUP builds a new generation of workers from the
configuration file while the old one finishes its sessions, a broken file
keeps the old configuration serving, listeners come and go with the file,
SIGTERM lets a session finish within the deadline.

Nothing sleeps: every wait is for a reply, a log line or a process state,
with a deadline.
"""

import os
import pwd
import re
import shutil
import signal
import tempfile
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import (Client, Daemon, DaemonTest, body_of, control,  # noqa: E402
                              DEFAULT_WAIT, main)

import unittest  # noqa: E402


def send_one(c, n):
    """One message on an open, greeted session; returns the 250 reply."""
    for line, code in (("MAIL FROM:<load@example.com>", 250),
                       ("RCPT TO:<rcpt%d@example.com>" % n, 250), ("DATA", 354)):
        r = c.cmd(line)
        if r.code != code:
            raise AssertionError("%s: %r" % (line, r))
    c.send("Subject: load %d\r\n\r\nmessage %d\r\n.\r\n" % (n, n))
    r = c.reply()
    if r.code != 250:
        raise AssertionError("end of data: %r" % r)
    return r


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def wait_gone(pid, timeout=DEFAULT_WAIT):
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            raise AssertionError("process %d still alive" % pid)
        time.sleep(0.01)


BANNER = 'server = { banner = "%s"; };\nworkers = { min_spare = 2; max_spare = 4; max_workers = 16; };\n'


class Reload(DaemonTest):
    CONFIG = BANNER % "first banner"

    def test_new_sessions_see_the_new_banner_old_session_goes_on(self):
        old = self.connect(greet=False)
        self.assertIn("first banner", old.expect(220).text)
        self.ehlo(old)
        old_workers = set(self.d.worker_pids())

        self.d.write_config(BANNER % "second banner")
        self.assertEqual(self.d.reload(), 2)

        new = self.connect(greet=False)
        self.assertIn("second banner", new.expect(220).text)
        self.ehlo(new)
        # The session opened before the reload is served to its end by its
        # old worker, and can still send mail.
        send_one(old, 1)
        send_one(new, 2)
        self.assertEqual(old.cmd("QUIT").code, 221)
        self.assertEqual(new.cmd("QUIT").code, 221)
        self.assertEqual(len(self.d.messages()), 2)
        # Every worker of generation 1 exits; the pool is all new.
        for pid in old_workers:
            wait_gone(pid)
        # (A child that exited stays listed until the master reaps it.)
        deadline = time.monotonic() + DEFAULT_WAIT
        while not set(self.d.worker_pids()).isdisjoint(old_workers):
            if time.monotonic() > deadline:
                raise AssertionError("old workers not reaped")
            time.sleep(0.01)
        self.d.wait_log(r"\d+ workers \(\d+ idle|reloaded: generation 2")

    def test_control_reload_says_how_it_went(self):
        self.d.cleanup()
        conf = BANNER % "first banner" + 'control = { socket = "@DIR@/ctl"; };\n'
        self.d = Daemon(conf)
        sock = os.path.join(self.d.dir, "ctl")
        self.d.write_config(conf.replace("first banner", "via control"))
        r = control(sock, "reload")
        self.assertEqual((r.code, r.text), (200, "reloaded: generation 2"))
        status = control(sock, "status")
        self.assertIn("generation 2", status.lines)
        c = self.connect(greet=False)
        self.assertIn("via control", c.expect(220).text)
        # A broken file: 451 naming the file and line, generation 2 stays.
        self.d.write_config(conf + "limits = { recipients = \"many\"; };\n")
        r = control(sock, "reload")
        self.assertEqual(r.code, 451)
        self.assertRegex(r.text, r"generation 2 keeps running: %s:4: " % self.d.conf)
        self.assertIn("generation 2", control(sock, "status").lines)
        self.assertEqual(control(sock, "reload extra").code, 501)

    def test_broken_config_keeps_the_old_one_serving(self):
        busy = self.connect()
        self.ehlo(busy)
        self.d.write_config(BANNER % "never" + "limits = {\n  recipients = 0;\n  nonsense = 1;\n};\n")
        mark = self.d.reload(ok=False)
        # Each error with file:line, then what stays.
        self.d.wait_log(r"error: reload failed: %s:4: " % self.d.conf, start=mark)
        self.d.wait_log(r"error: reload failed: %s:5: " % self.d.conf, start=mark)
        self.d.wait_log(r"reload failed: generation 1 keeps running", start=mark)
        c = self.connect(greet=False)
        self.assertIn("first banner", c.expect(220).text)
        self.ehlo(c)
        send_one(c, 1)
        send_one(busy, 2)
        self.assertEqual(len(self.d.messages()), 2)
        # A syntax error and a missing file are reported the same way.
        self.d.write_config("server = {\n banner = ;\n};\n")
        mark = self.d.reload(ok=False)
        self.d.wait_log(r"reload failed: %s:2: " % self.d.conf, start=mark)
        os.unlink(self.d.conf)
        mark = self.d.reload(ok=False)
        self.d.wait_log(r"reload failed: %s:0: cannot read" % self.d.conf, start=mark)
        # And once fixed, the next reload works.
        self.d.write_config(BANNER % "fixed")
        self.assertEqual(self.d.reload(), 2)
        c2 = self.connect(greet=False)
        self.assertIn("fixed", c2.expect(220).text)

    def test_reload_under_load_loses_nothing(self):
        """Clients send continuously, on new and on long sessions, through
        five reloads: every message gets 250 and is on disk."""
        accepted = []
        errors = []
        stop = threading.Event()
        lock = threading.Lock()

        def short_sessions(k):
            n = 0
            while not stop.is_set():
                try:
                    c = Client(self.d.host, self.d.port)
                    c.expect(220)
                    c.cmd("EHLO load.example")
                    r = send_one(c, k * 100000 + n)
                    c.cmd("QUIT")
                    c.close()
                    with lock:
                        accepted.append(r.text.split()[-1])
                    n += 1
                except Exception as e:  # noqa: BLE001 - every failure counts
                    errors.append("short %d: %r" % (k, e))
                    return

        def long_session():
            n = 0
            try:
                c = Client(self.d.host, self.d.port)
                c.expect(220)
                c.cmd("EHLO long.example")
                while not stop.is_set():
                    r = send_one(c, 900000 + n)
                    with lock:
                        accepted.append(r.text.split()[-1])
                    n += 1
                c.cmd("QUIT")
                c.close()
            except Exception as e:  # noqa: BLE001
                errors.append("long: %r" % e)

        threads = [threading.Thread(target=short_sessions, args=(k,)) for k in range(3)]
        threads.append(threading.Thread(target=long_session))
        for t in threads:
            t.start()
        try:
            def count():
                with lock:
                    return len(accepted)
            for gen in range(2, 7):
                before = count()
                deadline = time.monotonic() + DEFAULT_WAIT
                while count() < before + 20 and not errors:
                    if time.monotonic() > deadline:
                        raise AssertionError("load stalled")
                    time.sleep(0.005)
                self.d.write_config(BANNER % ("banner %d" % gen))
                self.assertEqual(self.d.reload(), gen)
            before = count()
            deadline = time.monotonic() + DEFAULT_WAIT
            while count() < before + 20 and not errors:
                if time.monotonic() > deadline:
                    raise AssertionError("load stalled after the last reload")
                time.sleep(0.005)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(errors, [])
        names = {m[0] for m in self.d.messages()}
        self.assertGreater(len(accepted), 100)
        self.assertEqual(set(accepted), names)
        self.assertEqual(self.d.find_all(r"refused with 421|\b421 4\.| reject code=421 "), [])


LISTENERS = """
listeners = (
%s
);
"""
ONE = '  { name = "one"; address = "127.0.0.1"; port = 0; }'
TWO = '  { name = "two"; address = "127.0.0.1"; port = 0; tls = "none"; }'


class Listeners(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(LISTENERS % ONE, listen=())

    def tearDown(self):
        self.d.cleanup()

    def greet(self, port):
        c = Client(self.d.host, port)
        try:
            r = c.expect(220)
            ehlo = c.cmd("EHLO x.example")
            c.cmd("QUIT")
            return r, ehlo
        finally:
            c.close()

    def test_listeners_added_kept_and_removed(self):
        one = self.d.port_of["one"]
        _, ehlo = self.greet(one)
        self.assertIn("STARTTLS", ehlo.lines)

        # Adding "two": "one" keeps its socket (same port, nothing refused).
        self.d.write_config(LISTENERS % (ONE + ",\n" + TWO))
        mark = self.d.log_mark()
        self.assertEqual(self.d.reload(), 2)
        m = self.d.wait_log(r"listening on 127\.0\.0\.1:(\d+) \(listener two\)", start=mark)
        two = int(m.group(1))
        self.assertEqual(self.d.find_all(r"listener one on .* closed"), [])
        self.greet(one)
        _, ehlo = self.greet(two)
        self.assertNotIn("STARTTLS", ehlo.lines)

        # Changing a kept listener's settings applies to new sessions.
        self.d.write_config(LISTENERS % (ONE.replace("port = 0;", 'port = 0; tls = "none";')
                                         + ",\n" + TWO))
        self.assertEqual(self.d.reload(), 3)
        _, ehlo = self.greet(one)
        self.assertNotIn("STARTTLS", ehlo.lines)

        # Removing "one" closes it once the last worker holding it is gone.
        self.d.write_config(LISTENERS % TWO)
        mark = self.d.log_mark()
        self.assertEqual(self.d.reload(), 4)
        self.d.wait_log(r"listener one on 127\.0\.0\.1:%d closed" % one, start=mark)
        self.greet(two)
        deadline = time.monotonic() + DEFAULT_WAIT
        while True:
            try:
                self.greet(one)
            except (ConnectionRefusedError, EOFError, ConnectionResetError):
                break
            if time.monotonic() > deadline:
                raise AssertionError("listener one still answers after its removal")
            time.sleep(0.02)

    def test_a_listener_that_cannot_be_bound_fails_the_reload(self):
        one = self.d.port_of["one"]
        busy = '  { name = "dup"; address = "127.0.0.1"; port = %d; }' % one
        self.d.write_config(LISTENERS % (ONE + ",\n" + busy))
        mark = self.d.reload(ok=False)
        self.d.wait_log(r"reload failed: %s:4: bind\(\) to 127\.0\.0\.1 port %d failed for listener "
                        r"\"dup\": Address already in use" % (self.d.conf, one), start=mark)
        self.greet(one)


class Stop(unittest.TestCase):
    def tearDown(self):
        self.d.cleanup()

    def in_data(self, config):
        """A daemon with config and a session inside DATA."""
        self.d = Daemon(config)
        c = self.d.connect()
        c.expect(220)
        c.cmd("EHLO a.example")
        c.cmd("MAIL FROM:<a@example.com>")
        c.cmd("RCPT TO:<b@example.com>")
        self.assertEqual(c.cmd("DATA").code, 354)
        return c

    def test_sigterm_mid_data_lets_the_message_finish(self):
        c = self.in_data("timeouts = { shutdown = 20; };")
        c.send("Subject: half\r\n\r\nfirst half\r\n")
        self.d.proc.send_signal(signal.SIGTERM)
        self.d.wait_log(r"stopping: 1 workers busy")
        c.send("second half\r\n.\r\n")
        c.expect(250)
        self.assertEqual(c.cmd("QUIT").code, 221)
        self.assertEqual(self.d.proc.wait(10), 0)
        self.assertEqual([body_of(m[1]) for m in self.d.messages()],
                         [b"Subject: half\r\n\r\nfirst half\r\nsecond half\r\n"])

    def test_sigterm_mid_data_past_the_deadline_gets_421_and_nothing_stored(self):
        c = self.in_data("timeouts = { shutdown = 0.3; };")
        c.send("Subject: never finished\r\n\r\n")
        self.d.proc.send_signal(signal.SIGTERM)
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (421, "4.3.2"))
        self.assertTrue(c.closed())
        self.assertEqual(self.d.proc.wait(10), 0)
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])


class LogReopen(unittest.TestCase):
    """SIGUSR1 after logrotate moved the file: master and workers write to a
    new file at the configured path."""

    def setUp(self):
        self.top = tempfile.mkdtemp(prefix="smtptrap-test-")
        os.chmod(self.top, 0o755)
        self.logdir = os.path.join(self.top, "log")
        os.mkdir(self.logdir)
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.logdir, nobody.pw_uid, nobody.pw_gid)
        self.log = os.path.join(self.logdir, "smtptrapd.log")
        self.d = Daemon('server = { log_file = "%s"; log_level = "debug"; };' % self.log)

    def tearDown(self):
        self.d.cleanup()
        shutil.rmtree(self.top)

    def read(self, path):
        with open(path) as f:
            return f.read()

    def wait_in(self, path, pattern):
        deadline = time.monotonic() + DEFAULT_WAIT
        rx = re.compile(pattern)
        while True:
            if os.path.exists(path) and rx.search(self.read(path)):
                return
            if time.monotonic() > deadline:
                raise AssertionError("/%s/ not in %s:\n%s" % (
                    pattern, path, self.read(path) if os.path.exists(path) else "(missing)"))
            time.sleep(0.01)

    def session(self, who):
        c = self.d.connect()
        c.expect(220)
        c.cmd("EHLO %s" % who)
        c.cmd("QUIT")
        c.close()

    def test_sigusr1_reopens_the_log_file(self):
        # Startup lines on stderr (fixtures read the port there) and in the file.
        self.wait_in(self.log, r"listening on 127\.0\.0\.1:%d" % self.d.port)
        self.session("before.example")
        self.wait_in(self.log, r"before\.example")
        os.rename(self.log, self.log + ".1")
        self.d.proc.send_signal(signal.SIGUSR1)
        self.wait_in(self.log, r"SIGUSR1: log file %s reopened" % re.escape(self.log))
        self.session("after.example")
        self.wait_in(self.log, r"after\.example")
        self.assertNotIn("after.example", self.read(self.log + ".1"))
        self.assertNotIn("before.example", self.read(self.log))
        # Nothing of the sessions went to stderr.
        self.assertEqual(self.d.find_all(r"before\.example|after\.example"), [])


if __name__ == "__main__":
    main()
