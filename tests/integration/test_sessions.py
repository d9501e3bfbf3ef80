"""Several sessions in one worker process (workers.sessions): sessions
interleave, one session's delay or silence never holds up another, limits
count sessions rather than workers, a full worker makes the pool grow or
the master refuse, and a stop lets every session of a worker finish.

Every test pins the pool to one worker (max_workers = 1), so all the
sessions it opens share that process; the status line proves it.
Nothing sleeps: every wait is for a reply, a log line or a file.
"""

import os
import re
import select
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import DaemonTest, main  # noqa: E402

ONE_WORKER = "workers = { min_spare = 1; max_spare = 1; max_workers = 1; sessions = %d; };\n"
CONTROL = 'control = { socket = "@DIR@/ctl"; };\n'


def send_message(t, c, rcpt="bob@example.com", body="hello"):
    """A whole transaction on a greeted session; returns the final reply."""
    t.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
    t.assertEqual(c.cmd("RCPT TO:<%s>" % rcpt).code, 250)
    t.assertEqual(c.cmd("DATA").code, 354)
    c.send(b"Subject: s\r\n\r\n" + body.encode() + b"\r\n.\r\n")
    return c.reply()


def has_input(c):
    """Has the daemon sent anything not yet read, without waiting?"""
    return bool(c.buf) or bool(select.select([c.sock], [], [], 0)[0])


class SessionsTest(DaemonTest):
    def status_workers(self):
        from smtptrap_harness import control
        r = control(os.path.join(self.d.dir, "ctl"), "status")
        return [l for l in r.lines if l.startswith("worker ")]


class Interleaved(SessionsTest):
    CONFIG = ONE_WORKER % 4 + CONTROL

    def test_four_sessions_share_one_worker(self):
        cs = [self.connect() for _ in range(4)]
        for i, c in enumerate(cs):
            self.assertEqual(self.ehlo(c, "c%d.example" % i).code, 250)
        # One process holds all four.
        workers = self.status_workers()
        self.assertEqual(len(workers), 1, workers)
        self.assertRegex(workers[0], r" state=busy .* active=4$")
        # Commands of different sessions interleave, each answered in turn.
        for c in cs:
            self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
        for i, c in enumerate(cs):
            self.assertEqual(c.cmd("RCPT TO:<r%d@example.com>" % i).code, 250)
        for c in cs:
            self.assertEqual(c.cmd("DATA").code, 354)
        for i, c in enumerate(reversed(cs)):
            c.send(b"Subject: s\r\n\r\nbody " + str(i).encode() + b"\r\n.\r\n")
        names = set()
        for c in cs:
            r = c.reply()
            self.assertEqual(r.code, 250, r)
            names.add(r.text.split()[-1])
        self.assertEqual(len(names), 4, "four distinct queue ids: %r" % names)
        msgs = self.wait_messages(4)
        self.assertEqual(len(set(msgs)), 4)
        for c in cs:
            self.assertEqual(c.cmd("QUIT").code, 221)
        # Session ids in the log are distinct too.
        ids = {m.group(1) for m in self.d.find_all(r"([0-9A-F]{12}) \[127\.0\.0\.1\]:\d+ connect ")}
        self.assertEqual(len(ids), 4, ids)

    def test_full_worker_and_full_pool_refuse_with_421(self):
        cs = [self.connect() for _ in range(4)]
        for c in cs:
            self.assertEqual(self.ehlo(c).code, 250)
        # The only worker has no room and may not be joined by another.
        extra = self.connect(greet=False)
        r = extra.reply()
        self.assertEqual((r.code, r.text.split()[0]), (421, "4.7.0"), r)
        self.assertTrue(extra.closed())
        self.d.wait_log(r"refused with 421: all 1 workers busy")
        # A session ends: its place takes the next client.
        self.assertEqual(cs[0].cmd("QUIT").code, 221)
        self.assertTrue(cs[0].closed())
        while True:
            c = self.connect(greet=False)
            r = c.reply()
            if r.code == 220:
                break
            self.assertEqual(r.code, 421)
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(send_message(self, c).code, 250)


class Grows(SessionsTest):
    CONFIG = "workers = { min_spare = 1; max_spare = 2; max_workers = 4; sessions = 2; };\n" + CONTROL

    def test_a_full_worker_brings_another(self):
        cs = [self.connect() for _ in range(6)]
        for c in cs:
            self.assertEqual(self.ehlo(c).code, 250)
            self.assertEqual(send_message(self, c).code, 250)
        workers = self.status_workers()
        active = sorted(int(re.search(r"active=(\d+)$", w).group(1)) for w in workers)
        self.assertEqual(sum(active), 6, workers)
        self.assertTrue(all(a <= 2 for a in active), workers)
        self.assertGreaterEqual(len(workers), 3, workers)


class DelayIsolated(SessionsTest):
    CONFIG = ONE_WORKER % 2 + """
rules = ( { stage = "rcpt"; rcpt = "^slow@"; action = "delay"; delay_ms = 3000; } );
"""

    def test_a_delay_does_not_hold_up_the_other_session(self):
        slow = self.connect()
        fast = self.connect()
        self.assertEqual(self.ehlo(slow).code, 250)
        self.assertEqual(self.ehlo(fast).code, 250)
        self.assertEqual(slow.cmd("MAIL FROM:<alice@example.com>").code, 250)
        slow.send(b"RCPT TO:<slow@example.com>\r\n")
        port = slow.sock.getsockname()[1]
        self.d.wait_log(r"\[127\.0\.0\.1\]:%d delay " % port)  # the rule holds the slow session
        # The other session of the same worker runs a whole transaction...
        self.assertEqual(send_message(self, fast).code, 250)
        self.assertEqual(fast.cmd("QUIT").code, 221)
        # ...while the delayed reply has not come yet.
        self.assertFalse(has_input(slow), "the delayed RCPT was answered before the other session ended")
        self.assertEqual(slow.reply().code, 250)


class Silence(SessionsTest):
    CONFIG = ONE_WORKER % 2 + "timeouts = { command = 0.4; };\n"

    def test_one_session_times_out_while_the_other_works(self):
        quiet = self.connect()
        busy = self.connect()
        self.assertEqual(self.ehlo(busy).code, 250)
        # The busy session keeps talking (each command restarts its own
        # timer) until the quiet one, in the same worker, is timed out.
        deadline = time.monotonic() + 10
        while not has_input(quiet):
            self.assertEqual(busy.cmd("NOOP").code, 250)
            self.assertLess(time.monotonic(), deadline, "the quiet session was never timed out")
        r = quiet.reply()
        self.assertEqual((r.code, r.text.split()[0]), (421, "4.4.2"), r)
        self.assertTrue(quiet.closed())
        # The other session is still served by the same worker.
        self.assertEqual(send_message(self, busy).code, 250)
        self.assertEqual(busy.cmd("QUIT").code, 221)


class PerClientLimit(SessionsTest):
    CONFIG = ONE_WORKER % 4 + "limits = { connections_per_client = 2; };\n"

    def test_sessions_of_one_worker_count_per_client(self):
        a = self.connect()
        b = self.connect()
        c = self.connect(greet=False)
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (421, "4.7.0"), r)
        self.assertIn("too many connections from [127.0.0.1]", r.text)
        self.assertTrue(c.closed())
        self.assertEqual(a.cmd("QUIT").code, 221)
        self.assertTrue(a.closed())
        # The count follows the session that ended.
        while True:
            d = self.connect(greet=False)
            r = d.reply()
            if r.code == 220:
                break
            self.assertEqual(r.code, 421)
        self.assertEqual(self.ehlo(b).code, 250)


class TlsInterleaved(SessionsTest):
    CONFIG = ONE_WORKER % 3

    def test_three_tls_sessions_in_one_worker(self):
        cs = [self.connect() for _ in range(3)]
        for c in cs:
            self.assertEqual(self.ehlo(c).code, 250)
        # Start every handshake before finishing any.
        for c in cs:
            c.send(b"STARTTLS\r\n")
        for c in cs:
            self.assertEqual(c.reply().code, 220)
        results = [None] * 3

        def handshake(i):
            cs[i].wrap_tls()
            results[i] = self.ehlo(cs[i]).code

        threads = [threading.Thread(target=handshake, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [250, 250, 250])
        for i, c in enumerate(cs):
            self.assertEqual(send_message(self, c, body="tls %d" % i).code, 250)
        self.assertEqual(len(self.d.find_all(r" tls version=")), 3)
        self.wait_messages(3)


class StopWithSessions(SessionsTest):
    CONFIG = ONE_WORKER % 3 + "timeouts = { shutdown = 20; };\n"

    def test_every_session_of_the_worker_finishes(self):
        cs = [self.connect() for _ in range(3)]
        for c in cs:
            self.assertEqual(self.ehlo(c).code, 250)
            self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
            self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 250)
            self.assertEqual(c.cmd("DATA").code, 354)
            c.send(b"Subject: s\r\n\r\nhalf")
        self.d.proc.send_signal(signal.SIGTERM)
        self.d.wait_log(r"stopping: 1 workers busy \(3 sessions\)")
        for c in cs:
            c.send(b" done\r\n.\r\n")
            self.assertEqual(c.reply().code, 250)
        for c in cs:
            self.assertEqual(c.cmd("QUIT").code, 221)
        self.wait_messages(3)
        self.assertEqual(self.d.proc.wait(timeout=20), 0)


class LogReopen(SessionsTest):
    CONFIG = ONE_WORKER % 2 + 'server = { log_file = "@DIR@/smtptrapd.log"; };\n'

    def test_sessions_open_across_sigusr1_log_to_the_new_file(self):
        path = os.path.join(self.d.dir, "smtptrapd.log")
        a = self.connect()
        self.assertEqual(self.ehlo(a).code, 250)
        os.rename(path, path + ".1")
        self.d.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not os.path.exists(path):
            self.assertLess(time.monotonic(), deadline, "the log file was not created again")
            time.sleep(0)  # yield only: the wait is for the daemon, bounded above
        # The session that was open before the signal, in the same worker:
        r = send_message(self, a)
        self.assertEqual(r.code, 250)
        self.assertEqual(a.cmd("QUIT").code, 221)
        self.assertTrue(a.closed())
        port = a.sock.getsockname()[1]
        pat = re.compile(r"\[127\.0\.0\.1\]:%d (deliver|disconnect) " % port)
        deadline = time.monotonic() + 10
        while True:
            with open(path) as f:
                new = [l for l in f if pat.search(l)]
            if len(new) == 2:
                break
            self.assertLess(time.monotonic(), deadline, "deliver and disconnect not in the new file")
        with open(path + ".1") as f:
            self.assertEqual([l for l in f if pat.search(l)], [])


def threads_of(pid):
    return len(os.listdir("/proc/%d/task" % pid))


class FsyncOnHelpers(SessionsTest):
    """With fsync on, commits run on the worker's helper threads."""
    CONFIG = ONE_WORKER % 8 + "delivery = { fsync = true; };\n"

    def test_eight_sessions_commit_with_fsync(self):
        cs = [self.connect() for _ in range(8)]
        for c in cs:
            self.assertEqual(self.ehlo(c).code, 250)
            self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
            self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 250)
            self.assertEqual(c.cmd("DATA").code, 354)
        # Every end of data at once: the commits queue for the helpers.
        for i, c in enumerate(cs):
            c.send(b"Subject: s\r\n\r\nmessage " + str(i).encode() + b"\r\n.\r\n")
        ids = set()
        for c in cs:
            r = c.reply()
            self.assertEqual(r.code, 250, r)
            ids.add(r.text.split()[-1])
        msgs = self.wait_messages(8)
        self.assertEqual({os.path.basename(m[0]) for m in msgs}, ids)
        self.assertEqual(self.d.messages("tmp"), [])
        worker, = self.d.worker_pids()
        self.assertGreater(threads_of(worker), 1, "no helper thread did the commits")
        for c in cs:
            self.assertEqual(c.cmd("QUIT").code, 221)


class FsyncOffInline(SessionsTest):
    CONFIG = ONE_WORKER % 8 + "delivery = { fsync = false; };\n"

    def test_commits_stay_on_the_worker_thread(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(send_message(self, c).code, 250)
        worker, = self.d.worker_pids()
        self.assertEqual(threads_of(worker), 1)
        self.wait_messages(1)


if __name__ == "__main__":
    main()
