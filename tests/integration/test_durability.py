"""Durability against the real daemon: nothing acknowledged is ever lost
and nothing half-written is ever visible.

- SIGKILL at random points of 1,000 transactions (one session per worker
  and 32): every message that got its 250 is in new/ once and complete,
  nothing partial is in new/, the master lives on, and the next start
  removes what the killed workers left in tmp/ and says how many.
- The sweep at start keeps what it must (files of live processes, of other
  hosts, links, directories); a reload keeps a live worker's message.
- Exhausted storage (a full tmpfs, no inodes left, a file size limit)
  answers 452 4.3.1 on DATA and BDAT and leaves nothing behind; the session
  goes on, and mail flows again once there is room. A broken maildir (tmp/
  or new/ replaced by a file) answers 451 4.3.0.

Kills are driven by progress (a protocol point of a transaction, or every
n-th 250), never by the clock. The random choices come from one seed,
printed with any failure; SMTPTRAP_TEST_SEED=N repeats a run.
"""

import collections
import errno
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import Client, Daemon, body_of, give_to_daemon_user, main  # noqa: E402

IS_ROOT = os.geteuid() == 0
SWEEP_LINE = r"maildir (\S+): (\d+) leftover files removed from tmp/, (\d+) kept"
MARKER = re.compile(rb"^Message-ID: <durability-(\d+)@test>\r$", re.M)


def test_seed():
    env = os.environ.get("SMTPTRAP_TEST_SEED")
    return int(env) if env else random.SystemRandom().randrange(1 << 32)


def make_body(i):
    """Message i's content: a marker, then lines whose number depends on
    i; every 7th message is large (mid-DATA kills hit a long write)."""
    n = 400 + (i * 37) % 900 if i % 7 == 0 else 2 + (i * 13) % 40
    head = "Message-ID: <durability-%d@test>\r\nSubject: message %d\r\n\r\n" % (i, i)
    lines = "".join("line %05d of message %d: %s\r\n" % (k, i, "abcdefghij" * (1 + (i + k) % 7))
                    for k in range(n))
    return (head + lines).encode()


def read_dir(path):
    """{name: bytes} of the regular files in path."""
    out = {}
    if os.path.isdir(path):
        for name in os.listdir(path):
            with open(os.path.join(path, name), "rb") as f:
                out[name] = f.read()
    return out


class Dropped(Exception):
    """The connection went away (a worker was killed)."""


class KillRun:
    """Client threads send TOTAL messages, resending what got no 250,
    while workers are killed at random protocol points and after every
    n-th 250. Sessions end (QUIT) after a random number of messages.

    Why sessions end, and workers.max_sessions_per_worker is small: the
    master counts a worker that dies within 2 s of its start as a failed
    start and, after three in a row, pauses spawning, doubling the pause
    each time. Every worker here dies young, so the pause would soon stop
    the run; workers that reach their session limit and exit normally
    reset that count, as in a service where most workers live longer.
    """

    TOTAL = 1000
    THREADS = 4
    POINTS = ("after-mail", "after-rcpt", "after-354", "mid-body", "after-dot")
    MAX_ATTEMPTS = 60
    QUIT_CHANCE = 0.4        # after a 250: end the session, next message on a new one

    def __init__(self, daemon, seed, kill_chance, progress_kills):
        self.d = daemon
        self.seed = seed
        self.kill_chance = kill_chance
        self.progress_kills = progress_kills  # (min, max) 250s between two such kills
        self.lock = threading.Lock()
        self.rng = random.Random(seed)         # the progress-driven kills
        self.acked = {}                        # id -> queued-as name
        self.lost = collections.Counter()      # id -> attempts dropped after the final dot
        self.kills = collections.Counter()     # how each kill was placed
        self.acks = 0
        self.next_kill = self.rng.randint(*progress_kills)
        self.errors = []

    # Killing.

    def kill(self, pid, how):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        with self.lock:
            self.kills[how] += 1

    def on_ack(self):
        """After every n-th 250 (n random), kill a random worker."""
        with self.lock:
            self.acks += 1
            if self.acks < self.next_kill:
                return
            self.next_kill = self.acks + self.rng.randint(*self.progress_kills)
            pids = self.d.worker_pids()
            pid = self.rng.choice(pids) if pids else None
        if pid is not None:
            self.kill(pid, "progress")

    def worker_of(self, c):
        m = self.d.wait_log(r"smtptrapd\[(\d+)\]: \S+ \[127\.0\.0\.1\]:%d connect " % c.local_port,
                            start=c.mark)
        return int(m.group(1))

    # Talking.

    def connect(self, n):
        mark = self.d.log_mark()
        try:
            c = Client(self.d.host, self.d.port, timeout=30)
        except OSError as e:
            raise Dropped("connect: %s" % e)
        c.mark = mark
        c.local_port = c.sock.getsockname()[1]
        # The body goes in two writes: no 40 ms wait for a delayed ACK.
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            r = c.reply()
            if r.code != 220:       # 421: the pool is busy or paused; try again
                raise Dropped("greeting %r" % r)
            r = c.cmd("EHLO t%d.example" % n)
        except (EOFError, OSError) as e:
            c.close()
            raise Dropped(str(e))
        if r.code != 250:
            c.close()
            raise AssertionError("EHLO -> %r" % r)
        return c

    @staticmethod
    def quit(c):
        try:
            c.cmd("QUIT")
        except (EOFError, OSError):
            pass
        c.close()

    def step(self, c, line, code):
        r = c.cmd(line)
        if r.code != code:
            raise AssertionError("%s -> %r" % (line, r))

    def attempt(self, c, i, point, state):
        """One transaction for message i; its queued-as name. Kills the
        own worker at point (None: no kill)."""
        body = make_body(i)
        self.step(c, "MAIL FROM:<sender%d@example.com>" % i, 250)
        if point == "after-mail":
            self.kill(self.worker_of(c), point)
        self.step(c, "RCPT TO:<rcpt%d@example.com>" % i, 250)
        if point == "after-rcpt":
            self.kill(self.worker_of(c), point)
        self.step(c, "DATA", 354)
        if point == "after-354":
            self.kill(self.worker_of(c), point)
        half = len(body) // 2
        c.send(body[:half])
        if point == "mid-body":
            self.kill(self.worker_of(c), point)
        c.send(body[half:] + b".\r\n")
        state["dot"] = True
        if point == "after-dot":
            self.kill(self.worker_of(c), point)
        r = c.reply()
        if r.code != 250:
            raise AssertionError("end of DATA for message %d -> %r" % (i, r))
        return r.text.split("queued as ")[1]

    def client(self, n):
        rng = random.Random(self.seed * 131 + n)
        c = None
        try:
            for k, i in enumerate(range(n, self.TOTAL, self.THREADS)):
                for tries in range(self.MAX_ATTEMPTS):
                    point = None
                    if n == 0 and k >= 3 and not self.kills["mid-body"]:
                        point = "mid-body"   # at least one half-written file
                    elif rng.random() < self.kill_chance:
                        point = rng.choice(self.POINTS)
                    state = {"dot": False}
                    try:
                        if c is None:
                            c = self.connect(n)
                        name = self.attempt(c, i, point, state)
                    except (Dropped, EOFError, OSError):
                        if state["dot"]:
                            with self.lock:
                                self.lost[i] += 1
                        if c is not None:
                            c.close()
                        c = None
                        continue
                    with self.lock:
                        self.acked[i] = name
                    self.on_ack()
                    if rng.random() < self.QUIT_CHANCE:
                        self.quit(c)
                        c = None
                    break
                else:
                    raise AssertionError("message %d: no 250 in %d attempts" % (i, self.MAX_ATTEMPTS))
        except Exception as e:  # noqa: BLE001
            with self.lock:
                self.errors.append("client %d: %r" % (n, e))
        finally:
            if c is not None:
                c.close()

    def run(self):
        threads = [threading.Thread(target=self.client, args=(n,)) for n in range(self.THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
            if t.is_alive():
                self.errors.append("a client thread hangs")


class KillNine(unittest.TestCase):
    """SIGKILL at random points of 1,000 transactions."""

    def setUp(self):
        self.top = tempfile.mkdtemp(prefix="smtptrap-durability-")
        self.maildir = os.path.join(self.top, "maildir")
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.cleanup()
        shutil.rmtree(self.top, ignore_errors=True)

    def start(self, config):
        d = Daemon(config, maildir=self.maildir)
        self.daemons.append(d)
        return d

    def run_kills(self, config, kill_chance, progress_kills):
        seed = test_seed()
        try:
            self.kills_and_restart(config, seed, kill_chance, progress_kills)
        except Exception as e:
            raise AssertionError("seed %d (repeat with SMTPTRAP_TEST_SEED=%d): %s" % (seed, seed, e)) from e

    def kills_and_restart(self, config, seed, kill_chance, progress_kills):
        d = self.start(config)
        run = KillRun(d, seed, kill_chance, progress_kills)
        run.run()
        self.assertEqual(run.errors, [], "log:\n" + "\n".join(d.lines[-60:]))
        self.assertIsNone(d.proc.poll(), "the master died")
        self.assertEqual(sorted(run.acked), list(range(KillRun.TOTAL)))
        self.assertGreaterEqual(run.kills["mid-body"], 1, run.kills)
        self.assertGreaterEqual(sum(run.kills.values()), 20, run.kills)

        # The master answers after the run.
        c = d.connect()
        c.expect(220)
        self.assertEqual(c.cmd("EHLO after.example").code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<b@example.com>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("Subject: after\r\n\r\nafter the kills\r\n.\r\n")
        after = c.expect(250).text.split("queued as ")[1]
        c.close()

        # new/: each 250 is its file, complete; nothing else but complete
        # copies of messages whose 250 was lost with the connection.
        new = read_dir(os.path.join(self.maildir, "new"))
        self.assertEqual(body_of(new.pop(after)), b"Subject: after\r\n\r\nafter the kills\r\n")
        copies = collections.defaultdict(list)
        for name, data in new.items():
            m = MARKER.search(data)
            self.assertIsNotNone(m, "%s: no marker; a partial file in new/?" % name)
            i = int(m.group(1))
            self.assertEqual(body_of(data), make_body(i), "%s (message %d) is not complete" % (name, i))
            copies[i].append(name)
        for i, name in run.acked.items():
            self.assertIn(name, copies[i], "message %d: its 250 named %s, not in new/" % (i, name))
            self.assertLessEqual(len(copies[i]) - 1, run.lost[i],
                                 "message %d: %d copies, %d replies lost" % (i, len(copies[i]), run.lost[i]))
        self.assertEqual(read_dir(os.path.join(self.maildir, "cur")), {})

        # What killed workers left in tmp/ goes at the next start, counted.
        self.assertEqual(d.stop(), 0)
        left = read_dir(os.path.join(self.maildir, "tmp"))
        reaped = sum(int(m.group(1)) for m in d.find_all(r": (\d+) files of worker \d+ removed from tmp/"))
        self.assertGreaterEqual(len(left) + reaped, 1, "a mid-body kill left no file in tmp/")
        d2 = self.start(config)
        m = d2.wait_log(SWEEP_LINE)
        self.assertEqual((m.group(1), int(m.group(2)), int(m.group(3))), (self.maildir, len(left), 0),
                         "tmp/ held %s" % sorted(left))
        self.assertEqual(read_dir(os.path.join(self.maildir, "tmp")), {})
        self.assertEqual(len(read_dir(os.path.join(self.maildir, "new"))), len(new) + 1)

    def test_kill9_one_session_per_worker(self):
        # About 30 kills at protocol points and 30 after every 10..50th 250.
        self.run_kills("workers = { sessions = 1; min_spare = 2; max_spare = 6; max_workers = 32; "
                       "max_sessions_per_worker = 1; }; delivery = { fsync = false; };", 0.03, (10, 50))

    def test_kill9_32_sessions_per_worker(self):
        # Each kill ends every session of the worker: fewer of them. With
        # fsync (the default) commits run on the worker's helper thread.
        self.run_kills("workers = { max_sessions_per_worker = 2; };", 0.015, (20, 60))


def planted_name(pid, host, seq=1):
    return "1700000000.M000001P%dQ%dR0badcafe.%s" % (pid, seq, host)


def dead_pid():
    """The pid of a process that existed and is gone."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


class Sweep(unittest.TestCase):
    """What the start keeps and removes in tmp/, and a reload in flight."""

    HOST = "mx.durability.test"

    def setUp(self):
        self.top = tempfile.mkdtemp(prefix="smtptrap-durability-")
        os.chmod(self.top, 0o755)   # a reload checks the path as the daemon's user
        self.maildir = os.path.join(self.top, "maildir")
        self.d = None

    def tearDown(self):
        if self.d is not None:
            self.d.cleanup()
        shutil.rmtree(self.top, ignore_errors=True)

    def plant(self, tmp, files):
        os.makedirs(tmp, exist_ok=True)
        for name, age in files:
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(b"Subject: half a mess")
            if age:
                st = os.stat(path)
                os.utime(path, (st.st_atime - age, st.st_mtime - age))

    def test_start_removes_dead_writers_files_only(self):
        tmp = os.path.join(self.maildir, "tmp")
        gone = dead_pid()
        hour = 3600
        remove = [planted_name(gone, self.HOST, 1), planted_name(gone, self.HOST, 2),
                  planted_name(gone, "elsewhere.test", 3), "courier-style-name"]
        keep = [planted_name(os.getpid(), self.HOST, 4), planted_name(gone, "elsewhere.test", 5),
                "unknown-writer"]
        self.plant(tmp, [(remove[0], 0), (remove[1], 0), (remove[2], 40 * hour), (remove[3], 37 * hour),
                         (keep[0], 0), (keep[1], 35 * hour), (keep[2], 0)])
        # Never followed, never removed: a link, a directory, a fifo.
        outside = os.path.join(self.top, "outside")
        with open(outside, "w") as f:
            f.write("not in the maildir")
        os.utime(outside, (0, 0))
        os.symlink(outside, os.path.join(tmp, planted_name(gone, self.HOST, 6)))
        os.mkdir(os.path.join(tmp, planted_name(gone, self.HOST, 7)))
        os.mkfifo(os.path.join(tmp, planted_name(gone, self.HOST, 8)))
        give_to_daemon_user(self.top)
        self.d = Daemon('server = { hostname = "%s"; };' % self.HOST, maildir=self.maildir)
        m = self.d.wait_log(SWEEP_LINE)
        self.assertEqual((int(m.group(2)), int(m.group(3))), (len(remove), len(keep)))
        self.assertEqual(sorted(os.listdir(tmp)), sorted(keep + [planted_name(gone, self.HOST, n)
                                                                 for n in (6, 7, 8)]))
        self.assertTrue(os.path.exists(outside))

    def test_start_sweeps_every_recipient_maildir(self):
        gone = dead_pid()
        for rcpt in ("bob@example.com", "carol@example.com"):
            self.plant(os.path.join(self.maildir, rcpt, "tmp"), [(planted_name(gone, self.HOST), 0)])
            os.makedirs(os.path.join(self.maildir, rcpt, "new"))
        self.plant(os.path.join(self.maildir, "bob@example.com", "tmp"),
                   [(planted_name(os.getpid(), self.HOST, 2), 0)])
        give_to_daemon_user(self.top)
        self.d = Daemon('server = { hostname = "%s"; }; delivery = { layout = "per-recipient"; };'
                        % self.HOST, maildir=self.maildir)
        m = self.d.wait_log(SWEEP_LINE)
        self.assertEqual((int(m.group(2)), int(m.group(3))), (2, 1))
        self.assertEqual(os.listdir(os.path.join(self.maildir, "carol@example.com", "tmp")), [])
        self.assertEqual(os.listdir(os.path.join(self.maildir, "bob@example.com", "tmp")),
                         [planted_name(os.getpid(), self.HOST, 2)])

    def test_empty_start_says_zero(self):
        self.d = Daemon("", maildir=self.maildir)
        m = self.d.wait_log(SWEEP_LINE)
        self.assertEqual((m.group(1), m.group(2), m.group(3)), (self.maildir, "0", "0"))

    def test_reload_keeps_a_live_workers_message(self):
        self.d = Daemon("", maildir=self.maildir)
        c = self.d.connect()
        c.expect(220)
        c.cmd("EHLO a.example")
        c.cmd("MAIL FROM:<a@example.com>")
        c.cmd("RCPT TO:<b@example.com>")
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("Subject: across a reload\r\n\r\nfirst half\r\n")
        self.assertEqual(len(os.listdir(os.path.join(self.maildir, "tmp"))), 1)
        self.d.reload()
        self.assertEqual(len(os.listdir(os.path.join(self.maildir, "tmp"))), 1)
        c.send("second half\r\n.\r\n")
        c.expect(250)
        c.close()
        msgs = self.d.messages()
        self.assertEqual([body_of(m[1]) for m in msgs],
                         [b"Subject: across a reload\r\n\r\nfirst half\r\nsecond half\r\n"])
        self.assertEqual(self.d.messages("tmp"), [])


def bdat(c, chunk, last):
    c.send(b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk)
    return c.reply()


class StorageTest(unittest.TestCase):
    """Helpers for talking to a daemon whose storage fails."""

    def setUp(self):
        self.top = tempfile.mkdtemp(prefix="smtptrap-durability-")
        self.d = None
        self.clients = []
        self.mounts = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        try:
            if self.d is not None:
                self.d.cleanup()
        finally:
            for mnt in self.mounts:
                subprocess.run(["umount", mnt])
            shutil.rmtree(self.top, ignore_errors=True)

    def session(self):
        c = self.d.connect()
        self.clients.append(c)
        c.expect(220)
        self.assertEqual(c.cmd("EHLO a.example").code, 250)
        return c

    def envelope(self, c, rcpt="b@example.com"):
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<%s>" % rcpt).code, 250)

    def data(self, c, body, rcpt="b@example.com"):
        """DATA with body; the reply to DATA if not 354 (the transaction is
        then reset), else the final one."""
        self.envelope(c, rcpt)
        r = c.cmd("DATA")
        if r.code != 354:
            self.assertEqual(c.cmd("RSET").code, 250)
            return r
        c.send(body + b".\r\n")
        return c.reply()

    def bdat_message(self, c, body, rcpt="b@example.com"):
        """Two BDAT chunks; the replies."""
        self.envelope(c, rcpt)
        half = len(body) // 2
        return bdat(c, body[:half], False), bdat(c, body[half:], True)

    def assertReply(self, r, code, enh):
        self.assertEqual((r.code, r.text.split()[0]), (code, enh), r)

    def assertNothingStored(self, maildir):
        for sub in ("new", "tmp"):
            self.assertEqual(os.listdir(os.path.join(maildir, sub)), [], sub)

    def big(self, size, tag="big"):
        line = b"%s %s\r\n" % (tag.encode(), b"x" * 70)
        return b"Subject: " + tag.encode() + b"\r\n\r\n" + line * (size // len(line) + 1)


class DiskFull(StorageTest):
    """A full file system is 452 4.3.1; the session goes on."""

    def mount_tmpfs(self, options):
        """A small tmpfs at top/mnt, unmounted at the end. Root only."""
        mnt = os.path.join(self.top, "mnt")
        os.mkdir(mnt)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", mnt], capture_output=True)
        self.assertEqual(p.returncode, 0, "mount -t tmpfs as root failed (a container without "
                         "CAP_SYS_ADMIN?): %s" % p.stderr.decode())
        self.mounts.append(mnt)
        return mnt

    @staticmethod
    def fill(path):
        """Fill the file system of path's directory to the last block."""
        with open(path, "wb", buffering=0) as f:
            block = b"\0" * 65536
            while True:
                try:
                    f.write(block)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    if len(block) == 1:
                        return
                    block = block[:len(block) // 2]

    def test_full_disk_gets_452_then_mail_flows_again(self):
        if not IS_ROOT:
            return self.full_by_file_size_limit()
        mnt = self.mount_tmpfs("size=2m,mode=0755")
        maildir = os.path.join(mnt, "maildir")
        self.d = Daemon("", maildir=maildir)
        filler = os.path.join(mnt, "filler")
        self.fill(filler)

        c = self.session()
        r = self.data(c, self.big(300000))
        self.assertReply(r, 452, "4.3.1")
        self.assertIn("insufficient system storage", r.text)
        self.assertNothingStored(maildir)
        self.d.wait_log(r' deliver result=failed msg=1 cause=nospace reason="write to %s/tmp/\S+ failed: '
                        r'No space left on device"$' % re.escape(maildir))
        # BDAT: the failure shows at the last chunk.
        first, last = self.bdat_message(c, self.big(300000, "bdat"))
        self.assertEqual(first.code, 250)
        self.assertReply(last, 452, "4.3.1")
        self.assertNothingStored(maildir)
        # Even a small message does not fit while the disk is full.
        self.assertReply(self.data(c, self.big(20000, "small")), 452, "4.3.1")
        self.assertNothingStored(maildir)

        os.unlink(filler)
        r = self.data(c, b"Subject: room again\r\n\r\nfits\r\n")
        self.assertEqual(r.code, 250, r)
        first, last = self.bdat_message(c, self.big(300000, "bdat"))
        self.assertEqual((first.code, last.code), (250, 250))
        self.assertEqual(c.cmd("QUIT").code, 221)
        bodies = sorted(body_of(m[1]) for m in self.d.messages())
        self.assertEqual(bodies, sorted([b"Subject: room again\r\n\r\nfits\r\n", self.big(300000, "bdat")]))
        self.assertEqual(self.d.messages("tmp"), [])

    def full_by_file_size_limit(self):
        """Not root: no tmpfs; a file size limit exhausts storage instead."""
        sys.stderr.write("not root: the full disk is simulated by RLIMIT_FSIZE\n")
        maildir = os.path.join(self.top, "maildir")
        self.d = Daemon("", maildir=maildir,
                        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536)))
        c = self.session()
        self.assertReply(self.data(c, self.big(300000)), 452, "4.3.1")
        self.assertNothingStored(maildir)
        first, last = self.bdat_message(c, self.big(300000, "bdat"))
        self.assertReply(last, 452, "4.3.1")
        self.assertNothingStored(maildir)
        self.assertEqual(self.data(c, b"Subject: small\r\n\r\nfits\r\n").code, 250)
        self.assertEqual(self.d.messages("tmp"), [])

    def test_no_inodes_left_gets_452_at_data_and_bdat(self):
        if not IS_ROOT:
            return self.full_by_file_size_limit()
        mnt = self.mount_tmpfs("size=4m,nr_inodes=64,mode=0755")
        maildir = os.path.join(mnt, "maildir")
        self.d = Daemon("", maildir=maildir)
        fillers = os.path.join(mnt, "fillers")
        os.mkdir(fillers)
        n = 0
        while True:
            try:
                open(os.path.join(fillers, str(n)), "w").close()
            except OSError as e:
                self.assertEqual(e.errno, errno.ENOSPC)
                break
            n += 1
        c = self.session()
        # The message file cannot even be created: refused before 354.
        self.assertReply(self.data(c, b"Subject: x\r\n\r\nx\r\n"), 452, "4.3.1")
        self.d.wait_log(r' deliver result=failed msg=1 cause=nospace reason="cannot create %s/tmp/\S+: '
                        r'No space left on device"$' % re.escape(maildir))
        # BDAT: every chunk of the transaction gets the same reply.
        first, last = self.bdat_message(c, b"Subject: y\r\n\r\nyy\r\n")
        self.assertReply(first, 452, "4.3.1")
        self.assertReply(last, 452, "4.3.1")
        self.assertNothingStored(maildir)
        # The session is still in order.
        self.assertEqual(c.cmd("RSET").code, 250)
        os.unlink(os.path.join(fillers, "0"))
        os.unlink(os.path.join(fillers, "1"))
        self.assertEqual(self.data(c, b"Subject: z\r\n\r\nz\r\n").code, 250)
        self.assertEqual(len(self.d.messages()), 1)
        self.assertEqual(self.d.messages("tmp"), [])


class FileSizeLimit(StorageTest):
    """RLIMIT_FSIZE (EFBIG, SIGXFSZ ignored) is exhausted storage too."""

    def limited(self, layout):
        maildir = os.path.join(self.top, "maildir")
        self.d = Daemon('delivery = { layout = "%s"; };' % layout, maildir=maildir,
                        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536)))
        box = maildir if layout == "single" else os.path.join(maildir, "b@example.com")
        c = self.session()
        r = self.data(c, self.big(200000))
        self.assertReply(r, 452, "4.3.1")
        self.d.wait_log(r' deliver result=failed msg=1 cause=nospace reason="write to \S+ failed: '
                        r'File too large"$')
        self.assertNothingStored(box)
        first, last = self.bdat_message(c, self.big(200000, "bdat"))
        self.assertEqual(first.code, 250)
        self.assertReply(last, 452, "4.3.1")
        self.assertNothingStored(box)
        small = self.big(30000, "small")
        self.assertEqual(self.data(c, small).code, 250)
        first, last = self.bdat_message(c, small)
        self.assertEqual((first.code, last.code), (250, 250))
        msgs = read_dir(os.path.join(box, "new"))
        self.assertEqual([body_of(b) for b in msgs.values()], [small, small])
        self.assertEqual(os.listdir(os.path.join(box, "tmp")), [])

    def test_file_size_limit_gets_452_small_messages_fine(self):
        self.limited("single")

    def test_file_size_limit_per_recipient_layout(self):
        self.limited("per-recipient")


class BrokenMaildir(StorageTest):
    """Anything but exhausted storage stays 451 4.3.0, also as root."""

    def replace_by_file(self, path):
        shutil.rmtree(path)
        with open(path, "w") as f:
            f.write("not a directory")

    def restore_dir(self, path):
        os.unlink(path)
        os.mkdir(path)
        give_to_daemon_user(path)

    def test_tmp_replaced_by_a_file_gets_451(self):
        maildir = os.path.join(self.top, "maildir")
        self.d = Daemon("", maildir=maildir)
        c = self.session()
        tmp = os.path.join(maildir, "tmp")
        self.replace_by_file(tmp)
        r = self.data(c, b"Subject: x\r\n\r\nx\r\n")
        self.assertReply(r, 451, "4.3.0")
        self.assertIn("could not be stored", r.text)
        self.d.wait_log(r' deliver result=failed msg=1 cause=error reason="cannot create %s/tmp/\S+: '
                        r'Not a directory"$' % re.escape(maildir))
        first, last = self.bdat_message(c, b"Subject: y\r\n\r\nyy\r\n")
        self.assertReply(first, 451, "4.3.0")
        self.assertReply(last, 451, "4.3.0")
        self.restore_dir(tmp)
        self.assertEqual(self.data(c, b"Subject: z\r\n\r\nz\r\n").code, 250)
        self.assertEqual(len(self.d.messages()), 1)

    def test_new_replaced_by_a_file_gets_451_nothing_left(self):
        maildir = os.path.join(self.top, "maildir")
        self.d = Daemon("", maildir=maildir)
        c = self.session()
        new = os.path.join(maildir, "new")
        self.replace_by_file(new)
        r = self.data(c, self.big(100000))
        self.assertReply(r, 451, "4.3.0")
        self.d.wait_log(r' deliver result=failed msg=1 cause=error reason="rename to %s/new/\S+ failed: '
                        r'Not a directory"$' % re.escape(maildir))
        self.assertEqual(os.listdir(os.path.join(maildir, "tmp")), [])
        first, last = self.bdat_message(c, self.big(100000, "bdat"))
        self.assertEqual(first.code, 250)
        self.assertReply(last, 451, "4.3.0")
        self.assertEqual(os.listdir(os.path.join(maildir, "tmp")), [])
        self.restore_dir(new)
        self.assertEqual(self.data(c, b"Subject: z\r\n\r\nz\r\n").code, 250)
        self.assertEqual(len(self.d.messages()), 1)


if __name__ == "__main__":
    main()
