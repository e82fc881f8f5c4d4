#!/bin/bash
# Regenerates the golden VRRP adverts in this directory from the real keepalived.
#
# Run as root from anywhere: tests/data/wire/capture.sh
# Needs: keepalived, tcpdump, ip (iproute2), python3.
#
# For each case it starts keepalived in one of two fresh network namespaces joined by a veth
# pair (10.201.0.0/24 and fd00:b::/64, nothing leaves the namespaces), captures the adverts
# with tcpdump on the sending side and stores one advert per case as hex: the VRRP message
# (the IP payload), preceded by '#' header lines giving the keepalived version, the case's
# config and the carrying packet's source and destination. The tests read those files; they
# never run keepalived.
set -euo pipefail

OUT=$(cd "$(dirname "$0")" && pwd)
NS_A="baton-wirecap-a-$$"
NS_B="baton-wirecap-b-$$"
WORK=$(mktemp -d /tmp/baton-wirecap.XXXXXX)
KA_PID=""
TD_PID=""

cleanup() {
    # Keep going past failures: every piece gets its own attempt.
    [ -n "$KA_PID" ] && kill "$KA_PID" 2>/dev/null || true
    [ -n "$TD_PID" ] && kill "$TD_PID" 2>/dev/null || true
    sleep 0.2
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# Poll a condition with a deadline instead of sleeping a fixed time.
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        if [ $SECONDS -ge $deadline ]; then echo "timed out waiting for: $*" >&2; return 1; fi
        sleep 0.1
    done
}

ip netns add "$NS_A"
ip netns add "$NS_B"
for ns in "$NS_A" "$NS_B"; do
    # No duplicate address detection, so IPv6 addresses (and link-local sources) are usable
    # at once.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip -n "$ns" link set lo up
done
ip -n "$NS_A" link add va type veth peer name vb netns "$NS_B"
ip -n "$NS_A" link set va address 02:00:00:00:0b:01
ip -n "$NS_B" link set vb address 02:00:00:00:0b:02
ip -n "$NS_A" addr add 10.201.0.1/24 dev va
ip -n "$NS_A" addr add fd00:b::1/64 dev va nodad
ip -n "$NS_B" addr add 10.201.0.2/24 dev vb
ip -n "$NS_B" addr add fd00:b::2/64 dev vb nodad
ip -n "$NS_A" link set va up
ip -n "$NS_B" link set vb up

KA_VERSION=$(keepalived --version 2>&1 | head -n1)

pcap_count() { # file -> number of VRRP packets in it
    tcpdump -nn -r "$1" 2>/dev/null | wc -l
}
have_packets() { [ "$(pcap_count "$1")" -ge "$2" ]; }
listening() { grep -q "listening on" "$1" 2>/dev/null; }

# run_case NAME STOP(yes|no): config on stdin.
run_case() {
    local name=$1 stop=$2
    local conf="$WORK/$name.conf" pcap="$WORK/$name.pcap"
    cat > "$conf"
    ip netns exec "$NS_A" tcpdump -U -nn -i va -w "$pcap" 'ip proto 112 or ip6 proto 112' \
        2> "$WORK/$name.tcpdump.log" &
    TD_PID=$!
    wait_for 10 listening "$WORK/$name.tcpdump.log"
    ip netns exec "$NS_A" keepalived -n -l -D -P -f "$conf" \
        -p "$WORK/$name.pid" -r "$WORK/$name.vrrp.pid" > "$WORK/$name.keepalived.log" 2>&1 &
    KA_PID=$!
    wait_for 20 have_packets "$pcap" 3
    kill "$KA_PID"
    wait "$KA_PID" || true
    KA_PID=""
    # The stop case needs the priority-0 advert keepalived sends as it gives up mastership.
    if [ "$stop" = yes ]; then
        wait_for 10 have_priority_zero "$pcap"
    fi
    kill "$TD_PID"
    wait "$TD_PID" || true
    TD_PID=""
    python3 "$OUT/pcap2hex.py" --pcap "$pcap" --conf "$conf" --name "$name" \
        --version "$KA_VERSION" --pick "$([ "$stop" = yes ] && echo priority0 || echo first)" \
        > "$OUT/$name.hex"
    echo "captured $name"
}
have_priority_zero() { python3 "$OUT/pcap2hex.py" --pcap "$1" --has-priority0; }

run_case v2_mcast_pass no <<'CONF'
vrrp_instance VI_1 {
    version 2
    state MASTER
    interface va
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass s3cret
    }
    virtual_ipaddress {
        10.201.0.100/24
    }
}
CONF

run_case v2_mcast_noauth no <<'CONF'
vrrp_instance VI_1 {
    version 2
    state MASTER
    interface va
    virtual_router_id 7
    priority 100
    advert_int 3
    virtual_ipaddress {
        10.201.0.100/24
        10.201.0.101/24
    }
}
CONF

run_case v2_unicast no <<'CONF'
vrrp_instance VI_1 {
    version 2
    state MASTER
    interface va
    virtual_router_id 52
    priority 200
    advert_int 1
    unicast_src_ip 10.201.0.1
    unicast_peer {
        10.201.0.2
    }
    authentication {
        auth_type PASS
        auth_pass 12345678
    }
    virtual_ipaddress {
        10.201.0.110/24
    }
}
CONF

run_case v3_ipv4_mcast no <<'CONF'
vrrp_instance VI_1 {
    version 3
    state MASTER
    interface va
    virtual_router_id 60
    priority 120
    advert_int 0.05
    virtual_ipaddress {
        10.201.0.120/24
        10.201.0.121/24
        10.201.0.122/24
    }
}
CONF

run_case v3_ipv4_unicast no <<'CONF'
vrrp_instance VI_1 {
    version 3
    state MASTER
    interface va
    virtual_router_id 61
    priority 254
    advert_int 2.5
    unicast_src_ip 10.201.0.1
    unicast_peer {
        10.201.0.2
    }
    virtual_ipaddress {
        10.201.0.130/24
    }
}
CONF

run_case v3_ipv6_mcast no <<'CONF'
vrrp_instance VI_6 {
    version 3
    state MASTER
    interface va
    virtual_router_id 62
    priority 110
    advert_int 1
    virtual_ipaddress {
        fd00:b::100/64
        fd00:b::101/64
    }
}
CONF

run_case v3_ipv4_priority0 yes <<'CONF'
vrrp_instance VI_1 {
    version 3
    state MASTER
    interface va
    virtual_router_id 63
    priority 150
    advert_int 1
    virtual_ipaddress {
        10.201.0.140/24
    }
}
CONF

# keepalived 2.2.7's old_unicast_checksum: the pre-1.3.6 VRRPv3 unicast checksum, kept as a
# record of what an old peer sends.
run_case v3_ipv4_unicast_oldchksum no <<'CONF'
vrrp_instance VI_1 {
    version 3
    state MASTER
    interface va
    virtual_router_id 64
    priority 150
    advert_int 1
    old_unicast_checksum
    unicast_src_ip 10.201.0.1
    unicast_peer {
        10.201.0.2
    }
    virtual_ipaddress {
        10.201.0.150/24
    }
}
CONF

# keepalived gained v3_checksum_as_v2 (VRRPv3 over IPv4 without the pseudo-header) after
# 2.2.7, so the installed keepalived cannot produce that case. It is derived from the captured
# v3 IPv4 multicast advert by recomputing the checksum over the VRRP message alone, and says
# so in its header.
python3 "$OUT/pcap2hex.py" --derive-v2style "$OUT/v3_ipv4_mcast.hex" > "$OUT/v3_ipv4_mcast_checksum_as_v2.hex"
echo "derived v3_ipv4_mcast_checksum_as_v2"
