//! Announcements after taking over addresses: gratuitous ARP (IPv4) and unsolicited
//! neighbour advertisements (IPv6), sent on an AF_PACKET socket.
//!
//! Owns building these frames and putting them on one interface. It does not decide when
//! to send (the daemon schedules `garp_master_delay` / `repeat` / `refresh`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::IntoRawFd;
use std::time::Duration;

use pnet_datalink::{Channel, DataLinkSender, MacAddr, NetworkInterface};
use pnet_packet::MutablePacket;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
use pnet_packet::icmpv6::ndp::{
    MutableNdpOptionPacket, MutableNeighborAdvertPacket, NdpOptionTypes, NeighborAdvertFlags,
};
use pnet_packet::icmpv6::{Icmpv6Packet, Icmpv6Types};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv6::MutableIpv6Packet;
use socket2::{Domain, SockFilter, Socket, Type};

use super::{Error, Result};

/// The all-nodes multicast address unsolicited NAs go to (RFC 4861 section 7.2.6).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

const ETH_HDR: usize = 14;
const ARP_LEN: usize = 28;
const IPV6_HDR: usize = 40;
/// ICMPv6 NA header (4), flags + reserved (4), target (16), target link-layer option (8).
const NA_LEN: usize = 32;

/// Sends GARP / unsolicited NA on one interface.
pub struct Announcer {
    tx: Box<dyn DataLinkSender>,
    ifindex: u32,
    mac: [u8; 6],
    link_local: Option<Ipv6Addr>,
}

impl std::fmt::Debug for Announcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Announcer")
            .field("ifindex", &self.ifindex)
            .field("mac", &self.mac)
            .field("link_local", &self.link_local)
            .finish_non_exhaustive()
    }
}

impl Announcer {
    /// Opens the packet socket on interface `ifname`. `mac` is the sender hardware address
    /// (the interface's, see [`super::Netlink::link_by_name`]); `link_local` is the source
    /// of neighbour advertisements (`None`: each NA is sent from its own target address).
    pub fn open(ifname: &str, mac: [u8; 6], link_local: Option<Ipv6Addr>) -> Result<Announcer> {
        let ifindex = nix::net::if_::if_nametoindex(ifname)
            .map_err(|_| Error::NoSuchInterface(ifname.to_string()))?;
        // pnet binds its AF_PACKET socket to every protocol (ETH_P_ALL), so the kernel
        // would copy every frame on the interface into it. We only send: hand pnet our own
        // socket with a filter that accepts nothing and the smallest receive buffer.
        let sock = Socket::new(Domain::PACKET, Type::RAW, None)
            .map_err(|e| Error::io("socket(AF_PACKET)", e))?;
        // BPF "ret #0": keep zero bytes of every frame, i.e. drop it.
        sock.attach_filter(&[SockFilter::new(0x06, 0, 0, 0)])
            .map_err(|e| Error::io("SO_ATTACH_FILTER", e))?;
        sock.set_recv_buffer_size(0)
            .map_err(|e| Error::io("SO_RCVBUF", e))?;
        let iface = NetworkInterface {
            name: ifname.to_string(),
            description: String::new(),
            index: ifindex,
            mac: Some(MacAddr::from(mac)),
            ips: Vec::new(),
            flags: 0,
        };
        let config = pnet_datalink::Config {
            socket_fd: Some(sock.into_raw_fd()),
            promiscuous: false,
            read_buffer_size: 64,
            write_buffer_size: 256,
            // Sending is a synchronous call on the engine's thread: never wait long for
            // room in a full device queue; a dropped announcement is repeated anyway.
            write_timeout: Some(Duration::from_millis(20)),
            ..Default::default()
        };
        let tx = match pnet_datalink::channel(&iface, config)
            .map_err(|e| Error::io("AF_PACKET bind", e))?
        {
            Channel::Ethernet(tx, _rx) => tx,
            _ => {
                return Err(Error::Invalid(
                    "pnet returned a non-Ethernet channel".into(),
                ));
            }
        };
        Ok(Announcer {
            tx,
            ifindex,
            mac,
            link_local,
        })
    }

    fn send_frame(&mut self, frame: &[u8]) -> Result<()> {
        match self.tx.send_to(frame, None) {
            Some(r) => r.map_err(|e| Error::io("send frame", e)),
            None => Err(Error::Invalid("frame larger than the send buffer".into())),
        }
    }

    /// Sends one announcement per address: GARP for IPv4, unsolicited NA for IPv6.
    /// Every address is tried; the failures come back with their address.
    pub fn send_burst(&mut self, addrs: &[IpAddr]) -> Vec<(IpAddr, super::Error)> {
        let mut failed = Vec::new();
        for addr in addrs {
            let frame = match addr {
                IpAddr::V4(v4) => garp_frame(self.mac, *v4),
                IpAddr::V6(v6) => {
                    unsolicited_na_frame(self.mac, self.link_local.unwrap_or(*v6), *v6)
                }
            };
            if let Err(e) = self.send_frame(&frame) {
                failed.push((*addr, e));
            }
        }
        failed
    }

    /// `repeat` bursts, `interval` apart (keepalived's `garp_master_repeat` with
    /// `garp_interval`). Returns the failures of all bursts.
    pub async fn send_repeated(
        &mut self,
        addrs: &[IpAddr],
        repeat: u32,
        interval: Duration,
    ) -> Vec<(IpAddr, super::Error)> {
        let mut failed = Vec::new();
        for i in 0..repeat {
            if i > 0 {
                tokio::time::sleep(interval).await;
            }
            failed.extend(self.send_burst(addrs));
        }
        failed
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }
}

/// A gratuitous ARP request frame (Ethernet + ARP): sender = target = `vip`, from `mac`,
/// to the broadcast address.
pub fn garp_frame(mac: [u8; 6], vip: Ipv4Addr) -> Vec<u8> {
    let mut buf = vec![0u8; ETH_HDR + ARP_LEN];
    let src = MacAddr::from(mac);
    if let Some(mut eth) = MutableEthernetPacket::new(&mut buf) {
        eth.set_destination(MacAddr::broadcast());
        eth.set_source(src);
        eth.set_ethertype(EtherTypes::Arp);
        if let Some(mut arp) = MutableArpPacket::new(eth.payload_mut()) {
            arp.set_hardware_type(ArpHardwareTypes::Ethernet);
            arp.set_protocol_type(EtherTypes::Ipv4);
            arp.set_hw_addr_len(6);
            arp.set_proto_addr_len(4);
            // A request (not a reply): RFC 5227 section 3 recommends it, and every
            // neighbour updates its cache from a request's sender fields.
            arp.set_operation(ArpOperations::Request);
            arp.set_sender_hw_addr(src);
            arp.set_sender_proto_addr(vip);
            arp.set_target_hw_addr(MacAddr::zero());
            arp.set_target_proto_addr(vip);
        }
    }
    buf
}

/// An unsolicited neighbour advertisement frame (Ethernet + IPv6 + ICMPv6 136) for
/// `target`, from `src`, to ff02::1, override flag set, with the target link-layer option.
pub fn unsolicited_na_frame(mac: [u8; 6], src: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let mut buf = vec![0u8; ETH_HDR + IPV6_HDR + NA_LEN];
    let hw = MacAddr::from(mac);
    let (eth_part, rest) = buf.split_at_mut(ETH_HDR);
    let (ip_part, icmp_part) = rest.split_at_mut(IPV6_HDR);
    if let Some(mut eth) = MutableEthernetPacket::new(eth_part) {
        // ff02::1 maps to 33:33:00:00:00:01 (RFC 2464 section 7).
        eth.set_destination(MacAddr::new(0x33, 0x33, 0, 0, 0, 1));
        eth.set_source(hw);
        eth.set_ethertype(EtherTypes::Ipv6);
    }
    if let Some(mut ip) = MutableIpv6Packet::new(ip_part) {
        ip.set_version(6);
        ip.set_traffic_class(0);
        ip.set_flow_label(0);
        ip.set_payload_length(NA_LEN as u16);
        ip.set_next_header(IpNextHeaderProtocols::Icmpv6);
        // RFC 4861 section 7.1.2: receivers drop NAs whose hop limit is not 255.
        ip.set_hop_limit(255);
        ip.set_source(src);
        ip.set_destination(ALL_NODES);
    }
    if let Some(mut na) = MutableNeighborAdvertPacket::new(icmp_part) {
        na.set_icmpv6_type(Icmpv6Types::NeighborAdvert);
        na.set_flags(NeighborAdvertFlags::Override);
        na.set_target_addr(target);
    }
    if let Some(mut opt) = icmp_part
        .get_mut(24..)
        .and_then(MutableNdpOptionPacket::new)
    {
        opt.set_option_type(NdpOptionTypes::TargetLLAddr);
        opt.set_length(1); // in units of 8 bytes
        opt.set_data(&mac);
    }
    let sum = Icmpv6Packet::new(icmp_part)
        .map(|p| pnet_packet::icmpv6::checksum(&p, &src, &ALL_NODES))
        .unwrap_or(0);
    if let Some(mut na) = MutableNeighborAdvertPacket::new(icmp_part) {
        na.set_checksum(sum);
    }
    buf
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0x5e, 0, 1, 7];

    #[test]
    fn garp_golden_bytes() {
        let f = garp_frame(MAC, Ipv4Addr::new(10, 1, 2, 3));
        #[rustfmt::skip]
        let want = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0x5e, 0, 1, 7, 0x08, 0x06,
            0, 1, 0x08, 0, 6, 4, 0, 1,
            0x02, 0, 0x5e, 0, 1, 7, 10, 1, 2, 3,
            0, 0, 0, 0, 0, 0, 10, 1, 2, 3,
        ];
        assert_eq!(f, want);
    }

    /// Ones' complement sum over the pseudo-header and ICMPv6 message, computed here
    /// independently of pnet: a correct checksum makes it 0xffff.
    fn icmpv6_sum_ok(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> bool {
        let mut sum: u32 = 0;
        let mut add = |b: &[u8]| {
            for c in b.chunks(2) {
                let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
                sum += u32::from(w);
            }
        };
        add(&src.octets());
        add(&dst.octets());
        add(&(msg.len() as u32).to_be_bytes());
        add(&[0, 0, 0, 58]);
        add(msg);
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum == 0xffff
    }

    #[test]
    fn na_fields_and_checksum() {
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let target: Ipv6Addr = "fd00::10".parse().unwrap();
        let f = unsolicited_na_frame(MAC, src, target);
        assert_eq!(f.len(), 14 + 40 + 32);
        assert_eq!(&f[0..6], &[0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(&f[6..12], &MAC);
        assert_eq!(&f[12..14], &[0x86, 0xdd]);
        let ip = &f[14..54];
        assert_eq!(ip[0] >> 4, 6);
        assert_eq!(u16::from_be_bytes([ip[4], ip[5]]), 32);
        assert_eq!(ip[6], 58, "next header ICMPv6");
        assert_eq!(ip[7], 255, "hop limit");
        assert_eq!(&ip[8..24], &src.octets());
        assert_eq!(&ip[24..40], &ALL_NODES.octets());
        let icmp = &f[54..];
        assert_eq!(icmp[0], 136);
        assert_eq!(icmp[1], 0);
        assert_eq!(icmp[4], 0x20, "override only: unsolicited, not a router");
        assert_eq!(&icmp[8..24], &target.octets());
        assert_eq!(&icmp[24..32], &[2, 1, 0x02, 0, 0x5e, 0, 1, 7]);
        assert!(icmpv6_sum_ok(src, ALL_NODES, icmp));
        let mut broken = icmp.to_vec();
        broken[10] ^= 1;
        assert!(!icmpv6_sum_ok(src, ALL_NODES, &broken));
    }
}
