"""EHLO with many arguments: the client sends "EHLO arg0 arg1 ... arg999",
a line far over the 512-octet command limit.

The daemon must answer "500 5.5.6" (line too long), skip the rest of
the line, and take the next EHLO as usual.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from smtptrap_harness import DaemonTest, main  # noqa: E402


class EhloManyArgs(DaemonTest):
    def test_ehlo_with_a_thousand_arguments(self):
        c = self.connect()
        r = c.cmd("EHLO " + " ".join("arg%d" % i for i in range(1000)))
        self.assertEqual((r.code, r.text.split()[0]), (500, "5.5.6"))
        self.assertEqual(self.ehlo(c).code, 250)


if __name__ == "__main__":
    main()
