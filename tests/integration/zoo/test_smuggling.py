"""SMTP smuggling: inside DATA the client sends an end of data the
daemon might take for <CRLF>.<CRLF> but is not one ("\\n.\\n",
"\\r.\\r\\n", "\\r\\n.\\r" and the like), then a whole second transaction
(MAIL FROM, RCPT TO, DATA, a message, the real <CRLF>.<CRLF>) in the
same write, hoping it is run as commands and stored as a second
message.

Only <CRLF>.<CRLF> ends DATA, so everything up to the real end is the
content of one message. With the default bare_line_endings = "reject"
the daemon refuses that message with "550 5.6.0" when it has a bare CR
or LF (a dot-stuffed or otherwise lookalike line without one is plain
content, stored); with "normalize" it stores the one message with each
line ending made CRLF. Either way there are never two messages, the
smuggled transaction is never run (its sender appears in no envelope
and no log line), and the first message, when stored, holds the
smuggled text whole: nothing was split off. The next command after
the real end is answered as the next reply.

The expected content is computed by a small model of RFC 5321 4.5.2 and
the normalisation: split at CRLF, CR or LF; a line "." ends the data
only when it and the line before it (if any) end in CRLF; a leading dot
before more text is removed.
"""

import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from smtptrap_harness import DaemonTest, body_of, envelope, main  # noqa: E402
from zoo import local_port, wait_session_end  # noqa: E402

HEAD = b"Subject: smuggling test\r\n\r\nx"
SMUGGLED = (b"MAIL FROM:<smuggled@evil.example>\r\nRCPT TO:<victim@example.com>\r\n"
            b"DATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n")

# Between HEAD and SMUGGLED. None contains "\r\n.\r\n", the real end.
SEQUENCES = [
    b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n", b"\r\n.\r", b"\r\n.\r\r\n", b"\n..\n",
    b"\r.\r", b"\r.\n", b"\n.\r",
    # mixtures
    b"\r\n.\n\r\n", b"\n.\n.\r\n", b"\r.\r\n.\n", b"\n\r.\r\n", b"\r\n.\r.\r\n",
    b"\n.\r\n.\n", b"\r\n..\n.\r", b"\r\n.\r\r\n.\n",
    # lookalikes without a bare line ending
    b"\r\n..\r\n", b"\r\n .\r\n", b"\r\n. \r\n", b"\r\n.\t\r\n",
]

# The whole content after the 354, starting right at the beginning.
STARTS = [b".\n", b".\r", b".\r\r\n", b"\n.\r\n", b"\r.\r\n", b"..\r\n"]


def model(content):
    """(stored content, has bare line endings, octets consumed) for DATA
    content as the daemon must read it in "normalize" mode."""
    parts = re.split(rb"(\r\n|\r|\n)", content)
    lines = list(zip(parts[0::2], parts[1::2]))   # (text, ending); the tail has none
    out, bare, prev, used = [], False, b"\r\n", 0
    for text, ending in lines:
        used += len(text) + len(ending)
        if text == b"." and ending == b"\r\n" and prev == b"\r\n":
            return b"".join(out), bare, used
        bare = bare or ending != b"\r\n"
        if text.startswith(b".") and text != b".":
            text = text[1:]
        out.append(text + b"\r\n")
        prev = ending
    raise AssertionError("no end of data in %r" % content)


def cases():
    for seq in SEQUENCES:
        yield HEAD + seq + SMUGGLED
    for start in STARTS:
        yield start + SMUGGLED


class Smuggling(DaemonTest):
    CONFIG = "limits = { errors = 1000; };\n"
    NORMALIZE = False

    def send_case(self, content, split):
        """One session: the content, then HELP, in one write (split:
        the lookalike end one octet per write). The DATA reply."""
        c = self.connect()
        self.start_tx(c)
        self.assertEqual(c.cmd("DATA").code, 354)
        if split:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            cut = content.index(b"MAIL FROM")
            start = max(0, cut - 8)
            c.send(content[:start])
            for i in range(start, cut):
                c.send(content[i:i + 1])
            content = content[cut:]
        c.send(content + b"HELP\r\n")
        r = c.reply()
        # The very next reply answers HELP: no smuggled command ran.
        self.assertEqual(c.reply().code, 214, "a smuggled command was answered")
        self.assertEqual(c.cmd("QUIT").code, 221)
        wait_session_end(self.d, local_port(c))
        return r

    def check(self, content, split=False):
        stored, bare, used = model(content)
        self.assertEqual(used, len(content), "test case with an early real end")
        before = {n for n, _ in self.d.messages()}
        r = self.send_case(content, split)
        new = [(n, d) for n, d in self.d.messages() if n not in before]
        self.assertEqual(self.d.messages("tmp"), [])
        if bare and not self.NORMALIZE:
            self.assertEqual((r.code, r.text.split()[0]), (550, "5.6.0"), r)
            self.assertEqual(new, [])
            return
        self.assertEqual(r.code, 250, r)
        self.assertEqual(len(new), 1, "%d messages from one DATA" % len(new))
        data = new[0][1]
        self.assertEqual(envelope(data), ("alice@example.com", ["bob@example.com"]))
        # The smuggled transaction is in the message, whole.
        self.assertEqual(body_of(data), stored)
        self.assertIn(b"MAIL FROM:<smuggled@evil.example>\r\n", body_of(data))
        self.assertTrue(body_of(data).endswith(b"evil\r\n"))

    def check_all(self, split):
        for content in cases():
            with self.subTest(content=content):
                self.check(content, split)
        self.assertEqual([l for l in self.d.lines if "smuggled@evil.example" in l], [])
        self.assertEqual(self.d.find_all(r" disconnect commands=\d+ messages=(?![01] )\d+ "), [])

    def test_lookalike_ends_never_make_a_second_message(self):
        self.check_all(split=False)

    def test_lookalike_ends_split_over_writes(self):
        self.check_all(split=True)


class NormalizedSmuggling(Smuggling):
    CONFIG = Smuggling.CONFIG + 'smtp = { bare_line_endings = "normalize"; };\n'
    NORMALIZE = True


if __name__ == "__main__":
    main()
