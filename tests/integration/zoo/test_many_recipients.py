"""Many recipients: after MAIL the client pipelines ten thousand RCPT
commands in one write, far over limits.recipients.

The daemon must answer every one, in order: 250 up to the limit, then
"452" for each one past it, and the message then goes to exactly the
recipients it accepted.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from smtptrap_harness import DaemonTest, main  # noqa: E402


class ManyRecipients(DaemonTest):
    CONFIG = "limits = { recipients = 100; errors = 100000; };\n"

    def test_ten_thousand_recipients_in_one_write(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        c.send("MAIL FROM:<a@example.com>\r\n" +
               "".join("RCPT TO:<r%d@example.com>\r\n" % i for i in range(10000)))
        self.assertEqual(c.reply().code, 250)
        codes = [c.reply().code for _ in range(10000)]
        self.assertEqual(codes[:100], [250] * 100)
        self.assertEqual(set(codes[100:]), {452})
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("Subject: many\r\n\r\nhi\r\n.\r\n")
        self.assertEqual(c.reply().code, 250)
        (name, data), = self.wait_messages(1)
        self.assertEqual(data.count(b"X-Smtptrap-Rcpt-To: "), 100)


if __name__ == "__main__":
    main()
