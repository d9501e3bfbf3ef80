"""Measurements of the daemon once idle (Snapshot: open files, RSS,
workers, zombies) and the checks of the maildir it delivered to."""

import collections
import hashlib
import os
import re
import time

from .common import IDLE_SETTLE, IDLE_TIMEOUT, ZOMBIE_WAIT, Failure
from .daemon import idle_reason, status
from .procfs import children, fd_kinds, inodes, open_files, proc_state, rss_kib


class Snapshot:
    """The daemon once idle: open files and RSS of the master and of each
    worker, the workers, and the zombies."""

    def __init__(self, daemon):
        deadline = time.monotonic() + IDLE_TIMEOUT
        idle_since = None
        while True:
            st = status(daemon.ctl)
            why = idle_reason(st, children(daemon.pid))
            if why is not None:
                idle_since = None
            elif idle_since is None or time.monotonic() - idle_since < IDLE_SETTLE:
                # A worker idle for a second trims its memory (worker.c,
                # TRIM_AFTER_MS): measure after that, not before.
                idle_since = idle_since or time.monotonic()
                why = "idle for less than %.1f s" % IDLE_SETTLE
            else:
                # The control connection is closed (status() reads to EOF),
                # so the master holds no descriptor for it. Taken twice,
                # 0.2 s apart, idle before and after both: the files must be
                # the same, or it is a moment of change, not the steady set.
                first = self.measure(daemon.pid, st)
                time.sleep(0.2)
                st2 = status(daemon.ctl)
                why = idle_reason(st2, children(daemon.pid))
                if why is None:
                    m = self.measure(daemon.pid, st2)
                    if first is not None and m is not None and first[0] == m[0] and \
                            {p: w["files"] for p, w in first[2].items()} == \
                            {p: w["files"] for p, w in m[2].items()}:
                        break
                    why = "workers or open files changed while measured"
            if time.monotonic() > deadline:
                raise Failure("the daemon did not become idle within %.0f s: %s" % (IDLE_TIMEOUT, why))
            time.sleep(0.1)
        self.master_files, self.master_rss, self.workers = m
        self.idle_since = idle_since
        self.zombies = wait_no_zombies(daemon.pid)
        self.shared = inodes(self.master_files)
        # Each session slot of a worker keeps its own delivery handle, an
        # open maildir/new, from its first session on (deliver_maildir.c:
        # md_init); these are counted apart as "slots".
        newdir = os.path.realpath(os.path.join(daemon.maildir, "new"))
        for w in self.workers.values():
            w["kinds"] = fd_kinds(w["files"], self.shared)
            w["slots"] = w["kinds"].pop(newdir, 0)
        self.master_kinds = fd_kinds(self.master_files, set())

    @staticmethod
    def measure(master, st):
        """(master's files, master's RSS, {pid: worker}) for the workers
        of status st; None if one of them is gone."""
        workers = {}
        for w in st["workers"]:
            files = open_files(w["pid"])
            rss = rss_kib(w["pid"])
            if files is None or rss is None:
                return None
            workers[w["pid"]] = {"files": files, "rss": rss, "sessions": w["sessions"]}
        return open_files(master), rss_kib(master), workers

    def max_worker_rss(self):
        return max((w["rss"] for w in self.workers.values()), default=0)

    def worker_fd_counts(self):
        return sorted(len(w["files"]) for w in self.workers.values())

    def worker_slot_counts(self):
        return sorted(w["slots"] for w in self.workers.values())


def wait_no_zombies(master, timeout=ZOMBIE_WAIT):
    """Children of the master in state Z, after waiting up to timeout for
    them to be reaped (a worker that just exited is one for a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        z = [k for k in children(master) if proc_state(k) == "Z"]
        if not z or time.monotonic() > deadline:
            return z
        time.sleep(0.05)


# ---------------------------------------------------------------------------
# Checks of the maildir


def scan_maildir(maildir):
    """(Counter of ids in new/, [problems], files in new/, tmp/, cur/)."""
    found = collections.Counter()
    problems = []
    new = os.path.join(maildir, "new")
    names = os.listdir(new)
    for name in names:
        try:
            with open(os.path.join(new, name), "rb") as f:
                data = f.read()
        except OSError as e:
            problems.append("new/%s: %s" % (name, e))
            continue
        head, sep, body = data.partition(b"\r\n\r\n")
        head += b"\r\n"
        m = re.search(rb"^X-Soak-Id: (\S+)\r$", head, re.M)
        s = re.search(rb"^X-Soak-Sum: ([0-9a-f]{32}) (\d+)\r$", head, re.M)
        if not sep or not m or not s:
            problems.append("new/%s: no X-Soak-Id or X-Soak-Sum header" % name)
            continue
        mid = m.group(1).decode()
        found[mid] += 1
        if (len(body) != int(s.group(2)) or hashlib.sha256(body).hexdigest()[:32] != s.group(1).decode()
                or not body.startswith(b"soak-body-marker " + m.group(1) + b"\r\n")):
            problems.append("new/%s: id %s: body differs from what was sent (%d octets stored, %s sent)"
                            % (name, mid, len(body), s.group(2).decode()))
    others = {sub: os.listdir(os.path.join(maildir, sub)) for sub in ("tmp", "cur")}
    return found, problems, len(names), others
