"""Resource exhaustion: the master and the workers at the per-process
file descriptor limit, and fork() at the process limit.

The limits are lowered on the running processes with prlimit(2), so
exactly the next descriptor or process fails:

- master at the file limit while every worker is full: it logs the
  failed accept() once, then retries only every 100 ms (each retry a
  debug line, so the pacing is visible in the log's timestamps), never
  spins or dies, and refuses the waiting client with 421 once the limit
  is raised again;
- the control socket at the same limit: the same pause, and the client
  is answered afterwards;
- a worker at the file limit: it stops accepting for 100 ms at a time
  and serves the waiting client once the limit is raised;
- fork() failing (RLIMIT_NPROC): logged once, retried after 100, 200,
  400, 800 ms, and the worker is started when it works again.

Nothing sleeps: every wait is for a log line, a reply or EOF.
"""

import datetime
import os
import re
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import ControlClient, DaemonTest, main  # noqa: E402

STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z ")


def lowest_free_fd(pid):
    """The descriptor number the process's next open() would get."""
    used = {int(n) for n in os.listdir("/proc/%d/fd" % pid)}
    n = 0
    while n in used:
        n += 1
    return n


# prlimit(2) on another user's process needs CAP_SYS_RESOURCE; without it
# (containers often drop it) the caller must run as the process's user, so
# util-linux's prlimit command runs as that user.
def prlimit(pid, which, limits=None):
    """Set (soft, hard) of resource `which` ("nofile", "nproc") of pid;
    returns the limits it had."""
    st = os.stat("/proc/%d" % pid)
    kw = {}
    if st.st_uid != os.geteuid():
        kw = {"user": st.st_uid, "group": st.st_gid, "extra_groups": []}
    run = lambda argv: subprocess.run(argv, check=True, capture_output=True, text=True,
                                      **kw).stdout
    out = run(["prlimit", "--pid", str(pid), "--" + which, "--raw", "--noheadings",
               "--output", "SOFT,HARD"])
    old = tuple(int(x) if x != "unlimited" else -1 for x in out.split())
    if limits is not None:
        value = ":".join("unlimited" if x < 0 else str(x) for x in limits)
        run(["prlimit", "--pid", str(pid), "--%s=%s" % (which, value)])
    return old


def limit_files(pid):
    """Lower pid's soft RLIMIT_NOFILE so its next descriptor fails with
    EMFILE; returns the old limits."""
    old = prlimit(pid, "nofile")
    prlimit(pid, "nofile", (lowest_free_fd(pid), old[1]))
    return old


def stamp_ms(line):
    t = datetime.datetime.strptime(STAMP.match(line).group(1), "%Y-%m-%dT%H:%M:%S.%f")
    return t.timestamp() * 1000


class MasterAtFileLimit(DaemonTest):
    CONFIG = """
server = { log_level = "debug"; };
workers = { max_workers = 1; sessions = 1; };
control = { socket = "@DIR@/ctl"; };
"""

    def assert_paced(self, start, pattern):
        """Four retries after the first failure, each at least ~100 ms apart."""
        again = self.d.wait_log(pattern, count=4, start=start)
        self.assertIsNotNone(again)
        lines = [l for l in self.d.lines[start:] if re.search(pattern, l)][:4]
        stamps = [stamp_ms(l) for l in lines]
        for a, b in zip(stamps, stamps[1:]):
            self.assertGreaterEqual(b - a, 90, lines)

    def test_refusal_paused_then_421(self):
        busy = self.connect()
        self.assertEqual(busy.cmd("EHLO a.example").code, 250)
        old = limit_files(self.d.proc.pid)
        mark = self.d.log_mark()
        waiting = socket.create_connection((self.d.host, self.d.port))
        self.addCleanup(waiting.close)
        m = self.d.wait_log(r"accept\(\) on \S+ failed: Too many open files; "
                            r"pausing accepts for 100 ms$", start=mark)
        self.assertIsNotNone(m)
        self.assert_paced(mark, r"accept\(\) on \S+ failed again: Too many open files")
        # Logged once as a warning, not once per retry.
        warnings = [l for l in self.d.lines[mark:] if "pausing accepts" in l]
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIsNone(self.d.proc.poll())
        prlimit(self.d.proc.pid, "nofile", old)
        waiting.settimeout(10)
        self.assertTrue(waiting.recv(200).startswith(b"421 4.7.0 "))
        self.assertEqual(busy.cmd("QUIT").code, 221)

    def test_control_socket_paused_then_served(self):
        # A first command: the master is in its loop. The connection stays
        # open, so the master's descriptors do not change under the limit.
        first = ControlClient(os.path.join(self.d.dir, "ctl"))
        self.addCleanup(first.close)
        self.assertEqual(first.cmd("status").code // 100, 2)
        old = limit_files(self.d.proc.pid)
        mark = self.d.log_mark()
        ctl = ControlClient(os.path.join(self.d.dir, "ctl"))
        self.addCleanup(ctl.close)
        self.d.wait_log(r"control socket: accept\(\) failed: Too many open files; "
                        r"pausing accepts for 100 ms$", start=mark)
        self.assert_paced(mark, r"control socket: accept\(\) failed again")
        prlimit(self.d.proc.pid, "nofile", old)
        r = ctl.cmd("status")
        self.assertEqual(r.code // 100, 2, r)


class WorkerAtFileLimit(DaemonTest):
    CONFIG = """
server = { log_level = "debug"; };
workers = { max_workers = 1; sessions = 4; };
"""

    def test_worker_pauses_then_serves(self):
        # A first session: the worker is in its loop. EOF: it closed the
        # session's socket, so the descriptors counted below are settled.
        first = self.connect()
        self.assertEqual(first.cmd("QUIT").code, 221)
        self.assertTrue(first.closed())
        pids = self.d.worker_pids()
        self.assertEqual(len(pids), 1)
        pid = pids[0]
        old = limit_files(pid)
        mark = self.d.log_mark()
        c = self.d.connect()
        self.clients.append(c)
        self.d.wait_log(r"worker: accept\(\) on \S+ failed: Too many open files; "
                        r"pausing accepts for 100 ms$", start=mark)
        again = r"worker: accept\(\) on \S+ failed again: Too many open files"
        self.d.wait_log(again, count=4, start=mark)
        lines = [l for l in self.d.lines[mark:] if re.search(again, l)][:4]
        stamps = [stamp_ms(l) for l in lines]
        for a, b in zip(stamps, stamps[1:]):
            self.assertGreaterEqual(b - a, 90, lines)
        prlimit(pid, "nofile", old)
        c.expect(220)
        self.assertEqual(c.cmd("EHLO a.example").code, 250)
        self.assertEqual(self.d.worker_pids(), [pid])


class ForkFailure(DaemonTest):
    CONFIG = """
server = { log_level = "debug"; };
workers = { max_workers = 1; sessions = 1; };
"""

    def test_backs_off_then_recovers(self):
        # A first session: the master's pool is up.
        first = self.connect()
        self.assertEqual(first.cmd("QUIT").code, 221)
        pids = self.d.worker_pids()
        self.assertEqual(len(pids), 1)
        master = self.d.proc.pid
        old = prlimit(master, "nproc")
        prlimit(master, "nproc", (1, old[1]))
        mark = self.d.log_mark()
        os.kill(pids[0], signal.SIGKILL)
        self.d.wait_log(r"fork\(\) failed while spawning a worker: Resource temporarily "
                        r"unavailable; retrying in 100 ms$", start=mark)
        for ms in (200, 400, 800):
            self.d.wait_log(r"fork\(\) failed again: Resource temporarily unavailable; "
                            r"retrying in %d ms$" % ms, start=mark)
        lines = [l for l in self.d.lines[mark:] if "retrying in" in l][:4]
        stamps = [stamp_ms(l) for l in lines]
        for (a, b), pause in zip(zip(stamps, stamps[1:]), (100, 200, 400)):
            self.assertGreaterEqual(b - a, pause - 10, lines)
        self.assertIsNone(self.d.proc.poll())
        prlimit(master, "nproc", old)
        m = self.d.wait_log(r"worker started after (\d+) failed fork\(\) attempts", start=mark,
                            timeout=20)
        self.assertGreaterEqual(int(m.group(1)), 4)
        c = self.connect()
        self.assertEqual(c.cmd("EHLO a.example").code, 250)


if __name__ == "__main__":
    main()
