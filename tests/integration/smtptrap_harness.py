"""Harness for integration tests: start the real smtptrapd on 127.0.0.1
with an ephemeral port and a per-test configuration, and talk raw SMTP
to it.

Nothing here sleeps to let time pass: waits are for a condition (a log
line, a reply, a file) with a deadline, and fail the test when the
deadline passes.

Environment:
  SMTPTRAPD               the daemon to test (default: the build's)
  SMTPTRAPD_VALGRIND      run every Daemon under valgrind memcheck: "1" (or
                          "yes") for the valgrind in PATH, or its path
                          ("make check-valgrind" sets it); a memcheck error
                          in the master or any worker fails the test
  SMTPTRAPD_VALGRIND_SUPP suppression file (default: tests/valgrind.supp)
  SMTPTRAPD_VALGRIND_OPTS more valgrind options, split at spaces (say
                          "--track-origins=yes" to find where an
                          uninitialised value came from)
  SMTPTRAPD_WAIT_FACTOR   multiplies every deadline (default 1; 3 under
                          valgrind, which runs the daemon many times slower)
  SMTPTRAPD_SKIP_TESTS    tests to report as skipped (see main())
"""

import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SMTPTRAPD = os.environ.get("SMTPTRAPD") or os.path.join(
    os.path.dirname(__file__), "..", "..", "src", "smtptrapd")

VALGRIND = os.environ.get("SMTPTRAPD_VALGRIND", "")
if VALGRIND.lower() in ("", "0", "no"):
    VALGRIND = None
elif VALGRIND.lower() in ("1", "yes"):
    VALGRIND = "valgrind"
VALGRIND_SUPP = os.environ.get("SMTPTRAPD_VALGRIND_SUPP") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "valgrind.supp")

WAIT_FACTOR = float(os.environ.get("SMTPTRAPD_WAIT_FACTOR") or (3 if VALGRIND else 1))
DEFAULT_WAIT = 10.0 * WAIT_FACTOR


def valgrind_command(logdir):
    """The valgrind command line that runs the daemon, logging each process
    (the master, and every worker: they are fork()ed, not exec'd, so they
    stay under valgrind) to logdir/vg.PID.log.

    Leaks: the workers leave by _exit() with their configuration, TLS
    context and scheduler still allocated and reachable, and a fsync helper
    thread may still hold its thread block ("possibly lost"); only memory
    nothing points to any more, "definitely lost" (a leak per session or
    per reload), counts as an error."""
    cmd = [VALGRIND, "--tool=memcheck", "--trace-children=no", "--child-silent-after-fork=no",
           "--vgdb=no", "--error-exitcode=99", "--num-callers=30",
           "--leak-check=full", "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
           "--gen-suppressions=all", "--log-file=" + os.path.join(logdir, "vg.%p.log")]
    if os.path.exists(VALGRIND_SUPP):
        cmd.append("--suppressions=" + os.path.abspath(VALGRIND_SUPP))
    return cmd + os.environ.get("SMTPTRAPD_VALGRIND_OPTS", "").split()


# What makes a valgrind log bad: a nonzero error count in its summary, or,
# in the log of a process killed before its summary, an error's first line.
VALGRIND_BAD = re.compile(
    r"ERROR SUMMARY: [1-9]|Invalid (read|write|free|address)|Mismatched free|"
    r"uninitialised|unaddressable|Conditional jump or move|Syscall param|"
    r"Source and destination overlap|definitely lost in loss record|"
    r"client switching stacks|Argument '\w+' of function|fishy|"
    r"Process terminating with default action of signal (?!9 \(SIGKILL\)|15 \(SIGTERM\))")


def valgrind_reports(logdir):
    """[(name, text)] of the valgrind logs in logdir that report a problem."""
    bad = []
    for name in sorted(os.listdir(logdir)):
        if not (name.startswith("vg.") and name.endswith(".log")):
            continue
        try:
            with open(os.path.join(logdir, name), errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        if VALGRIND_BAD.search(text):
            bad.append((name, text))
    return bad


def give_to_daemon_user(path):
    """Hand path (recursively) to the user a root-started daemon runs as
    ("nobody"), like a service's own directory; nothing when not root."""
    if os.geteuid() != 0:
        return
    import pwd
    nobody = pwd.getpwnam("nobody")
    os.chmod(path, 0o755)
    for root, dirs, files in os.walk(path):
        for name in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.lchown(name, nobody.pw_uid, nobody.pw_gid)


def group_alive(pgid):
    """Whether a process of group pgid is still running (zombies are not)."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


class Daemon:
    """One smtptrapd process in the foreground, with its own directory."""

    def __init__(self, config="", args=(), preexec_fn=None, listen=("127.0.0.1:0",),
                 maildir=None, wrapper=()):
        self.dir = tempfile.mkdtemp(prefix="smtptrap-test-")
        # Started as root, the daemon drops to "nobody": its directory is
        # the user's, as /run/smtptrapd would be, so it can read its
        # configuration (and keys) for a reload and remove its socket.
        give_to_daemon_user(self.dir)
        self.maildir = maildir or os.path.join(self.dir, "maildir")
        self.conf = os.path.join(self.dir, "smtptrapd.conf")
        # "@DIR@" in a configuration stands for the daemon's own directory.
        with open(self.conf, "w") as f:
            f.write(config.replace("@DIR@", self.dir))
        # wrapper: a command that runs the daemon (setpriv, to start it
        # with fewer capabilities). valgrind goes between the two, so the
        # wrapper's restrictions hold for valgrind and the daemon alike.
        self.valgrind = VALGRIND is not None
        vg = []
        if self.valgrind:
            # Each process writes its own log, as whichever user it is by
            # then (root, nobody, a configured user, root without
            # CAP_DAC_OVERRIDE): a directory like /tmp.
            self.vgdir = os.path.join(self.dir, "valgrind")
            os.mkdir(self.vgdir)
            os.chmod(self.vgdir, 0o1777)
            vg = valgrind_command(self.vgdir)
        cmd = list(wrapper) + vg + [SMTPTRAPD, "-f", "-c", self.conf, "-m", self.maildir]
        for spec in listen:
            cmd += ["-l", spec]
        cmd += list(args)
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, preexec_fn=preexec_fn,
                                     start_new_session=True)
        self.reader = threading.Thread(target=self._read_log, daemon=True)
        self.reader.start()
        # "ready" follows the last "listening on" line. A daemon that never
        # gets ready is not left behind (nor its directory).
        try:
            self.wait_log(r"smtptrapd \S+ ready: ")
        except BaseException:
            self._kill()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        m = self.wait_log(r"listening on (\S+):(\d+) \(listener")
        self.host = m.group(1).strip("[]")
        self.port = int(m.group(2))
        self.ports = [int(x.group(2)) for x in self.find_all(r"listening on (\S+):(\d+) \(listener")]
        self.port_of = {x.group(3): int(x.group(2)) for x in
                        self.find_all(r"listening on (\S+):(\d+) \(listener (\S+)\)")}

    def _read_log(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def find_all(self, pattern):
        rx = re.compile(pattern)
        with self.cond:
            return [m for m in (rx.search(l) for l in self.lines) if m]

    def wait_log(self, pattern, timeout=DEFAULT_WAIT, count=1, start=0):
        """Wait until `count` log lines from index `start` match; return the last match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [m for m in (rx.search(l) for l in self.lines[start:]) if m]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self.reader.is_alive()):
                    raise AssertionError("log line /%s/ x%d not seen; log:\n%s"
                                         % (pattern, count, "\n".join(self.lines[-40:])))
                self.cond.wait(left)

    def write_config(self, config):
        """Replace the configuration file (for a reload)."""
        tmp = self.conf + ".new"
        with open(tmp, "w") as f:
            f.write(config.replace("@DIR@", self.dir))
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.conf)

    def reload(self, ok=True, timeout=DEFAULT_WAIT):
        """SIGHUP; wait for the outcome. Returns the new generation number
        (ok) or the index of the first log line of the failure."""
        mark = self.log_mark()
        self.proc.send_signal(signal.SIGHUP)
        m = self.wait_log(r"(reloaded: generation (\d+)|reload failed: generation (\d+) keeps running)",
                          timeout=timeout, start=mark)
        if ok and m.group(2) is None:
            raise AssertionError("reload failed:\n" + "\n".join(self.lines[mark:]))
        if not ok and m.group(3) is None:
            raise AssertionError("reload did not fail:\n" + "\n".join(self.lines[mark:]))
        return int(m.group(2)) if ok else mark

    def log_mark(self):
        with self.cond:
            return len(self.lines)

    def connect(self, port=None, timeout=DEFAULT_WAIT, tls=False):
        return Client(self.host, port or self.port, timeout, tls=tls)

    def messages(self, sub="new", root=None):
        """Sorted list of (name, bytes) of the files in root/sub."""
        d = os.path.join(root or self.maildir, sub)
        if not os.path.isdir(d):
            return []
        out = []
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                out.append((name, f.read()))
        return out

    def worker_pids(self):
        """Worker pids: children of the master."""
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def stop(self, sig=signal.SIGTERM, timeout=DEFAULT_WAIT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("smtptrapd did not stop within %.0f s" % timeout)
        return self.proc.returncode

    def sanitizer_reports(self):
        """Lines in which AddressSanitizer or UBSan reported a problem, or
        valgrind itself complained on stderr ("valgrind: Cannot create
        log file ...")."""
        with self.cond:
            return [l for l in self.lines
                    if "ERROR: AddressSanitizer" in l or "runtime error:" in l
                    or "ERROR: LeakSanitizer" in l or l.startswith("valgrind:")]

    def _stop_for_valgrind(self):
        """Under valgrind: stop the daemon the normal way (SIGTERM) first, so
        the master and each worker reach their exit, where memcheck checks
        for leaks and writes its summary. Anything left is killed after."""
        if self.proc.poll() is None:
            try:
                self.stop()
            except AssertionError:
                pass
        # Workers end after the master has seen them go; a worker the master
        # gave up on gets the rest of the deadline to write its log.
        deadline = time.monotonic() + DEFAULT_WAIT
        while group_alive(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _kill(self):
        """SIGKILL the daemon and whatever is left of its process group."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.reader.join(5)
        if not self.reader.is_alive():
            self.proc.stderr.close()

    def cleanup(self):
        """Kill whatever is left of the daemon's process group; fail on
        any sanitizer report the daemon printed, and under valgrind on any
        error in a process's valgrind log."""
        vg_bad = []
        try:
            if self.valgrind:
                self._stop_for_valgrind()
            self._kill()
            if self.valgrind:
                vg_bad = valgrind_reports(self.vgdir)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
        bad = self.sanitizer_reports()
        if bad:
            raise AssertionError("sanitizer report from smtptrapd:\n" + "\n".join(self.lines[-60:]))
        if vg_bad:
            raise AssertionError("valgrind report from smtptrapd:\n" + "\n".join(
                "--- %s\n%s" % (name, text) for name, text in vg_bad))


class ControlClient:
    """A connection to the daemon's control socket: one command per line,
    replies of "CODE-text" lines ending with a "CODE text" line."""

    def __init__(self, path, timeout=DEFAULT_WAIT):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("control socket closed; pending %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            line = self.readline()
            if len(line) < 4 or not line[:3].isdigit() or line[3] not in " -":
                raise AssertionError("malformed control reply line %r" % line)
            lines.append(line[4:])
            if line[3] == " ":
                return Reply(int(line[:3]), lines)

    def cmd(self, line):
        self.send(line + "\n")
        return self.reply()

    def closed(self, timeout=DEFAULT_WAIT):
        """True when the daemon closes the connection within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def control(path, line):
    """Send one command on a fresh control connection; return its Reply."""
    c = ControlClient(path)
    try:
        return c.cmd(line)
    finally:
        c.close()


class Reply:
    def __init__(self, code, lines):
        self.code = code
        self.lines = lines

    @property
    def text(self):
        return "\n".join(self.lines)

    def __repr__(self):
        return "Reply(%d, %r)" % (self.code, self.lines)


class Client:
    """A scripted raw SMTP client: send bytes, read whole replies."""

    def __init__(self, host, port, timeout=DEFAULT_WAIT, tls=False, cert=None):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.timeout = timeout
        if tls:
            self.wrap_tls(cert)

    @staticmethod
    def tls_context(cert=None):
        """A client context that does not verify the daemon's certificate.

        cert: (certfile, keyfile) to present as client certificate.
        """
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if cert:
            ctx.load_cert_chain(*cert)
        return ctx

    def wrap_tls(self, cert=None):
        """Do the TLS handshake on the socket (implicit TLS or after 220)."""
        if self.buf:
            raise AssertionError("plaintext left unread before TLS: %r" % self.buf)
        self.sock = self.tls_context(cert).wrap_socket(self.sock, server_hostname="localhost")

    def starttls(self, cert=None):
        r = self.cmd("STARTTLS")
        if r.code != 220:
            raise AssertionError("STARTTLS refused: %r" % r)
        self.wrap_tls(cert)
        return r

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def _readline(self):
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no reply within %.1f s (have %r)" % (self.timeout, self.buf))
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
                chunk = b""
            if not chunk:
                raise EOFError("connection closed (have %r)" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            line = self._readline()
            if not line.endswith("\r"):
                raise AssertionError("reply line without CRLF: %r" % line)
            line = line[:-1]
            if len(line) < 4 or not line[:3].isdigit() or line[3] not in " -":
                raise AssertionError("malformed reply line %r" % line)
            lines.append(line[4:])
            if line[3] == " ":
                return Reply(int(line[:3]), lines)

    def expect(self, code, contains=None):
        r = self.reply()
        if r.code != code or (contains is not None and contains not in r.text):
            raise AssertionError("expected %d%s, got %r" % (
                code, " containing %r" % contains if contains else "", r))
        return r

    def closed(self, timeout=DEFAULT_WAIT):
        """True once the server has closed the connection (EOF)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()
            r, _, _ = select.select([self.sock], [], [], left) if not pending else ([1], 0, 0)
            if not r:
                return False
            try:
                chunk = self.sock.recv(65536)
            except ssl.SSLWantReadError:
                continue
            except (ConnectionResetError, ssl.SSLError):
                return True
            if not chunk:
                return True
            self.buf += chunk

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class DaemonTest(unittest.TestCase):
    """Base class: self.d is a running daemon with CONFIG."""

    CONFIG = ""
    ARGS = ()
    # -l options; () when CONFIG's own listeners are the ones under test.
    LISTEN = ("127.0.0.1:0",)

    def setUp(self):
        self.d = Daemon(self.CONFIG, self.ARGS, listen=self.LISTEN)
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        self.d.cleanup()

    def connect(self, greet=True, port=None):
        c = self.d.connect(port)
        self.clients.append(c)
        if greet:
            c.expect(220)
        return c

    def ehlo(self, c, name="client.example"):
        return c.cmd("EHLO " + name)

    def start_tx(self, c, sender="alice@example.com", rcpts=("bob@example.com",)):
        self.assertEqual(self.ehlo(c).code, 250)
        self.assertEqual(c.cmd("MAIL FROM:<%s>" % sender).code, 250)
        for r in rcpts:
            self.assertEqual(c.cmd("RCPT TO:<%s>" % r).code, 250)

    def wait_messages(self, n, sub="new", root=None, timeout=DEFAULT_WAIT):
        """Messages are on disk before the 250; this only double-checks count."""
        msgs = self.d.messages(sub, root)
        self.assertEqual(len(msgs), n, "expected %d messages in %s, found %d" % (n, sub, len(msgs)))
        return msgs


def body_of(message):
    """The client's content: what follows the smtptrapd trace header block."""
    lines = message.split(b"\r\n")
    i = 0
    while i < len(lines) and (lines[i].startswith((b"Return-Path:", b"Received:", b"\t",
                                                   b"X-Smtptrap-", b"X-Greylist:"))):
        i += 1
    return b"\r\n".join(lines[i:])


def trace_of(data):
    """The smtptrapd trace block of a stored message."""
    return data[:len(data) - len(body_of(data))]


def envelope(data):
    """(sender, [recipients]) from the trace block of a stored message."""
    head = trace_of(data)
    m = re.search(rb"^X-Smtptrap-Mail-From: <(.*?)>", head, re.M)
    sender = m.group(1).decode("utf-8") if m else None
    rcpts = [r.decode("utf-8") for r in re.findall(rb"^X-Smtptrap-Rcpt-To: <(.*?)>", head, re.M)]
    return sender, rcpts


CLIENT_TIMEOUT = 30 * WAIT_FACTOR


class ToolMixin:
    """Running external client programs from a test case."""

    def tool(self, name, package):
        path = shutil.which(name)
        if path is None:
            self.fail("%s not found in PATH: install the '%s' package "
                      "(the project's bootstrap installs it)" % (name, package))
        return path

    def run_tool(self, argv, stdin=None):
        try:
            return subprocess.run(argv, input=stdin, capture_output=True, timeout=CLIENT_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            self.fail("%s timed out after %.0f s\nstdout:\n%s\nstderr:\n%s" % (
                argv[0], CLIENT_TIMEOUT, (e.stdout or b"").decode("utf-8", "replace"),
                (e.stderr or b"").decode("utf-8", "replace")))

    def assert_ok(self, p):
        self.assertEqual(p.returncode, 0, self.show(p))

    def write_file(self, name, data, mode=None):
        """Write data to a file in the daemon's directory; its path."""
        path = os.path.join(self.d.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        if mode is not None:
            os.chmod(path, mode)
        return path

    @staticmethod
    def show(p):
        return "argv: %r\nexit: %d\nstdout:\n%s\nstderr:\n%s" % (
            p.args, p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))

    @staticmethod
    def swaks_data(p, tls=False):
        """The DATA content swaks sent, rebuilt from its transcript (" -> "
        lines, " ~> " over TLS, after the 354 up to the lone dot), with
        dot-stuffing undone."""
        sent, got = (b" ~> ", b"<~  354 ") if tls else (b" -> ", b"<-  354 ")
        lines = [l[:-1] if l.endswith(b"\r") else l for l in p.stdout.split(b"\n")]
        start = next(i for i, l in enumerate(lines) if l.startswith(got))
        out = []
        for l in lines[start + 1:]:
            if not l.startswith(sent):
                continue
            l = l[4:]
            if l == b".":
                return b"".join(out)
            out.append((l[1:] if l.startswith(b".") else l) + b"\r\n")
        raise AssertionError("no end of data in swaks transcript")


def main():
    """unittest's main. The tests named in SMTPTRAPD_SKIP_TESTS (space
    separated, each FILE.Class.test_name with FILE the test file's name
    without ".py") are reported as skipped: "make check-valgrind" leaves out
    the few whose assertions race the wall clock when the daemon runs
    slowly. A name that matches no test is an error, so none goes stale."""
    here = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    module = sys.modules["__main__"]
    for name in os.environ.get("SMTPTRAPD_SKIP_TESTS", "").split():
        parts = name.split(".")
        if len(parts) != 3 or parts[0] != here:
            continue
        cls = getattr(module, parts[1], None)
        if not (isinstance(cls, type) and callable(getattr(cls, parts[2], None))):
            sys.exit("SMTPTRAPD_SKIP_TESTS: %s: no such test in %s" % (name, sys.argv[0]))
        setattr(cls, parts[2], unittest.skip("left out of this run (SMTPTRAPD_SKIP_TESTS)")(
            getattr(cls, parts[2])))
    unittest.main(verbosity=2)
