"""Half close: the client pipelines its commands, or part of a message,
and then shuts down its sending side (shutdown(SHUT_WR)) while still
reading.

The daemon must answer every complete command it got, in order, then
see the end of input and close; a message cut off by the half close is
never stored, not even in tmp/.
"""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from smtptrap_harness import DaemonTest, main  # noqa: E402
from zoo import local_port  # noqa: E402


class HalfClosed(DaemonTest):
    def test_pipelined_commands_then_shutdown_all_answered(self):
        c = self.connect()
        self.assertEqual(self.ehlo(c).code, 250)
        c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nNOOP\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        codes = [c.reply().code for _ in range(3)]
        self.assertEqual(codes, [250, 250, 250])
        self.assertTrue(c.closed())
        self.d.wait_log(r"\]:%d lost after=NOOP" % local_port(c))

    def test_shutdown_inside_data_stores_nothing(self):
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        c.send("Subject: cut\r\n\r\nhalf a message\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        self.assertTrue(c.closed())
        self.d.wait_log(r"\]:%d disconnect " % local_port(c))
        self.assertEqual(self.d.messages(), [])
        self.assertEqual(self.d.messages("tmp"), [])


if __name__ == "__main__":
    main()
