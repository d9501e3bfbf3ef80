"""Invalid UTF-8: the client puts malformed UTF-8 octets in the sender
and recipient addresses and in the message content.

The daemon must refuse the addresses ("501 5.1.7" for MAIL, "501 5.1.3"
for RCPT) and go on with the session; the content is 8-bit data, kept
exactly as sent.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from smtptrap_harness import DaemonTest, body_of, main  # noqa: E402


class InvalidUtf8(DaemonTest):
    def test_in_addresses_refused_in_content_kept_as_sent(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        c.send(b"MAIL FROM:<\xc3\x28@example.com>\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (501, "5.1.7"))
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        c.send(b"RCPT TO:<\xff\xfe@example.com>\r\n")
        r = c.reply()
        self.assertEqual((r.code, r.text.split()[0]), (501, "5.1.3"))
        self.assertEqual(c.cmd("RCPT TO:<b@example.com>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        body = b"Subject: \xc3\x28 \xff\r\n\r\nbody \xfe\x80\r\n"
        c.send(body + b".\r\n")
        self.assertEqual(c.reply().code, 250)
        (name, data), = self.wait_messages(1)
        self.assertEqual(body_of(data), body)


if __name__ == "__main__":
    main()
