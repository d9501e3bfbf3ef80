"""Privileges and the pid file: started as root, the daemon binds, opens its
directories, then runs master and workers as server.user (default
"nobody"); staying root needs server.user = "root". The pid file is
written whole and removed at exit.

These tests need root to start the daemon as root; run as another user,
each one is skipped with that reason printed (never silently).
"""

import grp
import os
import pwd
import sys
import tempfile
import shutil
import subprocess
import time

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import SMTPTRAPD, Daemon, DEFAULT_WAIT, main  # noqa: E402

import unittest  # noqa: E402

IS_ROOT = os.geteuid() == 0
NEEDS_ROOT = "needs root: the daemon must be started as root to drop privileges"


def ids(pid):
    """(real, effective, saved uid), (real, effective, saved gid) and the
    supplementary groups of a process, from /proc."""
    uids = gids = groups = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k == "Uid":
                uids = tuple(int(x) for x in v.split()[:3])
            elif k == "Gid":
                gids = tuple(int(x) for x in v.split()[:3])
            elif k == "Groups":
                groups = sorted(int(x) for x in v.split())
    return uids, gids, groups


def send(d):
    c = d.connect()
    try:
        c.expect(220)
        c.cmd("EHLO x.example")
        c.cmd("MAIL FROM:<a@example.com>")
        c.cmd("RCPT TO:<b@example.com>")
        c.cmd("DATA")
        c.send("Subject: p\r\n\r\nbody\r\n.\r\n")
        return c.reply()
    finally:
        c.close()


@unittest.skipUnless(IS_ROOT, NEEDS_ROOT)
class Drop(unittest.TestCase):
    def setUp(self):
        self.d = None

    def tearDown(self):
        if self.d is not None:
            self.d.cleanup()

    def assert_runs_as(self, uid, gid):
        deadline = time.monotonic() + DEFAULT_WAIT
        while not self.d.worker_pids():
            if time.monotonic() > deadline:
                raise AssertionError("no workers")
            time.sleep(0.01)
        checked = 0
        for pid in [self.d.proc.pid] + self.d.worker_pids():
            try:
                uids, gids, groups = ids(pid)
            except FileNotFoundError:
                continue  # a worker that just exited
            self.assertEqual(uids, (uid, uid, uid), "process %d" % pid)
            self.assertEqual(gids, (gid, gid, gid), "process %d" % pid)
            if uid != 0:
                self.assertEqual(groups, [gid], "process %d keeps other groups" % pid)
            checked += 1
        self.assertGreaterEqual(checked, 2)

    def test_default_is_nobody(self):
        self.d = Daemon("")
        nobody = pwd.getpwnam("nobody")
        self.d.wait_log(r"running as user nobody \(uid %d\), group \S+ \(gid %d\)"
                        % (nobody.pw_uid, nobody.pw_gid))
        self.assert_runs_as(nobody.pw_uid, nobody.pw_gid)
        # Mail still lands, written by the user, in directories it was given.
        self.assertEqual(send(self.d).code, 250)
        (name, _), = self.d.messages()
        st = os.stat(os.path.join(self.d.maildir, "new", name))
        self.assertEqual((st.st_uid, st.st_gid), (nobody.pw_uid, nobody.pw_gid))
        for sub in ("", "tmp", "new", "cur"):
            self.assertEqual(os.stat(os.path.join(self.d.maildir, sub)).st_uid, nobody.pw_uid)

    def test_configured_user_and_group(self):
        user = pwd.getpwnam("daemon")
        group = grp.getgrnam("mail")
        self.d = Daemon('server = { user = "daemon"; group = "mail"; };')
        self.d.wait_log(r"running as user daemon \(uid %d\), group mail \(gid %d\)"
                        % (user.pw_uid, group.gr_gid))
        self.assert_runs_as(user.pw_uid, group.gr_gid)
        self.assertEqual(send(self.d).code, 250)

    def test_workers_started_after_a_reload_run_as_the_user_too(self):
        self.d = Daemon('server = { banner = "one"; };')
        nobody = pwd.getpwnam("nobody")
        old = set(self.d.worker_pids())
        self.d.write_config('server = { banner = "two"; };')
        self.assertEqual(self.d.reload(), 2)
        deadline = time.monotonic() + DEFAULT_WAIT
        while set(self.d.worker_pids()) & old or not self.d.worker_pids():
            if time.monotonic() > deadline:
                raise AssertionError("old workers did not go")
            time.sleep(0.01)
        self.assert_runs_as(nobody.pw_uid, nobody.pw_gid)

    def test_root_only_when_configured(self):
        self.d = Daemon('server = { user = "root"; };')
        self.d.wait_log(r'warning: running as root, as server.user = "root" says')
        self.assert_runs_as(0, 0)

    def test_control_socket_belongs_to_the_user(self):
        self.d = Daemon('control = { socket = "@DIR@/ctl"; };')
        st = os.stat(os.path.join(self.d.dir, "ctl"))
        self.assertEqual(st.st_uid, pwd.getpwnam("nobody").pw_uid)
        self.assertEqual(st.st_mode & 0o777, 0o600)

    def test_capture_directory_the_user_cannot_write_is_a_start_error(self):
        top = tempfile.mkdtemp(prefix="smtptrap-test-")
        try:
            os.chmod(top, 0o755)
            md = os.path.join(top, "maildir")
            for sub in ("", "tmp", "new", "cur"):
                os.mkdir(os.path.join(md, sub), 0o755)
            p = subprocess.run([SMTPTRAPD, "-f", "-l", "127.0.0.1:0", "-m", md],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(p.returncode, 1)
            self.assertRegex(p.stderr.decode(), r"cannot write to %s/tmp as uid %d"
                             % (md, pwd.getpwnam("nobody").pw_uid))
        finally:
            shutil.rmtree(top)

    def test_unknown_user_or_group_is_a_config_error_with_its_line(self):
        top = tempfile.mkdtemp(prefix="smtptrap-test-")
        try:
            conf = os.path.join(top, "c.conf")
            with open(conf, "w") as f:
                f.write('server = {\n  user = "no-such-user-here";\n};\n')
            p = subprocess.run([SMTPTRAPD, "-t", "-c", conf], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(p.returncode, 1)
            self.assertIn('%s:2: server: user "no-such-user-here" does not exist' % conf,
                          p.stderr.decode())
            with open(conf, "w") as f:
                f.write('server = {\n  user = "nobody";\n\n  group = "no-such-group-here";\n};\n')
            p = subprocess.run([SMTPTRAPD, "-t", "-c", conf], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(p.returncode, 1)
            self.assertIn('%s:4: server: group "no-such-group-here" does not exist' % conf,
                          p.stderr.decode())
        finally:
            shutil.rmtree(top)


UNIT = os.path.join(os.environ.get("SMTPTRAP_TOP_BUILDDIR") or
                    os.path.join(os.path.dirname(__file__), "..", ".."),
                    "contrib", "smtptrapd.service")


def unit_capabilities():
    """The CapabilityBoundingSet of the built unit, as setpriv wants it."""
    with open(UNIT) as f:
        for line in f:
            if line.startswith("CapabilityBoundingSet="):
                caps = line.split("=", 1)[1].split()
                return ",".join("+" + c[len("CAP_"):].lower() for c in caps)
    raise AssertionError("no CapabilityBoundingSet= in %s" % UNIT)


@unittest.skipUnless(IS_ROOT, NEEDS_ROOT)
class UnitCapabilities(unittest.TestCase):
    """Root with only the capabilities the systemd unit leaves it (no
    CAP_DAC_OVERRIDE) starts, drops and delivers; twice, so the second
    start meets directories that already belong to the user, mode 0700."""

    def test_start_twice_with_the_units_capabilities(self):
        caps = unit_capabilities()
        self.assertNotIn("dac_override", caps)
        wrapper = ["setpriv", "--inh-caps=-all", "--bounding-set=-all," + caps]
        top = tempfile.mkdtemp(prefix="smtptrap-test-")   # root's, like /var/lib/smtptrapd
        try:
            os.chmod(top, 0o750)
            md = os.path.join(top, "maildir")
            for start in range(2):
                d = Daemon("", maildir=md, wrapper=wrapper)
                try:
                    d.wait_log(r"running as user nobody")
                    self.assertEqual(send(d).code, 250)
                    self.assertEqual(d.stop(), 0)
                finally:
                    d.cleanup()
                for sub in ("", "tmp", "new", "cur"):
                    os.chmod(os.path.join(md, sub), 0o700)
            self.assertEqual(len(os.listdir(os.path.join(md, "new"))), 2)
        finally:
            shutil.rmtree(top)


class PidFile(unittest.TestCase):
    def setUp(self):
        self.d = None

    def tearDown(self):
        if self.d is not None:
            self.d.cleanup()

    def test_pid_file_written_whole_and_removed_at_exit(self):
        top = tempfile.mkdtemp(prefix="smtptrap-test-")
        try:
            os.chmod(top, 0o755)
            run = os.path.join(top, "run")
            os.mkdir(run)
            if IS_ROOT:
                nobody = pwd.getpwnam("nobody")
                os.chown(run, nobody.pw_uid, nobody.pw_gid)
            pidfile = os.path.join(run, "smtptrapd.pid")
            self.d = Daemon("", args=("-p", pidfile))
            self.d.wait_log(r"pid file %s written" % pidfile)
            with open(pidfile) as f:
                self.assertEqual(f.read(), "%d\n" % self.d.proc.pid)
            self.assertEqual(sorted(os.listdir(run)), ["smtptrapd.pid"])
            self.assertEqual(self.d.stop(), 0)
            self.assertFalse(os.path.exists(pidfile))
        finally:
            shutil.rmtree(top)

    def test_pid_file_from_the_configuration(self):
        top = tempfile.mkdtemp(prefix="smtptrap-test-")
        try:
            os.chmod(top, 0o777)
            pidfile = os.path.join(top, "from-config.pid")
            self.d = Daemon('server = { pid_file = "%s"; };' % pidfile)
            self.d.wait_log(r"pid file %s written" % pidfile)
            with open(pidfile) as f:
                self.assertEqual(int(f.read()), self.d.proc.pid)
            self.assertEqual(self.d.stop(), 0)
            self.assertFalse(os.path.exists(pidfile))
        finally:
            shutil.rmtree(top)

    @unittest.skipUnless(IS_ROOT, NEEDS_ROOT)
    def test_pid_file_the_user_cannot_remove_is_reported(self):
        top = tempfile.mkdtemp(prefix="smtptrap-test-")
        try:
            os.chmod(top, 0o755)   # root's: nobody may not remove files here
            pidfile = os.path.join(top, "locked.pid")
            self.d = Daemon("", args=("-p", pidfile))
            self.assertEqual(self.d.stop(), 0)
            self.d.wait_log(r"warning: cannot remove the pid file %s: Permission denied" % pidfile)
        finally:
            shutil.rmtree(top)

    def test_unwritable_pid_file_is_a_start_error(self):
        top = tempfile.mkdtemp(prefix="smtptrap-test-")
        try:
            p = subprocess.run([SMTPTRAPD, "-f", "-l", "127.0.0.1:0", "-m", os.path.join(top, "md"),
                                "-p", "/nonexistent/dir/x.pid"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(p.returncode, 1)
            self.assertIn("cannot create pid file /nonexistent/dir/x.pid", p.stderr.decode())
        finally:
            shutil.rmtree(top)


if __name__ == "__main__":
    if not IS_ROOT:
        print("test_privileges: not running as root: the privilege drop tests are skipped "
              "(%s)" % NEEDS_ROOT, flush=True)
    main()
