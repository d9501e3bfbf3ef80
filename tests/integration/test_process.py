"""Process model and robustness against the real daemon: worker crashes,
a full pool, timeouts, clients that vanish, concurrency, graceful stop,
storage failures, listeners, layouts and -t. Nothing here sleeps to let
time pass; waits are for conditions, with deadlines."""

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import SMTPTRAPD, Client, Daemon, DaemonTest, body_of, main  # noqa: E402


def wait_until(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def send_message(c, sender, rcpt, body):
    for line, code in (("MAIL FROM:<%s>" % sender, 250), ("RCPT TO:<%s>" % rcpt, 250), ("DATA", 354)):
        r = c.cmd(line)
        if r.code != code:
            raise AssertionError("%s -> %r" % (line, r))
    c.send(body + ".\r\n")
    return c.reply()


class VanishingClients(DaemonTest):
    CONFIG = "timeouts = { command = 0.5; data = 0.5; };"

    def test_disconnect_mid_data_leaves_nothing(self):
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("Subject: half\r\n\r\n" + "x" * 5000)
        mark = self.d.log_mark()
        c.close()
        self.d.wait_log(r" lost after=DATA$", start=mark)
        # The session's end is logged after its message was discarded.
        self.d.wait_log(r" disconnect commands=\d+ messages=0 ", start=mark)
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])
        # The worker is fine: the next client is served.
        c2 = self.connect()
        self.start_tx(c2)
        self.assertEqual(c2.cmd("DATA").code, 354)
        c2.send("ok\r\n.\r\n")
        c2.expect(250)
        self.assertEqual(len(self.d.messages()), 1)

    def test_drop_without_quit(self):
        for _ in range(3):
            c = self.connect()
            c.close()
        self.d.wait_log(r" lost after=CONNECT$", count=3)
        c = self.connect()
        self.assertEqual(c.cmd("QUIT").code, 221)

    def test_idle_timeout(self):
        c = self.connect()
        self.ehlo(c)
        t0 = time.monotonic()
        r = c.reply()  # nothing sent: the command timeout fires
        elapsed = time.monotonic() - t0
        self.assertEqual((r.code, r.text.split()[0]), (421, "4.4.2"))
        self.assertIn("timeout exceeded", r.text)
        self.assertTrue(c.closed())
        self.assertGreater(elapsed, 0.4)
        self.assertLess(elapsed, 3.0)

    def test_slow_loris_in_data(self):
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("Subject: slow\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (421, "4.4.2"))
        self.assertTrue(c.closed())
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])


class SessionLimit(DaemonTest):
    CONFIG = "timeouts = { session = 0.5; command = 30; };"

    def test_session_time_limit(self):
        c = self.connect()
        deadline = time.monotonic() + 10
        while True:
            r = c.cmd("NOOP")
            if r.code != 250:
                break
            self.assertLess(time.monotonic(), deadline, "session limit never enforced")
            c.sock.settimeout(0.05)
            try:
                c.sock.recv(1, socket.MSG_PEEK)
            except socket.timeout:
                pass
            c.sock.settimeout(c.timeout)
        self.assertEqual(r.code, 421)
        self.assertIn("session time limit", r.text)


class Concurrency(DaemonTest):
    CONFIG = "workers = { min_spare = 4; max_spare = 60; max_workers = 64; };"

    def test_50_clients_20_messages_each(self):
        errors = []

        def client(n):
            try:
                c = self.d.connect()
                c.expect(220)
                c.cmd("EHLO c%d.example" % n)
                for i in range(20):
                    r = send_message(c, "s%d@example.com" % n, "r%d@example.com" % n,
                                     "Subject: %d-%d\r\n\r\nclient %d message %d\r\n" % (n, i, n, i))
                    if r.code != 250:
                        raise AssertionError(repr(r))
                c.cmd("QUIT")
                c.close()
            except Exception as e:  # noqa: BLE001
                errors.append("client %d: %s" % (n, e))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        msgs = self.d.messages()
        self.assertEqual(len(msgs), 1000)
        bodies = set(body_of(m[1]) for m in msgs)
        expected = set(("Subject: %d-%d\r\n\r\nclient %d message %d\r\n" % (n, i, n, i)).encode()
                       for n in range(50) for i in range(20))
        self.assertEqual(bodies, expected)
        self.assertEqual(len(set(m[0] for m in msgs)), 1000)
        self.assertEqual(self.d.messages("tmp"), [])
        # More than one worker process served them.
        pids = set(m.group(1) for m in self.d.find_all(r"smtptrapd\[(\d+)\]: \w+ \[[0-9.]+\]:\d+ connect "))
        self.assertGreater(len(pids), 1)


class WorkerCrash(DaemonTest):
    CONFIG = "workers = { min_spare = 2; max_spare = 2; };"

    def test_sigkill_mid_session(self):
        c = self.connect()
        self.start_tx(c)
        m = self.d.wait_log(r"smtptrapd\[(\d+)\]: \w+ \[[0-9.]+\]:\d+ connect ")
        pid = int(m.group(1))
        self.assertNotEqual(pid, self.d.proc.pid)
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(c.closed())
        self.d.wait_log(r"worker %d killed by signal 9" % pid)
        self.assertIsNone(self.d.proc.poll(), "master died with its worker")
        # Replaced and serving.
        c2 = self.connect()
        self.start_tx(c2)
        self.assertEqual(c2.cmd("DATA").code, 354)
        c2.send("after crash\r\n.\r\n")
        c2.expect(250)
        self.assertEqual([body_of(m[1]) for m in self.d.messages()], [b"after crash\r\n"])

    def test_workers_killed_in_sessions_are_not_a_fork_storm(self):
        # Young workers killed while they serve a session (an OOM killer,
        # an operator) did start fine: no pause in worker creation.
        for i in range(5):
            mark = self.d.log_mark()
            c = self.connect()
            self.assertEqual(self.ehlo(c).code, 250)
            m = self.d.wait_log(r"smtptrapd\[(\d+)\]: \w+ \[[0-9.]+\]:%d connect "
                                % c.sock.getsockname()[1], start=mark)
            pid = int(m.group(1))
            os.kill(pid, signal.SIGKILL)
            self.assertTrue(c.closed())
            self.d.wait_log(r"worker %d killed by signal 9" % pid, start=mark)
        self.assertEqual(self.d.find_all(r"workers keep failing at start"), [])
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("after five kills\r\n.\r\n")
        c.expect(250)

    def test_workers_exit_when_master_dies(self):
        wait_until(lambda: len(self.d.worker_pids()) >= 2, what="workers to start")
        workers = self.d.worker_pids()
        os.kill(self.d.proc.pid, signal.SIGKILL)
        self.d.proc.wait()
        wait_until(lambda: not any(pid_alive(p) for p in workers), what="orphaned workers to exit")


class StartFailures(DaemonTest):
    CONFIG = "workers = { min_spare = 2; max_spare = 4; max_workers = 8; };"

    def test_failing_workers_are_throttled_then_recover(self):
        # Make the capture directory unusable behind the daemon's back, so
        # every new worker fails at start: new/ replaced by a file. (Workers
        # write through the directory the master opened, so moving the
        # whole maildir away would not stop them.)
        wait_until(lambda: len(self.d.worker_pids()) >= 2, what="workers to start")
        new = os.path.join(self.d.maildir, "new")
        os.rename(new, new + ".away")
        with open(new, "w") as f:
            f.write("not a directory")
        for pid in self.d.worker_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # already gone: its replacement fails just the same
        self.d.wait_log(r"workers keep failing at start; pausing worker creation for 1000 ms")
        self.assertIsNone(self.d.proc.poll())
        starts = len(self.d.find_all(r"worker: delivery backend maildir: "))
        self.assertLess(starts, 20, "workers were re-forked without a pause")
        # Repair it: the pool comes back after the pause and serves mail.
        os.unlink(new)
        os.rename(new + ".away", new)
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("recovered\r\n.\r\n")
        c.expect(250)


class FullPool(DaemonTest):
    CONFIG = "workers = { min_spare = 1; max_spare = 1; max_workers = 2; sessions = 1; };"

    def test_421_when_all_workers_busy(self):
        a = self.connect()
        b = self.connect()
        self.ehlo(a)
        self.ehlo(b)
        c = self.connect(greet=False)
        t0 = time.monotonic()
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (421, "4.7.0"))
        self.assertLess(time.monotonic() - t0, 3.0)
        self.assertTrue(c.closed())
        self.d.wait_log(r"refused with 421: all 2 workers busy")
        # Once a session ends, its worker takes the next client.
        self.assertEqual(a.cmd("QUIT").code, 221)
        deadline = time.monotonic() + 10
        while True:
            d = self.connect(greet=False)
            r = d.reply()
            if r.code == 220:
                break
            self.assertLess(time.monotonic(), deadline)
        self.assertEqual(d.cmd("QUIT").code, 221)


class Recycling(DaemonTest):
    CONFIG = "workers = { min_spare = 1; max_spare = 2; max_workers = 4; max_sessions_per_worker = 2; };"

    def test_workers_replaced_after_session_limit(self):
        for i in range(7):
            c = self.connect()
            self.assertEqual(c.cmd("QUIT").code, 221, i)
            c.close()
        self.d.wait_log(r"\]: \w+ \[[0-9.]+\]:\d+ connect ", count=7)
        pids = set(m.group(1) for m in self.d.find_all(r"smtptrapd\[(\d+)\]: \w+ \[[0-9.]+\]:\d+ connect "))
        self.assertGreaterEqual(len(pids), 4)
        for pid in pids:
            n = len(self.d.find_all(r"smtptrapd\[%s\]: \w+ \[[0-9.]+\]:\d+ connect " % pid))
            self.assertLessEqual(n, 2)


class GracefulStop(unittest.TestCase):
    def setUp(self):
        self.d = Daemon("timeouts = { shutdown = 5; };")

    def tearDown(self):
        self.d.cleanup()

    def test_session_in_progress_finishes(self):
        c = self.d.connect()
        c.expect(220)
        c.cmd("EHLO a.example")
        c.cmd("MAIL FROM:<a@example.com>")
        c.cmd("RCPT TO:<b@example.com>")
        self.d.proc.send_signal(signal.SIGTERM)
        self.d.wait_log(r"stopping: 1 workers busy")
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("during stop\r\n.\r\n")
        c.expect(250)
        self.assertEqual(c.cmd("QUIT").code, 221)
        self.assertEqual(self.d.proc.wait(10), 0)
        self.assertEqual([body_of(m[1]) for m in self.d.messages()], [b"during stop\r\n"])

    def test_deadline_closes_with_421(self):
        self.d.cleanup()
        self.d = Daemon("timeouts = { shutdown = 0.3; };")
        c = self.d.connect()
        c.expect(220)
        c.cmd("EHLO a.example")
        self.d.proc.send_signal(signal.SIGTERM)
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (421, "4.3.2"))
        self.assertTrue(c.closed())
        self.assertEqual(self.d.proc.wait(10), 0)


class StorageFailure(unittest.TestCase):
    def test_file_size_limit_gets_452_and_nothing_half_written(self):
        def limit():
            resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

        d = Daemon("", preexec_fn=limit)
        try:
            c = d.connect()
            c.expect(220)
            c.cmd("EHLO a.example")
            r = send_message(c, "a@example.com", "b@example.com", "Subject: big\r\n\r\n" + ("y" * 70 + "\r\n") * 130)
            self.assertEqual((r.code, r.text.split()[0]), (452, "4.3.1"))
            self.assertEqual(d.messages(), [])
            self.assertEqual(d.messages("tmp"), [])
            d.wait_log(r' deliver result=failed msg=1 cause=nospace reason="write to .* failed: File too large"$')
            # Small messages still go through on the same connection.
            r = send_message(c, "a@example.com", "b@example.com", "small\r\n")
            self.assertEqual(r.code, 250)
            self.assertEqual(len(d.messages()), 1)
        finally:
            d.cleanup()

    def test_unusable_recipient_directory_gets_451(self):
        d = Daemon('delivery = { layout = "per-recipient"; };')
        try:
            os.makedirs(d.maildir, exist_ok=True)
            with open(os.path.join(d.maildir, "blocked@example.com"), "w") as f:
                f.write("not a directory")
            c = d.connect()
            c.expect(220)
            c.cmd("EHLO a.example")
            c.cmd("MAIL FROM:<a@example.com>")
            c.cmd("RCPT TO:<blocked@example.com>")
            r = c.cmd("DATA")
            self.assertEqual((r.code, r.text.split()[0]), (451, "4.3.0"))
            self.assertEqual(c.cmd("RSET").code, 250)
        finally:
            d.cleanup()


class Layouts(unittest.TestCase):
    def test_per_recipient_layout(self):
        d = Daemon('delivery = { layout = "per-recipient"; fsync = false; };')
        try:
            c = d.connect()
            c.expect(220)
            c.cmd("EHLO a.example")
            c.cmd("MAIL FROM:<a@example.com>")
            c.cmd("RCPT TO:<Bob@Example.com>")
            c.cmd("RCPT TO:<carol@example.com>")
            c.cmd("DATA")
            c.send("to two\r\n.\r\n")
            c.expect(250)
            bob = d.messages(root=os.path.join(d.maildir, "bob@example.com"))
            carol = d.messages(root=os.path.join(d.maildir, "carol@example.com"))
            self.assertEqual(len(bob), 1)
            self.assertEqual(bob, carol)
            self.assertEqual(body_of(bob[0][1]), b"to two\r\n")
        finally:
            d.cleanup()

    def test_blackhole_stores_nothing(self):
        d = Daemon('delivery = { backend = "blackhole"; };')
        try:
            c = d.connect()
            c.expect(220)
            c.cmd("EHLO a.example")
            r = send_message(c, "a@example.com", "b@example.com", "gone\r\n")
            self.assertEqual(r.code, 250)
            self.assertRegex(r.text, r"queued as [0-9A-F]{12}\.1$")
            self.assertFalse(os.path.exists(os.path.join(d.maildir, "new")))
        finally:
            d.cleanup()


class Listeners(unittest.TestCase):
    def test_two_listeners_and_ipv6(self):
        have_v6 = True
        try:
            s = socket.socket(socket.AF_INET6)
            s.bind(("::1", 0))
            s.close()
        except OSError:
            have_v6 = False
        specs = ["127.0.0.1:0", "127.0.0.1:0"] + (["[::1]:0"] if have_v6 else [])
        d = Daemon("", listen=specs)
        try:
            self.assertEqual(len(d.ports), len(specs))
            d.wait_log(r"listening on 127.0.0.1:\d+ \(listener 127.0.0.1:0#2\)")
            for i, port in enumerate(d.ports):
                host = "::1" if i == 2 else "127.0.0.1"
                c = Client(host, port)
                c.expect(220)
                c.cmd("EHLO l.example")
                r = send_message(c, "a@example.com", "b%d@example.com" % i, "via %d\r\n" % i)
                self.assertEqual(r.code, 250)
                c.close()
            msgs = d.messages()
            self.assertEqual(len(msgs), len(specs))
            if have_v6:
                self.assertTrue(any(b"([IPv6:::1])" in m[1] for m in msgs))
        finally:
            d.cleanup()

    def test_port_in_use_is_a_startup_error(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        try:
            p = subprocess.run([SMTPTRAPD, "-f", "-l", "127.0.0.1:%d" % port, "-m", "/tmp"],
                               capture_output=True, timeout=10)
            self.assertEqual(p.returncode, 1)
            self.assertIn(b"Address already in use", p.stderr)
        finally:
            s.close()


class QuietLogging(unittest.TestCase):
    def test_startup_lines_printed_at_any_level(self):
        # The harness itself waits for the "listening on" and "ready" lines.
        d = Daemon('server = { log_level = "error"; };')
        try:
            c = d.connect()
            c.expect(220)
            self.assertEqual(c.cmd("QUIT").code, 221)
            c.close()
            self.assertEqual(d.stop(), 0)
            self.assertEqual([l for l in d.lines if " connect listener=" in l], [])
        finally:
            d.cleanup()


class CheckConfig(unittest.TestCase):
    def run_t(self, text, *args):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        path = os.path.join(tmp, "t.conf")
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([SMTPTRAPD, "-t", "-c", path] + list(args), capture_output=True, timeout=10)
        return p, path

    def test_good_config(self):
        p, _ = self.run_t('delivery = { directory = "/tmp"; };\n')
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout, b"configuration OK\n")

    def test_bad_config_names_file_and_line(self):
        p, path = self.run_t('limits = {\n  recipients = "many";\n};\nworkers = { max_workers = 0; };\n')
        self.assertEqual(p.returncode, 1)
        err = p.stderr.decode()
        self.assertIn("%s:2: 'recipients' must be an integer" % path, err)
        self.assertIn("%s:4: 'max_workers' must be between 1 and 4096, not 0" % path, err)

    def test_bad_listen_option(self):
        p, _ = self.run_t("", "-l", "localhost:25")
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"bad listen address 'localhost:25'", p.stderr)

    def test_usage_and_version(self):
        p = subprocess.run([SMTPTRAPD, "-V"], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout.decode(), r"^smtptrapd \d+\.\d+\.\d+\n$")
        p = subprocess.run([SMTPTRAPD, "-x"], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"usage: smtptrapd", p.stderr)


if __name__ == "__main__":
    main()
