//! Announcements after taking over addresses: gratuitous ARP (IPv4) and unsolicited
//! neighbour advertisements (IPv6), sent on an AF_PACKET socket.
//!
//! Owns building these frames and putting them on one interface. It does not decide when
//! to send (the daemon schedules `garp_master_delay` / `repeat` / `refresh`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::Result;

/// Sends GARP / unsolicited NA on one interface.
pub struct Announcer {
    ifindex: u32,
    mac: [u8; 6],
    link_local: Option<Ipv6Addr>,
}

impl Announcer {
    /// Opens the packet socket on interface `ifname`. `mac` is the sender hardware address
    /// (the interface's, see [`super::Netlink::link_by_name`]); `link_local` is the source
    /// of neighbour advertisements (`None`: each NA is sent from its own target address).
    pub fn open(ifname: &str, mac: [u8; 6], link_local: Option<Ipv6Addr>) -> Result<Announcer> {
        let _ = (ifname, mac, link_local);
        todo!()
    }

    /// Sends one announcement per address: GARP for IPv4, unsolicited NA for IPv6.
    /// Every address is tried; the failures come back with their address.
    pub fn send_burst(&mut self, addrs: &[IpAddr]) -> Vec<(IpAddr, super::Error)> {
        let _ = addrs;
        todo!()
    }

    /// `repeat` bursts, `interval` apart (keepalived's `garp_master_repeat` with
    /// `garp_interval`). Returns the failures of all bursts.
    pub async fn send_repeated(
        &mut self,
        addrs: &[IpAddr],
        repeat: u32,
        interval: Duration,
    ) -> Vec<(IpAddr, super::Error)> {
        let _ = (addrs, repeat, interval);
        todo!()
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
    let _ = (mac, vip);
    todo!()
}

/// An unsolicited neighbour advertisement frame (Ethernet + IPv6 + ICMPv6 136) for
/// `target`, from `src`, to ff02::1, override flag set, with the target link-layer option.
pub fn unsolicited_na_frame(mac: [u8; 6], src: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let _ = (mac, src, target);
    todo!()
}
