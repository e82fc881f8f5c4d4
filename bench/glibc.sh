#!/usr/bin/env bash
# The packaged build (cargo zigbuild against glibc 2.17) against a plain `cargo build
# --release` on this machine: file size, the newest glibc each needs, and idle RSS/PSS of
# a baton pair with 1, 200 and 1,000 instances (bench/bench.py's idle cases, baton only).
# Usage (as root, from anywhere): bench/glibc.sh [--idle SECONDS] (default 10)
# Needs cargo-zigbuild and Zig on PATH (tests/packaging.sh installs both into
# target/packaging-tools/venv; this script adds that to PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root (namespaces, raw sockets)" >&2; exit 1; }
idle=10
[ "${1:-}" = --idle ] && idle=$2
export PATH="$PWD/target/packaging-tools/venv/bin:$PATH"
command -v cargo-zigbuild >/dev/null || { echo "missing cargo-zigbuild (see above)" >&2; exit 1; }

t=$(date +%s)
cargo build --release --locked --quiet
echo "cargo build --release: $(($(date +%s) - t)) s" >&2
t=$(date +%s)
cargo zigbuild --release --locked --quiet --target x86_64-unknown-linux-gnu.2.17
echo "cargo zigbuild --release: $(($(date +%s) - t)) s" >&2
native=target/release/baton
old=target/x86_64-unknown-linux-gnu/release/baton

floor() { bash tests/glibc-floor.sh "$1" 9.99 | grep -o 'needs glibc [0-9.]*' | cut -d' ' -f3; }
# The idle table rows for baton: | baton | instances | cpu a | cpu b | rss a | pss a | ...
idle_rows() {
    BENCH_BATON=$PWD/$1 python3 bench/bench.py --only idle --agents baton --idle "$idle" --no-write 2>/dev/null |
        grep '^| baton |'
}

echo "| build | file bytes | needs glibc |"
echo "|---|---|---|"
echo "| cargo build --release | $(stat -c %s "$native") | $(floor "$native") |"
echo "| cargo zigbuild, glibc 2.17 | $(stat -c %s "$old") | $(floor "$old") |"
echo
echo "Idle ${idle}s, pair on 4 veth links (1 instance: 1 link), smaps_rollup of the master/backup:"
echo
echo "| build | instances | master CPU s | backup CPU s | master RSS KiB | master PSS KiB | backup RSS KiB | backup PSS KiB |"
echo "|---|---|---|---|---|---|---|---|"
idle_rows "$native" | sed 's/^| baton |/| native |/'
idle_rows "$old" | sed 's/^| baton |/| glibc 2.17 |/'
