#!/usr/bin/env python3
"""Helper for capture.sh: pull one VRRP advert out of a tcpdump pcap and print it as a
golden hex file (header comments, then the VRRP message as hex, 16 bytes a line).

Also: --has-priority0 (exit status says whether the pcap holds a priority-0 advert) and
--derive-v2style FILE (rewrite a captured v3 IPv4 file with the checksum computed over the
VRRP message alone, as keepalived's later v3_checksum_as_v2 option does)."""
import argparse
import ipaddress
import struct
import sys


def packets(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        sys.exit(f"unexpected link type {linktype}")
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[off : off + 16])
        frame = data[off + 16 : off + 16 + caplen]
        off += 16 + caplen
        ethertype = struct.unpack(">H", frame[12:14])[0]
        ip = frame[14:]
        if ethertype == 0x0800:
            ihl = (ip[0] & 0x0F) * 4
            total = struct.unpack(">H", ip[2:4])[0]
            yield dict(src=ipaddress.ip_address(ip[12:16]), dst=ipaddress.ip_address(ip[16:20]),
                       ttl=ip[8], vrrp=ip[ihl:total])
        elif ethertype == 0x86DD:
            plen = struct.unpack(">H", ip[4:6])[0]
            yield dict(src=ipaddress.ip_address(ip[8:24]), dst=ipaddress.ip_address(ip[24:40]),
                       ttl=ip[7], vrrp=ip[40 : 40 + plen])


def ones_complement(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(">%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def hexlines(b):
    return "\n".join(" ".join("%02x" % x for x in b[i : i + 16]) for i in range(0, len(b), 16))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pcap")
    ap.add_argument("--conf")
    ap.add_argument("--name")
    ap.add_argument("--version")
    ap.add_argument("--pick", choices=["first", "priority0"], default="first")
    ap.add_argument("--has-priority0", action="store_true")
    ap.add_argument("--derive-v2style")
    a = ap.parse_args()

    if a.derive_v2style:
        header, body = [], []
        for line in open(a.derive_v2style):
            (header if line.startswith("#") else body).append(line.rstrip("\n"))
        vrrp = bytearray(bytes.fromhex(" ".join(body)))
        vrrp[6:8] = b"\0\0"
        vrrp[6:8] = struct.pack(">H", ones_complement(bytes(vrrp)))
        print("# DERIVED, not captured: keepalived 2.2.7 has no v3_checksum_as_v2 option.")
        print("# Same advert as v3_ipv4_mcast.hex with the checksum recomputed over the VRRP")
        print("# message alone (no IPv4 pseudo-header), by pcap2hex.py --derive-v2style.")
        print("# case: v3_ipv4_mcast_checksum_as_v2")
        for h in header:
            if not h.startswith("# case:"):
                print(h)
        print(hexlines(vrrp))
        return

    pkts = list(packets(a.pcap))
    if a.has_priority0:
        sys.exit(0 if any(len(p["vrrp"]) > 2 and p["vrrp"][2] == 0 for p in pkts) else 1)

    if a.pick == "priority0":
        chosen = next(p for p in pkts if p["vrrp"][2] == 0)
    else:
        chosen = pkts[0]
    print(f"# Captured from {a.version} by tests/data/wire/capture.sh")
    print(f"# case: {a.name}")
    print(f"# src: {chosen['src']}")
    print(f"# dst: {chosen['dst']}")
    print(f"# ttl: {chosen['ttl']}")
    print("# config:")
    for line in open(a.conf):
        print("#   " + line.rstrip("\n"))
    print(hexlines(chosen["vrrp"]))


main()
