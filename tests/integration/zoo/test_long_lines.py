"""Long lines: the client sends a one-megabyte line, once as a command
and once inside a message.

The daemon must answer "500 5.5.6" without buffering the line, skip it,
and go on with the session; the message with the long line is not
stored.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from smtptrap_harness import DaemonTest, main  # noqa: E402


class LongLines(DaemonTest):
    def test_megabyte_line_in_a_command(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        c.send("NOOP " + "x" * (1 << 20) + "\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (500, "5.5.6"))
        self.assertEqual(c.cmd("NOOP").code, 250)

    def test_megabyte_line_in_a_message(self):
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("Subject: long\r\n\r\n" + "y" * (1 << 20) + "\r\n.\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (500, "5.5.6"))
        self.assertEqual(c.cmd("NOOP").code, 250)
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])


if __name__ == "__main__":
    main()
