"""The etcd arbiter's benchmark (issue 14): what the arbiter adds to a failover, and what
it costs in memory and binary size; see bench/README.md.

A bridge in a hub namespace with five namespaces on it (10.0.0.1-5/24): the baton pair (a
priority 100 `state MASTER`, b 90, unicast VRRPv2, advert_int 1; the `--features etcd`
build) and three etcd members run as tests/e2e/etcd.rs runs them. Columns, one after the
other: no arbiter block, lease_ttl 2 (stop_margin 0.5), lease_ttl 5 (stop_margin 1).
Scenarios: SIGKILL to a (and its VIP deleted), then a restarted preempts; a cut off from
the members by nftables drops on the bridge's forward hook, then healed. VIP times come
from `ip -ts monitor address`, hook times from bash $EPOCHREALTIME; a thread samples both
nodes' addresses every 10 ms over netlink. Then idle Rss/Pss of one node alone.

Run as root through bench/run.sh (`--only arbiter`); bench.py's helpers are reused.
"""

import ctypes
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

import bench
from bench import AddrMonitor, Hooks, sh

BATON_ETCD = os.environ.get("BENCH_BATON_ETCD") or os.path.join(
    bench.ROOT, "target", "bench-etcd", "release", "baton")
VIP = "10.0.0.100"
ADV = 1
PRIO = {"a": 100, "b": 90}
NAMES = ["a", "b", "m0", "m1", "m2"]
IP = {n: f"10.0.0.{i + 1}" for i, n in enumerate(NAMES)}
MEMBERS = NAMES[2:]
DRIFT = 0.01  # clock_drift's default
REQUEST_TIMEOUT = 0.5
# (column, lease_ttl, stop_margin): no ttl, no arbiter block.
CONFIGS = [("VRRP alone", None, None), ("arbiter ttl 2", 2, 0.5), ("arbiter ttl 5", 5, 1.0)]
MASTER_DOWN = 3 * ADV + (256 - PRIO["b"]) / 256 * ADV
IDLE_S = 10


def wait(cond, limit, what, every=0.01):
    """Polls `cond` until it returns something true, or raises TimeoutError at the deadline."""
    end = time.monotonic() + limit
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= end:
            raise TimeoutError(what)
        time.sleep(every)


def stop_bound(ttl, margin):
    """docs/arbiter.md: the latest a cut-off node stops, after its last answered keep-alive."""
    return ttl * (1 - DRIFT) / (1 + DRIFT) - margin


# ---------------------------------------------------------------- network and etcd

class BridgeNet:
    """A hub namespace with br0; one namespace per node, eth0 on bridge port p<i>."""

    def __init__(self):
        base = f"bb-arb-{os.getpid()}"
        self.hub = f"{base}-hub"
        self.ns = {n: f"{base}-{n}" for n in NAMES}
        self.port = {n: f"p{i}" for i, n in enumerate(NAMES)}
        self.created, self.is_cut = [], False

    def setup(self):
        for ns in [self.hub] + list(self.ns.values()):
            sh("ip", "netns", "add", ns)
            self.created.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.hub, "link", "add", "br0", "type", "bridge", "forward_delay", "0")
        sh("ip", "-n", self.hub, "link", "set", "br0", "up")
        for n in NAMES:
            p, ns = self.port[n], self.ns[n]
            for cmd in ((self.hub, "link", "add", p, "type", "veth", "peer", "name", "eth0",
                         "netns", ns), (self.hub, "link", "set", p, "master", "br0"),
                        (self.hub, "link", "set", p, "up"),
                        (ns, "addr", "add", f"{IP[n]}/24", "dev", "eth0"),
                        (ns, "link", "set", "eth0", "up")):
                sh("ip", "-n", *cmd)
        for n in NAMES:
            wait(lambda: "state UP" in sh("ip", "-n", self.ns[n], "link", "show", "eth0"), 10,
                 f"eth0 up in {n}", 0.05)

    def nft(self, script):
        r = subprocess.run(["ip", "netns", "exec", self.hub, "nft", "-f", "-"], input=script,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"nft: {r.stderr}\n{script}")

    def cut(self, node):
        """Drops every frame between `node`'s port and the members' ports, both ways."""
        p = f'"{self.port[node]}"'
        ms = "{ " + ", ".join(f'"{self.port[m]}"' for m in MEMBERS) + " }"
        self.nft("table bridge bench_cut {\n chain forward {\n"
                 "  type filter hook forward priority 0;\n"
                 f"  iifname {p} oifname {ms} drop\n  iifname {ms} oifname {p} drop\n }}\n}}\n")
        self.is_cut = True

    def heal(self):
        if self.is_cut:
            self.nft("delete table bridge bench_cut\n")
            self.is_cut = False

    def delete_vip(self, node):
        subprocess.run(["ip", "-n", self.ns[node], "addr", "del", f"{VIP}/24", "dev", "eth0"],
                       capture_output=True)

    def close(self):
        for ns in self.created:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def etcdctl(ns, endpoint, *args):
    return subprocess.run(["ip", "netns", "exec", ns, "etcdctl", f"--endpoints={endpoint}",
                           "--dial-timeout=1s", "--command-timeout=2s", *args],
                          capture_output=True, text=True, env={**os.environ, "ETCDCTL_API": "3"})


class Etcd:
    """Three members, one in each of m0-m2, as tests/e2e/etcd.rs starts them."""

    def __init__(self, net, dir_):
        base = "/dev/shm" if os.path.isdir("/dev/shm") else dir_
        self.data = os.path.join(base, f"baton-bench-{os.getpid()}-etcd")
        self.procs, self.net, self.dir = [], net, dir_

    def start(self):
        net, cluster = self.net, ",".join(f"{m}=http://{IP[m]}:2380" for m in MEMBERS)
        os.makedirs(self.data, exist_ok=True)
        for m in MEMBERS:
            urls = [f"--{k}-urls=http://{IP[m]}:{port}" for k, port in (
                ("listen-peer", 2380), ("initial-advertise-peer", 2380),
                ("listen-client", 2379), ("advertise-client", 2379))]
            with open(os.path.join(self.dir, f"etcd-{m}.log"), "w") as log:
                self.procs.append(subprocess.Popen(
                    ["ip", "netns", "exec", net.ns[m], "etcd", "--name", m,
                     "--data-dir", os.path.join(self.data, f"{m}.etcd"), *urls,
                     f"--initial-cluster={cluster}", "--initial-cluster-state=new",
                     f"--initial-cluster-token=baton-bench-{os.getpid()}",
                     "--heartbeat-interval=50", "--election-timeout=500",
                     "--logger=zap", "--log-outputs=stderr"],
                    stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True))
        wait(lambda: all(etcdctl(net.ns[m], f"{IP[m]}:2379", "endpoint", "health").returncode
                         == 0 for m in MEMBERS), 30, "etcd members healthy", 0.1)

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()
        shutil.rmtree(self.data, ignore_errors=True)


# ---------------------------------------------------------------- the VIP sampler

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
RTM_NEWADDR, RTM_GETADDR, NLMSG_ERROR, NLMSG_DONE = 20, 22, 2, 3


def netlink_in(ns):
    """A NETLINK_ROUTE socket in namespace `ns`: setns on the calling thread, and back."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {ns}")
        try:
            return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        finally:
            if libc.setns(own, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(own)
        os.close(target)


def has_vip(sock, seq, want=socket.inet_aton(VIP)):
    """One RTM_GETADDR dump (IPv4): whether any address is the VIP."""
    sock.send(struct.pack("=IHHII", 24, RTM_GETADDR, 0x301, seq, 0)
              + struct.pack("=BBBBI", socket.AF_INET, 0, 0, 0, 0))
    found = False
    while True:
        data = sock.recv(1 << 16)
        off = 0
        while off + 16 <= len(data):
            ln, typ, _, sq, _ = struct.unpack_from("=IHHII", data, off)
            if ln < 16:
                return found
            if sq == seq and typ in (NLMSG_DONE, NLMSG_ERROR):
                return found
            if sq == seq and typ == RTM_NEWADDR:
                a, end = off + 24, off + ln
                while a + 4 <= end:
                    alen, atype = struct.unpack_from("=HH", data, a)
                    if alen < 4:
                        break
                    if atype in (1, 2) and data[a + 4:a + alen] == want:
                        found = True
                    a += (alen + 3) & ~3
            off += (ln + 3) & ~3


class Sampler:
    """Every 10 ms: (time, VIP on a, VIP on b)."""

    def __init__(self, net):
        self.samples, self.lock = [], threading.Lock()
        self.stop, self.ready, self.error = threading.Event(), threading.Event(), None
        self.thread = threading.Thread(target=self._run, args=(net,), daemon=True)
        self.thread.start()
        self.ready.wait(5)
        if self.error:
            raise self.error

    def _run(self, net):
        try:
            socks = [netlink_in(net.ns[n]) for n in ("a", "b")]
        except OSError as e:
            self.error = e
            return
        finally:
            self.ready.set()
        seq, due = 0, time.monotonic()
        try:
            while not self.stop.is_set():
                seq += 1
                t = time.time()
                s = (t, has_vip(socks[0], seq), has_vip(socks[1], seq))
                with self.lock:
                    self.samples.append(s)
                due += 0.01
                time.sleep(max(0.0, due - time.monotonic()))
                due = max(due, time.monotonic() - 0.01)
        except OSError as e:
            self.error = e
        finally:
            for s in socks:
                s.close()

    def latest(self):
        with self.lock:
            return self.samples[-1] if self.samples else (0, False, False)

    def overlap(self, lo, hi):
        """(longest VIP-on-both run in s, from its first such sample to the next sample
        without; samples with both; samples) within [lo, hi]."""
        with self.lock:
            xs = [s for s in self.samples if lo <= s[0] <= hi]
        longest, both, start = 0.0, 0, None
        for t, a, b in xs:
            if a and b:
                both += 1
                start = t if start is None else start
            elif start is not None:
                longest, start = max(longest, t - start), None
        if start is not None:
            longest = max(longest, xs[-1][0] - start)
        return longest, both, len(xs)

    def close(self):
        self.stop.set()
        self.thread.join(2)


# ---------------------------------------------------------------- baton nodes

def keepalived_conf(node, dir_):
    other = "b" if node == "a" else "a"
    hook = os.path.join(dir_, "hook.sh")
    return (f"global_defs {{\n  router_id arb-{node}\n  script_user root\n"
            "  enable_script_security\n}\n"
            f"vrrp_instance VI_1 {{\n  state {'MASTER' if node == 'a' else 'BACKUP'}\n"
            f"  interface eth0\n  virtual_router_id 51\n  priority {PRIO[node]}\n"
            f"  advert_int {ADV}\n  version 2\n  unicast_src_ip {IP[node]}\n"
            f"  unicast_peer {{\n    {IP[other]}\n  }}\n"
            f"  virtual_ipaddress {{\n    {VIP}/24\n  }}\n"
            + "".join(f"  notify_{st} \"{hook} {st} {node}\"\n"
                      for st in ("master", "backup", "fault"))
            + "}\n")


def baton_conf(node, ttl, margin, prefix):
    if ttl is None:
        return ""
    return (f"arbiter etcd {{\n    endpoints {' '.join(IP[m] + ':2379' for m in MEMBERS)}\n"
            f"    instance VI_1\n    name {node}\n    prefix {prefix}\n    lease_ttl {ttl}\n"
            f"    stop_margin {margin}\n    request_timeout {REQUEST_TIMEOUT}\n}}\n")


class Node(bench.Agent):
    """`baton run` of `binary` in a namespace, with its own baton.conf (maybe empty)."""

    def __init__(self, binary, ns, node, dir_, conf, bconf):
        self.kind, self.ns, self.node, self.dir, self.binary = "baton", ns, node, dir_, binary
        Node.seq = getattr(Node, "seq", 0) + 1
        tag = f"{node}-{Node.seq}"
        path, bpath = (os.path.join(dir_, f"{tag}.{x}") for x in ("conf", "baton.conf"))
        for p, text in ((path, conf), (bpath, bconf)):
            with open(p, "w") as f:
                f.write(text)
        self.log = os.path.join(dir_, f"{tag}.log")
        self.sock = os.path.join(dir_, f"{tag}.sock")
        cmd = [binary, "run"] + (["-D"] if os.environ.get("BENCH_KEEP") else []) + [
            "-f", path, "--socket", self.sock, "--baton-conf", bpath]
        with open(self.log, "w") as logf:
            self.proc = subprocess.Popen(["ip", "netns", "exec", ns] + cmd, stdout=logf,
                                         stderr=logf, stdin=subprocess.DEVNULL,
                                         start_new_session=True)

    def status(self):
        r = subprocess.run([self.binary, "status", "--json", "--socket", self.sock],
                           capture_output=True, text=True)
        try:
            return json.loads(r.stdout) if r.returncode == 0 else {}
        except ValueError:  # a daemon just starting or stopping
            return {}

    def view(self):
        """(VI_1's state, its arbiter row or None)."""
        st = self.status()
        inst = next((i for i in st.get("instances") or [] if i.get("name") == "VI_1"), {})
        return inst.get("state"), next(iter(st.get("arbiter") or []), None)


class Pair:
    def __init__(self, rig, label, ttl, margin):
        self.rig, self.label, self.ttl, self.margin = rig, label, ttl, margin
        self.prefix = f"/bench-{os.getpid()}-{ttl}/"
        self.nodes = {}

    def begin(self):
        t = time.time()
        self.start("a")
        wait(lambda: self.rig.sampler.latest()[1], 30, f"{self.label}: a holds the VIP")
        self.start("b")
        self.settle(t, 30)

    def start(self, node):
        rig = self.rig
        self.nodes[node] = Node(BATON_ETCD, rig.net.ns[node], node, rig.dir,
                                keepalived_conf(node, rig.dir),
                                baton_conf(node, self.ttl, self.margin, self.prefix))

    def settled(self, since):
        _, a_vip, b_vip = self.rig.sampler.latest()
        hooks = self.rig.hooks
        if not (a_vip and not b_vip and hooks.first("master", "a", since)
                and hooks.last("a") == "master" and hooks.last("b") != "master"):
            return False
        (sa, ra), (sb, rb) = self.nodes["a"].view(), self.nodes["b"].view()
        if sa != "MASTER" or sb != "BACKUP":
            return False
        # With an arbiter: a serves, b holds a lease of its own and does not serve.
        return self.ttl is None or (ra and ra.get("serving") is True and rb
                                    and rb.get("serving") is False and rb.get("healthy") is True)

    def settle(self, since, limit):
        wait(lambda: self.settled(since), limit, f"{self.label}: a serves, b backup", 0.05)

    def take_back(self, t1, what):
        """a preempts (after its restart or the heal): overlap and gap of the VIP."""
        mon = self.rig.mon
        self.settle(t1, 30 + 2 * (self.ttl or 0))
        a_add = wait(lambda: mon["a"].first("add", t1), 5, "a's VIP add event")
        b_del = wait(lambda: mon["b"].first("del", t1), 5, "b's VIP del event")
        return {f"{what}_back": a_add - t1, f"{what}_overlap": max(0.0, b_del - a_add),
                f"{what}_gap": max(0.0, a_add - b_del)}

    def phase(self, i, reps):
        """Waits for the point (i + 0.5) / reps into a's keep-alive cycle (ttl / 3): the time
        since its last answered keep-alive was sent is the bound less its lease_left_ms.
        Spreads the triggers over the cycle, which the lease's expiry depends on."""
        if not self.ttl:
            return None
        full, want = stop_bound(self.ttl, self.margin), (i + 0.5) / reps * self.ttl / 3

        def since():
            left = (self.nodes["a"].view()[1] or {}).get("lease_left_ms")
            s = None if left is None else full - left / 1000
            return s if s is not None and 0 <= s - want < 0.05 else None
        return wait(since, self.ttl + 10, "a's keep-alive phase", 0.005)

    def crash(self):
        rig = self.rig
        t0 = time.time()
        self.nodes["a"].crash()
        rig.net.delete_vip("a")  # a dead host holds no address
        b_add = wait(lambda: rig.mon["b"].first("add", t0), MASTER_DOWN + (self.ttl or 0) + 20,
                     "VIP on b after the crash")
        b_hook = wait(lambda: rig.hooks.first("master", "b", t0), 10, "notify_master on b")
        r = {"crash_vip": b_add - t0, "crash_hook": b_hook - t0}
        t1 = time.time()
        self.start("a")
        r.update(self.take_back(t1, "restart"))
        r["crash_window"] = (t0, time.time())
        return r

    def cut(self):
        rig = self.rig
        t0 = time.time()
        rig.net.cut("a")
        # No keep-alive can be answered now: a's deadline is fixed, and its status says it.
        left = (self.nodes["a"].view()[1] or {}).get("lease_left_ms")
        deadline = time.time() + left / 1000 if left is not None else None
        lim = self.ttl + 20
        a_del = wait(lambda: rig.mon["a"].first("del", t0), lim, "a's VIP gone after the cut")
        b_add = wait(lambda: rig.mon["b"].first("add", t0), lim + MASTER_DOWN,
                     "VIP on b after the cut")
        b_hook = wait(lambda: rig.hooks.first("master", "b", t0), 10, "notify_master on b")
        a_fault = rig.hooks.first("fault", "a", t0)
        wait(lambda: self.nodes["b"].view()[0] == "MASTER", 10, "b MASTER", 0.05)
        r = {"cut_a_del": a_del - t0, "cut_a_fault": a_fault - t0 if a_fault else None,
             "cut_b_vip": b_add - t0, "cut_b_hook": b_hook - t0,
             "cut_deadline": deadline - t0 if deadline else None,
             "cut_late": a_del - deadline if deadline else None}
        t1 = time.time()
        rig.net.heal()
        r.update(self.take_back(t1, "heal"))
        r["cut_window"] = (t0, time.time())
        return r

    def close(self):
        for n in self.nodes.values():
            n.crash()
        self.rig.net.heal()


class Rig:
    def __init__(self):
        self.dir = f"/run/baton-bench-{os.getpid()}-arb"
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        self.net, self.etcd, self.sampler, self.mon = None, None, None, {}

    def setup(self):
        hook = os.path.join(self.dir, "hook.sh")
        with open(hook, "w") as f:
            f.write(bench.HOOK.format(events=os.path.join(self.dir, "events")))
        os.chmod(hook, 0o755)
        self.hooks = Hooks(os.path.join(self.dir, "events"))
        self.net = BridgeNet()
        self.net.setup()
        self.etcd = Etcd(self.net, self.dir)
        self.etcd.start()
        self.mon = {n: AddrMonitor(self.net.ns[n]) for n in ("a", "b")}
        self.sampler = Sampler(self.net)

    def close(self):
        for part in (self.sampler, *self.mon.values(), self.etcd, self.net):
            if part:
                part.close()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- runs

def column(rig, label, ttl, margin, reps, notes):
    res = {}
    print(f"arbiter: {label}", file=sys.stderr, flush=True)
    pair = Pair(rig, label, ttl, margin)
    try:
        pair.begin()
        for i in range(reps):
            kinds = [("crash", pair.crash)] + ([("cut", pair.cut)] if ttl else [])
            for kind, fn in kinds:
                ph = pair.phase(i, reps)
                r = fn()
                r["phase"] = ph
                for k, v in r.items():
                    res.setdefault(k, []).append(v)
                print(f"  {label:13} {kind:5} rep {i}: " + ", ".join(
                    f"{k} {v * 1000:.0f}" for k, v in r.items()
                    if isinstance(v, float)), file=sys.stderr, flush=True)
    except Exception as e:  # a stuck column must not lose the others
        notes.append(f"{label}: stopped after {len(res.get('crash_vip', []))} crash reps ({e!r})")
        print(f"  {label}: {e!r}", file=sys.stderr, flush=True)
        for n, node in pair.nodes.items():
            with open(node.log) as f:
                tail = "\n".join(f.read().splitlines()[-15:])
            notes.append(f"{label} node {n} log tail:\n```\n{tail}\n```")
    finally:
        pair.close()
    return res


def idle_memory(rig, binary, ttl):
    """One node (a) alone; Rss/Pss after IDLE_S s holding the VIP."""
    node = Node(binary, rig.net.ns["a"], "a", rig.dir, keepalived_conf("a", rig.dir),
                baton_conf("a", ttl, 0.5, f"/bench-{os.getpid()}-mem/"))
    try:
        wait(lambda: rig.sampler.latest()[1] and node.view()[0] == "MASTER" and (
            ttl is None or (node.view()[1] or {}).get("serving") is True), 30, "idle node", 0.05)
        end = time.monotonic() + IDLE_S
        while time.monotonic() < end:  # the idle period itself, not a wait for anything
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
        if node.proc.poll() is not None:
            raise RuntimeError("the idle node died")
        return node.memory_kib()
    finally:
        node.crash()
        rig.net.delete_vip("a")


def fmt(xs, digits=0):
    xs = [x * 1000 for x in xs if x is not None]
    return "–" if not xs else f"{statistics.median(xs):.{digits}f} / {max(xs):.{digits}f}"


def run(reps):
    """Every column, then the idle memory. Returns the markdown section."""
    missing = [t for t in ("etcd", "etcdctl", "nft") if not shutil.which(t)] + [
        b for b in (bench.BATON, BATON_ETCD) if not os.path.exists(b)]
    if missing:
        raise SystemExit(f"missing: {', '.join(missing)} (bench/run.sh --only arbiter)")
    old_term = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    out, notes, mem = {}, [], {}
    rig = Rig()
    try:
        rig.setup()
        for label, ttl, margin in CONFIGS:
            out[label] = column(rig, label, ttl, margin, reps, notes)
        print(f"arbiter: idle memory ({IDLE_S} s each)", file=sys.stderr, flush=True)
        for key, binary, ttl in (("default", bench.BATON, None), ("etcd", BATON_ETCD, None),
                                 ("etcd+arbiter", BATON_ETCD, 2)):
            try:
                mem[key] = idle_memory(rig, binary, ttl)
            except Exception as e:
                notes.append(f"idle memory {key}: {e!r}")
        overlaps = {}
        for (label, _, _), kind in ((c, k) for c in CONFIGS for k in ("crash", "cut")):
            o = [rig.sampler.overlap(*w) for w in out[label].get(f"{kind}_window", [])]
            if o:
                overlaps[(label, kind)] = tuple(f(x[i] for x in o) for i, f in
                                                enumerate((max, sum, sum)))
        xs = rig.sampler.samples
        period = (xs[-1][0] - xs[0][0]) / max(1, len(xs) - 1) * 1000
        if rig.sampler.error:
            notes.append(f"the sampler stopped: {rig.sampler.error!r}")
    finally:
        rig.close()
        signal.signal(signal.SIGTERM, old_term)
    took = time.monotonic() - started
    return report(out, overlaps, mem, notes, reps, period, took)


def report(out, overlaps, mem, notes, reps, period, took):
    labels = [c[0] for c in CONFIGS]
    L = [f"{reps} repetitions of each scenario, {took / 60:.1f} min in all. Pair a (priority "
         f"100, `state MASTER`) and b (90), unicast VRRPv2, advert_int {ADV}, both the "
         "`--features etcd` build; three etcd members (heartbeat 50 ms, election timeout "
         "500 ms), every node in its own namespace on one bridge. Arbiter blocks: "
         f"`lease_ttl 2` with `stop_margin 0.5`, `lease_ttl 5` with `stop_margin 1`, both "
         f"`request_timeout {REQUEST_TIMEOUT}`, `clock_drift` default (1 %). Times in ms "
         "from the trigger, median / max. With an arbiter, rep i of n is triggered (i + 0.5) / n "
         "of the way through a's keep-alive cycle (lease_ttl / 3), read from its status.", "",
         "| scenario | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]

    def cells(key, digits, arb):
        if key in ("crash", "cut"):  # the sampler's figures
            return ["n/a" if (o := overlaps.get((lab, key))) is None else
                    f"{o[0] * 1000:.0f} ms ({o[1]} of {o[2]} samples)" for lab in labels]
        if callable(key):  # a bound
            return ["n/a" if (v := key(t, m)) is None else f"{v * 1000:.0f}"
                    for _, t, m in CONFIGS]
        return ["n/a" if arb and t is None else fmt(out.get(lab, {}).get(key, []), digits)
                for lab, t, _ in CONFIGS]
    for name, key, digits, arb in (
            ("crash (SIGKILL a) → VIP on b", "crash_vip", 0, False),
            ("crash → b's notify_master", "crash_hook", 0, False),
            ("… reference: master-down (+ lease_ttl + 1 s)",
             lambda t, m: MASTER_DOWN + (t + 1 if t else 0), 0, False),
            ("a restarted, preempts: VIP overlap (ip monitor)", "restart_overlap", 1, False),
            ("a restarted, preempts: VIP gap", "restart_gap", 1, False),
            ("crash + restart: longest VIP on both (10 ms samples)", "crash", 0, False),
            ("a cut off from etcd → VIP gone from a", "cut_a_del", 0, True),
            ("… bound: lease_ttl·(1−d)/(1+d) − stop_margin",
             lambda t, m: stop_bound(t, m) if t else None, 0, True),
            ("… a's own deadline at the cut (its lease_left_ms)", "cut_deadline", 0, True),
            ("… VIP gone from a, less that deadline", "cut_late", 1, True),
            ("cut → a's notify_fault", "cut_a_fault", 0, True),
            ("cut → VIP on b", "cut_b_vip", 0, True),
            ("cut → b's notify_master", "cut_b_hook", 0, True),
            ("healed → VIP back on a", "heal_back", 0, True),
            ("healed: VIP gap (neither holds it)", "heal_gap", 1, True),
            ("cut + heal: longest VIP on both (10 ms samples)", "cut", 0, True)):
        L.append(f"| {name} | " + " | ".join(cells(key, digits, arb)) + " |")
    L += ["", f"The sampler read both nodes' addresses every {period:.1f} ms on average "
          "(netlink dumps from one thread); a run of samples with the VIP on both counts from "
          "its first such sample to the next sample without.", "",
          "| build | arbiter block | binary bytes | idle RSS KiB | idle Pss KiB |",
          "|---|---|---|---|---|"]
    size = {k: os.path.getsize(b) for k, b in (("default", bench.BATON), ("etcd", BATON_ETCD))}
    grow = f" (+{(size['etcd'] / size['default'] - 1) * 100:.0f} %)"
    for key, build, block, b in (
            ("default", "`cargo build --release`", "none", size["default"]),
            ("etcd", "`--features etcd`", "none", f"{size['etcd']}{grow}"),
            ("etcd+arbiter", "`--features etcd`", "lease_ttl 2, etcd up", size["etcd"])):
        rss, pss = mem.get(key, ("–", "–"))
        L.append(f"| {build} | {block} | {b} | {rss} | {pss} |")
    L += ["", f"Idle: one node alone (MASTER of VI_1), a fresh process per row, read after "
          f"{IDLE_S} s holding the VIP; smaps_rollup of the baton process."]
    odd = []  # the documented bounds, checked
    for lab, ttl, m in CONFIGS:
        r, lim = out.get(lab, {}), MASTER_DOWN + (ttl + 1 if ttl else 0.5)
        odd += [f"{lab}: crash → VIP on b took {x * 1000:.0f} ms (> {lim * 1000:.0f})"
                for x in r.get("crash_vip", []) if x > lim]
        odd += [f"{lab}: a's VIP went {x * 1000:.0f} ms after the cut (bound "
                f"{stop_bound(ttl, m) * 1000:.0f})" for x in r.get("cut_a_del", [])
                if x > stop_bound(ttl, m)]
        if (o := overlaps.get((lab, "cut"))) and o[1]:
            odd.append(f"{lab}: the VIP was on both nodes in {o[1]} samples of the cut")
    if odd + notes:
        L += [""] + [f"- {n}" for n in odd + notes]
    return "\n".join(L)


BEGIN, END = "<!-- arbiter results: written by bench/arbiter.py -->", "<!-- /arbiter results -->"


def write_doc(text):
    """Replaces the arbiter results in docs/benchmark.md, keeping the prose around."""
    bench.write_section(BEGIN, END, "## The etcd arbiter (issue 14)\n\n", text,
                        "arbiter results")
