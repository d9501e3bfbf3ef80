"""contrib/bench/soak runs and passes: a mixed load (plain, TLS, AUTH,
refused recipients and messages, RSET, BDAT, abrupt disconnects) against
one daemon for SOAK_SECONDS (default 60), then its own checks: every
acknowledged message stored once, no open file, memory or process leaked,
the daemon still answers and stops cleanly. Here: its exit status, the
report's shape, and a floor on the messages accepted (no timing
thresholds beyond that)."""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import SMTPTRAPD, main  # noqa: E402

# The source tree, from this file's own path: under "make distcheck" the
# build directory is elsewhere and the source tree is read-only.
SRCDIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SOAK = os.path.join(SRCDIR, "contrib", "bench", "soak")

SOAK_SECONDS = os.environ.get("SOAK_SECONDS", "60")
# Warm-up, waiting for idle, client timeouts: generous on a loaded machine.
RUN_TIMEOUT = 2 * float(SOAK_SECONDS) + 300
# Accepted messages per second of load, at least: far below what even an
# ASan build on a busy machine does (hundreds), far above a stalled daemon.
MIN_RATE = 5

KINDS = ["plain", "reused connection", "STARTTLS", "implicit TLS", "AUTH PLAIN", "AUTH LOGIN",
         "policy: refused recipient", "refused message", "RSET", "BDAT", "disconnect"]


class Soak(unittest.TestCase):

    def test_soak(self):
        self.assertRegex(SOAK_SECONDS, r"^[1-9]\d*$", "SOAK_SECONDS must be a positive integer")
        env = dict(os.environ, SMTPTRAPD=os.path.abspath(SMTPTRAPD))
        argv = [sys.executable, SOAK, "-t", SOAK_SECONDS, "-q"]
        try:
            p = subprocess.run(argv, capture_output=True, timeout=RUN_TIMEOUT, env=env,
                               cwd=os.environ.get("TMPDIR") or "/tmp")
        except subprocess.TimeoutExpired as e:
            self.fail("soak timed out after %.0f s\nstdout:\n%s\nstderr:\n%s" % (
                RUN_TIMEOUT, (e.stdout or b"").decode("utf-8", "replace"),
                (e.stderr or b"").decode("utf-8", "replace")))
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        show = "\nstdout:\n%s\nstderr:\n%s" % (out, err[-3000:])
        self.assertEqual(p.returncode, 0, "soak -t %s failed" % SOAK_SECONDS + show)
        self.assertRegex(out, r"\nresult: OK\n", show)
        self.assertNotIn("FAILED", out, show)

        def number(label, rest=r""):
            m = re.search(r"^%s +(\d+(?:\.\d+)?)%s" % (re.escape(label), rest), out, re.M)
            self.assertIsNotNone(m, "report line %r" % label + show)
            return float(m.group(1))

        load = number("duration", r" s load \(\+ \d+\.\d s warm-up\), idle again after \d+\.\d s")
        self.assertGreaterEqual(load, float(SOAK_SECONDS), show)
        accepted = number("messages accepted", r" \(250\)")
        sent = number("messages sent")
        self.assertGreaterEqual(accepted, MIN_RATE * float(SOAK_SECONDS),
                                "messages accepted: %d in %.1f s" % (accepted, load) + show)
        self.assertGreater(sent, accepted, "some messages are refused by design" + show)
        self.assertGreater(number("messages rejected"), 0, show)
        self.assertGreater(number("recipients refused"), 0, show)
        self.assertEqual(number("errors"), 0, show)
        self.assertRegex(out, r"(?m)^files in new/ +\d+ \(\d+ ids, 0 duplicates, 0 lost\)$", show)
        for kind in KINDS:
            self.assertRegex(out, r"(?m)^  %s.* +[1-9]\d*$" % re.escape(kind),
                             "sessions of kind %r" % kind + show)
        for row in ("master open files", "worker open files (each)", "master RSS KiB",
                    "max worker RSS KiB", "workers"):
            self.assertRegex(out, r"(?m)^%s +\d+(\.\.\d+)? +\d+(\.\.\d+)? " % re.escape(row),
                             "resources row %r" % row + show)
        self.assertRegex(out, r"(?m)^zombies +0 +0 *$", show)
        self.assertRegex(out, r"(?m)^master RSS KiB .* growth [+-]\d+ KiB, bound \d+ KiB$", show)
        self.assertRegex(out, r"(?m)^stop +exit status 0 after SIGTERM", show)


if __name__ == "__main__":
    main()
