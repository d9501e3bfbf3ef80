"""The benchmark scripts in contrib/bench run and report what they should:
compare -q (smtptrapd side by side with Postfix's smtp-sink, driven by
smtp-source) and connections (many idle sessions held, then served).
No timing thresholds: only exit statuses and the report's shape.

Postfix's smtp-source and smtp-sink are required, not optional: the
project's bootstrap installs them, so a missing one fails the test."""

import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import SMTPTRAPD, main  # noqa: E402

# The source tree, from this file's own path: under "make distcheck" the
# build directory is elsewhere and the source tree is read-only.
SRCDIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BENCH = os.path.join(SRCDIR, "contrib", "bench")
RUN_TIMEOUT = 120

CASES = ["smtp-sink", "smtptrapd blackhole", "smtp-sink -d (files)",
         "smtptrapd maildir fsync off", "smtptrapd maildir fsync on"]


def postfix_tool(test, name):
    path = shutil.which(name) or next(
        (p for p in ("/usr/sbin/" + name, "/usr/local/sbin/" + name) if os.access(p, os.X_OK)), None)
    if path is None:
        test.fail("%s not found in PATH or /usr/sbin: install the 'postfix' package "
                  "(the project's bootstrap installs it)" % name)
    return path


class Bench(unittest.TestCase):

    def run_script(self, argv):
        """Run a script through its interpreter (no reliance on the
        executable bit of a copied source tree)."""
        env = dict(os.environ, SMTPTRAPD=os.path.abspath(SMTPTRAPD))
        # Nothing is written next to the scripts: temporary files go to TMPDIR.
        try:
            p = subprocess.run(argv, capture_output=True, timeout=RUN_TIMEOUT, env=env,
                               cwd=os.environ.get("TMPDIR") or "/tmp")
        except subprocess.TimeoutExpired as e:
            self.fail("%s timed out after %d s\nstdout:\n%s\nstderr:\n%s" % (
                argv[0], RUN_TIMEOUT, (e.stdout or b"").decode("utf-8", "replace"),
                (e.stderr or b"").decode("utf-8", "replace")))
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        return p.returncode, out, err

    def test_compare_quick(self):
        postfix_tool(self, "smtp-source")
        postfix_tool(self, "smtp-sink")
        rc, out, err = self.run_script(["bash", os.path.join(BENCH, "compare"), "-q"])
        show = "\nstdout:\n%s\nstderr:\n%s" % (out, err[-3000:])
        self.assertEqual(rc, 0, "compare -q failed" + show)
        lines = out.splitlines()
        for mode in ("1/conn", "reused"):
            for case in CASES:
                rows = [l for l in lines if l.startswith(case + " ") and (" %s " % mode) in l
                        and not l.startswith(case + " -")]
                self.assertEqual(len(rows), 1, "table row %r %s" % (case, mode) + show)
                fields = rows[0][len(case):].split()
                self.assertEqual(fields[0], mode, rows[0])
                self.assertEqual(fields[1], "300", "messages per case in -q: " + rows[0])
                if case.startswith("smtptrapd"):
                    self.assertRegex(rows[0], r" \d+\.\d\d  \(vs smtp-sink", "ratio: " + rows[0])
        for pattern in (r"master RSS \(VmRSS\) .* KiB\) +goal <= 8 MiB: (OK|OVER)",
                        r"worker private .* min \d+ / median \d+ / max \d+ KiB +goal <= 256 KiB .*: (OK|OVER)",
                        r"worker Pss +min \d+ / median \d+ / max \d+ KiB",
                        r"memory: smtptrapd blackhole, idle .*, [1-9]\d* workers"):
            self.assertRegex(out, pattern, show)
        self.assertNotIn("WARNING", out + err, show)

    def test_connections(self):
        rc, out, err = self.run_script([sys.executable, os.path.join(BENCH, "connections"), "-n", "50"])
        show = "\nstdout:\n%s\nstderr:\n%s" % (out, err[-3000:])
        self.assertEqual(rc, 0, "connections -n 50 failed" + show)
        self.assertRegex(out, r"50 opened, 50 greeted with 220, 50 EHLO replies 250", show)
        self.assertRegex(out, r"held idle: +50 still open", show)
        self.assertRegex(out, r"transactions: +50 of 50 served", show)
        self.assertRegex(out, r"errors: +0\n", show)
        self.assertRegex(out, r"master RSS: +\d+ KiB", show)
        self.assertRegex(out, r"worker private: +min \d+ / median \d+ / max \d+ KiB over \d+ workers", show)


if __name__ == "__main__":
    main()
