#!/usr/bin/env python3
"""The HTTP server's benchmark (issue 13): what serving /metrics costs a node.

One baton node alone in a namespace (bench.Net's node a; it becomes MASTER of every
instance), for 1 instance and for 200 (4 links x 50), each case a fresh process:

- off: no baton.conf (no server); VmRSS and Pss (smaps_rollup) sampled every second for
  `--web-idle` seconds after the node settled;
- on, idle: the same with `http { }` in baton.conf (127.0.0.1:9165);
- on, scraped: 50 scrapes a second of GET /metrics for `--web-seconds` seconds (default
  60), each on a new connection with `Connection: close`, by a scraper running inside the
  namespace; VmRSS sampled every second (growth: the mean of the last ten samples less the
  mean of the first ten), and each scrape's time from connect to the last byte, from
  which the median, p99 and maximum.

Run as root through bench/run.sh (`--only web`); bench.py's helpers are reused.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import bench
from bench import Agent, Net, config, sh, wait

PORT = 9165
RATE = 50

# The scraper, run with `ip netns exec NS python3 -c`: paced scrapes, one JSON line out.
SCRAPER = r"""
import json, socket, sys, time
rate, seconds, port = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
req = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
times, sizes, errors, codes = [], [], 0, {}
t0 = time.monotonic()
n = 0
while True:
    due = t0 + n / rate
    if due - t0 >= seconds:
        break
    now = time.monotonic()
    if due > now:
        time.sleep(due - now)
    n += 1
    start = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(req)
            buf = bytearray()
            while True:
                chunk = s.recv(262144)
                if not chunk:
                    break
                buf += chunk
        took = time.monotonic() - start
        code = buf[9:12].decode(errors="replace")
        codes[code] = codes.get(code, 0) + 1
        times.append(took)
        sizes.append(len(buf))
    except OSError:
        errors += 1
print(json.dumps({"times": times, "sizes": sizes, "errors": errors, "codes": codes,
                  "wall": time.monotonic() - t0}))
"""


def vm_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pss(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else float("nan")


def sample(pid, seconds):
    """VmRSS and Pss every second for `seconds`."""
    rss, ps = [], []
    end = time.time() + seconds
    while time.time() < end:
        rss.append(vm_rss(pid))
        ps.append(pss(pid))
        time.sleep(1)
    return rss, ps


def case(tag, links, per_link, http, scrape_seconds, idle_seconds):
    """One fresh node: settled, sampled idle, then (with the server) scraped."""
    net = Net(tag, links)
    dir_ = f"/run/baton-bench-{os.getpid()}-{tag}"
    os.makedirs(dir_, exist_ok=True)
    agent = None
    try:
        extra = []
        if http:
            path = os.path.join(dir_, "baton.conf")
            with open(path, "w") as f:
                f.write("http {\n}\n")
            extra = ["--baton-conf", path]
        conf = config("baton", "a", 1, 2, dir_, links, per_link, hooks=False)
        agent = Agent("baton", net.a, "a", dir_, conf, extra)
        want = links * per_link
        wait(lambda: sh("ip", "-n", net.a, "-o", "-4", "addr", "show").count("/16 scope global")
             >= want + links, 60, f"{want} instances master")
        time.sleep(3)
        pid = agent.proc.pid
        c0 = agent.cpu_seconds()
        rss, ps = sample(pid, idle_seconds)
        out = {"rss": statistics.median(rss), "pss": statistics.median(ps),
               "cpu_idle": (agent.cpu_seconds() - c0) / idle_seconds}
        if http and scrape_seconds:
            c1 = agent.cpu_seconds()
            scraper = subprocess.Popen(
                ["ip", "netns", "exec", net.a, sys.executable, "-c", SCRAPER, str(RATE),
                 str(scrape_seconds), str(PORT)], stdout=subprocess.PIPE, text=True)
            rss_s, _ = sample(pid, scrape_seconds)
            res = json.loads(scraper.communicate(timeout=scrape_seconds + 60)[0])
            out.update({
                "cpu_scraped": (agent.cpu_seconds() - c1) / scrape_seconds,
                "rss_first": statistics.mean(rss_s[:10]),
                "rss_last": statistics.mean(rss_s[-10:]),
                "rss_peak": max(rss_s),
                "scrapes": len(res["times"]), "errors": res["errors"], "codes": res["codes"],
                "rate": len(res["times"]) / res["wall"],
                "p50": pct(res["times"], 50), "p99": pct(res["times"], 99),
                "max": max(res["times"]) if res["times"] else float("nan"),
                "bytes": statistics.median(res["sizes"]) if res["sizes"] else 0,
                "hwm": hwm(pid),
            })
        out["alive"] = agent.proc.poll() is None
        return out
    except TimeoutError as e:
        return {"error": str(e)}
    finally:
        if agent:
            agent.crash()
        net.close()
        shutil.rmtree(dir_, ignore_errors=True)


def hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def report(res, seconds, idle):
    L = [f"One baton node alone (MASTER of every instance, advert_int 1), release build; "
         f"each row a fresh process. RSS is VmRSS, the median of one sample a second over "
         f"{idle} s once the node settled; Pss from smaps_rollup. Scraped: {RATE} scrapes a "
         f"second of GET /metrics for {seconds} s, each on a new connection, from inside "
         f"the namespace; the time is connect to last byte.", "",
         "| instances | server | RSS KiB | Pss KiB | RSS vs off KiB | CPU % |",
         "|---|---|---|---|---|---|"]
    for n in (1, 200):
        off = res.get((n, "off"), {})
        for mode in ("off", "on"):
            r = res.get((n, mode), {})
            if "error" in r or not r:
                L.append(f"| {n} | {mode} | {r.get('error', 'not run')} | | | |")
                continue
            delta = r["rss"] - off.get("rss", r["rss"])
            L.append(f"| {n} | {mode}, idle | {r['rss']:.0f} | {r['pss']:.0f} | "
                     f"{delta:+.0f} | {100 * r['cpu_idle']:.2f} |")
            if mode == "on" and "scrapes" in r:
                d = r["rss_peak"] - off.get("rss", r["rss_peak"])
                L.append(f"| {n} | on, {r['rate']:.1f} scrapes/s | {r['rss_last']:.0f} (peak "
                         f"{r['rss_peak']:.0f}) | | {d:+.0f} (peak) | "
                         f"{100 * r['cpu_scraped']:.2f} |")
    L += ["", "| instances | scrapes | errors | answers | body bytes | median ms | p99 ms | "
              "max ms | RSS first 10 s → last 10 s KiB | VmHWM KiB |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for n in (1, 200):
        r = res.get((n, "on"), {})
        if "scrapes" not in r:
            continue
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(r["codes"].items()))
        L.append(f"| {n} | {r['scrapes']} | {r['errors']} | {codes} | {r['bytes']:.0f} | "
                 f"{1000 * r['p50']:.2f} | {1000 * r['p99']:.2f} | {1000 * r['max']:.2f} | "
                 f"{r['rss_first']:.0f} → {r['rss_last']:.0f} "
                 f"({r['rss_last'] - r['rss_first']:+.0f}) | {r['hwm']} |")
    return "\n".join(L)


BEGIN, END = "<!-- web results: written by bench/web.py -->", "<!-- /web results -->"


def write_doc(text):
    """Replaces the web results in docs/benchmark.md, keeping the prose around."""
    bench.write_section(BEGIN, END, "## Metrics and status page (issue 13)\n\n", text,
                        "web results")


def run(seconds=60, idle=10):
    """bench.py's `web` section: returns the report text."""
    res = {}
    for n, (links, per) in ((1, (1, 1)), (200, (4, 50))):
        for mode in ("off", "on"):
            print(f"web: {n} instance(s), server {mode}", file=sys.stderr, flush=True)
            res[(n, mode)] = case(f"w{n}{mode}", links, per, mode == "on", seconds, idle)
            print(f"  {res[(n, mode)]}", file=sys.stderr, flush=True)
    return report(res, seconds, idle)


if __name__ == "__main__":
    print(run(int(sys.argv[1]) if len(sys.argv) > 1 else 60))
