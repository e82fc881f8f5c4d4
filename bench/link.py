#!/usr/bin/env python3
"""The link's benchmark (issue 10): what linking two baton nodes costs, and that VRRP
does not wait on it.

- idle: RSS (smaps_rollup) and CPU (utime + stime) of a linked baton pair against an
  unlinked one, 1 and 200 instances, all four pairs at once;
- start to linked: both nodes started at once, identities made earlier and trusted in
  baton.conf (`trust FP`); time until each shows the other `up` (control socket polled
  every 10 ms);
- crash (SIGKILL) and SIGTERM takeover of an unlinked pair, a linked pair, and a linked
  pair whose link port is dropped (nftables in both namespaces), with bench.py's
  measurement (`ip monitor` for the VIP on the backup).

Run through bench/run.sh (`--only link`, or as part of the full run); bench.py's helpers
(namespaces, agents, monitors) are reused as they are.
"""

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

import bench
from bench import Agent, Net, Pair, config, sh, wait

PORT = 7411


def control(sock, req, timeout=5):
    """One JSON request line to a baton control socket; the parsed answer or None."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(sock)
            s.sendall((json.dumps(req) + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        return json.loads(buf)
    except (OSError, ValueError):
        return None


def link_state(sock, peer):
    """The link state baton shows for `peer` (`up`, `down`, ...), or None."""
    st = control(sock, {"cmd": "status"})
    if not st:
        return None
    for row in st.get("link", {}).get("peers", []):
        addr = row.get("address", "")
        if addr == peer or addr.startswith(peer + ":"):
            return row.get("link")
    return None


def fingerprint(sock):
    r = control(sock, {"cmd": "identity"})
    return r.get("fingerprint") if r and r.get("result") == "identity" else None


def anon_kib(agent):
    """Anonymous memory (heap, stacks) of an agent's processes, KiB: the part of RSS that
    is the daemon's own data rather than mapped code."""
    total = 0
    for pid in agent.pids():
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Anonymous:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def link_conf(me, peer, state_dir, trust=None):
    lines = [f"link {{\n    listen {me}\n    peer {peer}\n    state_dir {state_dir}\n"]
    if trust:
        lines.append(f"    trust {trust}\n")
    lines.append("}\n")
    return "".join(lines)


ADDR = {"a": "10.0.0.1", "b": "10.0.0.2"}
OTHER = {"a": "b", "b": "a"}


class Link:
    """The link side of a pair in namespaces `ns` (node -> namespace), files under `dir_`:
    makes both identities once, then writes each node's baton.conf trusting the other."""

    def __init__(self, ns, dir_):
        self.ns, self.dir = ns, dir_
        self.fp = {}
        for node in ("a", "b"):
            path = self.conf_path(node)
            with open(path, "w") as f:
                f.write(link_conf(ADDR[node], ADDR[OTHER[node]], self.state(node)))
            conf = config("baton", node, 1, 2, dir_, hooks=False)
            agent = Agent("baton", ns[node], node, dir_, conf, ["--baton-conf", path])
            try:
                self.fp[node] = wait(lambda: fingerprint(agent.sock), 10, f"{node}'s identity")
            finally:
                agent.crash()
        for node in ("a", "b"):
            with open(self.conf_path(node), "w") as f:
                f.write(link_conf(ADDR[node], ADDR[OTHER[node]], self.state(node),
                                  trust=self.fp[OTHER[node]]))

    def state(self, node):
        return os.path.join(self.dir, f"state-{node}")

    def conf_path(self, node):
        return os.path.join(self.dir, f"{node}.baton.conf")

    def args(self, node):
        return ["--baton-conf", self.conf_path(node)]


def linked(agents):
    return all(link_state(agents[n].sock, ADDR[OTHER[n]]) == "up" for n in ("a", "b"))


def block(ns):
    rules = (f"table inet bench_block {{ chain i {{ type filter hook input priority 0; "
             f"tcp dport {PORT} drop; tcp sport {PORT} drop; }}; chain o {{ type filter hook "
             f"output priority 0; tcp dport {PORT} drop; tcp sport {PORT} drop; }}; }}")
    sh("ip", "netns", "exec", ns, "nft", rules)


# ---------------------------------------------------------------- idle and start to linked

def idle(links, per_link, seconds, tag, with_link):
    net = Net(tag, links)
    dir_ = f"/run/baton-bench-{os.getpid()}-{tag}"
    os.makedirs(dir_, exist_ok=True)
    ns = {"a": net.a, "b": net.b}
    agents = {}
    try:
        link = Link(ns, dir_) if with_link else None
        t0 = time.time()
        for node in ("b", "a"):
            conf = config("baton", node, 1, 2, dir_, links, per_link, hooks=False)
            extra = link.args(node) if link else []
            agents[node] = Agent("baton", ns[node], node, dir_, conf, extra)
        to_linked = None
        if link:
            wait(lambda: linked(agents), 60, "linked")
            to_linked = time.time() - t0
        want = links * per_link
        wait(lambda: sh("ip", "-n", net.a, "-o", "-4", "addr", "show").count("/16 scope global")
             >= want + links, 60, f"{want} instances master")
        time.sleep(2)
        c0 = {n: a.cpu_seconds() for n, a in agents.items()}
        time.sleep(seconds)
        c1 = {n: a.cpu_seconds() for n, a in agents.items()}
        mem = {n: a.memory_kib() for n, a in agents.items()}
        anon = {n: anon_kib(a) for n, a in agents.items()}
        still = linked(agents) if link else None
        alive = all(a.proc.poll() is None for a in agents.values())
        return {"cpu": {n: c1[n] - c0[n] for n in agents}, "mem": mem, "anon": anon, "alive": alive,
                "to_linked": to_linked, "still_linked": still}
    except TimeoutError as e:
        return {"error": str(e)}
    finally:
        for a in agents.values():
            a.crash()
        net.close()
        shutil.rmtree(dir_, ignore_errors=True)


def start_to_linked(reps, tag, notes):
    """Both nodes started together `reps` times (identities kept); seconds to linked.
    A run that does not link within 30 s goes to `notes` with the link states and logs."""
    net = Net(tag)
    dir_ = f"/run/baton-bench-{os.getpid()}-{tag}"
    os.makedirs(dir_, exist_ok=True)
    ns = {"a": net.a, "b": net.b}
    out = []
    try:
        link = Link(ns, dir_)
        for _ in range(reps):
            agents = {}
            t0 = time.time()
            for node in ("b", "a"):
                conf = config("baton", node, 1, 2, dir_, hooks=False)
                agents[node] = Agent("baton", ns[node], node, dir_, conf, link.args(node))
            try:
                wait(lambda: linked(agents), 30, "linked")
                out.append(time.time() - t0)
            except TimeoutError:
                states = {n: link_state(agents[n].sock, ADDR[OTHER[n]]) for n in agents}
                tails = {n: "\n".join(open(a.log).read().splitlines()[-8:])
                         for n, a in agents.items()}
                notes.append(f"start to linked, run {len(out) + 1}: not linked after 30 s, "
                             f"states {states}; log tails:\n```\n{tails['a']}\n--\n"
                             f"{tails['b']}\n```")
            finally:
                for a in agents.values():
                    a.crash()
    finally:
        net.close()
        shutil.rmtree(dir_, ignore_errors=True)
    return out


# ---------------------------------------------------------------- takeover

class LinkPair(Pair):
    """bench.Pair with a link block on both nodes; `blocked`: the link port is dropped in
    both namespaces from the start, so the link never comes up."""

    def __init__(self, adv, version, tag, blocked=False):
        self.blocked = blocked
        self.link = None
        super().__init__("baton", adv, version, None, tag)

    def start(self, node):
        if self.link is None:
            self.link = Link({"a": self.net.a, "b": self.net.b}, self.dir)
            if self.blocked:
                block(self.net.a)
                block(self.net.b)
        conf = config("baton", node, self.adv, self.version, self.dir)
        self.agents[node] = Agent("baton", self.ns(node), node, self.dir, conf,
                                  self.link.args(node))

    def settle(self, since):
        super().settle(since)
        if self.blocked:
            assert not linked(self.agents), "linked through a dropped port"
        else:
            wait(lambda: linked(self.agents), 45, "linked before the next scenario")


def takeover(mode, adv, reps, notes):
    """crash and SIGTERM cycles; {'crash': [s...], 'term': [s...]}."""
    version = 2 if adv >= 1 else 3
    tag = f"l{mode[0]}{str(adv).replace('.', '')}"
    try:
        if mode == "unlinked":
            pair = Pair("baton", adv, version, None, tag)
        else:
            pair = LinkPair(adv, version, tag, blocked=(mode == "blocked"))
    except (TimeoutError, AssertionError) as e:
        notes.append(f"{mode} advert_int {adv}: did not settle ({e})")
        return {}
    out = {"crash": [], "term": []}
    try:
        for i in range(reps):
            for name, fn in (("crash", pair.crash_cycle), ("term", pair.term_cycle)):
                try:
                    r = fn()
                except (TimeoutError, AssertionError) as e:
                    notes.append(f"{mode} advert_int {adv} {name} rep {i}: {e!r}")
                    continue
                out[name].append(r["takeover"])
                print(f"  {mode:9} adv {adv:<4} {name:5} rep {i}: {r['takeover'] * 1000:.1f} ms",
                      file=sys.stderr, flush=True)
    finally:
        pair.close()
    return out


# ---------------------------------------------------------------- report

def report(idle_res, starts, times, advs, seconds, notes):
    L = ["### Idle cost of the link", ""]
    L.append(f"Idle {seconds} s, advert_int 1 (VRRPv2), 1 instance on one veth link or 200 on "
             "4 links; the four pairs run at once. RSS/PSS in KiB from smaps_rollup, CPU in "
             "seconds (utime + stime, 10 ms ticks).")
    L.append("")
    L.append("| instances | link | master CPU s | backup CPU s | master RSS | master PSS | "
             "master anon | backup RSS | backup PSS | backup anon | start → linked s |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for (n, with_link), r in sorted(idle_res.items()):
        label = "linked" if with_link else "none"
        if "error" in r:
            L.append(f"| {n} | {label} | {r['error']} | | | | | | | | |")
            continue
        tl = f"{r['to_linked']:.2f}" if r.get("to_linked") is not None else "–"
        L.append(f"| {n} | {label} | {r['cpu']['a']:.2f} | {r['cpu']['b']:.2f} | "
                 f"{r['mem']['a'][0]} | {r['mem']['a'][1]} | {r['anon']['a']} | "
                 f"{r['mem']['b'][0]} | {r['mem']['b'][1]} | {r['anon']['b']} | {tl} |"
                 + ("" if r.get("alive", True) else " (a daemon died)")
                 + (" (link fell during the idle time)" if r.get("still_linked") is False else ""))
    for n in sorted({k[0] for k in idle_res}):
        on, off = idle_res.get((n, True), {}), idle_res.get((n, False), {})
        if "mem" in on and "mem" in off:
            d = [on["mem"][x][0] - off["mem"][x][0] for x in ("a", "b")]
            da = [on["anon"][x] - off["anon"][x] for x in ("a", "b")]
            L.append("")
            L.append(f"{n} instance(s): the link adds {d[0]} KiB RSS on the master "
                     f"({da[0]} KiB of it anonymous) and {d[1]} KiB on the backup "
                     f"({da[1]} KiB anonymous).")
    L.append("")
    if starts:
        xs = [x * 1000 for x in starts]
        L.append(f"Start to linked (both started at once, 1 instance, {len(xs)} runs): "
                 f"median {statistics.median(xs):.0f} ms ({min(xs):.0f}–{max(xs):.0f}).")
        L.append("")
    L.append("### Takeover with and without the link")
    L.append("")
    L.append("Times in ms to the VIP on the backup, median (min–max); `blocked`: the link's "
             "port dropped in both namespaces (nftables), so the link never comes up.")
    L.append("")
    cols = [(m, adv) for adv in advs for m in ("unlinked", "linked", "blocked")]
    L.append("| scenario | " + " | ".join(f"{m} {adv}s" for m, adv in cols) + " |")
    L.append("|---|" + "---|" * len(cols))
    for name, label in (("crash", "crash (SIGKILL) → VIP on backup"),
                        ("term", "SIGTERM → VIP on backup")):
        L.append(f"| {label} | " + " | ".join(bench.ms(times.get(k, {}).get(name, []))
                                               for k in cols) + " |")
    if notes:
        L += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(L)


BEGIN, END = "<!-- link results: written by bench/link.py -->", "<!-- /link results -->"


def write_doc(text):
    """Replaces the link results in docs/benchmark.md, keeping the prose around."""
    bench.write_section(BEGIN, END, "## The link (issue 10)\n\n", text, "link results")


def run(args):
    """bench.py's `link` section: returns the report text."""
    if not shutil.which("nft"):
        raise SystemExit("missing: nft (nftables), for the blocked-link cases")
    advs = [a for a in args.advs if a >= 0.1] or [0.1]
    reps = args.reps
    notes = []
    print(f"link: idle ({args.idle}s, four pairs at once)", file=sys.stderr, flush=True)
    idle_res, threads = {}, []
    for links, per in ((1, 1), (4, 50)):
        for with_link in (False, True):
            def go(links=links, per=per, with_link=with_link):
                idle_res[(links * per, with_link)] = idle(
                    links, per, args.idle, f"k{'l' if with_link else 'u'}{links * per}", with_link)
            t = threading.Thread(target=go)
            t.start()
            threads.append(t)
    for t in threads:
        t.join()
    print("link: start to linked", file=sys.stderr, flush=True)
    try:
        starts = start_to_linked(max(reps, 3), "ks", notes)
    except TimeoutError as e:
        notes.append(f"start to linked: {e}")
        starts = []
    times = {}
    for adv in advs:
        for mode in ("unlinked", "linked", "blocked"):
            print(f"link: takeover {mode} advert_int {adv}", file=sys.stderr, flush=True)
            times[(mode, adv)] = takeover(mode, adv, reps, notes)
    return report(idle_res, starts, times, advs, args.idle, notes)


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--idle", type=int, default=30)
    ap.add_argument("--advs", default="1,0.1")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    args.advs = [float(a) for a in args.advs.split(",")]
    text = run(args)
    print(text)
    if not args.no_write:
        write_doc(text)


if __name__ == "__main__":
    main()
