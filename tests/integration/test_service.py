"""Running under systemd: the unit made from contrib/smtptrapd.service.in,
the sysusers.d and tmpfiles.d snippets, and the sd_notify(3) messages of
the real daemon.

- The built unit passes "systemd-analyze verify" without a single
  complaint (a copy whose ExecStart names the built daemon, since nothing
  is installed yet), and copies with a mistake do not: the check would see
  a broken unit. Its Type= is the one configure chose.
- systemd-sysusers and systemd-tmpfiles apply the snippets to an empty
  root directory: the user and group smtptrapd, and the directories with
  the owners and modes the unit's StateDirectory=, RuntimeDirectory= and
  Group= give them (systemd would otherwise change them at every start).
- The daemon, started with NOTIFY_SOCKET naming a datagram socket bound
  here, sends from its master process READY=1 with a STATUS= naming its
  workers once it listens, STATUS= updates when its pool changes,
  RELOADING=1 with MONOTONIC_USEC= and then READY=1 around a SIGHUP reload
  (a failed one too), and STOPPING=1 at SIGTERM. These are skipped, with
  that reason, only in a build configured --without-systemd.

Nothing sleeps: each wait is for a datagram or a log line, with a deadline.
"""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import SMTPTRAPD, DEFAULT_WAIT, Daemon, main  # noqa: E402

TOP_BUILDDIR = os.environ.get("SMTPTRAP_TOP_BUILDDIR") or os.path.join(
    os.path.dirname(__file__), "..", "..")
TOP_SRCDIR = os.environ.get("SMTPTRAP_TOP_SRCDIR") or TOP_BUILDDIR
HAVE_SYSTEMD = os.environ.get("SMTPTRAP_HAVE_SYSTEMD", "yes") == "yes"
SERVICE_TYPE = os.environ.get("SMTPTRAP_SERVICE_TYPE", "notify")
INSTALL_DIRS = dict(kv.split("=", 1) for kv in os.environ.get("SMTPTRAP_INSTALL_DIRS", "").split())

UNIT = os.path.join(TOP_BUILDDIR, "contrib", "smtptrapd.service")
SYSUSERS = os.path.join(TOP_SRCDIR, "contrib", "smtptrapd.sysusers")
TMPFILES = os.path.join(TOP_SRCDIR, "contrib", "smtptrapd.tmpfiles")

TOOL_TIMEOUT = 60


def tool(testcase, name):
    path = shutil.which(name) or next(
        (p for p in ("/usr/bin/" + name, "/bin/" + name) if os.access(p, os.X_OK)), None)
    if path is None:
        testcase.fail("%s not found: install the 'systemd' package (the project's bootstrap does)"
                      % name)
    return path


def run(argv):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=TOOL_TIMEOUT)


def show(p):
    return "argv: %r\nexit: %d\nstdout:\n%s\nstderr:\n%s" % (p.args, p.returncode, p.stdout,
                                                             p.stderr)


def unit_settings(text):
    """{(section, key): [values]} of a unit file."""
    out = {}
    section = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        out.setdefault((section, key.strip()), []).append(value.strip())
    return out


class Unit(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(UNIT):
            self.fail("%s is missing: it is made by \"make\" in the top directory" % UNIT)
        with open(UNIT) as f:
            self.text = f.read()
        self.settings = unit_settings(self.text)
        self.dir = tempfile.mkdtemp(prefix="smtptrap-unit-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def get(self, key, section="Service"):
        values = self.settings.get((section, key))
        self.assertIsNotNone(values, "%s= missing from [%s] of %s" % (key, section, UNIT))
        self.assertEqual(len(values), 1, "%s= set more than once" % key)
        return values[0]

    def runnable_copy(self, text):
        """The unit with ExecStart naming the built daemon instead of the
        one "make install" would put in sbindir: verify wants it to exist."""
        sbindir = INSTALL_DIRS.get("sbindir")
        exec_start = self.get("ExecStart").split()
        self.assertEqual(exec_start[0], sbindir + "/smtptrapd")
        new, n = re.subn(r"(?m)^ExecStart=%s/smtptrapd " % re.escape(sbindir),
                         "ExecStart=%s " % os.path.abspath(SMTPTRAPD), text)
        self.assertEqual(n, 1)
        return new

    def verify(self, text, name="smtptrapd.service"):
        """Run systemd-analyze verify on text; (clean, process). Clean means
        exit status 0 and no output: verify reports many mistakes (an
        unknown key, a bad value) as "..., ignoring" with status 0."""
        sub = tempfile.mkdtemp(dir=self.dir)
        path = os.path.join(sub, name)
        with open(path, "w") as f:
            f.write(text)
        p = run([tool(self, "systemd-analyze"), "verify", "--man=no", path])
        return p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), p

    def test_made_from_the_template(self):
        self.assertNotRegex(self.text, r"@[A-Za-z_]+@")
        self.assertEqual(self.get("Type"), SERVICE_TYPE)
        self.assertEqual(SERVICE_TYPE, "notify" if HAVE_SYSTEMD else "simple")
        conf = INSTALL_DIRS.get("sysconfdir") + "/smtptrapd.conf"
        self.assertEqual(self.get("ExecStart"),
                         "%s/smtptrapd -f -c %s" % (INSTALL_DIRS.get("sbindir"), conf))
        self.assertEqual(self.get("ExecReload"), "/bin/kill -HUP $MAINPID")
        self.assertEqual(self.get("KillSignal"), "SIGTERM")
        # Above the daemon's own default drain deadline (timeouts.shutdown).
        self.assertGreater(int(self.get("TimeoutStopSec")), 30)
        self.assertEqual(self.get("Restart"), "on-failure")
        self.assertEqual(self.get("StateDirectory"), "smtptrapd")
        self.assertEqual(self.get("RuntimeDirectory"), "smtptrapd")
        self.assertEqual(self.get("WantedBy", "Install"), "multi-user.target")
        self.assertNotIn(("Service", "User"), self.settings,
                         "the daemon starts as root and drops privileges itself")
        caps = set(self.get("CapabilityBoundingSet").split())
        self.assertEqual(caps, {"CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN",
                                "CAP_DAC_READ_SEARCH"})
        for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                           ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                           ("PrivateDevices", "yes"), ("ProtectKernelTunables", "yes"),
                           ("ProtectKernelModules", "yes"), ("ProtectControlGroups", "yes"),
                           ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
                           ("RestrictNamespaces", "yes"), ("LockPersonality", "yes"),
                           ("MemoryDenyWriteExecute", "yes"), ("RestrictRealtime", "yes"),
                           ("SystemCallArchitectures", "native")):
            self.assertEqual(self.get(key), value, key)

    def test_systemd_analyze_verify_passes(self):
        ok, p = self.verify(self.runnable_copy(self.text))
        self.assertTrue(ok, show(p))

    def test_systemd_analyze_verify_catches_mistakes(self):
        good = self.runnable_copy(self.text)
        broken = {
            "a bad Type=": re.sub(r"(?m)^Type=.*$", "Type=notifyy", good),
            "an unknown key": good.replace("Restart=on-failure", "Restrat=on-failure"),
            "a missing executable": re.sub(r"(?m)^ExecStart=\S+", "ExecStart=/nonexistent/smtptrapd",
                                           good),
            "a bad boolean": good.replace("ProtectHome=yes", "ProtectHome=maybe"),
        }
        for what, text in broken.items():
            self.assertNotEqual(text, good, what)
            ok, p = self.verify(text)
            self.assertFalse(ok, "verify did not notice %s:\n%s" % (what, show(p)))

    def test_snippets_agree_with_the_unit(self):
        """The tmpfiles.d lines for the unit's directories give them the
        owner and mode systemd enforces at every start (root, Group=, the
        *DirectoryMode=): otherwise the first start would chown the whole
        tree, the capture directory included, back to root."""
        group = self.get("Group")
        entries = {}
        with open(TMPFILES) as f:
            for line in f:
                if line.strip() and not line.lstrip().startswith("#"):
                    typ, path, mode, user, grp = line.split()[:5]
                    entries[path] = (typ, mode, user, grp)
        for key, prefix in (("StateDirectory", "/var/lib/"), ("RuntimeDirectory", "/run/")):
            path = prefix + self.get(key)
            mode = self.get(key + "Mode")
            self.assertEqual(entries.get(path), ("d", mode, "root", group), path)
        self.assertEqual(self.get("WorkingDirectory"), "/var/lib/" + self.get("StateDirectory"))
        with open(SYSUSERS) as f:
            users = [l.split() for l in f if l.strip() and not l.lstrip().startswith("#")]
        self.assertEqual([u[:2] for u in users], [["u", group]])


class Snippets(unittest.TestCase):
    """The sysusers.d and tmpfiles.d snippets applied to an empty root."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="smtptrap-root-")
        os.mkdir(os.path.join(self.root, "etc"))

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def apply(self, name, snippet, *args):
        return run([tool(self, name), "--root=" + self.root] + list(args) + [snippet])

    def db(self, name):
        with open(os.path.join(self.root, "etc", name)) as f:
            return {l.split(":")[0]: l.rstrip("\n").split(":") for l in f if l.strip()}

    def test_sysusers_then_tmpfiles(self):
        p = self.apply("systemd-sysusers", SYSUSERS)
        self.assertEqual(p.returncode, 0, show(p))
        user = self.db("passwd")["smtptrapd"]
        group = self.db("group")["smtptrapd"]
        uid, gid = int(user[2]), int(group[2])
        self.assertEqual(int(user[3]), gid)
        self.assertEqual(user[4], "smtptrap SMTP test daemon")
        self.assertEqual(user[5], "/var/lib/smtptrapd")
        self.assertRegex(user[6], r"/nologin$")
        self.assertNotEqual(uid, 0)

        p = self.apply("systemd-tmpfiles", TMPFILES, "--create")
        self.assertEqual(p.returncode, 0, show(p))
        self.assertEqual(p.stderr.strip(), "", show(p))
        for path, owner, mode in (("var/lib/smtptrapd", (0, gid), 0o750),
                                  ("var/lib/smtptrapd/maildir", (uid, gid), 0o750),
                                  ("run/smtptrapd", (0, gid), 0o770)):
            st = os.lstat(os.path.join(self.root, path))
            self.assertTrue(os.path.isdir(os.path.join(self.root, path)), path)
            self.assertEqual((st.st_uid, st.st_gid), owner, path)
            self.assertEqual(st.st_mode & 0o7777, mode, path)

    def test_tmpfiles_without_the_user_fails(self):
        """The check above would see a snippet naming an unknown user."""
        p = self.apply("systemd-tmpfiles", TMPFILES, "--create")
        self.assertNotEqual(p.returncode, 0, show(p))
        self.assertIn("smtptrapd", p.stderr)

    def test_malformed_snippets_fail(self):
        bad = os.path.join(self.root, "bad.conf")
        with open(bad, "w") as f:
            f.write('u smtp/trapd - "bad name" /var/lib/x\n')
        p = self.apply("systemd-sysusers", bad)
        self.assertNotEqual(p.returncode, 0, show(p))
        with open(bad, "w") as f:
            f.write("d /var/lib/x 0x750 root root -\n")
        p = self.apply("systemd-tmpfiles", bad, "--create")
        self.assertNotEqual(p.returncode, 0, show(p))


class NotifySocket:
    """A datagram socket standing in for systemd's notification socket.
    Each message is (sender pid, {KEY: value}) in arrival order."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="smtptrap-notify-")
        # Started as root, the daemon sends as the user it became.
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.messages = []

    def _receive(self, timeout):
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(struct.calcsize("iII")))
        except socket.timeout:
            return False
        pid = None
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", cdata[:struct.calcsize("iII")])[0]
        fields = {}
        for line in data.decode("utf-8", "replace").split("\n"):
            if line:
                key, _, value = line.partition("=")
                fields[key] = value
        self.messages.append((pid, fields))
        return True

    def wait_for(self, predicate, start=0, timeout=DEFAULT_WAIT, what="message"):
        """Index of the first message from `start` on that satisfies
        predicate(fields), waiting for more up to timeout."""
        deadline = time.monotonic() + timeout
        i = start
        while True:
            while i < len(self.messages):
                if predicate(self.messages[i][1]):
                    return i
                i += 1
            left = deadline - time.monotonic()
            if left <= 0 or not self._receive(left):
                raise AssertionError("no %s among the notifications:\n%s" % (
                    what, "\n".join(repr(m) for m in self.messages)))

    def drain(self):
        while self._receive(0.001):
            pass

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def monotonic_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


WORKERS = re.compile(r"(?i)\d.*worker|worker.*\d")
CONFIG = "workers = { min_spare = 2; max_spare = 4; max_workers = 8; sessions = 1; };\n"


@unittest.skipUnless(HAVE_SYSTEMD, "smtptrapd was configured --without-systemd: no sd_notify messages")
class Notify(unittest.TestCase):
    def setUp(self):
        self.n = NotifySocket()
        old = os.environ.get("NOTIFY_SOCKET")
        os.environ["NOTIFY_SOCKET"] = self.n.path
        try:
            self.d = Daemon(CONFIG)
        finally:
            if old is None:
                del os.environ["NOTIFY_SOCKET"]
            else:
                os.environ["NOTIFY_SOCKET"] = old
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        try:
            self.d.cleanup()
        finally:
            self.n.close()

    def assert_from_master(self, i):
        pid, fields = self.n.messages[i]
        self.assertEqual(pid, self.d.proc.pid,
                         "%r came from pid %s, not the master %d (systemd's NotifyAccess=main "
                         "ignores it)" % (fields, pid, self.d.proc.pid))

    def wait_ready(self, start=0):
        i = self.n.wait_for(lambda f: f.get("READY") == "1", start, what="READY=1")
        self.assert_from_master(i)
        status = self.n.messages[i][1].get("STATUS")
        self.assertIsNotNone(status, "READY=1 without STATUS=: %r" % (self.n.messages[i],))
        self.assertRegex(status, WORKERS, "STATUS= should name the worker counts")
        return i

    def test_ready_once_listening(self):
        i = self.wait_ready()
        # Ready means serving: the listener answers.
        c = self.d.connect()
        self.clients.append(c)
        c.expect(220)
        self.n.drain()
        self.assertEqual(len([m for m in self.n.messages if m[1].get("READY") == "1"]), 1,
                         "one READY=1 at start: %r" % self.n.messages)

    def test_status_follows_the_pool(self):
        i = self.wait_ready()
        # A busy worker makes the master start a spare: a pool change.
        c = self.d.connect()
        self.clients.append(c)
        c.expect(220)
        j = self.n.wait_for(lambda f: "STATUS" in f and "READY" not in f, i + 1,
                            what="STATUS= after the pool changed")
        self.assert_from_master(j)
        self.assertRegex(self.n.messages[j][1]["STATUS"], WORKERS)

    def test_reload_says_reloading_then_ready(self):
        i = self.wait_ready()
        before = monotonic_usec()
        self.d.write_config(CONFIG + 'server = { banner = "reloaded"; };\n')
        self.assertEqual(self.d.reload(), 2)
        r = self.n.wait_for(lambda f: f.get("RELOADING") == "1", i + 1, what="RELOADING=1")
        self.assert_from_master(r)
        usec = self.n.messages[r][1].get("MONOTONIC_USEC")
        self.assertIsNotNone(usec, "RELOADING=1 without MONOTONIC_USEC=")
        self.assertRegex(usec, r"^\d+$")
        self.assertGreaterEqual(int(usec), before)
        self.assertLessEqual(int(usec), monotonic_usec())
        self.wait_ready(r + 1)
        c = self.d.connect()
        self.clients.append(c)
        self.assertIn("reloaded", c.expect(220).text)

    def test_failed_reload_is_ready_again(self):
        """The old configuration keeps serving, so the manager must hear
        READY=1 after RELOADING=1 here too, or the unit stays "reloading"."""
        i = self.wait_ready()
        self.d.write_config(CONFIG + "limits = { recipients = \"many\"; };\n")
        self.d.reload(ok=False)
        r = self.n.wait_for(lambda f: f.get("RELOADING") == "1", i + 1, what="RELOADING=1")
        self.wait_ready(r + 1)

    def test_stop_says_stopping(self):
        i = self.wait_ready()
        self.assertEqual(self.d.stop(signal.SIGTERM), 0)
        s = self.n.wait_for(lambda f: f.get("STOPPING") == "1", i + 1, what="STOPPING=1")
        self.assert_from_master(s)
        self.n.drain()
        self.assertEqual([m for m in self.n.messages[s:] if m[1].get("READY") == "1"], [],
                         "READY=1 after STOPPING=1")


if __name__ == "__main__":
    main()
