//! VRRP raw sockets: one per interface and address family.
//!
//! Owns the raw IP socket for protocol 112: binding to the interface, multicast
//! membership, TTL / hop limit 255 and TOS / traffic class 0xc0 on send, the source
//! address per send (IP_PKTINFO / IPV6_PKTINFO), and stripping the IPv4 header on
//! receive. It never parses VRRP: payloads are opaque bytes. Malformed IP headers are
//! counted and dropped, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};

use super::Result;

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: i32 = 112;
/// The IPv4 multicast group VRRP uses by default (RFC 5798 section 5.1.1.2).
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 multicast group VRRP uses by default (RFC 5798 section 5.1.2.2).
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// TTL / hop limit every VRRP packet is sent with and must arrive with.
pub const VRRP_TTL: u8 = 255;
/// TOS / traffic class for VRRP: network control (DSCP CS6).
pub const VRRP_TOS: u8 = 0xc0;

/// Address family of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// What a [`VrrpSocket`] is opened for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketConfig {
    /// Interface name (for SO_BINDTODEVICE).
    pub ifname: String,
    /// Interface index (for multicast membership and the outgoing interface).
    pub ifindex: u32,
    pub family: Family,
    /// Multicast groups to join on this interface; empty for a unicast-only socket.
    /// Usually [`VRRP_GROUP_V4`] or [`VRRP_GROUP_V6`], or the configured `mcast_dst_ip`.
    pub groups: Vec<IpAddr>,
}

/// One received packet: the VRRP message and the IP facts the daemon must check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxPacket {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL, or IPv6 hop limit. RFC 5798 requires 255; the daemon drops others.
    pub ttl: u8,
    /// Interface the packet arrived on.
    pub ifindex: u32,
    /// The VRRP message only (IP header stripped).
    pub payload: Vec<u8>,
}

/// Receive counters of one socket (drops happen here, before `wire` sees anything).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxStats {
    /// Packets handed to the caller.
    pub received: u64,
    /// IPv4 header too short, bad version or IHL, or total length past the datagram.
    pub malformed_ip_header: u64,
    /// IPv6 packet without the ancillary data we asked for (hop limit / pktinfo).
    pub missing_ancillary: u64,
    /// Datagram larger than the receive buffer (cut by the kernel).
    pub truncated: u64,
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    malformed_ip_header: AtomicU64,
    missing_ancillary: AtomicU64,
    truncated: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> RxStats {
        RxStats {
            received: self.received.load(Ordering::Relaxed),
            malformed_ip_header: self.malformed_ip_header.load(Ordering::Relaxed),
            missing_ancillary: self.missing_ancillary.load(Ordering::Relaxed),
            truncated: self.truncated.load(Ordering::Relaxed),
        }
    }
}

/// A raw VRRP socket bound to one interface for one address family.
///
/// `Send + Sync`: a reader task may `recv` while the engine `send`s through an `Arc`.
/// Must be created inside a tokio runtime (it registers with the reactor).
#[derive(Debug)]
pub struct VrrpSocket {
    fd: tokio::io::unix::AsyncFd<socket2::Socket>,
    family: Family,
    ifindex: u32,
    counters: Counters,
}

impl VrrpSocket {
    /// Opens, binds to the interface, sets TTL/TOS/loop options and joins `cfg.groups`.
    pub fn open(cfg: &SocketConfig) -> Result<VrrpSocket> {
        let _ = cfg;
        todo!()
    }

    /// Joins one more multicast group on this socket's interface.
    pub fn join(&self, group: IpAddr) -> Result<()> {
        let _ = group;
        todo!()
    }

    /// Leaves a multicast group on this socket's interface.
    pub fn leave(&self, group: IpAddr) -> Result<()> {
        let _ = group;
        todo!()
    }

    /// Sends one VRRP message from `src` to `dst` (the multicast group or a unicast peer).
    /// `payload` is the VRRP message; the kernel adds the IP header.
    pub async fn send(&self, src: IpAddr, dst: IpAddr, payload: &[u8]) -> Result<()> {
        let _ = (src, dst, payload);
        todo!()
    }

    /// Sends the same message to each destination in turn (unicast peers). Every
    /// destination is tried; the failures come back with their destination.
    pub async fn send_each(
        &self,
        src: IpAddr,
        dsts: &[IpAddr],
        payload: &[u8],
    ) -> Vec<(IpAddr, super::Error)> {
        let mut failed = Vec::new();
        for dst in dsts {
            if let Err(e) = self.send(src, *dst, payload).await {
                failed.push((*dst, e));
            }
        }
        failed
    }

    /// Waits for the next well-formed packet. Malformed IP headers are counted in
    /// [`RxStats`] and skipped; an `Err` is a socket error, not a bad packet.
    pub async fn recv(&self) -> Result<RxPacket> {
        todo!()
    }

    pub fn stats(&self) -> RxStats {
        self.counters.snapshot()
    }

    pub fn family(&self) -> Family {
        self.family
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }
}
