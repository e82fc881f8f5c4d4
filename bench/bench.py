#!/usr/bin/env python3
"""Failover benchmark: a keepalived pair against a baton pair, same scenarios, one machine.

Every timestamp comes from the system, never from an agent's log:
  - `ip -ts monitor address` in each namespace: when a VIP was added or deleted;
  - `tcpdump -tt` on the backup: when the master's last advert went by (kernel stamp);
  - the notify hook's own first action, bash's $EPOCHREALTIME (CLOCK_REALTIME);
  - this script's time.time() right before it kills or fails something.

Run as root via bench/run.sh (builds the release binary first). Prints one markdown
table and writes docs/benchmark.md.
"""

import argparse
import datetime as dt
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# BENCH_BATON: another build of baton to measure (bench/glibc.sh compares two).
BATON = os.environ.get("BENCH_BATON") or os.path.join(ROOT, "target", "release", "baton")
PRIO_HI, PRIO_LO = 200, 100
VIP = "10.0.0.100"


def sh(*args, check=True):
    r = subprocess.run(args, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stdout}{r.stderr}")
    return r.stdout


def skew(adv, prio=PRIO_LO):
    return (256 - prio) / 256 * adv


def master_down(adv, prio=PRIO_LO):
    return 3 * adv + skew(adv, prio)


# ---------------------------------------------------------------- network

class Net:
    """Two namespaces joined by `links` veth pairs (eth0..ethN-1)."""

    def __init__(self, tag, links=1):
        self.a = f"bb-{tag}-{os.getpid()}-a"
        self.b = f"bb-{tag}-{os.getpid()}-b"
        self.links = links
        for ns in (self.a, self.b):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        for i in range(links):
            sh("ip", "-n", self.a, "link", "add", f"eth{i}", "type", "veth",
               "peer", "name", f"eth{i}", "netns", self.b)
            for n, ns in enumerate((self.a, self.b)):
                sh("ip", "-n", ns, "addr", "add", f"10.{i}.0.{n + 1}/16", "dev", f"eth{i}")
                sh("ip", "-n", ns, "link", "set", f"eth{i}", "up")
        # The kernel reports a new veth's carrier up to a second late (linkwatch): start
        # the agents on links that are already up, as on a booted machine.
        for ns in (self.a, self.b):
            for i in range(links):
                wait(lambda: "state UP" in sh("ip", "-n", ns, "link", "show", f"eth{i}"), 5,
                     f"eth{i} up in {ns}")

    def close(self):
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def has(self, ns, addr=VIP):
        out = sh("ip", "-n", ns, "-o", "addr", "show")
        return f" {addr}/" in out

    def delete(self, ns, addr=VIP):
        subprocess.run(["ip", "-n", ns, "addr", "del", f"{addr}/16", "dev", "eth0"],
                       capture_output=True)


class AddrMonitor:
    """`ip -ts monitor address` in one namespace: [(t, 'add'|'del', addr)]."""

    LINE = re.compile(r"^\[(\S+)\] (Deleted )?\d+: \S+\s+inet6? ([0-9a-f.:]+)/")

    def __init__(self, ns):
        self.events = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(["ip", "-n", ns, "-ts", "monitor", "address"],
                                     stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            m = self.LINE.match(line)
            if not m:
                continue
            t = dt.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
            with self.lock:
                self.events.append((t, "del" if m.group(2) else "add", m.group(3)))

    def first(self, kind, after, addr=VIP):
        with self.lock:
            for t, k, a in self.events:
                if t >= after and k == kind and a == addr:
                    return t
        return None

    def close(self):
        self.proc.kill()
        self.proc.wait()


class AdvertSniffer:
    """tcpdump on the backup: kernel timestamps and priority of the master's adverts."""

    LINE = re.compile(r"^(\d+\.\d+) IP (\S+) > \S+ VRRPv\d, Advertisement, vrid (\d+), prio (\d+)")

    def __init__(self, ns, src):
        self.adverts = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, "tcpdump", "-l", "-n", "-tt", "--immediate-mode",
             "-i", "eth0", f"ip proto 112 and src host {src}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            m = self.LINE.match(line)
            if m:
                with self.lock:
                    self.adverts.append((float(m.group(1)), int(m.group(4))))

    def last_before(self, t):
        with self.lock:
            ts = [a for a, prio in self.adverts if a <= t and prio > 0]
        return ts[-1] if ts else None

    def first_after(self, t):
        with self.lock:
            ts = [a for a, prio in self.adverts if a >= t and prio > 0]
        return ts[0] if ts else None

    def count(self):
        with self.lock:
            return len(self.adverts)

    def close(self):
        self.proc.kill()
        self.proc.wait()


# ---------------------------------------------------------------- agents

HOOK = """#!/bin/bash
t=$EPOCHREALTIME
echo "$t $1 $2" >> {events}
"""

CHECK = """#!/bin/sh
test ! -e {dir}/fail-$1
"""


def config(kind, node, adv, version, dir_, n_links=1, per_link=1, hooks=True, check=None):
    """keepalived.conf for node 'a' (priority 200) or 'b' (100): both daemons read it."""
    prio = PRIO_HI if node == "a" else PRIO_LO
    out = [f"global_defs {{\n  router_id bench-{kind}-{node}\n"]
    if hooks or check:
        out.append("  script_user root\n  enable_script_security\n")
    out.append("}\n")
    if check:
        interval, fall = check
        out.append(f"vrrp_script health {{\n  script \"{dir_}/check.sh {node}\"\n"
                   f"  interval {interval}\n  fall {fall}\n  rise 1\n}}\n")
    for link in range(n_links):
        for k in range(per_link):
            vrid = k + 1
            idx = link * per_link + k
            vip = VIP if idx == 0 else f"10.{link}.{1 + k // 250}.{1 + k % 250}"
            out.append(f"vrrp_instance VI_{idx} {{\n  state BACKUP\n  interface eth{link}\n"
                       f"  virtual_router_id {vrid}\n  priority {prio}\n  advert_int {adv}\n"
                       f"  version {version}\n  virtual_ipaddress {{\n    {vip}/16\n  }}\n")
            if hooks and idx == 0:
                for st in ("master", "backup", "fault"):
                    out.append(f"  notify_{st} \"{dir_}/hook.sh {st} {node}\"\n")
            if check and idx == 0:
                out.append("  track_script {\n    health\n  }\n")
            out.append("}\n")
    return "".join(out)


class Agent:
    def __init__(self, kind, ns, node, dir_, conf, extra=()):
        """`extra`: more arguments for `baton run` (bench/link.py: --baton-conf FILE)."""
        self.kind, self.ns, self.node, self.dir = kind, ns, node, dir_
        self.seq = getattr(Agent, "_seq", 0)
        Agent._seq = self.seq + 1
        tag = f"{kind}-{node}-{self.seq}"
        path = os.path.join(dir_, f"{tag}.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.log = os.path.join(dir_, f"{tag}.log")
        self.sock = os.path.join(dir_, f"{tag}.sock")
        if kind == "baton":
            cmd = [BATON, "run"] + (["-D"] if os.environ.get("BENCH_KEEP") else []) + ["-f", path, "--socket", self.sock] + list(extra)
        else:
            p = lambda w: os.path.join(dir_, f"{tag}.{w}.pid")
            cmd = ["keepalived", "-n", "-l", "-D", "--vrrp", "-f", path, "-p", p("main"),
                   "-r", p("vrrp"), "-c", p("chk"), "-i", tag]
        with open(self.log, "w") as logf:
            self.proc = subprocess.Popen(["ip", "netns", "exec", ns] + cmd, stdout=logf,
                                         stderr=logf, stdin=subprocess.DEVNULL,
                                         start_new_session=True)

    def crash(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def term(self):
        self.proc.send_signal(signal.SIGTERM)

    def reap(self, limit=20):
        try:
            self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            pass
        self.crash()

    def pids(self):
        """Every process in the agent's session (keepalived: parent + VRRP child)."""
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[3]) == self.proc.pid:  # session id
                    out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
        return out

    def cpu_seconds(self):
        tck = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            except OSError:
                pass
        return total / tck

    def memory_kib(self):
        rss = pss = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Rss:"):
                            rss += int(line.split()[1])
                        elif line.startswith("Pss:"):
                            pss += int(line.split()[1])
            except OSError:
                pass
        return rss, pss


class Hooks:
    def __init__(self, path):
        self.path = path
        open(path, "w").close()

    def last(self, node):
        state = None
        with open(self.path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2] == node:
                    state = parts[1]
        return state

    def first(self, state, node, after):
        with open(self.path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[1] == state and parts[2] == node:
                    t = float(parts[0])
                    if t >= after:
                        return t
        return None


def wait(cond, limit, what):
    end = time.time() + limit
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.01)
    raise TimeoutError(what)


# ---------------------------------------------------------------- timing scenarios

class Pair:
    def __init__(self, kind, adv, version, check, tag):
        self.kind, self.adv, self.version, self.check = kind, adv, version, check
        self.net = Net(tag)
        self.dir = f"/run/baton-bench-{os.getpid()}-{tag}"
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        events = os.path.join(self.dir, "events")
        with open(os.path.join(self.dir, "hook.sh"), "w") as f:
            f.write(HOOK.format(events=events))
        # A compiled hook when a C compiler is there (the shell adds ~1 ms of start-up).
        hook_bin = os.path.join(self.dir, "hook")
        r = subprocess.run(["gcc", "-O2", "-static", f'-DEVENTS="{events}"', "-o", hook_bin,
                            os.path.join(ROOT, "bench", "hook.c")], capture_output=True)
        if r.returncode == 0:
            os.replace(hook_bin, os.path.join(self.dir, "hook.sh"))
        with open(os.path.join(self.dir, "check.sh"), "w") as f:
            f.write(CHECK.format(dir=self.dir))
        for s in ("hook.sh", "check.sh"):
            os.chmod(os.path.join(self.dir, s), 0o755)
        self.hooks = Hooks(events)
        self.mon = {n: AddrMonitor(ns) for n, ns in (("a", self.net.a), ("b", self.net.b))}
        self.sniff = AdvertSniffer(self.net.b, "10.0.0.1")
        self.agents = {}
        self.start("b")
        self.start("a")
        self.settle(time.time())

    def ns(self, node):
        return self.net.a if node == "a" else self.net.b

    def start(self, node):
        conf = config(self.kind, node, self.adv, self.version, self.dir, check=self.check)
        self.agents[node] = Agent(self.kind, self.ns(node), node, self.dir, conf)

    def settle(self, since):
        """Waits until a holds the VIP and b does not, both hooks agree (a's last was
        notify_master, b's notify_backup), with adverts flowing."""
        limit = 4 * master_down(self.adv) + 10
        wait(lambda: self.net.has(self.net.a) and not self.net.has(self.net.b), limit,
             f"{self.kind} adv {self.adv}: a master, b backup")
        wait(lambda: self.hooks.first("master", "a", since), limit, "notify_master on a")
        wait(lambda: self.hooks.last("a") == "master" and self.hooks.last("b") == "backup",
             limit, "a's last hook MASTER, b's BACKUP")
        # A few adverts from a before the next scenario.
        n = self.sniff.count()
        wait(lambda: self.sniff.count() >= n + 3, limit, "adverts from a")

    def recovery(self, since):
        """After a restarts (or recovers): overlap/gap of the VIP and the notify hooks."""
        self.settle(since)
        # The monitor's reader thread may lag the `ip addr` poll above.
        a_add = wait(lambda: self.mon["a"].first("add", since), 5, "a's VIP add event")
        b_del = wait(lambda: self.mon["b"].first("del", since), 5, "b releases the VIP")
        a_hook = self.hooks.first("master", "a", since)
        a_adv = self.sniff.first_after(since)
        b_hook = wait(lambda: self.hooks.first("backup", "b", since), 5, "notify_backup on b")
        return {
            "overlap": max(0.0, b_del - a_add),
            "gap": max(0.0, a_add - b_del),
            "hook_overlap": max(0.0, b_hook - a_hook),
            "vip_to_hook_a": a_hook - a_add,
            "advert_to_release": b_del - a_adv if a_adv else None,
            "advert_minus_vip": a_adv - a_add if a_adv else None,
        }

    def takeover(self, t0, limit):
        b_add = wait(lambda: self.mon["b"].first("add", t0), limit, "VIP on b")
        b_hook = wait(lambda: self.hooks.first("master", "b", t0), 5, "notify_master on b")
        return b_add, b_hook

    def crash_cycle(self):
        t0 = time.time()
        self.agents["a"].crash()
        b_add, b_hook = self.takeover(t0, master_down(self.adv) + 10)
        last = self.sniff.last_before(t0)
        self.net.delete(self.net.a)  # the crashed node reboots without its VIP
        r = {"takeover": b_add - t0, "vip_to_hook": b_hook - b_add,
             "from_last_advert": b_add - last if last else None}
        t1 = time.time()
        self.start("a")
        r["recovery"] = self.recovery(t1)
        return r

    def term_cycle(self):
        t0 = time.time()
        self.agents["a"].term()
        b_add, b_hook = self.takeover(t0, master_down(self.adv) + 10)
        a_del = self.mon["a"].first("del", t0)
        self.agents["a"].reap()
        r = {"takeover": b_add - t0, "vip_to_hook": b_hook - b_add,
             "gap": max(0.0, b_add - a_del) if a_del else None}
        t1 = time.time()
        self.start("a")
        r["recovery"] = self.recovery(t1)
        return r

    def health_cycle(self):
        fail = os.path.join(self.dir, "fail-a")
        t0 = time.time()
        open(fail, "w").close()
        b_add, b_hook = self.takeover(t0, master_down(self.adv) + 15)
        r = {"takeover": b_add - t0, "vip_to_hook": b_hook - b_add}
        t1 = time.time()
        os.unlink(fail)
        r["recovery"] = self.recovery(t1)
        return r

    def logs(self):
        return {n: open(a.log).read() for n, a in self.agents.items()}

    def close(self):
        for a in self.agents.values():
            a.crash()
        for m in self.mon.values():
            m.close()
        self.sniff.close()
        self.net.close()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


def timing(kind, adv, version, reps, check, results, notes):
    tag = f"{kind[0]}{str(adv).replace('.', '')}"
    try:
        pair = Pair(kind, adv, version, check, tag)
    except TimeoutError as e:
        notes.append(f"{kind} advert_int {adv}: did not settle ({e})")
        return
    key = (kind, adv)
    try:
        for i in range(reps):
            for name, fn in (("crash", pair.crash_cycle), ("term", pair.term_cycle),
                             ("health", pair.health_cycle)):
                try:
                    r = fn()
                except TimeoutError as e:
                    notes.append(f"{kind} advert_int {adv} {name} rep {i}: timed out ({e})")
                    raise
                except Exception as e:  # a measurement gap must not lose the whole run
                    notes.append(f"{kind} advert_int {adv} {name} rep {i}: skipped ({e!r})")
                    continue
                results.setdefault(key, {}).setdefault(name, []).append(r)
                rec = r["recovery"]
                fmt = lambda v: "-" if v is None else f"{v * 1000:.1f}"
                print(f"  {kind:10} adv {adv:<5} {name:6} rep {i}: takeover "
                      f"{fmt(r['takeover'])} ms, from last advert {fmt(r.get('from_last_advert'))}, "
                      f"vip->hook {fmt(r['vip_to_hook'])}; preempt overlap {fmt(rec['overlap'])}, "
                      f"a advert-vip {fmt(rec['advert_minus_vip'])}, "
                      f"a advert->b release {fmt(rec['advert_to_release'])}",
                      file=sys.stderr, flush=True)
    except TimeoutError:
        logs = pair.logs()
        for n, text in logs.items():
            tail = "\n".join(text.splitlines()[-15:])
            notes.append(f"{kind} adv {adv} node {n} log tail:\n```\n{tail}\n```")
    finally:
        pair.close()


# ---------------------------------------------------------------- idle resources

def idle(kind, links, per_link, seconds, tag):
    net = Net(tag, links)
    dir_ = f"/run/baton-bench-{os.getpid()}-{tag}"
    os.makedirs(dir_, exist_ok=True)
    agents = {}
    try:
        for node, ns in (("b", net.b), ("a", net.a)):
            conf = config(kind, node, 1, 2, dir_, links, per_link, hooks=False)
            agents[node] = Agent(kind, ns, node, dir_, conf)
        # All instances on a settle (master) before measuring.
        want = links * per_link
        wait(lambda: sh("ip", "-n", net.a, "-o", "-4", "addr", "show").count("/16 scope global")
             >= want + links, 60, f"{kind} {want} instances master")
        time.sleep(2)
        c0 = {n: a.cpu_seconds() for n, a in agents.items()}
        time.sleep(seconds)
        c1 = {n: a.cpu_seconds() for n, a in agents.items()}
        mem = {n: a.memory_kib() for n, a in agents.items()}
        alive = all(a.proc.poll() is None for a in agents.values())
        return {"cpu": {n: c1[n] - c0[n] for n in agents}, "mem": mem, "alive": alive}
    except TimeoutError as e:
        return {"error": str(e)}
    finally:
        for a in agents.values():
            a.crash()
        net.close()
        shutil.rmtree(dir_, ignore_errors=True)


# ---------------------------------------------------------------- report

def ms(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "–"
    xs = [x * 1000 for x in xs]
    return f"{statistics.median(xs):.1f} ({min(xs):.1f}–{max(xs):.1f})"


def report(results, resources, notes, args, started):
    L = []
    L.append(f"Run {started:%Y-%m-%d %H:%M} UTC on `{os.uname().nodename}`: "
             f"nproc {os.cpu_count()}, kernel {os.uname().release}, "
             f"keepalived {sh('keepalived', '--version', check=False).strip() or '2.2.7'}, "
             f"{args.reps} repetitions{' (quick)' if args.quick else ''}.")
    L.append("")
    L.append("Times in ms, median (min–max). Pair on one veth link, priorities 200/100, "
             "both `state BACKUP`, preempt on; backup's skew = 156/256 × advert_int.")
    L.append("")
    kinds = ["keepalived", "baton"]
    cols = [(k, adv) for adv in args.advs for k in kinds]
    L.append("| scenario | " + " | ".join(f"{k} {adv}s" for k, adv in cols) + " |")
    L.append("|---|" + "---|" * len(cols))

    def row(label, get):
        cells = []
        for key in cols:
            r = results.get(key, {})
            cells.append(ms(get(r)))
        L.append(f"| {label} | " + " | ".join(cells) + " |")

    def col(name, field, sub=None):
        def get(r):
            out = []
            for x in r.get(name, []):
                v = x.get(sub, {}).get(field) if sub else x.get(field)
                out.append(v)
            return out
        return get

    def bound(fn):
        L.append("| " + fn[0] + " | " + " | ".join(f"{fn[1](adv) * 1000:.1f}" for _, adv in cols) + " |")

    row("crash (SIGKILL) → VIP on backup", col("crash", "takeover"))
    row("… from master's last advert", col("crash", "from_last_advert"))
    bound(("… protocol bound: master-down interval", master_down))
    row("SIGTERM → VIP on backup", col("term", "takeover"))
    bound(("… protocol bound: skew time", skew))
    row("SIGTERM: gap (neither holds VIP)", col("term", "gap"))
    row("health check fails → VIP on backup", col("health", "takeover"))
    row("VIP added → notify_master started (takeovers)",
        lambda r: [x["vip_to_hook"] for n in ("crash", "term", "health") for x in r.get(n, [])])
    row("preempt: VIP overlap (both hold it)",
        lambda r: [x["recovery"]["overlap"] for n in ("crash", "term", "health") for x in r.get(n, [])])
    row("preempt: VIP gap (neither holds it)",
        lambda r: [x["recovery"]["gap"] for n in ("crash", "term", "health") for x in r.get(n, [])])
    row("preempt: both ran notify_master (new MASTER → old BACKUP hook)",
        lambda r: [x["recovery"]["hook_overlap"] for n in ("crash", "term", "health") for x in r.get(n, [])])
    row("preempt: new master's first advert → old master drops VIP",
        lambda r: [x["recovery"]["advert_to_release"] for n in ("crash", "term", "health") for x in r.get(n, [])])
    row("preempt: new master's first advert − its VIP added",
        lambda r: [x["recovery"]["advert_minus_vip"] for n in ("crash", "term", "health") for x in r.get(n, [])])
    row("preempt: VIP added → notify_master started",
        lambda r: [x["recovery"]["vip_to_hook_a"] for n in ("crash", "term", "health") for x in r.get(n, [])])
    L.append("")
    L.append(f"Health check: baton `interval {args.baton_check[0]} fall {args.baton_check[1]}`, "
             f"keepalived `interval {args.keepalived_check[0]} fall {args.keepalived_check[1]}` "
             "(its minimum interval); the script tests for a file the benchmark creates. "
             "The check failure makes the master FAULT, which sends priority 0.")
    L.append("")
    L.append(f"Idle resources over {args.idle}s, advert_int 1 (VRRPv2), pair on 4 veth links "
             "(1 instance: 1 link). Memory is the sum over every process of the agent "
             "(keepalived: parent + VRRP child) from /proc/PID/smaps_rollup. The five cases run at the same time, each pair in its own namespaces; CPU is utime + stime in clock ticks (10 ms).")
    L.append("")
    L.append("| agent | instances | master CPU s | backup CPU s | master RSS KiB | master PSS KiB | backup RSS KiB | backup PSS KiB |")
    L.append("|---|---|---|---|---|---|---|---|")
    for (kind, n), r in resources.items():
        if "error" in r:
            L.append(f"| {kind} | {n} | {r['error']} | | | | | |")
            continue
        L.append(f"| {kind} | {n} | {r['cpu']['a']:.2f} | {r['cpu']['b']:.2f} | "
                 f"{r['mem']['a'][0]} | {r['mem']['a'][1]} | {r['mem']['b'][0]} | {r['mem']['b'][1]} |"
                 + ("" if r.get("alive", True) else " (an agent died)"))
    if notes:
        L.append("")
        L.append("Notes:")
        L.append("")
        for n in notes:
            L.append(f"- {n}")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="2 repetitions, 10 s idle, fewer cells")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--idle", type=int, default=60)
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--only", choices=["timing", "idle", "link", "handover", "sync", "web",
                                       "arbiter"],
                    default=None,
                    help="link / handover / sync / web / arbiter run only when named "
                         "(bench/link.py, bench/handover.py, bench/sync.py, bench/web.py, "
                         "bench/arbiter.py)")
    ap.add_argument("--web-seconds", type=int, default=60,
                    help="seconds of 50 scrapes a second for --only web")
    ap.add_argument("--handover-runs", type=int, default=10,
                    help="runs per kind and column for --only handover")
    ap.add_argument("--advs", default="1,0.1,0.01", help="advert_int values, comma-separated")
    ap.add_argument("--agents", default="keepalived,baton", help="which agents to measure")
    args = ap.parse_args()
    if args.quick:
        args.reps, args.idle = 2, 10
    args.advs = [float(a) if "." in a else int(a) for a in args.advs.split(",")]
    args.baton_check = (0.1, 2)
    args.keepalived_check = (1, 2)
    started = dt.datetime.now(dt.timezone.utc)
    results, resources, notes = {}, {}, []

    if args.only == "link":
        run_link(args)
        return
    if args.only == "handover":
        import handover
        runs = 3 if args.quick else args.handover_runs
        advs = [a for a in args.advs if a in (1, 0.1)] or [0.1, 1]
        text = (f"Run {started:%Y-%m-%d %H:%M} UTC on `{os.uname().nodename}`, nproc "
                f"{os.cpu_count()}. " + handover.run(runs, sorted(advs)))
        print(text)
        if not args.no_write:
            handover.write_doc(text)
        return
    if args.only == "web":
        import web
        seconds = 15 if args.quick else args.web_seconds
        text = (f"Run {started:%Y-%m-%d %H:%M} UTC on `{os.uname().nodename}`: nproc "
                f"{os.cpu_count()}, kernel {os.uname().release}. " + web.run(seconds))
        print(text)
        if not args.no_write:
            web.write_doc(text)
        return
    if args.only == "arbiter":
        import arbiter
        etcd = sh("etcd", "--version", check=False).splitlines()
        text = (f"Run {started:%Y-%m-%d %H:%M} UTC on `{os.uname().nodename}`: nproc "
                f"{os.cpu_count()}, kernel {os.uname().release}, "
                f"{etcd[0] if etcd else 'etcd'}. " + arbiter.run(args.reps))
        print(text)
        if not args.no_write:
            arbiter.write_doc(text)
        return
    if args.only == "sync":
        import sync
        reps = 2 if args.quick else args.reps
        text = (f"Run {started:%Y-%m-%d %H:%M} UTC on `{os.uname().nodename}`: nproc "
                f"{os.cpu_count()}, kernel {os.uname().release}, "
                f"{' '.join(sh('rsync', '--version', check=False).split()[:3])}. " + sync.run(reps))
        print(text)
        if not args.no_write:
            sync.write_doc(text)
        return

    if args.only != "idle":
        for adv in args.advs:
            version = 2 if adv >= 1 else 3
            for kind in args.agents.split(","):
                reps = 1 if (args.quick and adv >= 1) else args.reps
                check = args.baton_check if kind == "baton" else args.keepalived_check
                print(f"timing {kind} advert_int {adv} (v{version})", file=sys.stderr, flush=True)
                timing(kind, adv, version, reps, check, results, notes)

    if args.only != "timing":
        cases = [("keepalived", 1, 1), ("baton", 1, 1), ("keepalived", 4, 50),
                 ("baton", 4, 50), ("baton", 4, 250)]
        cases = [c for c in cases if c[0] in args.agents.split(",")]
        out = {}
        threads = []
        print(f"idle resources ({args.idle}s, all cases at once)", file=sys.stderr, flush=True)
        for kind, links, per in cases:
            def run(kind=kind, links=links, per=per):
                out[(kind, links * per)] = idle(kind, links, per, args.idle,
                                                f"i{kind[0]}{links * per}")
            t = threading.Thread(target=run)
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        for kind, links, per in cases:
            resources[(kind, links * per)] = out[(kind, links * per)]

    text = report(results, resources, notes, args, started)
    print(text)
    if not args.no_write:
        write_doc(text)
    if args.only is None:
        run_link(args)


def run_link(args):
    """The link's section (bench/link.py), with its own markers in docs/benchmark.md."""
    import link
    started = dt.datetime.now(dt.timezone.utc)
    text = (f"Run {started:%Y-%m-%d %H:%M} UTC on `{os.uname().nodename}`: nproc "
            f"{os.cpu_count()}, {args.reps} repetitions.\n\n" + link.run(args))
    print(text)
    if not args.no_write:
        link.write_doc(text)


BEGIN, END = "<!-- results: written by bench/bench.py -->", "<!-- /results -->"


def write_section(begin, end, heading, text, what="results"):
    """Replaces the text between the markers `begin` and `end` in docs/benchmark.md,
    keeping the prose around it; a missing section is added at the end under `heading`."""
    path = os.path.join(ROOT, "docs", "benchmark.md")
    try:
        with open(path) as f:
            doc = f.read()
    except FileNotFoundError:
        doc = "# Benchmark: baton and keepalived\n"
    if begin not in doc or end not in doc:
        doc += f"\n{heading}{begin}\n{end}\n"
    head, rest = doc.split(begin, 1)
    tail = rest.split(end, 1)[1]
    with open(path, "w") as f:
        f.write(f"{head}{begin}\n{text}\n{end}{tail}")
    print(f"\n({what} written to {path})", file=sys.stderr)


def write_doc(text):
    """Replaces the results section of docs/benchmark.md, keeping the prose around it."""
    write_section(BEGIN, END, "", text)


if __name__ == "__main__":
    main()
