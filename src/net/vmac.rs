//! Virtual MAC interfaces (`use_vmac`): a macvlan in private mode on top of an instance's
//! interface, carrying the RFC's virtual router MAC, with the sysctls that make the
//! virtual addresses answer ARP from it and not from the base interface.
//!
//! Owns the netlink requests and `/proc/sys` writes for these links. It does not decide
//! when a VMAC exists (the daemon does) and never touches addresses on it.

use rtnetlink::LinkMacVlan;
use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::link::{
    InfoKind, LinkAttribute, LinkInfo as NlLinkInfo, LinkMessage, MacVlanMode,
};

use super::netlink::link_info;
use super::{Error, Family, LinkInfo, Netlink, Result};

/// The RFC 5798 (7.3) virtual router MAC: 00-00-5E-00-01-{VRID} for IPv4,
/// 00-00-5E-00-02-{VRID} for IPv6.
pub fn virtual_mac(family: Family, vrid: u8) -> [u8; 6] {
    let kind = match family {
        Family::V4 => 1,
        Family::V6 => 2,
    };
    [0x00, 0x00, 0x5e, 0x00, kind, vrid]
}

/// One VMAC as the daemon wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmacSpec {
    pub name: String,
    /// The interface it sits on.
    pub parent: u32,
    pub mac: [u8; 6],
    pub family: Family,
}

/// What is found under a VMAC's name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Existing {
    None,
    /// A macvlan on `parent` with `mac`.
    Macvlan {
        link: LinkInfo,
        parent: Option<u32>,
    },
    /// Something else: not ours to delete.
    Other,
}

impl Netlink {
    async fn existing(&self, name: &str) -> Result<Existing> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        let answers = match self
            .request_collect("get link", RouteNetlinkMessage::GetLink(msg), 0)
            .await
        {
            Err(Error::Netlink { source, .. }) if source.raw_os_error() == Some(libc::ENODEV) => {
                return Ok(Existing::None);
            }
            r => r?,
        };
        let Some(l) = answers.into_iter().find_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(l),
            _ => None,
        }) else {
            return Ok(Existing::None);
        };
        let mut macvlan = false;
        let mut parent = None;
        for a in &l.attributes {
            match a {
                LinkAttribute::LinkInfo(infos) => {
                    macvlan |= infos
                        .iter()
                        .any(|i| matches!(i, NlLinkInfo::Kind(InfoKind::MacVlan)));
                }
                LinkAttribute::Link(p) => parent = Some(*p),
                _ => {}
            }
        }
        match (macvlan, link_info(&l)) {
            (true, Some(link)) => Ok(Existing::Macvlan { link, parent }),
            _ => Ok(Existing::Other),
        }
    }

    /// Makes sure the VMAC exists as `spec` says and is up, with the sysctls set; returns
    /// its link. A macvlan of that name that matches (this run's, or one a killed run
    /// left) is kept; one that differs is re-created. Any other kind of interface with
    /// that name is left alone and reported.
    pub async fn ensure_vmac(&self, spec: &VmacSpec) -> Result<LinkInfo> {
        match self.existing(&spec.name).await? {
            Existing::Macvlan { link, parent }
                if parent == Some(spec.parent) && link.mac == Some(spec.mac) =>
            {
                set_vmac_sysctls(spec)?;
                if !link.admin_up {
                    self.set_link_up(link.ifindex, true).await?;
                }
                return self.link_by_index(link.ifindex).await;
            }
            Existing::Macvlan { link, .. } => self.delete_link(link.ifindex).await?,
            Existing::Other => {
                return Err(Error::Invalid(format!(
                    "{} exists and is not a macvlan: not used as a VMAC",
                    spec.name
                )));
            }
            Existing::None => {}
        }
        let msg = LinkMacVlan::new(&spec.name, spec.parent, MacVlanMode::Private)
            .address(spec.mac.to_vec())
            .build();
        self.request_ack(
            "add macvlan",
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &[],
        )
        .await?;
        let link = self.link_by_name(&spec.name).await?;
        // Before the link comes up: no automatic IPv6 link-local (every node's VMAC has
        // the same MAC, so EUI-64 addresses would collide between nodes).
        set_vmac_sysctls(spec)?;
        self.set_link_up(link.ifindex, true).await?;
        self.link_by_index(link.ifindex).await
    }

    /// Deletes a link; one already gone counts as deleted.
    pub async fn delete_link(&self, ifindex: u32) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = ifindex;
        self.request_ack(
            "delete link",
            RouteNetlinkMessage::DelLink(msg),
            0,
            &[libc::ENODEV],
        )
        .await
    }

    /// Deletes the VMAC named `name` if it is a macvlan (and only then).
    pub async fn delete_vmac(&self, name: &str) -> Result<()> {
        match self.existing(name).await? {
            Existing::Macvlan { link, .. } => self.delete_link(link.ifindex).await,
            _ => Ok(()),
        }
    }
}

/// What [`lift_all_rp_filter`] changed, to put back on exit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpFilterSaved {
    all: String,
    /// Interfaces (and `default`) whose own value was raised, with the value before.
    raised: Vec<(String, String)>,
}

/// The kernel filters with the larger of `all.rp_filter` and the interface's own, so a
/// VMAC's 0 means nothing while `all` is set; strict mode (1, many distributions'
/// default) then drops every advert that arrives on the VMAC from a peer routed via the
/// base interface. As keepalived does: every interface (and `default`) gets at least the
/// `all` value as its own, so their filtering is unchanged, then `all` becomes 0.
/// `None`: `all` was already 0, nothing changed.
pub fn lift_all_rp_filter() -> Result<Option<RpFilterSaved>> {
    let all = read_sysctl("ipv4/conf/all/rp_filter")?;
    let level: u8 = all.parse().unwrap_or(0);
    if level == 0 {
        return Ok(None);
    }
    let mut saved = RpFilterSaved {
        all,
        raised: Vec::new(),
    };
    let dir = std::fs::read_dir("/proc/sys/net/ipv4/conf")
        .map_err(|e| Error::io("listing /proc/sys/net/ipv4/conf", e))?;
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "all" {
            continue;
        }
        let key = format!("ipv4/conf/{name}/rp_filter");
        let Ok(own) = read_sysctl(&key) else { continue };
        if own.parse::<u8>().unwrap_or(0) < level {
            sysctl(&key, &saved.all)?;
            saved.raised.push((name, own));
        }
    }
    sysctl("ipv4/conf/all/rp_filter", "0")?;
    Ok(Some(saved))
}

/// Undoes [`lift_all_rp_filter`]; interfaces gone since are skipped.
pub fn restore_rp_filter(saved: &RpFilterSaved) -> Result<()> {
    for (name, old) in &saved.raised {
        let _ = sysctl(&format!("ipv4/conf/{name}/rp_filter"), old);
    }
    sysctl("ipv4/conf/all/rp_filter", &saved.all)
}

fn read_sysctl(path: &str) -> Result<String> {
    std::fs::read_to_string(format!("/proc/sys/net/{path}"))
        .map(|s| s.trim().to_string())
        .map_err(|e| Error::io("reading a sysctl", e))
}

/// Writes one `/proc/sys/net/...` value (of the network namespace baton runs in).
fn sysctl(path: &str, value: &str) -> Result<()> {
    std::fs::write(format!("/proc/sys/net/{path}"), value)
        .map_err(|e| Error::io("writing a sysctl", e))
}

/// On the base interface, ARP for an address is answered only by the interface that holds
/// it (arp_ignore 1) and only for addresses routed out of it (arp_filter 1), so the VIP on
/// the VMAC is answered with the virtual MAC alone. On the VMAC: answer only for its own
/// addresses; accept adverts whose source is routed via the base interface (rp_filter 0,
/// accept_local 1); keep secondaries when the primary VIP goes. IPv4 instances get no
/// IPv6 on the VMAC at all.
fn set_vmac_sysctls(spec: &VmacSpec) -> Result<()> {
    let vm = &spec.name;
    sysctl(&format!("ipv6/conf/{vm}/addr_gen_mode"), "1")?;
    if spec.family == Family::V4 {
        sysctl(&format!("ipv6/conf/{vm}/disable_ipv6"), "1")?;
    }
    for (k, v) in [
        ("arp_ignore", "1"),
        ("arp_filter", "0"),
        ("accept_local", "1"),
        ("rp_filter", "0"),
        ("promote_secondaries", "1"),
    ] {
        sysctl(&format!("ipv4/conf/{vm}/{k}"), v)?;
    }
    Ok(())
}

/// The base interface's side (see [`set_vmac_sysctls`]); by name, as `/proc/sys` is.
///
/// Also arp_announce 2, which keepalived 2.2.7 leaves alone: a reply from the VIP to a
/// host the base interface has no neighbour entry for (an ICMP error, the first answer
/// of a connection) leaves through the base interface, and its ARP request would name
/// the VIP as sender with the base MAC, teaching every host on the LAN the wrong MAC
/// for the VIP (seen in the e2e test). With 2 the request names the base's own address.
pub fn set_base_sysctls(base: &str) -> Result<()> {
    sysctl(&format!("ipv4/conf/{base}/arp_ignore"), "1")?;
    sysctl(&format!("ipv4/conf/{base}/arp_filter"), "1")?;
    sysctl(&format!("ipv4/conf/{base}/arp_announce"), "2")
}
