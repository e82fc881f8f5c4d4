#!/usr/bin/env bash
# Installs what baton's tests need (keepalived, iproute2, tcpdump, nftables: the link
# tests drop its TCP port inside a namespace; chromium: the status page's test;
# etcd-server, etcd-client and protobuf-compiler, libprotobuf-dev: the arbiter's) and runs
# every test:
# formatting, lints, unit tests, the protocol simulation, and the network-namespace
# end-to-end and interop tests, then tests/packaging.sh, which installs its own tools
# (cargo-deb, cargo-generate-rpm, rpm, debootstrap; Zig and cargo-zigbuild from the
# Python package index). Run as root: the namespace tests need it.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ip >/dev/null || need+=(iproute2)
command -v keepalived >/dev/null || need+=(keepalived)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v nft >/dev/null || need+=(nftables)
# The status page's test (tests/e2e_web_page.rs) loads it in a headless Chromium; its
# libfontconfig1 brings a font (fonts-dejavu-core) for the screenshots.
command -v chromium >/dev/null || need+=(chromium)
# The arbiter's tests (tests/e2e_arbiter.rs) run a real etcd
# cluster; the etcd client crate compiles etcd's protocol files with protoc.
command -v etcd >/dev/null || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
command -v protoc >/dev/null || need+=(protobuf-compiler)
[ -f /usr/include/google/protobuf/descriptor.proto ] || need+=(libprotobuf-dev)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "tests/all.sh: missing ${need[*]}; run as root so they can be installed" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

cargo fmt --check
# Without the etcd client (the default build) and with it (what the packages ship).
cargo clippy --all-targets --locked -- -D warnings
cargo clippy --all-targets --locked --features etcd -- -D warnings
cargo test --locked --all-targets --features etcd
# The link session's fuzz body on a generated corpus (cargo-fuzz needs nightly; this does not).
cargo test --locked --manifest-path fuzz/Cargo.toml --bin link_session
# The sync messages' decoder and the manifest check, the same way.
cargo test --locked --manifest-path fuzz/Cargo.toml --bin sync_messages
# The NeuronEX hook scripts against stub systemctl and docker.
bash contrib/neuronex/test-hooks.sh
bash tests/packaging.sh
