#!/usr/bin/env python3
"""Data sync benchmark (issue 12): baton's sync_dir against `rsync -a --delete`, one run.

On two namespaces joined by one veth link (bench.Net, 10.0.0.1 and 10.0.0.2):

- a tree of 10,000 files (100 directories x 100 files, ~200 MiB, pseudo-random bytes
  from a fixed seed, so nothing compresses) under node a's root;
- baton: both nodes started at once (a `state MASTER` priority 200, b BACKUP 100, a
  link block whose keys trust each other, `sync_dir <mnt>/data instance VI_1`), each in
  a mount namespace of its own with its root bound on <mnt>, b's copy empty. Timed
  until b's status shows it in step with all the files, then checked by an independent
  walk (path, size, SHA-256 of every file). RSS (VmRSS / VmHWM from /proc/PID/status,
  sampled every 50 ms), CPU (utime + stime, per thread too) of both nodes;
- baton, one changed file: a 100 KiB file rewritten on a; time until b's copy of it has
  the new SHA-256 (polled every 5 ms);
- rsync: `rsync --daemon` in b's namespace, `rsync -a --delete` from a's namespace into
  an empty directory (timed), then the same one-file change and a whole `rsync -a
  --delete` run again (timed), the way keepalived users run it from a notify script or
  cron. The batons are stopped by then, so the two never share the CPU.

Run as root through bench/run.sh (`--only sync`); bench.py's helpers are reused.
"""

import hashlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

import bench
from bench import Agent, Net, sh, wait
from link import control, fingerprint

DIRS, PER_DIR = 100, 100
TARGET_BYTES = 200 << 20
SEED = 12
CHANGED = "d042/f042"
CHANGED_BYTES = 100 << 10
ADDR = {"a": "10.0.0.1", "b": "10.0.0.2"}
OTHER = {"a": "b", "b": "a"}
VIP = "10.0.0.100"


# ---------------------------------------------------------------- the tree

def sizes(seed=SEED):
    """File sizes: 9,950 small ones (512 B to 16 KiB) and 50 of 1 to 3.6 MiB, scaled so the
    total is TARGET_BYTES; the changed file is CHANGED_BYTES."""
    rng = random.Random(seed)
    n = DIRS * PER_DIR
    big = set(rng.sample(range(n), 50))
    out = [rng.randint(1 << 20, 3_700_000) if i in big else rng.randint(512, 16384)
           for i in range(n)]
    changed = 42 * PER_DIR + 42
    big.discard(changed)
    out[changed] = CHANGED_BYTES
    rest = TARGET_BYTES - sum(out[i] for i in range(n) if i not in big)
    scale = rest / sum(out[i] for i in big)
    for i in big:
        out[i] = int(out[i] * scale)
    return out


def generate(root, seed=SEED):
    rng = random.Random(seed + 1)
    total = 0
    for i, size in enumerate(sizes(seed)):
        d = os.path.join(root, f"d{i // PER_DIR:03d}")
        if i % PER_DIR == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i % PER_DIR:03d}"), "wb") as f:
            f.write(rng.randbytes(size))
        total += size
    return total


def listing(root):
    """{relative path: (size, sha256)} of every file, and the set of directories."""
    files, dirs = {}, set()
    for d, subdirs, names in os.walk(root):
        rel = os.path.relpath(d, root)
        dirs.add(rel)
        for name in names:
            p = os.path.join(d, name)
            h = hashlib.sha256()
            with open(p, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            files[os.path.join(rel, name)] = (os.path.getsize(p), h.hexdigest())
    return files, dirs


def diff(a, b):
    fa, da = a
    fb, db = b
    out = [f"{k}: {fa.get(k)} vs {fb.get(k)}" for k in sorted(set(fa) | set(fb))
           if fa.get(k) != fb.get(k)]
    out += [f"dir {k}: only on one side" for k in sorted(da ^ db)]
    return out


def digest(path):
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


# ---------------------------------------------------------------- processes

class MountedAgent(Agent):
    """bench.Agent for baton in a mount namespace of its own with `src` bound on `dst`
    (tests/e2e/mod.rs Daemon::spawn): both nodes write one path, each its own directory."""

    def __init__(self, ns, node, dir_, conf, baton_conf, src, dst):
        self.kind, self.ns, self.node, self.dir = "baton", ns, node, dir_
        self.seq = getattr(Agent, "_seq", 0)
        Agent._seq = self.seq + 1
        tag = f"sync-{node}-{self.seq}"
        path = os.path.join(dir_, f"{tag}.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.log = os.path.join(dir_, f"{tag}.log")
        self.sock = os.path.join(dir_, f"{tag}.sock")
        script = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'
        cmd = (["ip", "netns", "exec", ns, "unshare", "-m", "sh", "-c", script, "sh", src, dst,
                bench.BATON, "run", "-f", path, "--socket", self.sock,
                "-p", os.path.join(dir_, f"{tag}.pid"), "--baton-conf", baton_conf])
        env = dict(os.environ, BATON_LOG=os.environ.get("BATON_LOG", "info"))
        with open(self.log, "w") as logf:
            self.proc = subprocess.Popen(cmd, stdout=logf, stderr=logf,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         env=env)

    def tail(self, n=25):
        try:
            with open(self.log) as f:
                return "\n".join(f.read().splitlines()[-n:])
        except OSError:
            return ""


def keepalived_conf(node):
    state, prio = ("MASTER", 200) if node == "a" else ("BACKUP", 100)
    return (f"global_defs {{\n  router_id sync-{node}\n}}\n"
            f"vrrp_instance VI_1 {{\n  state {state}\n  interface eth0\n"
            f"  virtual_router_id 1\n  priority {prio}\n  advert_int 0.1\n  version 3\n"
            f"  virtual_ipaddress {{\n    {VIP}/16\n  }}\n}}\n")


def baton_conf(node, state_dir, mnt=None, trust=None):
    lines = [f"link {{\n    listen {ADDR[node]}\n    peer {ADDR[OTHER[node]]}\n"
             f"    state_dir {state_dir}\n"]
    if trust:
        lines.append(f"    trust {trust}\n")
    if mnt:
        lines.append(f"    sync_dir {mnt}/data instance VI_1\n    sync_interval 60\n")
    lines.append("}\n")
    return "".join(lines)


def status(agent):
    return control(agent.sock, {"cmd": "status"}) or {}


def sync_row(agent):
    rows = status(agent).get("sync") or []
    return rows[0] if rows else {}


def link_up(agent, peer):
    for r in status(agent).get("link", {}).get("peers", []):
        addr = r.get("address", "")
        if addr == peer or addr.startswith(peer + ":"):
            return r.get("link") == "up"
    return False


def proc_status(pid):
    """(VmRSS, VmHWM) in KiB."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def smaps(pid):
    """(Rss, Anonymous) in KiB from smaps_rollup."""
    out = {"Rss:": 0, "Anonymous:": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                k = line.split()[0] if line.strip() else ""
                if k in out:
                    out[k] = int(line.split()[1])
    except OSError:
        pass
    return out["Rss:"], out["Anonymous:"]


def threads_cpu(pid):
    """{thread name: utime + stime seconds} of one process, summed by name."""
    tck = os.sysconf("SC_CLK_TCK")
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                s = f.read()
        except OSError:
            continue
        name = s[s.index("(") + 1:s.rindex(")")]
        fields = s.rsplit(")", 1)[1].split()
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / tck
    return out


def cpu(pid):
    return sum(threads_cpu(pid).values())


SYSCALLS = {0: "read", 1: "write", 3: "close", 7: "poll", 17: "pread64", 18: "pwrite64",
            44: "sendto", 45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 74: "fsync",
            75: "fdatasync", 82: "rename", 83: "mkdir", 87: "unlink", 202: "futex",
            217: "getdents64", 230: "clock_nanosleep", 232: "epoll_wait", 257: "openat",
            263: "unlinkat", 306: "syncfs",
            262: "newfstatat", 265: "linkat", 271: "ppoll", 280: "utimensat",
            281: "epoll_pwait", 316: "renameat2", 332: "statx", 441: "epoll_pwait2"}


def thread_states(pid):
    """[(thread name, what it does)]: `running` (state R) or the system call it sits in
    (/proc/PID/task/TID/syscall), with `D` when the wait is uninterruptible (disk)."""
    out = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                st = f.read()
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                sc = f.read().split()
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        state = st.rsplit(")", 1)[1].split()[0]
        if state == "R" or not sc or sc[0] == "running":
            what = "running"
        else:
            nr = int(sc[0]) if sc[0].lstrip("-").isdigit() else -1
            what = SYSCALLS.get(nr, f"syscall {nr}") + (" (D)" if state == "D" else "")
        out.append((name, what))
    return out


class Sampler:
    """Every 50 ms: VmRSS of each node (peak per phase), both nodes' sync rows and, in
    the first phase, what each thread is doing."""

    def __init__(self, agents):
        self.agents = agents
        self.phase = "start"
        self.peak = {}
        self.rows = []  # (t, node, row)
        self.stop_ = threading.Event()
        self.rows_on = True
        self.states = {}  # (node, thread, what) -> samples
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop_.is_set():
            t = time.time()
            for n, a in self.agents.items():
                rss, _ = proc_status(a.proc.pid)
                key = (self.phase, n)
                self.peak[key] = max(self.peak.get(key, 0), rss)
                if self.rows_on:
                    self.rows.append((t, n, sync_row(a)))
                if self.phase in ("start", "change"):
                    for name, what in thread_states(a.proc.pid):
                        k = (self.phase, n, name, what)
                        self.states[k] = self.states.get(k, 0) + 1
            self.stop_.wait(0.05)

    def close(self):
        self.stop_.set()
        self.t.join()


# ---------------------------------------------------------------- the run

class Setup:
    """The namespaces, the directories and (once made) both nodes' identities."""

    def __init__(self, tag="sy"):
        self.net = Net(tag)
        self.ns = {"a": self.net.a, "b": self.net.b}
        self.dir = f"/run/baton-bench-{os.getpid()}-sync"
        os.makedirs(self.dir, exist_ok=True)
        # BENCH_SYNC_FS=ext4: everything on a fresh ext4 (with its journal, mkfs defaults)
        # in a loop-mounted image, rather than on whatever filesystem holds /run.
        self.image = None
        if os.environ.get("BENCH_SYNC_FS") == "ext4":
            self.image = self.dir + ".img"
            with open(self.image, "wb") as f:
                f.truncate(2 << 30)
            sh("mkfs.ext4", "-q", "-F", self.image)
            sh("mount", "-o", "loop", self.image, self.dir)
        src, fstype, opts = sh("findmnt", "-n", "-o", "SOURCE,FSTYPE,OPTIONS",
                               "--target", self.dir).split()
        self.fs = f"{fstype} ({opts.replace(',', ', ')})"
        if fstype.startswith("ext"):
            # jbd2 lists a journal per device as NAME-N (/proc/fs/jbd2).
            dev = os.path.basename(os.path.realpath(src))
            jbd = os.listdir("/proc/fs/jbd2") if os.path.isdir("/proc/fs/jbd2") else []
            self.fs += (", with a journal" if any(j.startswith(dev + "-") for j in jbd)
                        else ", no journal")
        self.mnt = os.path.join(self.dir, "mnt")
        os.makedirs(self.mnt, exist_ok=True)
        self.agents = {}
        self.rsyncd = None
        self.fp = {}
        for node in ("a", "b"):
            path = os.path.join(self.dir, f"{node}.id.baton.conf")
            with open(path, "w") as f:
                f.write(baton_conf(node, self.state(node)))
            agent = Agent("baton", self.ns[node], node, self.dir, keepalived_conf(node),
                          ["--baton-conf", path])
            try:
                self.fp[node] = wait(lambda: fingerprint(agent.sock), 10, f"{node}'s identity")
            finally:
                agent.crash()
            # The empty baseline keeps its generations apart from the measured run's.
            shutil.copytree(self.state(node), self.state(node, "empty"))

    def state(self, node, run="main"):
        return os.path.join(self.dir, f"state-{node}-{run}")

    def root(self, name):
        return os.path.join(self.dir, f"root-{name}")

    def start(self, roots, run="main"):
        """Both batons at once, node -> its root (bound on mnt); returns the start time."""
        t0 = time.time()
        for node in ("a", "b"):
            bc = os.path.join(self.dir, f"{node}.{run}.baton.conf")
            with open(bc, "w") as f:
                f.write(baton_conf(node, self.state(node, run), self.mnt,
                                   self.fp[OTHER[node]]))
            self.agents[node] = MountedAgent(self.ns[node], node, self.dir,
                                             keepalived_conf(node), bc, roots[node], self.mnt)
        return t0

    def stop(self):
        for a in self.agents.values():
            a.crash()
        self.agents = {}

    def logs(self):
        return "\n".join(f"--- {n} ({a.log}) ---\n{a.tail()}" for n, a in self.agents.items())

    def close(self):
        self.stop()
        if self.rsyncd:
            try:
                os.killpg(self.rsyncd.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.rsyncd.wait()
        self.net.close()
        # A daemon's mount namespace goes with its last process; nothing is left mounted
        # on the host, but look before removing anything.
        with open("/proc/self/mounts") as f:
            if self.dir in f.read():
                subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        if self.image:
            subprocess.run(["umount", self.dir], capture_output=True)
            os.unlink(self.image)
            os.rmdir(self.dir)
        elif not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


class Broken(Exception):
    """baton did not do what it should: the message carries what was seen and the logs."""


def alive(s):
    for n, a in s.agents.items():
        if a.proc.poll() is not None:
            raise Broken(f"baton on {n} exited ({a.proc.returncode})\n{s.logs()}")


def until(s, cond, limit, what):
    end = time.time() + limit
    while time.time() < end:
        alive(s)
        v = cond()
        if v:
            return v
        time.sleep(0.01)
    ra, rb = sync_row(s.agents["a"]), sync_row(s.agents["b"])
    raise Broken(f"timed out after {limit} s waiting for {what}\na's row: {json.dumps(ra)}\n"
                 f"b's row: {json.dumps(rb)}\n{s.logs()}")


def empty_baseline(s):
    """A linked pair with an empty sync_dir on both: idle RSS and anonymous memory."""
    for n in ("ea", "eb"):
        os.makedirs(os.path.join(s.root(n), "data"), exist_ok=True)
    s.start({"a": s.root("ea"), "b": s.root("eb")}, "empty")
    try:
        until(s, lambda: link_up(s.agents["a"], ADDR["b"]) and link_up(s.agents["b"], ADDR["a"]),
              30, "linked (empty baseline)")
        until(s, lambda: sync_row(s.agents["a"]).get("role") == "source"
              and sync_row(s.agents["b"]).get("in_step"), 30, "empty copies in step")
        time.sleep(3)
        return {n: (proc_status(a.proc.pid)[0],) + smaps(a.proc.pid)
                for n, a in s.agents.items()}
    finally:
        s.stop()


def baton_initial(s, n_files, want):
    """Both nodes started with b's copy empty; times and resources of the first copy."""
    t0 = s.start({"a": s.root("a"), "b": s.root("b")})
    a, b = s.agents["a"], s.agents["b"]
    sam = Sampler(s.agents)
    r = {}
    try:
        until(s, lambda: link_up(a, ADDR["b"]) and link_up(b, ADDR["a"]), 30, "linked")
        r["linked"] = time.time() - t0
        until(s, lambda: sync_row(a).get("role") == "source", 60, "a the source")
        r["source"] = time.time() - t0
        c0 = {n: cpu(x.proc.pid) for n, x in s.agents.items()}

        def done():
            rb = sync_row(b)
            return (rb.get("role") == "copy" and rb.get("in_step")
                    and rb.get("files") == n_files)
        until(s, done, 600, "b's copy in step with all the files")
        r["done"] = time.time() - t0
        sam.phase = "after"
        r["cpu"] = {n: cpu(x.proc.pid) for n, x in s.agents.items()}
        r["cpu_from_source"] = {n: r["cpu"][n] - c0[n] for n in r["cpu"]}
        r["threads"] = {n: threads_cpu(x.proc.pid) for n, x in s.agents.items()}
        r["hwm"] = {n: proc_status(x.proc.pid)[1] for n, x in s.agents.items()}
        got = listing(os.path.join(s.root("b"), "data"))
        if got != want:
            d = diff(want, got)
            raise Broken(f"b in step by its status but its copy differs ({len(d)} entries), "
                         f"first: {d[:10]}\n{s.logs()}")
        r["rows"] = {"a": sync_row(a), "b": sync_row(b)}
        # Where the time went: the first sample with a transfer on b, the last one.
        tr = [t for t, n, row in sam.rows if n == "b" and row.get("transfer")]
        r["transfer"] = (tr[0] - t0, tr[-1] - t0) if tr else None
        r["states"] = dict(sam.states)
        sam.rows_on = False
        time.sleep(5)
        r["idle"] = {n: (proc_status(x.proc.pid)[0],) + smaps(x.proc.pid)
                     for n, x in s.agents.items()}
        r["peak"] = {n: max(sam.peak.get(("start", n), 0), sam.peak.get(("after", n), 0))
                     for n in s.agents}
        r["peak_sync"] = {n: sam.peak.get(("start", n), 0) for n in s.agents}
        return r
    finally:
        sam.close()


def rewrite(path, rng):
    data = rng.randbytes(CHANGED_BYTES)
    with open(path, "r+b") as f:
        f.write(data)
        f.truncate()
    return hashlib.sha256(data).hexdigest()


def baton_changes(s, reps):
    """The one-file change, `reps` times: seconds until b's file has the new bytes."""
    a, b = s.agents["a"], s.agents["b"]
    src = os.path.join(s.root("a"), "data", CHANGED)
    dst = os.path.join(s.root("b"), "data", CHANGED)
    rng = random.Random(SEED + 2)
    out = []
    sam = Sampler(s.agents)
    sam.rows_on = False
    sam.phase = "change"
    c0 = {n: cpu(x.proc.pid) for n, x in s.agents.items()}
    try:
        for i in range(reps):
            until(s, lambda: sync_row(b).get("in_step") and sync_row(a).get("in_step"), 30,
                  "in step before a change")
            time.sleep(1)
            t0 = time.time()
            h = rewrite(src, rng)
            end = t0 + 30
            while digest(dst) != h:
                if time.time() > end:
                    alive(s)
                    raise Broken(f"change {i}: b's {CHANGED} not updated after 30 s\n"
                                 f"b's row: {json.dumps(sync_row(b))}\n{s.logs()}")
                time.sleep(0.005)
            out.append(time.time() - t0)
            print(f"  sync: baton one-file change {i}: {out[-1] * 1000:.0f} ms",
                  file=sys.stderr, flush=True)
        cpu_ = {n: cpu(x.proc.pid) - c0[n] for n, x in s.agents.items()}
        return out, {n: sam.peak.get(("change", n), 0) for n in s.agents}, cpu_, dict(sam.states)
    finally:
        sam.close()


RSYNCD = """pid file = {dir}/rsyncd.pid
lock file = {dir}/rsyncd.lock
log file = {dir}/rsyncd.log
[mod]
    path = {path}
    read only = false
    uid = root
    gid = root
    use chroot = no
"""


def rsync_runs(s, reps):
    """rsync's daemon on b, `rsync -a --delete` from a: the first copy and `reps` runs
    after the one-file change; seconds each."""
    dst = s.root("rsync")
    os.makedirs(dst, exist_ok=True)
    conf = os.path.join(s.dir, "rsyncd.conf")
    with open(conf, "w") as f:
        f.write(RSYNCD.format(dir=s.dir, path=dst))
    s.rsyncd = subprocess.Popen(
        ["ip", "netns", "exec", s.ns["b"], "rsync", "--daemon", "--no-detach",
         f"--config={conf}", f"--address={ADDR['b']}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"rsync://{ADDR['b']}/mod/"
    wait(lambda: subprocess.run(["ip", "netns", "exec", s.ns["a"], "rsync", url],
                                capture_output=True).returncode == 0, 10, "rsync daemon up")
    src = os.path.join(s.root("a"), "data") + "/"
    cmd = ["ip", "netns", "exec", s.ns["a"], "rsync", "-a", "--delete", src, url]

    def run():
        os.sync()
        t0 = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True)
        took = time.time() - t0
        if r.returncode != 0:
            raise RuntimeError(f"rsync: {r.stdout}{r.stderr}")
        return took

    first = run()
    rng = random.Random(SEED + 3)
    changes = []
    for i in range(reps):
        time.sleep(1)
        rewrite(os.path.join(s.root("a"), "data", CHANGED), rng)
        changes.append(run())
        print(f"  sync: rsync one-file change {i}: {changes[-1] * 1000:.0f} ms",
              file=sys.stderr, flush=True)
    got = listing(dst)
    # For scale: the first copy again with every file fsynced, as baton's receiver does.
    dst2 = s.root("rsync-fsync")
    os.makedirs(dst2, exist_ok=True)
    with open(conf, "a") as f:
        f.write(f"[fsync]\n    path = {dst2}\n    read only = false\n    uid = root\n"
                "    gid = root\n    use chroot = no\n")
    url = f"rsync://{ADDR['b']}/fsync/"
    cmd = ["ip", "netns", "exec", s.ns["a"], "rsync", "-a", "--delete", "--fsync", src, url]
    with_fsync = run()
    return first, changes, with_fsync, got


# ---------------------------------------------------------------- report

def kib(x):
    return f"{x / 1024:.1f} MiB"


def report(tree, base, ini, ch, rs, reps):
    n_files, total = tree
    ch_times, ch_peak, ch_cpu, ch_states = ch
    rs_first, rs_changes, rs_fsync = rs
    from_source = ini["done"] - ini["source"]
    ratio = from_source / rs_first
    med = statistics.median(ch_times) * 1000
    L = [f"Tree: {n_files} files in {DIRS} directories, {total / 1e6:.1f} MB "
         f"({total / 2**20:.0f} MiB; 9,950 files of 0.5–16 KiB, 50 of 1–3.5 MiB, "
         "pseudo-random bytes from a fixed seed); the changed file is "
         f"{CHANGED} ({CHANGED_BYTES >> 10} KiB, rewritten in place with new bytes). "
         "One veth link between two namespaces; rsync's daemon protocol is plain TCP, "
         "baton's link TLS 1.3.", ""]
    L.append("| | baton | rsync -a --delete | baton / rsync |")
    L.append("|---|---|---|---|")
    L.append(f"| initial sync, s | {from_source:.2f} (a source → b in step); "
             f"{ini['done']:.2f} from start | {rs_first:.2f} | {ratio:.2f}× |")
    L.append(f"| one changed file, ms median / max ({reps} runs) | {med:.0f} / "
             f"{max(ch_times) * 1000:.0f} | {statistics.median(rs_changes) * 1000:.0f} / "
             f"{max(rs_changes) * 1000:.0f} (a whole run) | |")
    L.append("")
    L.append(f"baton from start: both nodes linked at {ini['linked'] * 1000:.0f} ms, a the "
             f"source at {ini['source'] * 1000:.0f} ms, b in step with every file at "
             f"{ini['done']:.2f} s"
             + (f"; b showed a transfer from {ini['transfer'][0]:.2f} s to "
                f"{ini['transfer'][1]:.2f} s" if ini.get("transfer") else "") + ".")
    L.append("")
    L.append("| baton node | RSS, empty sync_dir (anon) | peak RSS while syncing | VmHWM | "
             "RSS idle after, 10,000 files (anon) | peak RSS, one-file changes | "
             "CPU s, initial sync | CPU s, the changes |")
    L.append("|---|---|---|---|---|---|---|---|")
    for n, label in (("a", "a (source)"), ("b", "b (copy)")):
        L.append(f"| {label} | {base[n][1]} KiB ({base[n][2]}) | {ini['peak_sync'][n]} KiB | "
                 f"{ini['hwm'][n]} KiB | {ini['idle'][n][1]} KiB ({ini['idle'][n][2]}) | "
                 f"{ch_peak[n]} KiB | {ini['cpu'][n]:.2f} | {ch_cpu[n]:.2f} |")
    L.append("")
    for n in ("a", "b"):
        th = sorted(ini["threads"][n].items(), key=lambda kv: -kv[1])
        L.append(f"CPU by thread on {n} over the initial sync (s): "
                 + ", ".join(f"{k} {v:.2f}" for k, v in th if v >= 0.01) + ".")
        L.append("")
    L.append("What the sync and link threads were doing (share of 50 ms samples; a system "
             "call is where the thread waited, `(D)` a disk wait; the changes' samples "
             "include the second of quiet before each change):")
    L.append("")
    for phase, states, label in (("start", ini["states"], "initial sync"),
                                 ("change", ch_states, "one-file changes")):
        for n in ("a", "b"):
            for th in ("baton-sync", "baton-link"):
                xs = {w: c for (p, nn, t, w), c in states.items()
                      if p == phase and nn == n and t == th}
                tot = sum(xs.values())
                if tot:
                    top = sorted(xs.items(), key=lambda kv: -kv[1])[:5]
                    L.append(f"- {label}, {n} {th}: " + ", ".join(
                        f"{w} {c * 100 / tot:.0f} %" for w, c in top))
    L.append("")
    L.append(f"For scale: `rsync -a --delete --fsync` (rsync fsyncs every file it wrote, "
             f"which it does not by default) into another empty directory: {rs_fsync:.2f} s.")
    L.append("")
    return "\n".join(L), {"ratio": ratio, "median_ms": med}


BEGIN, END = "<!-- sync results: written by bench/sync.py -->", "<!-- /sync results -->"


def write_doc(text):
    """Replaces the sync results in docs/benchmark.md, keeping the prose around."""
    bench.write_section(BEGIN, END, "## Data sync (issue 12)\n\n", text, "sync results")


def run(reps):
    """bench.py's `sync` section: returns the report text."""
    if not shutil.which("rsync"):
        raise SystemExit("missing: rsync, for the sync section")
    s = Setup()
    try:
        print("sync: empty baseline", file=sys.stderr, flush=True)
        base = empty_baseline(s)
        print("sync: generating the tree", file=sys.stderr, flush=True)
        data = os.path.join(s.root("a"), "data")
        total = generate(data)
        os.makedirs(os.path.join(s.root("b"), "data"), exist_ok=True)
        want = listing(data)
        n_files = len(want[0])
        os.sync()
        print("sync: baton initial sync", file=sys.stderr, flush=True)
        ini = baton_initial(s, n_files, want)
        print(f"  sync: baton initial {ini['done'] - ini['source']:.2f} s from a the source",
              file=sys.stderr, flush=True)
        ch = baton_changes(s, reps)
        s.stop()
        print("sync: rsync", file=sys.stderr, flush=True)
        rs_first, rs_changes, rs_fsync, got = rsync_runs(s, reps)
        if got != listing(data):
            raise RuntimeError("rsync's copy differs from the source")
        print(f"  sync: rsync initial {rs_first:.2f} s", file=sys.stderr, flush=True)
        text, _ = report((n_files, total), base, ini, ch, (rs_first, rs_changes, rs_fsync),
                         reps)
        fs = s.fs + (", a fresh loop-mounted image" if s.image else "")
        text = text.replace("One veth link", f"Filesystem: {fs}. One veth link", 1)
        return text
    except Broken as e:
        keep = s.dir + "-logs"
        os.makedirs(keep, exist_ok=True)
        for f in os.listdir(s.dir):
            if f.endswith(".log"):
                shutil.copy(os.path.join(s.dir, f), keep)
        raise SystemExit(f"sync: baton misbehaved (logs kept in {keep}):\n{e}")
    finally:
        s.close()
