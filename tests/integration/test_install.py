""""make install" and "make uninstall" into a temporary DESTDIR.

- install puts exactly these files, and nothing else: smtptrapd in sbindir
  and smtptrap in bindir (executable, and they run), the three man pages,
  the sample configuration as sysconfdir/smtptrapd.conf, the example
  configurations and the logrotate example under docdir, and, as
  configured, the systemd unit, the sysusers.d and the tmpfiles.d
  snippets; uninstall removes every one of them again;
- an existing configuration is never overwritten: an unchanged one is
  left alone, a changed one is kept and the new sample is put beside it
  as smtptrapd.conf.sample; uninstall then keeps the changed file.

The nested make only installs what "make" already built (the top directory
and src/ are built before tests/), reads the source directory and writes
under DESTDIR only, so it also runs in "make distcheck"'s read-only VPATH
build.
"""

import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import main  # noqa: E402

TOP_BUILDDIR = os.environ.get("SMTPTRAP_TOP_BUILDDIR") or os.path.join(
    os.path.dirname(__file__), "..", "..")
TOP_SRCDIR = os.environ.get("SMTPTRAP_TOP_SRCDIR") or TOP_BUILDDIR
MAKE = os.environ.get("SMTPTRAP_MAKE") or "make"
DIRS = dict(kv.split("=", 1) for kv in os.environ.get("SMTPTRAP_INSTALL_DIRS", "").split())

MAKE_TIMEOUT = 300


def src(*parts):
    return os.path.join(TOP_SRCDIR, *parts)


class Install(unittest.TestCase):
    def setUp(self):
        for d in ("sbindir", "bindir", "mandir", "sysconfdir", "docdir"):
            self.assertTrue(DIRS.get(d, "").startswith("/"),
                            "SMTPTRAP_INSTALL_DIRS lacks %s: run this through \"make check\"" % d)
        self.tmp = tempfile.mkdtemp(prefix="smtptrap-install-")
        self.dest = os.path.join(self.tmp, "dest")
        os.mkdir(self.dest)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, var, *parts):
        return os.path.join(self.dest + DIRS[var], *parts)

    def make(self, target):
        """make TARGET DESTDIR=...; its output. A clean environment: the
        make running the tests passes its jobserver and flags in MAKEFLAGS,
        which are no business of this one."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS",
                            "DESTDIR")}
        p = subprocess.run([MAKE, "-C", TOP_BUILDDIR, target, "DESTDIR=" + self.dest],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=env, timeout=MAKE_TIMEOUT)
        self.assertEqual(p.returncode, 0, "make %s failed:\n%s" % (target, p.stdout))
        return p.stdout

    def files(self):
        """Every file under DESTDIR, as paths relative to it."""
        out = set()
        for root, _, names in os.walk(self.dest):
            for n in names:
                out.add(os.path.relpath(os.path.join(root, n), self.dest))
        return out

    def rel(self, var, *parts):
        return os.path.relpath(self.path(var, *parts), self.dest)

    def expected(self):
        """{installed file relative to DESTDIR: the file it must equal, or
        None for the programs}."""
        exp = {
            self.rel("sbindir", "smtptrapd"): None,
            self.rel("bindir", "smtptrap"): None,
            self.rel("mandir", "man1", "smtptrap.1"): src("man", "smtptrap.1"),
            self.rel("mandir", "man5", "smtptrapd.conf.5"): src("man", "smtptrapd.conf.5"),
            self.rel("mandir", "man8", "smtptrapd.8"): src("man", "smtptrapd.8"),
            self.rel("sysconfdir", "smtptrapd.conf"): src("etc", "smtptrapd.conf"),
            self.rel("docdir", "smtptrapd.logrotate"): src("contrib", "smtptrapd.logrotate"),
        }
        # Every example in the source tree: one missing from Makefile.am's
        # list would be neither installed nor distributed.
        examples = sorted(f for f in os.listdir(src("etc", "examples")) if f.endswith(".conf"))
        self.assertGreater(len(examples), 0)
        for f in examples:
            exp[self.rel("docdir", "examples", f)] = src("etc", "examples", f)
        if DIRS.get("systemdsystemunitdir"):
            exp[self.rel("systemdsystemunitdir", "smtptrapd.service")] = os.path.join(
                TOP_BUILDDIR, "contrib", "smtptrapd.service")
        if DIRS.get("sysusersdir"):
            exp[self.rel("sysusersdir", "smtptrapd.conf")] = src("contrib", "smtptrapd.sysusers")
        if DIRS.get("tmpfilesdir"):
            exp[self.rel("tmpfilesdir", "smtptrapd.conf")] = src("contrib", "smtptrapd.tmpfiles")
        return exp

    def assert_installed(self, extra=()):
        exp = self.expected()
        self.assertEqual(self.files(), set(exp) | set(extra))
        for rel, source in exp.items():
            full = os.path.join(self.dest, rel)
            if source is None:
                self.assertTrue(os.access(full, os.X_OK), "%s is not executable" % rel)
            else:
                self.assertTrue(filecmp.cmp(full, source, shallow=False),
                                "%s differs from %s" % (rel, source))

    def test_install_then_uninstall_leaves_nothing(self):
        self.make("install")
        self.assert_installed()
        for prog, var in (("smtptrapd", "sbindir"), ("smtptrap", "bindir")):
            p = subprocess.run([self.path(var, prog), "-V"], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(p.returncode, 0, "%s -V: %s%s" % (prog, p.stdout, p.stderr))
        self.make("uninstall")
        self.assertEqual(self.files(), set())

    def test_existing_configuration_is_kept(self):
        conf = self.path("sysconfdir", "smtptrapd.conf")
        sample = conf + ".sample"
        shipped = src("etc", "smtptrapd.conf")

        self.make("install")
        # Unchanged: left alone, no sample beside it.
        out = self.make("install")
        self.assertIn("unchanged, left as it is", out)
        self.assert_installed()

        with open(conf, "a") as f:
            f.write("\n# changed by the administrator\nserver = { banner = \"local\"; };\n")
        with open(conf) as f:
            changed = f.read()
        out = self.make("install")
        with open(conf) as f:
            self.assertEqual(f.read(), changed, "make install overwrote a changed configuration")
        self.assertTrue(filecmp.cmp(sample, shipped, shallow=False))
        self.assertIn("exists and was changed: kept it", out)
        self.assertEqual(self.files() - set(self.expected()),
                         {os.path.relpath(sample, self.dest)})

        # Uninstall removes the sample (ours) and keeps the changed file.
        out = self.make("uninstall")
        self.assertIn("differs from the sample shipped with this version: kept it", out)
        self.assertEqual(self.files(), {os.path.relpath(conf, self.dest)})
        with open(conf) as f:
            self.assertEqual(f.read(), changed)


if __name__ == "__main__":
    main()
