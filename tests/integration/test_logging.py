"""Logging against the real daemon: one parseable line per session event
("ID [CLIENT]:PORT EVENT key=value ..."), exactly one "reject" line for
every 4xx/5xx reply, quoting of values, server.log_file (and its reopening
after a rotation, on SIGUSR1), and per-session transcripts with AUTH
secrets masked (server.transcript_directory)."""

import base64
import hmac
import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from smtptrap_harness import DEFAULT_WAIT, Daemon, DaemonTest, main  # noqa: E402

# After the "TIMESTAMP smtptrapd[PID]: " prefix (and "warning: " / "error: ").
SESSION_LINE = re.compile(r"smtptrapd\[(\d+)\]: (?:(?:warning|error): )?([0-9A-F]{12}) "
                          r"\[([^\]]+)\]:(\d+) ([a-z]+(?:-[a-z]+)*)(?: (.*))?$")
KV = re.compile(r'([a-z_]+)=("(?:[^"\\]|\\.)*"|[^\s"]+)(?: |$)')
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def unquote(v):
    if not v.startswith('"'):
        return v
    out, i, s = [], 0, v[1:-1]
    while i < len(s):
        c = s[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        n = s[i + 1]
        if n == "x":
            out.append(chr(int(s[i + 2:i + 4], 16)))
            i += 4
            continue
        out.append({"n": "\n", "r": "\r", "t": "\t"}.get(n, n))
        i += 2
    return "".join(out)


def parse_kv(text):
    """key=value pairs of an event, in order; fails on anything else."""
    pairs, pos = [], 0
    while pos < len(text):
        m = KV.match(text, pos)
        if m is None:
            raise AssertionError("not key=value at %d: %r" % (pos, text))
        pairs.append((m.group(1), unquote(m.group(2))))
        pos = m.end()
    return pairs


class Event:
    def __init__(self, line):
        m = SESSION_LINE.search(line)
        if m is None:
            raise AssertionError("not a session line: %r" % line)
        self.line = line
        self.pid, self.id, self.addr, self.port = m.group(1), m.group(2), m.group(3), int(m.group(4))
        self.event = m.group(5)
        self.raw = m.group(6) or ""
        self.pairs = parse_kv(self.raw)
        self.kv = dict(self.pairs)

    def __repr__(self):
        return "Event(%r)" % self.line


def session_events(lines, client_port):
    """The events of the session whose client used client_port (on 127.0.0.1)."""
    evs = [Event(l) for l in lines if SESSION_LINE.search(l)]
    ids = {e.id for e in evs if e.event == "connect" and e.port == client_port}
    if len(ids) != 1:
        raise AssertionError("no single session from port %d in:\n%s" % (client_port, "\n".join(lines)))
    sid = ids.pop()
    return [e for e in evs if e.id == sid]


def b64(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def plain(user, password):
    return b64("\0%s\0%s" % (user, password))


def line_of(config, marker):
    i = config.index(marker)
    return config.count("\n", 0, i) + 1


def wait_for(cond, what, timeout=DEFAULT_WAIT):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


def read_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return []


PASSWORD = "wonderland-42"

CONFIG = """server = { hostname = "mx.test"; %(server)s };
auth = { users = ( { name = "alice"; password = "%(pw)s"; } ); };
listeners = (
    { name = "smtp"; port = 0; tls = "starttls"; },
    { name = "open"; port = 0; tls = "none"; auth_without_tls = true; }
);
limits = { errors = 100; };
rules = (
    { stage = "rcpt"; rcpt = "^denied@"; action = "reject"; code = 550; status = "5.7.1"; text = "no \\"mail\\" for <%%r>, sorry \\\\o/"; },
    { stage = "rcpt"; rcpt = "^later@"; action = "defer"; }
);
"""


def config(server=""):
    return CONFIG % {"server": server, "pw": PASSWORD}


class LoggingTest(DaemonTest):
    CONFIG = config()

    def setUp(self):
        self.d = Daemon(self.CONFIG, self.ARGS, listen=())
        self.clients = []

    def on(self, listener, greet=True):
        return self.connect(port=self.d.port_of[listener], greet=greet)

    def events_of(self, c, lines=None):
        """The session's events once its disconnect line is logged."""
        port = c.sock.getsockname()[1]
        if lines is None:
            self.d.wait_log(r"\[127\.0\.0\.1\]:%d disconnect " % port)
            lines = self.d.lines
        return session_events(lines, port)


class Events(LoggingTest):

    def test_full_session_one_line_per_event(self):
        c = self.on("smtp")
        port = c.sock.getsockname()[1]
        self.assertEqual(self.ehlo(c).code, 250)
        c.starttls()
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("AUTH PLAIN " + plain("alice", PASSWORD)).code, 235)
        self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 250)
        r = c.cmd("RCPT TO:<denied@example.com>")
        self.assertEqual((r.code, r.text), (550, '5.7.1 no "mail" for <denied@example.com>, sorry \\o/'))
        self.assertEqual(c.cmd("DATA").code, 354)
        body = "Subject: log test\r\n\r\nhello\r\n"
        r = c.cmd(body + ".")
        self.assertEqual(r.code, 250)
        self.assertEqual(c.cmd("QUIT").code, 221)

        evs = self.events_of(c)
        self.assertEqual([e.event for e in evs],
                         ["connect", "tls", "auth", "reject", "deliver", "disconnect"], evs)
        # Every line: the same id, the client's address and port.
        self.assertEqual({(e.id, e.addr, e.port) for e in evs}, {(evs[0].id, "127.0.0.1", port)})
        connect, tls, auth, reject, deliver, disconnect = evs
        self.assertEqual(connect.pairs, [("listener", "smtp"),
                                         ("local", "[127.0.0.1]:%d" % self.d.port_of["smtp"])])
        self.assertRegex(tls.kv["version"], r"^TLSv1\.[23]$")
        self.assertRegex(tls.kv["cipher"], r"^\S+$")
        self.assertRegex(tls.kv["bits"], r"^\d+$")
        self.assertEqual(tls.kv["via"], "starttls")
        self.assertEqual(auth.pairs, [("mechanism", "PLAIN"), ("user", "alice"), ("result", "ok")])
        rule = line_of(self.CONFIG, "^denied@")
        self.assertEqual(reject.pairs, [
            ("code", "550"), ("status", "5.7.1"), ("stage", "rcpt"), ("rule", str(rule)),
            ("cmd", "RCPT TO:<denied@example.com>"),
            ("reason", 'no "mail" for <denied@example.com>, sorry \\o/')])
        # Quoted and escaped as documented.
        self.assertIn(r' cmd="RCPT TO:<denied@example.com>" '
                      r'reason="no \"mail\" for <denied@example.com>, sorry \\o/"', reject.line)
        # The file it names is the stored message; sizes match.
        (name, data), = self.wait_messages(1)
        self.assertEqual(deliver.kv["file"], name)
        self.assertEqual(int(deliver.kv["stored"]), len(data))
        self.assertEqual(os.path.getsize(os.path.join(self.d.maildir, "new", name)), len(data))
        self.assertEqual(int(deliver.kv["size"]), len(body))
        self.assertEqual((deliver.kv["from"], deliver.kv["nrcpt"], deliver.kv["msg"]),
                         ("<alice@example.com>", "1", "1"))
        self.assertTrue(r.text.endswith(name), r.text)
        d = disconnect.kv
        self.assertEqual((d["commands"], d["messages"], d["errors"], d["rejects"]),
                         ("9", "1", "1", "1"))
        self.assertRegex(d["duration"], r"^\d+\.\d{3}$")
        # No other line of the session at info level: no per-reply noise.
        self.assertEqual(len([l for l in self.d.lines if evs[0].id in l]), 6)

    def test_values_round_trip(self):
        c = self.on("open")
        weird = 'FOO "x" \\y\tz'
        self.assertEqual(c.cmd(weird).code, 500)
        self.assertEqual(c.cmd("QUIT").code, 221)
        reject, = [e for e in self.events_of(c) if e.event == "reject"]
        # The command as logged (control octets shown as "?"), quoted.
        self.assertIn(r' cmd="FOO \"x\" \\y?z" ', reject.line)
        self.assertEqual(reject.kv["cmd"], 'FOO "x" \\y?z')
        self.assertEqual(reject.kv["reason"], "Error: command not recognized")

    def test_auth_failure_and_secrets(self):
        c = self.on("open")
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("AUTH PLAIN " + plain("alice", "wrong password")).code, 535)
        self.assertEqual(c.cmd("AUTH LOGIN").code, 334)
        self.assertEqual(c.cmd(b64("mallory")).code, 334)
        self.assertEqual(c.cmd(b64(PASSWORD)).code, 535)
        self.assertEqual(c.cmd("QUIT").code, 221)
        evs = [e for e in self.events_of(c) if e.event in ("auth", "reject")]
        self.assertEqual([(e.event, e.kv.get("user"), e.kv.get("result"), e.kv.get("code"))
                          for e in evs],
                         [("auth", "alice", "failed", None), ("reject", None, None, "535"),
                          ("auth", "mallory", "failed", None), ("reject", None, None, "535")])
        self.assertEqual(evs[0].kv["reason"], "wrong credentials")
        self.assertEqual(evs[2].kv["reason"], "unknown user")
        self.assertEqual(evs[1].kv["cmd"], "AUTH PLAIN ***")
        self.assertEqual(evs[3].kv["cmd"], "AUTH LOGIN (response)")
        log = "\n".join(self.d.lines)
        for secret in (PASSWORD, "wrong password", b64(PASSWORD), plain("alice", "wrong password")):
            self.assertNotIn(secret, log)

    def test_every_error_reply_is_one_reject_line(self):
        c = self.on("open")
        sent = []

        def cmd(line):
            r = c.cmd(line)
            if r.code >= 400:
                sent.append((r.code, r.text.split(" ", 1)[0]))
            return r

        cmd("FOO")                                          # 500
        cmd("MAIL FROM:<a@example.com>")                    # 503 before EHLO
        self.assertEqual(cmd("EHLO client.example").code, 250)
        cmd("MAIL FROM:<bad")                               # 501
        cmd("RCPT TO:<x@example.com>")                      # 503
        cmd("AUTH FOO")                                     # 504
        cmd("AUTH PLAIN " + plain("alice", "nope"))         # 535
        self.assertEqual(cmd("AUTH LOGIN").code, 334)
        cmd("*")                                            # 501 canceled
        cmd("EXPN staff")                                   # 502
        cmd("MAIL FROM:<a@example.com> SIZE=99999999999")   # 552
        self.assertEqual(cmd("MAIL FROM:<a@example.com>").code, 250)
        cmd("RCPT TO:<denied@example.com>")                 # 550 by rule
        cmd("RCPT TO:<later@example.com>")                  # 450 by rule
        cmd("DATA")                                         # 554 no valid recipients
        cmd("NOOP " + "x" * 600)                            # 500 line too long
        self.assertEqual(cmd("QUIT").code, 221)
        self.assertEqual(len(sent), 13, sent)

        evs = self.events_of(c)
        rejects = [e for e in evs if e.event == "reject"]
        self.assertEqual([(int(e.kv["code"]), e.kv["status"]) for e in rejects], sent)
        self.assertEqual(evs[-1].kv["rejects"], str(len(sent)))
        by_code = {int(e.kv["code"]): e for e in rejects}
        self.assertEqual((by_code[550].kv["stage"], by_code[550].kv["rule"]),
                         ("rcpt", str(line_of(self.CONFIG, "^denied@"))))
        self.assertEqual((by_code[450].kv["stage"], by_code[450].kv["rule"]),
                         ("rcpt", str(line_of(self.CONFIG, "^later@"))))
        self.assertEqual((by_code[552].kv["stage"], by_code[552].kv["rule"], by_code[552].kv["cmd"]),
                         ("mail", "-", "MAIL FROM:<a@example.com> SIZE=99999999999"))
        self.assertEqual((by_code[554].kv["stage"], by_code[554].kv["cmd"]), ("data", "DATA"))
        self.assertEqual(by_code[504].kv["stage"], "auth")
        self.assertEqual(by_code[502].kv["stage"], "command")
        for e in rejects:
            self.assertEqual(list(e.kv)[:5], ["code", "status", "stage", "rule", "cmd"], e)
            self.assertEqual(list(e.kv)[-1], "reason", e)

    def test_too_many_errors_421(self):
        d = Daemon(config() .replace("errors = 100;", "errors = 2;"), listen=())
        try:
            c = d.connect(port=d.port_of["open"])
            c.expect(220)
            self.assertEqual(c.cmd("FOO").code, 500)
            c.send("BAR\r\n")
            self.assertEqual(c.reply().code, 500)
            r = c.reply()
            self.assertEqual((r.code, r.text), (421, "4.7.0 mx.test Error: too many errors"))
            self.assertTrue(c.closed())
            port = c.sock.getsockname()[1]
            d.wait_log(r"\[127\.0\.0\.1\]:%d disconnect " % port)
            rejects = [e for e in session_events(d.lines, port) if e.event == "reject"]
            self.assertEqual([e.kv["code"] for e in rejects], ["500", "500", "421"])
            self.assertEqual(rejects[2].kv["status"], "4.7.0")
            c.close()
        finally:
            d.cleanup()


class Timeouts(LoggingTest):
    CONFIG = config() + "timeouts = { command = 0.3; };\n"

    def test_idle_timeout_421(self):
        c = self.on("open")
        self.assertEqual(self.ehlo(c).code, 250)
        r = c.reply()
        self.assertEqual((r.code, r.text), (421, "4.4.2 mx.test Error: timeout exceeded"))
        reject, = [e for e in self.events_of(c) if e.event == "reject"]
        self.assertEqual((reject.kv["code"], reject.kv["status"], reject.kv["stage"],
                          reject.kv["rule"], reject.kv["cmd"]),
                         ("421", "4.4.2", "command", "-", "-"))


class Shutdown(LoggingTest):
    CONFIG = config() + "timeouts = { shutdown = 0.3; };\n"

    def test_shutdown_421(self):
        c = self.on("open")
        port = c.sock.getsockname()[1]
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        self.d.proc.send_signal(signal.SIGTERM)
        r = c.reply()
        self.assertEqual(r.code, 421)
        self.assertEqual(self.d.proc.wait(DEFAULT_WAIT), 0)
        self.d.reader.join(DEFAULT_WAIT)
        reject, = [e for e in session_events(self.d.lines, port) if e.event == "reject"]
        self.assertEqual((reject.kv["code"], reject.kv["status"]), ("421", "4.3.2"))


class Greylisting(LoggingTest):
    CONFIG = """server = { hostname = "mx.test"; state_directory = "@DIR@/var"; };
listeners = ( { name = "open"; port = 0; tls = "none"; } );
rules = ( { stage = "rcpt"; rcpt = "^grey@"; action = "greylist"; } );
"""

    def test_deferral_has_its_event_and_reject_line(self):
        self.d.wait_log(r"greylist store ")
        c = self.on("open")
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<grey@example.com>").code, 450)
        self.assertEqual(c.cmd("QUIT").code, 221)
        evs = [e for e in self.events_of(c) if e.event in ("greylist", "reject")]
        rule = str(line_of(self.CONFIG, "^grey@"))
        self.assertEqual([e.event for e in evs], ["greylist", "reject"])
        self.assertEqual(evs[0].pairs[:3], [("result", "defer"), ("rcpt", "<grey@example.com>"),
                                            ("rule", rule)])
        self.assertEqual((evs[1].kv["code"], evs[1].kv["stage"], evs[1].kv["rule"]),
                         ("450", "rcpt", rule))


class LogFile(LoggingTest):
    CONFIG = config('log_file = "@DIR@/smtptrapd.log";')

    def path(self, suffix=""):
        return os.path.join(self.d.dir, "smtptrapd.log" + suffix)

    def session(self):
        c = self.on("open")
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("QUIT").code, 221)
        self.assertTrue(c.closed())
        return c.sock.getsockname()[1]

    def wait_disconnect(self, path, port):
        pat = re.compile(r"\[127\.0\.0\.1\]:%d disconnect " % port)
        return wait_for(lambda: [l for l in read_lines(path) if pat.search(l)],
                        "the disconnect line of port %d in %s" % (port, path))

    def test_lines_go_to_the_file(self):
        port = self.session()
        line, = self.wait_disconnect(self.path(), port)
        self.assertRegex(line, r"^%s smtptrapd\[\d+\]: [0-9A-F]{12} \[127\.0\.0\.1\]:%d disconnect "
                         % (TIMESTAMP, port))
        evs = session_events(read_lines(self.path()), port)
        self.assertEqual([e.event for e in evs], ["connect", "disconnect"])
        # Not on stderr as well.
        self.assertEqual([l for l in self.d.lines if SESSION_LINE.search(l)], [])
        self.assertEqual(os.stat(self.path()).st_mode & 0o777, 0o640)

    def test_reopened_on_sigusr1(self):
        first = self.session()
        self.wait_disconnect(self.path(), first)
        os.rename(self.path(), self.path(".1"))
        self.d.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: os.path.exists(self.path()), "the log file to be created again")
        second = self.session()
        self.wait_disconnect(self.path(), second)
        old = "\n".join(read_lines(self.path(".1")))
        self.assertIn("]:%d disconnect " % first, old)
        self.assertNotIn("]:%d " % second, old)


class Transcripts(LoggingTest):
    CONFIG = config('transcript_directory = "@DIR@/transcripts";')

    def tdir(self):
        return os.path.join(self.d.dir, "transcripts")

    def transcript(self, c):
        """The session's id and transcript lines, once it is over."""
        evs = self.events_of(c)
        sid = evs[0].id
        with open(os.path.join(self.tdir(), sid + ".log"), "rb") as f:
            text = f.read().decode("utf-8")
        lines = text.split("\n")
        self.assertEqual(lines[-1], "")
        lines = lines[:-1]
        for l in lines:
            self.assertRegex(l, r"^%s [<>*] " % TIMESTAMP)
        self.assertRegex(lines[0], r"^\S+ \* %s \[127\.0\.0\.1\]:%d connect listener=" % (sid, evs[0].port))
        self.assertRegex(lines[-1], r"^\S+ \* %s \[127\.0\.0\.1\]:%d disconnect commands=" % (sid, evs[0].port))
        return sid, [l.split(" ", 1)[1] for l in lines], text

    def test_plain_session_and_message(self):
        c = self.on("open")
        self.assertEqual(self.ehlo(c).code, 250)
        ir = plain("alice", PASSWORD)
        self.assertEqual(c.cmd("AUTH PLAIN " + ir).code, 235)
        self.assertEqual(c.cmd("MAIL FROM:<alice@example.com>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<denied@example.com>").code, 550)
        self.assertEqual(c.cmd("RCPT TO:<bob@example.com>").code, 250)
        self.assertEqual(c.cmd("DATA").code, 354)
        self.assertEqual(c.cmd("Subject: t\r\n\r\ntop secret body line\r\n..stuffed\r\n.").code, 250)
        self.assertEqual(c.cmd("QUIT").code, 221)
        sid, lines, text = self.transcript(c)
        (name, _), = self.wait_messages(1)
        expect = [
            "> 220 mx.test ESMTP smtptrapd",
            "< EHLO client.example",
            "> 250-mx.test",
            "< AUTH PLAIN ***",
            "> 235 2.7.0 Authentication successful",
            "< MAIL FROM:<alice@example.com>",
            "> 250 2.1.0 Ok",
            "< RCPT TO:<denied@example.com>",
            '> 550 5.7.1 no "mail" for <denied@example.com>, sorry \\\\o/',
            "< RCPT TO:<bob@example.com>",
            "> 354 End data with <CR><LF>.<CR><LF>",
            "< (message: 46 octets, 4 lines)",
            "> 250 2.0.0 Ok: queued as %s" % name,
            "< QUIT",
            "> 221 2.0.0 Bye",
        ]
        pos = 0
        for want in expect:
            while pos < len(lines) and lines[pos] != want:
                pos += 1
            self.assertLess(pos, len(lines), "%r not found in order in:\n%s" % (want, text))
        events = [l.split(" ")[3] for l in lines if l.startswith("* ")]
        self.assertEqual(events, ["connect", "auth", "reject", "deliver", "disconnect"])
        self.assertIn("* %s [127.0.0.1]:" % sid, text)
        for secret in (ir, PASSWORD, "top secret body line", "stuffed"):
            self.assertNotIn(secret, text)
        self.assertEqual(os.stat(os.path.join(self.tdir(), sid + ".log")).st_mode & 0o777, 0o640)

    def test_auth_continuations_masked(self):
        c = self.on("open")
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("AUTH LOGIN").code, 334)
        self.assertEqual(c.cmd(b64("alice")).code, 334)
        self.assertEqual(c.cmd(b64(PASSWORD)).code, 235)
        self.assertEqual(c.cmd("QUIT").code, 221)
        c2 = self.on("open")
        self.assertEqual(self.ehlo(c2).code, 250)
        r = c2.cmd("AUTH CRAM-MD5")
        self.assertEqual(r.code, 334)
        challenge = base64.b64decode(r.text)
        digest = hmac.new(PASSWORD.encode(), challenge, "md5").hexdigest()
        response = b64("alice " + digest)
        self.assertEqual(c2.cmd(response).code, 235)
        self.assertEqual(c2.cmd("QUIT").code, 221)
        c3 = self.on("open")
        self.assertEqual(self.ehlo(c3).code, 250)
        self.assertEqual(c3.cmd("AUTH PLAIN").code, 334)
        self.assertEqual(c3.cmd(plain("alice", PASSWORD)).code, 235)
        self.assertEqual(c3.cmd("QUIT").code, 221)

        _, lines, text = self.transcript(c)
        i = lines.index("< AUTH LOGIN")
        self.assertEqual(lines[i + 1:i + 5], ["> 334 VXNlcm5hbWU6", "< ***", "> 334 UGFzc3dvcmQ6", "< ***"])
        self.assertRegex(lines[i + 5], r"^\* \S+ \S+ auth mechanism=LOGIN user=alice result=ok$")
        self.assertEqual(lines[i + 6], "> 235 2.7.0 Authentication successful")
        _, lines2, text2 = self.transcript(c2)
        i = lines2.index("< AUTH CRAM-MD5")
        self.assertEqual(lines2[i + 1:i + 3], ["> 334 " + r.text, "< ***"])
        _, lines3, text3 = self.transcript(c3)
        i = lines3.index("< AUTH PLAIN")
        self.assertEqual(lines3[i + 1:i + 3], ["> 334 ", "< ***"])
        for secret in (PASSWORD, b64(PASSWORD), b64("alice"), response, digest, plain("alice", PASSWORD)):
            for t in (text, text2, text3):
                self.assertNotIn(secret, t)

    def test_tls_and_control_octets(self):
        c = self.on("smtp")
        self.assertEqual(self.ehlo(c).code, 250)
        c.starttls()
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("NOOP x\ty\\z\rw").code, 250)
        self.assertEqual(c.cmd("NOOP a\0b").code, 500)
        self.assertEqual(c.cmd("QUIT").code, 221)
        _, lines, text = self.transcript(c)
        i = lines.index("< STARTTLS")
        self.assertEqual(lines[i + 1], "> 220 2.0.0 Ready to start TLS")
        self.assertRegex(lines[i + 2], r"^\* \S+ \[127\.0\.0\.1\]:\d+ tls version=TLSv1\.[23] cipher=")
        self.assertEqual(lines[i + 3], "< EHLO client.example")
        self.assertIn("< NOOP x\\ty\\\\z\\rw", lines)
        self.assertIn("< NOOP a\\x00b", lines)
        self.assertIn("> 500 5.5.2 Error: NUL octet in command", lines)

    def test_one_file_per_session(self):
        ports = []
        for _ in range(3):
            c = self.on("open")
            ports.append(c.sock.getsockname()[1])
            self.assertEqual(c.cmd("QUIT").code, 221)
        for p in ports:
            self.d.wait_log(r"\[127\.0\.0\.1\]:%d disconnect " % p)
        ids = {session_events(self.d.lines, p)[0].id for p in ports}
        self.assertEqual(len(ids), 3)
        self.assertEqual(set(os.listdir(self.tdir())), {i + ".log" for i in ids})

    def test_unwritable_directory_warns_and_goes_on(self):
        workers = wait_for(self.d.worker_pids, "workers to start")
        with open("/proc/%d/status" % workers[0]) as f:
            uid = int(re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1))
        if uid == 0:
            self.skipTest("workers run as root: permissions do not stop them")
        os.chmod(self.tdir(), 0o500)
        c = self.on("open")
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("QUIT").code, 221)
        evs = self.events_of(c)
        warn, = [e for e in evs if e.event == "transcript"]
        self.assertIn("warning: ", warn.line)
        self.assertEqual(warn.kv["result"], "failed")
        self.assertRegex(warn.kv["reason"], r"^cannot create [0-9A-F]{12}\.log: Permission denied$")
        self.assertEqual(os.listdir(self.tdir()), [])


if __name__ == "__main__":
    main()
