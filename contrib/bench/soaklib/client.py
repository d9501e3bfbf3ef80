"""The SMTP client (Conn over plain or TLS) and the load: Client runs
sessions of random kinds and records each message id's fate, one Client
per process (run_clients); probe checks that the daemon still serves."""

import base64
import collections
import hashlib
import hmac
import multiprocessing
import random
import signal
import socket
import ssl
import struct
import time

from .common import (ABORTED, ACKED, CLIENT_TIMEOUT, FILE_USER, INLINE_USER, MAYBE,
                     MESSAGE_SIZE, REFUSED, REJECT_DOMAIN, RESET, Failure)


CTX = {}


def tls_context(version):
    """Client contexts that do not verify the daemon's (self-signed)
    certificate: "1.2" caps the version at TLS 1.2, "1.3" does not."""
    if version not in CTX:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if version == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        CTX[version] = ctx
    return CTX[version]


tls_context("1.2")
tls_context("1.3")


class Conn:
    """One SMTP connection: send bytes, read whole replies."""

    def __init__(self, port, implicit_tls=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT)
        self.buf = b""
        self.esmtp = False
        if implicit_tls:
            self.wrap(implicit_tls)

    def wrap(self, version):
        if self.buf:
            raise Failure("plaintext left unread before TLS: %r" % self.buf[:60])
        self.sock = tls_context(version).wrap_socket(self.sock, server_hostname="soak.test")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def reply(self):
        """(code, last line's text) of the next whole reply."""
        while True:
            pos = 0
            while True:
                nl = self.buf.find(b"\n", pos)
                if nl < 0:
                    break
                line = self.buf[pos:nl]
                if not line.endswith(b"\r") or len(line) < 4 or not line[:3].isdigit() \
                        or line[3:4] not in b" -":
                    raise Failure("malformed reply line %r" % line[:80])
                if line[3:4] == b" ":
                    self.buf = self.buf[nl + 1:]
                    return int(line[:3]), line[4:-1].decode("utf-8", "replace")
                pos = nl + 1
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise Failure("no reply within %.0f s" % CLIENT_TIMEOUT)
            except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
                chunk = b""
            if not chunk:
                raise Failure("connection closed by the server (pending %r)" % self.buf[:60])
            self.buf += chunk

    def expect(self, code, what):
        got, text = self.reply()
        if got != code:
            raise Failure("%s: got %d %s, wanted %d" % (what, got, text[:80], code))
        return text

    def cmd(self, line, code):
        self.send(line + "\r\n")
        return self.expect(code, line.split(" ")[0][:16])

    def abort(self, rst=False):
        """Hang up without QUIT; with rst, with a TCP reset."""
        try:
            if rst:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass

    close = abort


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode("ascii")


def dot_stuff(content):
    out = content.replace(b"\r\n.", b"\r\n..")
    if out.startswith(b"."):
        out = b"." + out
    return out


# ---------------------------------------------------------------------------
# The load: one Client per process


class Client:
    """One load client: picks a kind of session at random (weighted),
    runs it, and records every message id with its fate."""

    def __init__(self, n, runid, seed, ports):
        self.n = n
        self.runid = runid
        self.rng = random.Random(seed * 1000 + n)
        self.ports = ports
        self.ids = {}                       # id -> (state, kind)
        self.kinds = collections.Counter()  # sessions by kind
        self.refusals = collections.Counter()
        self.rcpt_refused = 0
        self.errors = []                    # (kind, text)
        self.seq = 0
        self.progress = None                # shared counters, in a client process
        self.conn = None
        self.kind = None

    # -- messages --

    def message(self, size=None, extra=b""):
        """A new message id and its content (CRLF lines; some start with
        a dot to exercise dot-stuffing)."""
        self.seq += 1
        mid = "%s.%d.%d" % (self.runid, self.n, self.seq)
        rng = self.rng
        if size is None:
            size = rng.choice((200, 600, 1500, 3000, 8000)) if rng.random() < 0.95 \
                else rng.randint(10000, 40000)
        lines = [b"soak-body-marker " + mid.encode()]
        total = len(lines[0])
        while total < size:
            n = rng.randint(0, 120)
            line = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789 .-") for _ in range(min(n, 20)))
            line = (line * (n // 20 + 1))[:n]
            if rng.random() < 0.05:
                line = b"." + line
            lines.append(line)
            total += len(line) + 2
        body = b"\r\n".join(lines) + b"\r\n" + extra
        head = ("From: <soak%d@soak.example>\r\nTo: <rcpt@soak.example>\r\n"
                "Subject: soak %s %s\r\nMessage-ID: <%s@soak.example>\r\n"
                "X-Soak-Id: %s\r\nX-Soak-Sum: %s %d\r\n\r\n"
                % (self.n, self.kind, mid, mid, mid, hashlib.sha256(body).hexdigest()[:32],
                   len(body))).encode()
        return mid, head + body

    def fate(self, mid, state):
        self.ids[mid] = (state, self.kind)
        if state == ACKED and self.progress is not None:
            self.progress[1] += 1

    # -- protocol steps --

    def connect(self, listener="smtp", tls=None, greet=True):
        if listener == "smtps" and tls is None:
            tls = self.rng.choice(("1.2", "1.3"))
        self.conn = Conn(self.ports[listener], tls if listener == "smtps" else None)
        if greet:
            self.conn.expect(220, "greeting")
        return self.conn

    def hello(self, c, helo_ok=True):
        if helo_ok and self.rng.random() < 0.1:
            c.cmd("HELO client.soak.example", 250)
            c.esmtp = False
        else:
            c.cmd("EHLO client.soak.example", 250)
            c.esmtp = True

    def starttls(self, c):
        c.cmd("STARTTLS", 220)
        c.wrap(self.rng.choice(("1.2", "1.3")))
        c.cmd("EHLO client.soak.example", 250)
        c.esmtp = True

    def envelope(self, c, rcpts, pipelined=None):
        """MAIL and RCPTs, pipelined or one by one; returns the number of
        recipients accepted. Recipients in REJECT_DOMAIN must get 550."""
        if pipelined is None:
            pipelined = c.esmtp and self.rng.random() < 0.4
        cmds = ["MAIL FROM:<soak%d@soak.example>" % self.n] + ["RCPT TO:<%s>" % r for r in rcpts]
        want = [250] + [550 if r.endswith("@" + REJECT_DOMAIN) else 250 for r in rcpts]
        if pipelined:
            c.send("".join(x + "\r\n" for x in cmds))
        ok = 0
        for i, (line, code) in enumerate(zip(cmds, want)):
            if not pipelined:
                c.send(line + "\r\n")
            c.expect(code, line[:4] if i else "MAIL")
            if i and code == 250:
                ok += 1
            elif i:
                self.rcpt_refused += 1
        return ok

    def data(self, c, mid, content, want=250, why=None):
        """DATA and the content; the id's fate follows the reply."""
        c.cmd("DATA", 354)
        self.fate(mid, ABORTED)
        c.send(dot_stuff(content) + b".\r\n")
        self.fate(mid, MAYBE)
        code, text = c.reply()
        self.fate(mid, ACKED if code == 250 else REFUSED)
        if code != want:
            raise Failure("end of DATA: got %d %s, wanted %d" % (code, text[:80], want))
        if code != 250:
            self.refusals[why or str(code)] += 1

    def bdat(self, c, mid, content, pipelined=None, want=250, why=None):
        """The content in 1 to 4 BDAT chunks, the last with LAST (or an
        empty BDAT 0 LAST after them)."""
        if pipelined is None:
            pipelined = self.rng.random() < 0.5
        # Past the size limit every chunk gets 552: one chunk then.
        n = self.rng.randint(1, 4) if want == 250 else 1
        cuts = sorted(self.rng.sample(range(1, len(content)), n - 1)) if n > 1 else []
        chunks = [content[a:b] for a, b in zip([0] + cuts, cuts + [len(content)])]
        empty_last = want == 250 and self.rng.random() < 0.2
        if empty_last:
            chunks.append(b"")
        self.fate(mid, ABORTED)
        out = []
        for i, ch in enumerate(chunks):
            last = i == len(chunks) - 1
            out.append(b"BDAT %d%s\r\n" % (len(ch), b" LAST" if last else b"") + ch)
        if pipelined:
            c.send(b"".join(out))
            self.fate(mid, MAYBE)
            for i in range(len(out) - 1):
                c.expect(250, "BDAT chunk %d" % (i + 1))
        else:
            for i, o in enumerate(out):
                c.send(o)
                if i < len(out) - 1:
                    c.expect(250, "BDAT chunk %d" % (i + 1))
            self.fate(mid, MAYBE)
        code, text = c.reply()
        self.fate(mid, ACKED if code == 250 else REFUSED)
        if code != want:
            raise Failure("BDAT LAST: got %d %s, wanted %d" % (code, text[:80], want))
        if code != 250:
            self.refusals[why or str(code)] += 1

    def send_message(self, c, rcpts=("rcpt@soak.example",), size=None):
        if self.envelope(c, list(rcpts)):
            mid, content = self.message(size)
            if c.esmtp and self.rng.random() < 0.15:
                self.bdat(c, mid, content)
            else:
                self.data(c, mid, content)

    def quit(self, c):
        c.cmd("QUIT", 221)
        c.close()

    # -- session kinds: each returns its label for the table (None: the kind) --

    def s_plain(self):
        c = self.connect()
        self.hello(c)
        self.send_message(c)
        self.quit(c)

    def s_reused(self):
        c = self.connect()
        self.hello(c)
        for _ in range(self.rng.randint(2, 8)):
            r = self.rng.random()
            if r < 0.15:
                c.cmd("RSET", 250)
            elif r < 0.25:
                c.cmd("NOOP", 250)
            rcpts = ["r%d@soak.example" % i for i in range(self.rng.randint(1, 3))]
            self.send_message(c, rcpts)
        self.quit(c)

    def s_starttls(self):
        c = self.connect()
        c.cmd("EHLO client.soak.example", 250)
        self.starttls(c)
        for _ in range(self.rng.randint(1, 3)):
            self.send_message(c)
        self.quit(c)

    def s_implicit(self):
        c = self.connect("smtps")
        self.hello(c)
        for _ in range(self.rng.randint(1, 3)):
            self.send_message(c)
        self.quit(c)

    def auth_session(self, mech, user, password, ok=True):
        where = self.rng.choice(("plain", "starttls", "implicit"))
        if where == "implicit":
            c = self.connect("smtps")
            c.cmd("EHLO client.soak.example", 250)
        else:
            c = self.connect()
            c.cmd("EHLO client.soak.example", 250)
            if where == "starttls":
                self.starttls(c)
        c.esmtp = True
        want = 235 if ok else 535
        if mech == "PLAIN":
            resp = b64("\0%s\0%s" % (user, password))
            if self.rng.random() < 0.5:
                c.cmd("AUTH PLAIN " + resp, want)
            else:
                c.cmd("AUTH PLAIN", 334)
                c.cmd(resp, want)
        elif mech == "LOGIN":
            c.cmd("AUTH LOGIN", 334)
            c.cmd(b64(user), 334)
            c.cmd(b64(password), want)
        else:
            challenge = base64.b64decode(c.cmd("AUTH CRAM-MD5", 334))
            digest = hmac.new(password.encode(), challenge, "md5").hexdigest()
            c.cmd(b64("%s %s" % (user, digest)), want)
        if not ok:
            self.refusals["535 AUTH refused"] += 1
        self.send_message(c)
        self.quit(c)
        return "AUTH %s (%s)" % (mech if ok else "refused", where)

    def s_auth_plain(self):
        return self.auth_session("PLAIN", *INLINE_USER)

    def s_auth_login(self):
        return self.auth_session("LOGIN", *FILE_USER)

    def s_auth_cram(self):
        return self.auth_session("CRAM-MD5", *INLINE_USER)

    def s_auth_refused(self):
        user = self.rng.choice((INLINE_USER, FILE_USER))[0]
        return self.auth_session(self.rng.choice(("PLAIN", "LOGIN")), user, "wrong", ok=False)

    def s_policy(self):
        c = self.connect()
        self.hello(c)
        bad = "x%d@%s" % (self.seq, REJECT_DOMAIN)
        if self.rng.random() < 0.6:
            self.send_message(c, [bad, "ok@soak.example"] if self.rng.random() < 0.5
                              else ["ok@soak.example", bad])
        else:
            self.envelope(c, [bad])
            c.cmd("DATA", 554)
            self.refusals["554 no valid recipients"] += 1
            c.cmd("RSET", 250)
        self.quit(c)

    def s_refused_message(self):
        """A message the daemon must refuse, then (often) a good one in
        the same session."""
        c = self.connect()
        c.cmd("EHLO client.soak.example", 250)
        c.esmtp = True
        how = self.rng.choice(("too large", "too large (SIZE=)", "too large (BDAT)", "bare LF",
                               "bare CR", "NUL", "long line"))
        if how == "too large (SIZE=)":
            c.cmd("MAIL FROM:<soak%d@soak.example> SIZE=%d" % (self.n, MESSAGE_SIZE * 2), 552)
            self.refusals["552 SIZE= too large"] += 1
        else:
            self.envelope(c, ["rcpt@soak.example"])
            if how.startswith("too large"):
                mid, content = self.message(MESSAGE_SIZE + self.rng.randint(1, 3 * MESSAGE_SIZE))
                if how == "too large":
                    self.data(c, mid, content, 552, "552 too large")
                else:
                    self.bdat(c, mid, content, want=552, why="552 too large (BDAT)")
            else:
                extra = {"bare LF": b"bare\nLF\r\n", "bare CR": b"bare\rCR\r\n",
                         "NUL": b"nul\0octet\r\n", "long line": b"y" * 1200 + b"\r\n"}[how]
                want = 500 if how == "long line" else 550
                mid, content = self.message(extra=extra)
                self.data(c, mid, content, want, "%d %s" % (want, how))
        c.cmd("NOOP", 250)
        if self.rng.random() < 0.5:
            self.send_message(c)
        self.quit(c)
        return "refused message: " + how

    def s_rset(self):
        c = self.connect()
        c.cmd("EHLO client.soak.example", 250)
        c.esmtp = True
        how = self.rng.choice(("envelope", "BDAT chunk", "after message"))
        if how == "envelope":
            self.envelope(c, ["rcpt@soak.example"])
            c.cmd("RSET", 250)
        elif how == "BDAT chunk":
            self.envelope(c, ["rcpt@soak.example"])
            mid, content = self.message()
            self.fate(mid, ABORTED)
            half = content[:len(content) // 2]
            c.send(b"BDAT %d\r\n" % len(half) + half)
            c.expect(250, "BDAT chunk")
            c.cmd("RSET", 250)
            self.fate(mid, RESET)
        else:
            self.send_message(c)
            c.cmd("RSET", 250)
        self.send_message(c)
        self.quit(c)
        return "RSET " + how

    def s_bdat(self):
        c = self.connect(self.rng.choice(("smtp", "smtps")))
        c.cmd("EHLO client.soak.example", 250)
        c.esmtp = True
        for _ in range(self.rng.randint(1, 3)):
            if self.envelope(c, ["rcpt@soak.example"]):
                mid, content = self.message()
                self.bdat(c, mid, content)
        self.quit(c)

    def s_abrupt(self):
        """A client that goes away without QUIT, at some point."""
        rng = self.rng
        how = rng.choice(("at connect", "after greeting", "mid-command", "mid-DATA",
                          "after final dot", "mid-BDAT", "after BDAT LAST", "mid-TLS handshake",
                          "after STARTTLS", "mid-AUTH"))
        rst = rng.random() < 0.3
        label = "disconnect %s%s" % (how, " (reset)" if rst else "")
        if how == "at connect":
            c = self.connect(rng.choice(("smtp", "smtps")), greet=False) if rng.random() < 0.5 \
                else Conn(self.ports[rng.choice(("smtp", "smtps"))])
            self.conn = c
            c.abort(rst)
            return label
        if how == "mid-TLS handshake":
            c = self.conn = Conn(self.ports["smtps"])
            # The first bytes of a ClientHello, then nothing.
            c.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
                   + bytes(rng.randrange(256) for _ in range(20)))
            c.abort(rst)
            return label
        c = self.connect()
        if how == "after greeting":
            c.abort(rst)
            return label
        c.cmd("EHLO client.soak.example", 250)
        c.esmtp = True
        if how == "mid-command":
            c.send(rng.choice(("MAIL FROM:<soak@soak.exa", "EHLO cli", "RCPT", "NOOP")))
        elif how == "after STARTTLS":
            c.cmd("STARTTLS", 220)
        elif how == "mid-AUTH":
            c.cmd("AUTH LOGIN", 334)
            if rng.random() < 0.5:
                c.cmd(b64(FILE_USER[0]), 334)
        elif how in ("mid-DATA", "after final dot"):
            self.envelope(c, ["rcpt@soak.example"])
            mid, content = self.message()
            c.cmd("DATA", 354)
            self.fate(mid, ABORTED)
            stuffed = dot_stuff(content)
            if how == "mid-DATA":
                c.send(stuffed[:rng.randint(0, len(stuffed) - 1)])
            else:
                c.send(stuffed + b".\r\n")
                self.fate(mid, MAYBE)
        else:
            self.envelope(c, ["rcpt@soak.example"])
            mid, content = self.message()
            self.fate(mid, ABORTED)
            if how == "mid-BDAT":
                c.send(b"BDAT %d LAST\r\n" % len(content) + content[:rng.randint(0, len(content) - 1)])
            else:
                c.send(b"BDAT %d LAST\r\n" % len(content) + content)
                self.fate(mid, MAYBE)
        c.abort(rst)
        return label

    KINDS = [
        ("plain", 18, s_plain),
        ("reused connection", 10, s_reused),
        ("STARTTLS", 8, s_starttls),
        ("implicit TLS", 8, s_implicit),
        ("AUTH PLAIN", 4, s_auth_plain),
        ("AUTH LOGIN", 4, s_auth_login),
        ("AUTH CRAM-MD5", 2, s_auth_cram),
        ("AUTH refused", 2, s_auth_refused),
        ("policy: refused recipient", 8, s_policy),
        ("refused message", 8, s_refused_message),
        ("RSET", 6, s_rset),
        ("BDAT", 5, s_bdat),
        ("disconnect", 14, s_abrupt),
    ]

    def run(self, deadline):
        """Sessions until the deadline (time.monotonic())."""
        names = [k[0] for k in self.KINDS]
        weights = [k[1] for k in self.KINDS]
        funcs = {k[0]: k[2] for k in self.KINDS}
        while time.monotonic() < deadline:
            self.kind = self.rng.choices(names, weights)[0]
            label = self.kind
            try:
                label = funcs[self.kind](self) or self.kind
            except Exception as e:  # noqa: BLE001 (any failure of a session is reported)
                self.errors.append((self.kind, "%s: %s" % (type(e).__name__, e)
                                    if not isinstance(e, Failure) else str(e)))
                if self.progress is not None:
                    self.progress[2] += 1
            finally:
                if self.conn is not None:
                    self.conn.abort()
                    self.conn = None
            self.kinds[label] += 1
            if self.progress is not None:
                self.progress[0] += 1


def client_process(client, deadline, progress, out):
    """The body of a client process: run, then send the client (its
    records, and its sequence and random state for the next phase) back."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    # ^C reaches the whole process group: the parent stops the clients.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    client.progress = progress
    client.run(deadline)
    client.progress = None
    out.send(client)
    out.close()


def die_with_parent():
    """SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG), where ctypes
    can reach it; best effort."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


CLIENT_PROCESSES = []   # (process) of the phase running now, for cleanup


def stop_clients():
    for p in CLIENT_PROCESSES:
        if p.is_alive():
            p.terminate()
    for p in CLIENT_PROCESSES:
        p.join(5)
        if p.is_alive():
            p.kill()
            p.join()
    del CLIENT_PROCESSES[:]


def run_clients(clients, seconds, progress):
    """Run every client in its own process for seconds and take back its
    records (clients is updated in place); progress(elapsed, counters) is
    called every 10 s, counters being (sessions, accepted, errors) summed
    over the clients so far. Returns the time the load took."""
    ctx = multiprocessing.get_context("fork")
    shared = [ctx.Array("q", 3, lock=False) for _ in clients]
    t0 = time.monotonic()
    deadline = t0 + seconds
    pipes = []
    for c, sh in zip(clients, shared):
        r, w = ctx.Pipe(duplex=False)
        p = ctx.Process(target=client_process, args=(c, deadline, sh, w), daemon=True)
        p.start()
        w.close()
        CLIENT_PROCESSES.append(p)
        pipes.append(r)
    next_report = t0 + 10
    pending = set(range(len(clients)))
    try:
        while pending:
            now = time.monotonic()
            if now > deadline + 2 * CLIENT_TIMEOUT + 10:
                raise Failure("client processes %s still running %.0f s after the end of the load"
                              % (sorted(i + 1 for i in pending), now - deadline))
            if progress and now >= next_report and now < deadline:
                progress(now - t0, [sum(sh[k] for sh in shared) for k in range(3)])
                next_report += 10
            for i in list(pending):
                if pipes[i].poll(0.05 if len(pending) == 1 else 0):
                    try:
                        clients[i] = pipes[i].recv()
                    except EOFError:
                        raise Failure("client process %d died (exit status %s)"
                                      % (i + 1, CLIENT_PROCESSES[i].exitcode))
                    pending.discard(i)
            time.sleep(0.05)
    finally:
        for r in pipes:
            r.close()
        stop_clients()
    return time.monotonic() - t0


def probe(daemon, client):
    """One message on each listener, as a check that the daemon still
    serves; raises Failure if not."""
    client.kind = "probe"
    for listener in ("smtp", "smtps"):
        try:
            c = client.connect(listener)
            c.cmd("EHLO probe.soak.example", 250)
            c.esmtp = True
            client.envelope(c, ["probe@soak.example"], pipelined=False)
            mid, content = client.message(500)
            client.data(c, mid, content)
            client.quit(c)
        except (OSError, ssl.SSLError) as e:
            raise Failure("probe on %s: %s" % (listener, e))
        finally:
            if client.conn is not None:
                client.conn.abort()
                client.conn = None
