#!/bin/bash
#
# Runs `keepalived -t` on every example config (and on
# packaging/keepalived.conf.example) and compares the exit status with the
# expected one below, so a change that breaks keepalived syntax is noticed.
# With BATON=/path/to/baton set, also runs `baton check -f` on each file,
# which must succeed for all of them.
#
# Needs root, iproute2 and keepalived. keepalived -t looks up interfaces and
# script paths, so it runs inside a throwaway network namespace holding
# eth0/eth1 (a veth pair), and `ip netns exec` bind-mounts
# /etc/netns/NAME/keepalived (the contrib/neuronex scripts) over
# /etc/keepalived. Both are removed on exit.
set -u
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd) || exit 2
ns="baton-examples-$$"
cleanup() {
    ip netns del "$ns" 2>/dev/null
    rm -rf -- "/etc/netns/$ns"
}
trap cleanup EXIT

if ! command -v keepalived >/dev/null; then
    echo "keepalived not installed"
    exit 2
fi
ip netns add "$ns" || exit 2
ip -n "$ns" link add eth0 type veth peer name eth1 || exit 2
ip -n "$ns" link set eth0 up && ip -n "$ns" link set eth1 up || exit 2
if [ -d /etc/keepalived ]; then
    mkdir -p "/etc/netns/$ns/keepalived" || exit 2
    install -m 0755 "$root"/contrib/neuronex/*.sh "/etc/netns/$ns/keepalived/" || exit 2
fi

# file, expected keepalived -t exit status and why
expected=(
    "examples/basic-multicast.conf 0"
    "examples/unicast-pair.conf 0"
    "examples/ipv6-v3.conf 0"
    "examples/sync-group.conf 0"
    "examples/gateway.conf 0"
    "packaging/keepalived.conf.example 0"
    "examples/neuronex/backup-fast.conf 0"
    # the guide's vrrp_garp_interval 0 / vrrp_gna_interval 0 are out of
    # keepalived's range, and the guide does not enable script security
    "examples/neuronex/master.conf 6"
    "examples/neuronex/backup.conf 6"
    # keepalived takes whole seconds only for a vrrp_script interval
    "examples/neuronex/master-fast.conf 5"
)

passed=0 failed=0
for entry in "${expected[@]}"; do
    file=${entry% *}
    want=${entry##* }
    rc=0
    out=$(ip netns exec "$ns" keepalived -t -f "$root/$file" 2>&1) || rc=$?
    if [ "$rc" = "$want" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL keepalived -t $file: exit $rc, expected $want"
        printf '%s\n' "$out" | sed 's/^/    /'
    fi
    if [ -n "${BATON:-}" ]; then
        if out=$(ip netns exec "$ns" "$BATON" check -f "$root/$file" 2>&1); then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            echo "FAIL baton check $file"
            printf '%s\n' "$out" | sed 's/^/    /'
        fi
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
