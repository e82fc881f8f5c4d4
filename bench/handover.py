"""Handover benchmark (issue 11): how long the service runs on both nodes, or on neither,
when mastership moves between two live nodes. baton linked, baton unlinked, keepalived.

The pair is the NeuronEX guide's: a priority 100 (`state MASTER`, preempt, a tracked
check), b priority 90 (`nopreempt`), unicast. The notify hooks drive a service stand-in
(the same as tests/e2e/handover.rs): a start takes 0.3 s, a stop 1.0 s, and one node's
requests are served in the order they were made. Every step of it is a line
`<CLOCK_REALTIME ns> <node> <phase> <label>` in one log for both nodes.

A node's service interval runs from the first action of its notify_master hook
(`start_req`) to the last action of its hook for leaving MASTER (`stop_end`). Overlap:
both nodes inside one; gap: neither, between the first covered instant and the last, in
the window from the trigger to the moment the handover is complete (the new node holds
the VIP and has started, the old one has no VIP and has stopped).

Run through bench/run.sh --only handover (or bench.py --only handover).
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

import bench
from bench import Net, sh, wait

VIP = bench.VIP
START_S, STOP_S = "0.3", "1.0"
KINDS = ["stop", "restart", "check", "recover", "demote", "demote-release",
         "promote", "promote-release"]
# keepalived has no operator commands.
KEEPALIVED_KINDS = KINDS[:4]
COLUMNS = [("baton", True), ("baton", False), ("keepalived", False)]
LEAVING = ("notify_backup", "notify_fault", "notify_stop")

SERVICE = """#!/bin/sh
if [ "$1" != --work ]; then
    echo "$(date +%s%N) $1 ${{3}}_req $2 $$" >> {log}
    exec setsid -f -w "$0" --work "$@" $$
fi
node=$2 label=$3 action=$4 id=$5
log={log}
q={dir}/$node
exec 9>>"$q.lock"
flock 9
t=$(cat "$q.next" 2>/dev/null || echo 0)
echo $((t + 1)) > "$q.next"
flock -u 9
while [ "$(cat "$q.done" 2>/dev/null || echo 0)" != "$t" ]; do sleep 0.005; done
trap 'echo $((t + 1)) > "$q.done"; exit 1' TERM INT HUP
echo "$(date +%s%N) $node ${{action}}_begin $label $id" >> "$log"
if [ "$action" = start ]; then sleep {start}; else sleep {stop}; fi
echo "$(date +%s%N) $node ${{action}}_end $label $id" >> "$log"
echo $((t + 1)) > "$q.done"
"""


def read_log(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) >= 5 and p[0].isdigit():
                    out.append((int(p[0]), p[1], p[2], p[3], p[4]))
    except FileNotFoundError:
        pass
    out.sort()
    return out


def intervals(lines, node, until, open_at="start_req"):
    """Service intervals of `node`: from `open_at` of a start (start_req: the interval;
    start_end: the service up) to the end of the first stop asked for after that start
    was (the job id ties an end to its request); same as tests/e2e/handover.rs."""
    asked = {i: t for t, n, phase, _, i in lines if n == node and phase.endswith("_req")}
    out, open_ = [], None
    for t, n, phase, _, i in lines:
        if n != node:
            continue
        if open_ is None and phase == open_at:
            open_ = (asked.get(i, t), t)
        elif open_ is not None and phase == "stop_end" and asked.get(i, t) >= open_[0]:
            out.append((open_[1], t))
            open_ = None
    if open_ is not None:
        out.append((open_[1], max(until, open_[1])))
    return out


def overlap_gap(nodes, lo, hi):
    """(overlap, gap) in ns within [lo, hi]; same arithmetic as tests/e2e/handover.rs."""
    edges = []
    for ivs in nodes:
        for s, e in ivs:
            s, e = max(s, lo), min(e, hi)
            if s < e:
                edges += [(s, 1), (e, -1)]
    edges.sort()
    overlap = gap = pending = 0
    depth, seen, at = 0, False, lo
    for t, d in edges:
        span = t - at
        if depth == 0 and seen:
            pending += span
        elif depth >= 2:
            overlap += span
        if d > 0 and depth == 0 and seen:
            gap += pending
            pending = 0
        depth += d
        seen = True
        at = t
    return overlap, gap


def self_test():
    assert overlap_gap([[(0, 100)], [(70, 500)]], 0, 500) == (30, 0)
    assert overlap_gap([[(0, 100)], [(140, 500)]], 0, 500) == (0, 40)
    assert overlap_gap([[(0, 100), (300, 400)], [(90, 250), (390, 600)]], 0, 600) == (20, 50)
    log = [(7, "a", "stop_req", "b", "1"), (10, "a", "start_req", "m", "2"),
           (11, "a", "stop_end", "b", "1"), (100, "a", "stop_req", "f", "3"),
           (200, "a", "stop_end", "f", "3"), (300, "a", "start_req", "m", "4")]
    assert intervals(log, "a", 1000) == [(10, 200), (300, 1000)]
    queued = [(0, "a", "start_req", "m", "1"), (5, "a", "stop_req", "b", "2"),
              (300, "a", "start_end", "m", "1"), (1300, "a", "stop_end", "b", "2")]
    assert intervals(queued, "a", 2000, "start_end") == [(300, 1300)]


class Pair:
    def __init__(self, kind, linked, adv, version, tag):
        self.kind, self.linked, self.adv, self.version = kind, linked, adv, version
        self.net = Net(tag)
        self.dir = f"/run/baton-bench-{os.getpid()}-{tag}"
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        self.log = os.path.join(self.dir, "service.log")
        open(self.log, "w").close()
        svc = os.path.join(self.dir, "svc.sh")
        with open(svc, "w") as f:
            f.write(SERVICE.format(log=self.log, dir=self.dir, start=START_S, stop=STOP_S))
        os.chmod(svc, 0o755)
        self.healthy = os.path.join(self.dir, "a-healthy")
        open(self.healthy, "w").close()
        self.addr = {"a": "10.0.0.1", "b": "10.0.0.2"}
        self.procs = {}
        self.start("a")
        wait(lambda: self.net.has(self.net.a), 30, f"{tag}: a master")
        self.start("b")
        if linked:
            self.approve()
        self.settle("a", 0)

    def ns(self, node):
        return self.net.a if node == "a" else self.net.b

    def sock(self, node):
        return os.path.join(self.dir, f"{node}.sock")

    def config(self, node):
        other = "b" if node == "a" else "a"
        svc = os.path.join(self.dir, "svc.sh")
        out = [f"global_defs {{\n  router_id ho-{node}\n  script_user root\n"
               "  enable_script_security\n}\n"]
        if node == "a":
            out.append(f"vrrp_script healthy {{\n  script \"/usr/bin/test -f {self.healthy}\"\n"
                       "  interval 1\n  fall 1\n  rise 1\n}\n")
        out.append(f"vrrp_instance VI_1 {{\n  state {'MASTER' if node == 'a' else 'BACKUP'}\n"
                   f"  interface eth0\n  virtual_router_id 51\n"
                   f"  priority {100 if node == 'a' else 90}\n"
                   f"  advert_int {self.adv}\n  version {self.version}\n")
        if node == "b":
            out.append("  nopreempt\n")
        out.append(f"  virtual_ipaddress {{\n    {VIP}/16\n  }}\n"
                   f"  unicast_src_ip {self.addr[node]}\n"
                   f"  unicast_peer {{\n    {self.addr[other]}\n  }}\n")
        if node == "a":
            out.append("  track_script {\n    healthy\n  }\n")
        for st, action in (("master", "start"), ("backup", "stop"), ("fault", "stop"),
                           ("stop", "stop")):
            out.append(f"  notify_{st} \"{svc} {node} notify_{st} {action}\"\n")
        out.append("}\n")
        return "".join(out)

    def start(self, node):
        conf = os.path.join(self.dir, f"{node}.conf")
        with open(conf, "w") as f:
            f.write(self.config(node))
        if self.kind == "baton":
            cmd = [bench.BATON, "run", "-f", conf, "--socket", self.sock(node),
                   "-p", os.path.join(self.dir, f"{node}.pid")]
            if self.linked:
                other = "b" if node == "a" else "a"
                bc = os.path.join(self.dir, f"{node}.baton.conf")
                with open(bc, "w") as f:
                    f.write(f"link {{\n    listen {self.addr[node]}\n"
                            f"    peer {self.addr[other]}\n"
                            f"    state_dir {self.dir}/state-{node}\n}}\n")
                cmd += ["--baton-conf", bc]
        else:
            p = lambda w: os.path.join(self.dir, f"{node}.{w}.pid")
            cmd = ["keepalived", "-n", "-l", "-D", "--vrrp", "-f", conf, "-p", p("main"),
                   "-r", p("vrrp"), "-c", p("chk"), "-i", f"ho-{node}"]
        logf = open(os.path.join(self.dir, f"{node}.log"), "a")
        self.procs[node] = subprocess.Popen(["ip", "netns", "exec", self.ns(node)] + cmd,
                                            stdout=logf, stderr=logf,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        logf.close()
        if self.kind == "baton":
            wait(lambda: self.status(node), 10, f"{node}: control socket")

    def baton(self, node, *args):
        return sh(bench.BATON, *args, "--socket", self.sock(node))

    def status(self, node):
        r = subprocess.run([bench.BATON, "status", "--json", "--socket", self.sock(node)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return None
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    def link(self, node):
        other = "b" if node == "a" else "a"
        st = self.status(node) or {}
        for p in (st.get("link") or {}).get("peers") or []:
            a = p.get("address", "")
            if a == self.addr[other] or a.startswith(self.addr[other] + ":"):
                return p.get("link")
        return None

    def approve(self):
        fp = {n: self.baton(n, "identity").splitlines()[0].removeprefix("SHA256 ")
              for n in ("a", "b")}
        wait(lambda: all((self.link(n) or "").startswith("pending") for n in ("a", "b")),
             10, "both keys seen")
        self.baton("a", "peer", "approve", fp["b"])
        self.baton("b", "peer", "approve", fp["a"])
        self.wait_link()

    def wait_link(self):
        try:
            wait(lambda: self.link("a") == "up" and self.link("b") == "up", 15, "link up")
        except TimeoutError:
            raise TimeoutError(f"link up (a sees {self.link('a')!r}, b sees {self.link('b')!r})")

    def settle(self, to, since, limit=30):
        frm = "b" if to == "a" else "a"

        def done():
            lines = [l for l in read_log(self.log) if l[0] >= since]
            mine = [l for l in lines if l[1] == to]
            theirs = [l for l in lines if l[1] == frm]
            started = mine and mine[-1][2] == "start_end" and mine[-1][3] == "notify_master"
            stopped = since == 0 or (theirs and theirs[-1][2] == "stop_end"
                                     and theirs[-1][3] in LEAVING)
            return (started and stopped and self.net.has(self.ns(to))
                    and not self.net.has(self.ns(frm)))
        wait(done, limit, f"{self.kind}: {to} master with the service, {frm} stopped")

    def handover(self, to, act):
        # Linked handovers start from a link that is up (a stopped node has none).
        if self.linked and all(p.poll() is None for p in self.procs.values()):
            self.wait_link()
        t0 = time.time_ns()
        act()
        self.settle(to, t0)
        t1 = time.time_ns()
        lines = read_log(self.log)
        ov, gap = overlap_gap([intervals(lines, n, t1) for n in ("a", "b")], t0, t1)
        up, _ = overlap_gap([intervals(lines, n, t1, "start_end") for n in ("a", "b")], t0, t1)
        return ov / 1e6, gap / 1e6, up / 1e6

    def term(self, node):
        p = self.procs[node]
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()

    def cycle(self):
        def unlink():
            os.unlink(self.healthy)

        def touch():
            open(self.healthy, "w").close()

        steps = [("stop", "b", lambda: self.term("a")),
                 ("restart", "a", lambda: self.start("a")),
                 ("check", "b", unlink),
                 ("recover", "a", touch)]
        if self.kind == "baton":
            steps += [("demote", "b", lambda: self.baton("a", "demote", "VI_1")),
                      ("demote-release", "a", lambda: self.baton("a", "release", "VI_1")),
                      ("promote", "b", lambda: self.baton("b", "promote", "VI_1")),
                      ("promote-release", "a", lambda: self.baton("b", "release", "VI_1"))]
        return {kind: self.handover(to, act) for kind, to, act in steps}

    def close(self):
        for p in self.procs.values():
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        self.net.close()
        if not (os.environ.get("BENCH_KEEP") or getattr(self, "keep", False)):
            shutil.rmtree(self.dir, ignore_errors=True)


def column(kind, linked, adv, version, runs, out, notes):
    tag = f"h{kind[0]}{'l' if linked else 'u'}{str(adv).replace('.', '')}"
    name = f"{kind} {'linked' if linked else 'unlinked'}" if kind == "baton" else kind
    res = {}
    pair = None
    try:
        pair = Pair(kind, linked, adv, version, tag)
        for i in range(runs):
            r = pair.cycle()
            for k, fig in r.items():
                res.setdefault(k, []).append(fig)
            print(f"  {name:15} adv {adv:<4} run {i} (overlap/gap/both up): " + ", ".join(
                f"{k} {ov:.0f}/{gap:.0f}/{up:.0f}" for k, (ov, gap, up) in r.items()),
                file=sys.stderr, flush=True)
    except Exception as e:  # a stuck pair must not lose the other columns
        notes.append(f"{name} advert_int {adv}: stopped after "
                     f"{len(next(iter(res.values()), []))} runs ({e!r})")
        print(f"  {name} adv {adv}: {e!r}", file=sys.stderr, flush=True)
        if pair:
            pair.keep = True
            for n in ("a", "b"):
                with open(os.path.join(pair.dir, f"{n}.log")) as f:
                    tail = f.read().splitlines()[-12:]
                notes.append(f"{name} adv {adv} node {n} log tail (kept in {pair.dir}):\n"
                             "```\n" + "\n".join(tail) + "\n```")
    finally:
        if pair:
            pair.close()
    out[(name, adv)] = res


def cell(xs, i):
    if not xs:
        return "–"
    v = [x[i] for x in xs]
    return f"{statistics.median(v):.0f} / {max(v):.0f}"


def run(runs, advs):
    """Every column for every advert_int; the columns of one advert_int run at the same
    time (each pair in its own namespaces). Returns the markdown section."""
    self_test()
    out, notes = {}, []
    for adv in advs:
        version = 2 if adv >= 1 else 3
        print(f"handover advert_int {adv} (v{version}), {runs} runs", file=sys.stderr,
              flush=True)
        threads = [threading.Thread(target=column,
                                    args=(k, l, adv, version, runs, out, notes))
                   for k, l in COLUMNS]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    names = ["baton linked", "baton unlinked", "keepalived"]
    L = [f"Handover, {runs} runs per kind, ms as median / worst. Service stand-in: start "
         f"{START_S} s, stop {STOP_S} s, one node's jobs in order. Overlap: both nodes "
         "inside a service interval (notify_master's start to the end of the leaving "
         "hook); gap: neither; both up: both services started and neither stopped yet.",
         ""]
    L.append("| advert_int | kind | " + " | ".join(f"{n} overlap | {n} gap" for n in names)
             + " |")
    L.append("|---|---|" + "---|---|" * len(names))
    for adv in advs:
        for k in KINDS:
            cells = []
            for n in names:
                xs = out.get((n, adv), {}).get(k, [])
                cells += [cell(xs, 0), cell(xs, 1)]
            L.append(f"| {adv} | {k} | " + " | ".join(cells) + " |")
    L.append("")
    L.append("| advert_int | kind | " + " | ".join(f"{n} both up" for n in names) + " |")
    L.append("|---|---|" + "---|" * len(names))
    for adv in advs:
        for k in KINDS:
            cells = [cell(out.get((n, adv), {}).get(k, []), 2) for n in names]
            L.append(f"| {adv} | {k} | " + " | ".join(cells) + " |")
    if notes:
        L.append("")
        L += [f"- {n}" for n in notes]
    return "\n".join(L)


BEGIN, END = "<!-- handover: written by bench/handover.py -->", "<!-- /handover -->"


def write_doc(text):
    """Replaces the handover results in docs/benchmark.md, keeping the prose around."""
    bench.write_section(BEGIN, END, "## Handover\n\n", text, "handover results")
