//! VRRP raw sockets: one per interface and address family.
//!
//! Owns the raw IP socket for protocol 112: binding to the interface, multicast
//! membership, TTL / hop limit 255 and TOS / traffic class 0xc0 on send, the source
//! address per send (IP_PKTINFO / IPV6_PKTINFO), and stripping the IPv4 header on
//! receive. It never parses VRRP: payloads are opaque bytes. Malformed IP headers are
//! counted and dropped, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};

use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn, SockaddrIn6, SockaddrStorage,
    recvmsg, sendmsg, setsockopt, sockopt,
};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::{Error, Result};

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
#[non_exhaustive]
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
    fd: AsyncFd<Socket>,
    family: Family,
    ifindex: u32,
    counters: Counters,
}

impl VrrpSocket {
    /// Opens, binds to the interface, sets TTL/TOS/loop options and joins `cfg.groups`.
    pub fn open(cfg: &SocketConfig) -> Result<VrrpSocket> {
        let domain = match cfg.family {
            Family::V4 => Domain::IPV4,
            Family::V6 => Domain::IPV6,
        };
        let sock = Socket::new(domain, Type::RAW, Some(Protocol::from(IPPROTO_VRRP)))
            .map_err(|e| Error::io("socket(raw, 112)", e))?;
        sock.set_nonblocking(true)
            .map_err(|e| Error::io("O_NONBLOCK", e))?;
        // Bound to the device: we only see packets that arrived on it, and sends leave
        // through it whatever the routing table says.
        sock.bind_device(Some(cfg.ifname.as_bytes()))
            .map_err(|e| Error::io("SO_BINDTODEVICE", e))?;
        match cfg.family {
            Family::V4 => {
                sock.set_ttl_v4(u32::from(VRRP_TTL))
                    .map_err(|e| Error::io("IP_TTL", e))?;
                sock.set_multicast_ttl_v4(u32::from(VRRP_TTL))
                    .map_err(|e| Error::io("IP_MULTICAST_TTL", e))?;
                sock.set_tos_v4(u32::from(VRRP_TOS))
                    .map_err(|e| Error::io("IP_TOS", e))?;
                // Our own adverts must not come back to us as if from a peer.
                sock.set_multicast_loop_v4(false)
                    .map_err(|e| Error::io("IP_MULTICAST_LOOP", e))?;
                // The arrival interface, in case the socket is ever shared.
                setsockopt(&sock, sockopt::Ipv4PacketInfo, &true)
                    .map_err(|e| Error::io("IP_PKTINFO", e.into()))?;
            }
            Family::V6 => {
                sock.set_unicast_hops_v6(u32::from(VRRP_TTL))
                    .map_err(|e| Error::io("IPV6_UNICAST_HOPS", e))?;
                sock.set_multicast_hops_v6(u32::from(VRRP_TTL))
                    .map_err(|e| Error::io("IPV6_MULTICAST_HOPS", e))?;
                sock.set_tclass_v6(u32::from(VRRP_TOS))
                    .map_err(|e| Error::io("IPV6_TCLASS", e))?;
                sock.set_multicast_loop_v6(false)
                    .map_err(|e| Error::io("IPV6_MULTICAST_LOOP", e))?;
                sock.set_multicast_if_v6(cfg.ifindex)
                    .map_err(|e| Error::io("IPV6_MULTICAST_IF", e))?;
                // IPv6 raw sockets never show the IP header: hop limit and destination
                // come as ancillary data instead.
                sock.set_recv_hoplimit_v6(true)
                    .map_err(|e| Error::io("IPV6_RECVHOPLIMIT", e))?;
                setsockopt(&sock, sockopt::Ipv6RecvPacketInfo, &true)
                    .map_err(|e| Error::io("IPV6_RECVPKTINFO", e.into()))?;
            }
        }
        // tokio 1.54 deprecates the safe constructor in favour of an `unsafe` one whose
        // contract is "the fd stays open and the same while registered". A
        // `socket2::Socket` owns its fd and nothing here swaps it out (no `get_mut`), so
        // the contract holds; the crate forbids `unsafe`, so we keep the safe spelling.
        #[allow(deprecated)]
        let fd = AsyncFd::new(sock).map_err(|e| Error::io("register with tokio", e))?;
        let me = VrrpSocket {
            fd,
            family: cfg.family,
            ifindex: cfg.ifindex,
            counters: Counters::default(),
        };
        for g in &cfg.groups {
            me.join(*g)?;
        }
        Ok(me)
    }

    fn check_family(&self, addr: &IpAddr) -> Result<()> {
        if Family::of(addr) == self.family {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "{addr} on a {:?} socket",
                self.family
            )))
        }
    }

    /// Joins one more multicast group on this socket's interface.
    pub fn join(&self, group: IpAddr) -> Result<()> {
        self.check_family(&group)?;
        let sock = self.fd.get_ref();
        match group {
            IpAddr::V4(g) => sock
                .join_multicast_v4_n(&g, &InterfaceIndexOrAddress::Index(self.ifindex))
                .map_err(|e| Error::io("IP_ADD_MEMBERSHIP", e)),
            IpAddr::V6(g) => sock
                .join_multicast_v6(&g, self.ifindex)
                .map_err(|e| Error::io("IPV6_JOIN_GROUP", e)),
        }
    }

    /// Leaves a multicast group on this socket's interface.
    pub fn leave(&self, group: IpAddr) -> Result<()> {
        self.check_family(&group)?;
        let sock = self.fd.get_ref();
        match group {
            IpAddr::V4(g) => sock
                .leave_multicast_v4_n(&g, &InterfaceIndexOrAddress::Index(self.ifindex))
                .map_err(|e| Error::io("IP_DROP_MEMBERSHIP", e)),
            IpAddr::V6(g) => sock
                .leave_multicast_v6(&g, self.ifindex)
                .map_err(|e| Error::io("IPV6_LEAVE_GROUP", e)),
        }
    }

    /// Sends one VRRP message from `src` to `dst` (the multicast group or a unicast peer).
    /// `payload` is the VRRP message; the kernel adds the IP header. `src` must be an
    /// address of this host (the interface's primary address or `unicast_src_ip`).
    pub async fn send(&self, src: IpAddr, dst: IpAddr, payload: &[u8]) -> Result<()> {
        self.check_family(&src)?;
        self.check_family(&dst)?;
        let iov = [IoSlice::new(payload)];
        let ifindex = self.ifindex;
        let sent = match (src, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let info = libc::in_pktinfo {
                    ipi_ifindex: i32::try_from(ifindex).unwrap_or(0),
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(src).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                let to = SockaddrIn::from(SocketAddrV4::new(dst, 0));
                self.fd
                    .async_io(Interest::WRITABLE, |s| {
                        let cmsg = [ControlMessage::Ipv4PacketInfo(&info)];
                        sendmsg(s.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), Some(&to))
                            .map_err(std::io::Error::from)
                    })
                    .await
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: src.octets(),
                    },
                    ipi6_ifindex: ifindex,
                };
                // The scope id only matters for link-scoped destinations; the kernel
                // ignores it for the others.
                let to = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, ifindex));
                self.fd
                    .async_io(Interest::WRITABLE, |s| {
                        let cmsg = [ControlMessage::Ipv6PacketInfo(&info)];
                        sendmsg(s.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), Some(&to))
                            .map_err(std::io::Error::from)
                    })
                    .await
            }
            _ => {
                return Err(Error::Invalid(
                    "source and destination families differ".into(),
                ));
            }
        };
        let n = sent.map_err(|e| Error::io("sendmsg", e))?;
        if n != payload.len() {
            return Err(Error::Invalid(format!(
                "short send: {n} of {} bytes",
                payload.len()
            )));
        }
        Ok(())
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
        loop {
            let raw = self
                .fd
                .async_io(Interest::READABLE, |s| recv_raw(s.as_raw_fd(), self.family))
                .await
                .map_err(|e| Error::io("recvmsg", e))?;
            if raw.truncated {
                self.counters.truncated.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let pkt = match self.family {
                Family::V4 => parse_v4(raw, self.ifindex),
                Family::V6 => parse_v6(raw, self.ifindex),
            };
            match pkt {
                Ok(p) => {
                    self.counters.received.fetch_add(1, Ordering::Relaxed);
                    return Ok(p);
                }
                Err(Drop::MalformedIpHeader) => {
                    self.counters
                        .malformed_ip_header
                        .fetch_add(1, Ordering::Relaxed);
                }
                Err(Drop::MissingAncillary) => {
                    self.counters
                        .missing_ancillary
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        }
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

/// Largest datagram we accept. A VRRP message with 255 IPv6 addresses is 4088 bytes;
/// anything larger than this is not VRRP and is counted as truncated.
const RX_BUF_LEN: usize = 8192;

/// One datagram as the kernel handed it over, before any checks.
#[derive(Debug)]
struct RawRx {
    data: Vec<u8>,
    truncated: bool,
    from: Option<IpAddr>,
    dst: Option<IpAddr>,
    ifindex: Option<u32>,
    hop_limit: Option<u8>,
}

fn recv_raw(fd: RawFd, family: Family) -> std::io::Result<RawRx> {
    let mut data = vec![0u8; RX_BUF_LEN];
    let mut cmsg_buf = [0u8; 256];
    let mut out = RawRx {
        data: Vec::new(),
        truncated: false,
        from: None,
        dst: None,
        ifindex: None,
        hop_limit: None,
    };
    let n;
    {
        let mut iov = [IoSliceMut::new(&mut data)];
        let msg = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(&mut cmsg_buf), MsgFlags::empty())
            .map_err(std::io::Error::from)?;
        n = msg.bytes;
        out.truncated = msg.flags.contains(MsgFlags::MSG_TRUNC);
        out.from = msg.address.as_ref().and_then(|a| match family {
            Family::V4 => a.as_sockaddr_in().map(|s| IpAddr::V4(s.ip())),
            Family::V6 => a.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip())),
        });
        // A cut control buffer only loses ancillary data; the checks below count it.
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                match c {
                    ControlMessageOwned::Ipv4PacketInfo(i) => {
                        out.ifindex = u32::try_from(i.ipi_ifindex).ok();
                    }
                    ControlMessageOwned::Ipv6PacketInfo(i) => {
                        out.dst = Some(IpAddr::V6(Ipv6Addr::from(i.ipi6_addr.s6_addr)));
                        out.ifindex = Some(i.ipi6_ifindex);
                    }
                    ControlMessageOwned::Ipv6HopLimit(h) => {
                        out.hop_limit = u8::try_from(h).ok();
                    }
                    _ => {}
                }
            }
        }
    }
    data.truncate(n.min(RX_BUF_LEN));
    out.data = data;
    Ok(out)
}

/// Why a datagram was dropped before reaching the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drop {
    MalformedIpHeader,
    MissingAncillary,
}

/// Strips and reads the IPv4 header a raw IPv4 socket delivers in front of the payload.
fn parse_v4(raw: RawRx, own_ifindex: u32) -> std::result::Result<RxPacket, Drop> {
    let (src, dst, ttl, range) = ipv4_header(&raw.data).ok_or(Drop::MalformedIpHeader)?;
    let mut data = raw.data;
    data.truncate(range.end);
    data.drain(..range.start);
    Ok(RxPacket {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        ttl,
        ifindex: raw.ifindex.unwrap_or(own_ifindex),
        payload: data,
    })
}

/// Checks an IPv4 header and returns (src, dst, ttl, payload range). `None` when the
/// header is short, not version 4, has an impossible IHL, or its total length does not
/// fit the datagram.
pub(crate) fn ipv4_header(d: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, u8, std::ops::Range<usize>)> {
    let first = *d.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < 20 || d.len() < ihl {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([*d.get(2)?, *d.get(3)?]));
    if total < ihl || total > d.len() {
        return None;
    }
    if *d.get(9)? != IPPROTO_VRRP as u8 {
        return None;
    }
    let ttl = *d.get(8)?;
    let src: [u8; 4] = d.get(12..16)?.try_into().ok()?;
    let dst: [u8; 4] = d.get(16..20)?.try_into().ok()?;
    Some((Ipv4Addr::from(src), Ipv4Addr::from(dst), ttl, ihl..total))
}

/// IPv6 raw sockets deliver the payload alone; the rest comes from ancillary data.
fn parse_v6(raw: RawRx, own_ifindex: u32) -> std::result::Result<RxPacket, Drop> {
    let (Some(src), Some(dst), Some(ttl)) = (raw.from, raw.dst, raw.hop_limit) else {
        return Err(Drop::MissingAncillary);
    };
    Ok(RxPacket {
        src,
        dst,
        ttl,
        ifindex: raw.ifindex.unwrap_or(own_ifindex),
        payload: raw.data,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    fn header(ihl_words: u8, total: u16, proto: u8, ttl: u8) -> Vec<u8> {
        let mut h = vec![0u8; usize::from(ihl_words) * 4];
        h[0] = 0x40 | ihl_words;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[8] = ttl;
        h[9] = proto;
        h[12..16].copy_from_slice(&[10, 0, 0, 1]);
        h[16..20].copy_from_slice(&[224, 0, 0, 18]);
        h
    }

    #[test]
    fn strips_header_with_options_and_padding() {
        let mut d = header(6, 24 + 3, 112, 255);
        d.extend_from_slice(&[1, 2, 3, 0xee]); // one trailing byte beyond total length
        let (src, dst, ttl, r) = ipv4_header(&d).unwrap();
        assert_eq!(src, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(dst, VRRP_GROUP_V4);
        assert_eq!(ttl, 255);
        assert_eq!(&d[r], &[1, 2, 3]);
    }

    #[test]
    fn refuses_malformed_headers() {
        assert!(ipv4_header(&[]).is_none());
        assert!(ipv4_header(&[0x45; 19]).is_none());
        let mut short_ihl = header(5, 20, 112, 255);
        short_ihl[0] = 0x44;
        assert!(ipv4_header(&short_ihl).is_none(), "IHL below 5");
        let mut v6 = header(5, 20, 112, 255);
        v6[0] = 0x65;
        assert!(ipv4_header(&v6).is_none(), "version 6");
        assert!(
            ipv4_header(&header(15, 60, 112, 255)[..40]).is_none(),
            "IHL past end"
        );
        assert!(
            ipv4_header(&header(5, 40, 112, 255)).is_none(),
            "total past end"
        );
        assert!(
            ipv4_header(&header(5, 10, 112, 255)).is_none(),
            "total below IHL"
        );
        assert!(ipv4_header(&header(5, 20, 17, 255)).is_none(), "not VRRP");
    }

    #[test]
    fn socket_can_be_shared_between_reader_task_and_engine() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<VrrpSocket>();
    }

    proptest::proptest! {
        #[test]
        fn random_datagrams_never_panic_and_payload_stays_in_bounds(
            d in proptest::collection::vec(proptest::num::u8::ANY, 0..200)
        ) {
            if let Some((_, _, _, r)) = ipv4_header(&d) {
                proptest::prop_assert!(r.start >= 20 && r.start <= r.end && r.end <= d.len());
            }
        }
    }

    #[test]
    fn any_bytes_never_panic() {
        // Exhaustive over short lengths with a few interesting first bytes.
        for len in 0..64 {
            for first in [0x00, 0x45, 0x4f, 0x46, 0xff] {
                for total in [0u16, 20, 24, 63, 64, 65535] {
                    let mut d = vec![0u8; len];
                    if len > 0 {
                        d[0] = first;
                    }
                    if len > 3 {
                        d[2..4].copy_from_slice(&total.to_be_bytes());
                    }
                    if len > 9 {
                        d[9] = 112;
                    }
                    let _ = ipv4_header(&d);
                }
            }
        }
    }
}
