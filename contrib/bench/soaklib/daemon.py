"""The daemon and its control socket: control commands, the parsed
status, whether the daemon is idle, and the Daemon class (smtptrapd with
a generated configuration in its own directory)."""

import os
import re
import signal
import socket
import subprocess
import time

from .common import FILE_USER, INLINE_USER, MESSAGE_SIZE, REJECT_DOMAIN
from .procfs import group_members, proc_state


def control(path, command, timeout=10.0):
    """Send one command and "quit" on a fresh connection to the control
    socket; read until the daemon closes it (so the master holds no
    descriptor for it afterwards). Returns the text lines of the reply."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(command.encode() + b"\nquit\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    lines = []
    for line in data.decode("utf-8", "replace").splitlines():
        if len(line) < 4 or not line[:3].isdigit():
            raise RuntimeError("malformed control reply line %r" % line)
        if line[:3] != "200":
            raise RuntimeError("control command %r: %s" % (command, line))
        lines.append(line[4:])
        if line[3] == " ":
            return lines
    raise RuntimeError("control command %r: reply cut short: %r" % (command, data[-200:]))


def status(path):
    """The control socket's status, parsed."""
    st = {"workers": [], "sessions": None, "messages": None, "rejects": "", "states": None}
    for line in control(path, "status"):
        m = re.match(r"workers starting=(\d+) idle=(\d+) busy=(\d+) exiting=(\d+)", line)
        if m:
            st["states"] = dict(zip(("starting", "idle", "busy", "exiting"), map(int, m.groups())))
            continue
        m = re.match(r"worker pid=(\d+) generation=\d+ state=(\w+) sessions=(\d+) messages=(\d+) "
                     r"active=(-?\d+)", line)
        if m:
            st["workers"].append({"pid": int(m.group(1)), "state": m.group(2),
                                  "sessions": int(m.group(3)), "messages": int(m.group(4)),
                                  "active": int(m.group(5))})
            continue
        m = re.match(r"(sessions|messages) (\d+)$", line)
        if m:
            st[m.group(1)] = int(m.group(2))
        elif line.startswith("rejects"):
            st["rejects"] = line[len("rejects"):].strip()
    if st["states"] is None or st["messages"] is None:
        raise RuntimeError("control status without workers or messages line")
    return st


def idle_reason(st, kids):
    """Why the daemon is not idle yet (None when it is)."""
    s = st["states"]
    if s["busy"] or s["starting"] or s["exiting"]:
        return "workers starting=%d busy=%d exiting=%d" % (s["starting"], s["busy"], s["exiting"])
    active = sum(w["active"] for w in st["workers"])
    if active:
        return "%d sessions active" % active
    pids = {w["pid"] for w in st["workers"]}
    live = {k for k in kids if proc_state(k) not in (None, "Z")}
    if live != pids:
        return "children %s, workers in the status %s" % (sorted(live), sorted(pids))
    if not pids:
        return "no worker"
    return None


class Daemon:
    """smtptrapd in the foreground, in its own process group, with a
    generated configuration in its own directory."""

    def __init__(self, path, tmp, per_worker, max_sessions, max_workers):
        self.path = path
        self.dir = tmp
        self.maildir = os.path.join(tmp, "maildir")
        self.ctl = os.path.join(tmp, "ctl")
        self.conf = os.path.join(tmp, "smtptrapd.conf")
        self.log = os.path.join(tmp, "smtptrapd.log")
        self.proc = None
        with open(os.path.join(tmp, "users"), "w") as f:
            f.write("# soak: a user of the passwd file\n%s:{PLAIN}%s\n" % FILE_USER)
        sessions = "sessions = %d; " % per_worker if per_worker else ""
        with open(self.conf, "w") as f:
            f.write("""# written by contrib/bench/soak
server = { log_level = "warning"; hostname = "soak.test"; };
listeners = (
    { name = "smtp"; address = "127.0.0.1"; port = 0; tls = "starttls"; auth_without_tls = true; },
    { name = "smtps"; address = "127.0.0.1"; port = 0; tls = "implicit"; }
);
workers = { max_workers = %d; %smax_sessions_per_worker = %d; };
limits = { message_size = %d; };
timeouts = { shutdown = 2; };
delivery = { backend = "maildir"; directory = "%s"; fsync = true; };
auth = {
    users = ( { name = "%s"; password = "%s"; } );
    passwd_file = "%s/users";
};
control = { socket = "%s"; };
rules = (
    { stage = "rcpt"; rcpt_domains = [ "%s" ]; action = "reject";
      code = 550; status = "5.1.1"; text = "<%%r>: soak refuses this domain"; }
);
""" % (max_workers, sessions, max_sessions, MESSAGE_SIZE, self.maildir, INLINE_USER[0], INLINE_USER[1],
                tmp, self.ctl, REJECT_DOMAIN))
        give_to_daemon_user(tmp)
        p = subprocess.run([path, "-t", "-c", self.conf], capture_output=True, text=True)
        if p.returncode != 0:
            raise SetupError("smtptrapd rejects the generated configuration %s:\n%s%s"
                             % (self.conf, p.stdout, p.stderr))

    def start(self):
        log = open(self.log, "wb")
        self.proc = subprocess.Popen([self.path, "-f", "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=log,
                                     start_new_session=True, cwd=self.dir)
        log.close()
        deadline = time.monotonic() + 30
        while True:
            text = self.log_text()
            if " ready: " in text:
                self.ports = {m.group(2): int(m.group(1)) for m in re.finditer(
                    r"listening on 127\.0\.0\.1:(\d+) \(listener (\S+)\)", text)}
                if set(self.ports) != {"smtp", "smtps"}:
                    raise SetupError("listeners in the log: %r\n%s" % (self.ports, text))
                return
            if self.proc.poll() is not None:
                raise SetupError("smtptrapd exited with status %s at start; its log:\n%s"
                                 % (self.proc.returncode, text))
            if time.monotonic() > deadline:
                raise SetupError("smtptrapd not ready after 30 s; its log:\n" + text)
            time.sleep(0.05)

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def shutdown(self, timeout=30.0):
        """SIGTERM and wait for the master: (its exit status, or None if it
        still runs after timeout; seconds it took; the pids of its process
        group still running, not zombies, up to 5 s after it exited)."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None, time.monotonic() - t0, []
        took = time.monotonic() - t0
        deadline = time.monotonic() + 5
        while group_members(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return rc, took, group_members(self.proc.pid)

    def stop(self):
        """SIGTERM, then SIGKILL to what is left of the process group."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait()


class SetupError(Exception):
    pass


def give_to_daemon_user(path):
    """Started as root, smtptrapd runs as "nobody": its directory (and the
    configuration and users file in it) are that user's."""
    if os.geteuid() != 0:
        return
    import pwd
    nobody = pwd.getpwnam("nobody")
    for root, dirs, files in os.walk(path):
        for name in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.lchown(name, nobody.pw_uid, nobody.pw_gid)
