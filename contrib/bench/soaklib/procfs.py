"""Reading /proc: the children of a process, its state, the members of a
process group, RSS, open files, and open files by kind."""

import collections
import os
import re
import subprocess


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]


def proc_state(pid):
    """The state letter of /proc/PID/stat, None when the process is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rfind(")") + 2:][:1]


def group_members(pgid):
    """Processes of process group pgid that are not zombies."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            out.append(int(name))
    return out


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def open_files(pid):
    """{fd: target} of /proc/PID/fd, None when the process is gone."""
    d = "/proc/%d/fd" % pid
    try:
        names = os.listdir(d)
    except OSError:
        return None
    out = {}
    for n in names:
        try:
            out[int(n)] = os.readlink(os.path.join(d, n))
        except OSError:
            pass
    return out


def fd_kinds(files, shared):
    """The targets of open files with inode numbers replaced by "shared"
    (also open in the master) or "own": comparable between processes."""
    out = collections.Counter()
    for t in files.values():
        m = re.match(r"^(socket|pipe|anon_inode):\[?(\d*)\]?$", t)
        if m and m.group(2):
            out["%s:[%s]" % (m.group(1), "shared" if m.group(2) in shared else "own")] += 1
        else:
            out[t] += 1
    return out


def inodes(files):
    return {m.group(1) for m in (re.search(r":\[(\d+)\]$", t) for t in files.values()) if m}


def kinds_diff(a, b):
    """What b has beyond a, as a short string."""
    extra = b - a
    missing = a - b
    parts = ["+%d %s" % (n, k) for k, n in sorted(extra.items())]
    parts += ["-%d %s" % (n, k) for k, n in sorted(missing.items())]
    return ", ".join(parts) or "same kinds"
