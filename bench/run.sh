#!/bin/sh
# Failover benchmark, keepalived pair against baton pair: see bench/README.md.
# Usage (as root): bench/run.sh [--quick] [--reps N] [--idle SECONDS] [--only timing|idle|link|handover|sync|web|arbiter]
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root (namespaces, raw sockets)" >&2; exit 1; }
for tool in keepalived tcpdump ip python3 flock; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
case " $* " in
*" sync "*) command -v rsync >/dev/null || { echo "missing: rsync, for the sync section" >&2; exit 1; } ;;
*" arbiter "*)
    for tool in etcd etcdctl nft; do
        command -v "$tool" >/dev/null || { echo "missing: $tool, for the arbiter section" >&2; exit 1; }
    done ;;
*" timing "*|*" idle "*|*" web "*) ;;
*) command -v nft >/dev/null || { echo "missing: nft (nftables), for the link section" >&2; exit 1; } ;;
esac
cargo build --release --quiet
case " $* " in
*" arbiter "*) cargo build --release --quiet --features etcd --target-dir target/bench-etcd ;;
esac
exec python3 bench/bench.py "$@"
