"""RSET after every recipient: the client opens a transaction, gives one
recipient and resets, over and over (hundreds of times, one by one and
pipelined), as address harvesters and broken retry loops do.

The daemon must answer each RSET with 250 and forget the transaction
entirely: no recipient piles up towards limits.recipients, none leaks
into a later message, RSET is not counted as an error, and a real
transaction afterwards is stored with exactly its own envelope. RCPT
after RSET needs a new MAIL.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from smtptrap_harness import DaemonTest, body_of, envelope, main  # noqa: E402

ROUNDS = 300  # three times limits.recipients: a leak would hit the limit


class RsetEveryRcpt(DaemonTest):
    CONFIG = "limits = { recipients = 100; errors = 5; };\n"

    def real_transaction(self, c):
        self.assertEqual(c.cmd("MAIL FROM:<real@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<final@example.com>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("Subject: real\r\n\r\nafter the resets\r\n.\r\n")
        c.expect(250, "queued as")
        self.assertEqual(c.cmd("QUIT").code, 221)
        (_, data), = self.wait_messages(1)
        self.assertEqual(envelope(data), ("real@example.com", ["final@example.com"]))
        self.assertEqual(body_of(data), b"Subject: real\r\n\r\nafter the resets\r\n")

    def test_one_by_one_then_a_real_transaction(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        for i in range(ROUNDS):
            self.assertEqual(c.cmd("MAIL FROM:<h%d@example.com>" % i).code, 250, i)
            self.assertEqual(c.cmd("RCPT TO:<r%d@example.com>" % i).code, 250, i)
            self.assertEqual(c.cmd("RSET").code, 250, i)
        self.real_transaction(c)

    def test_pipelined_then_a_real_transaction(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        c.send("".join("MAIL FROM:<h%d@example.com>\r\nRCPT TO:<r%d@example.com>\r\nRSET\r\n"
                       % (i, i) for i in range(ROUNDS)))
        got = [(r.code, r.text.split()[0]) for r in (c.reply() for _ in range(3 * ROUNDS))]
        self.assertEqual(got, [(250, "2.1.0"), (250, "2.1.5"), (250, "2.0.0")] * ROUNDS)
        self.real_transaction(c)

    def test_rcpt_after_rset_needs_mail(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<b@example.com>").code, 250)
        self.assertEqual(c.cmd("RSET").code, 250)
        r = c.cmd("RCPT TO:<c@example.com>")
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: need MAIL command"))
        r = c.cmd("DATA")
        self.assertEqual((r.code, r.text), (503, "5.5.1 Error: need MAIL command"))
        self.real_transaction(c)


if __name__ == "__main__":
    main()
