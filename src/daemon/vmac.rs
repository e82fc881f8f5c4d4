//! `use_vmac` on the daemon side: which macvlan an instance needs, making sure it is
//! there before the instance binds, and removing the ones no instance needs any more.
//!
//! The engine owns the set of VMACs this run uses; this file only talks to `net`.

use std::collections::BTreeSet;
use std::net::IpAddr;

use tracing::{info, warn};

use crate::net::vmac::RpFilterSaved;
use crate::net::{Family, LinkInfo, Netlink, Scope, VirtualAddress, VmacSpec};

use crate::config::model::{Instance, Vmac};

use super::plan::{InstancePlan, Plan, VmacPlan};

/// keepalived's defaults: the name `vrrp.VRID`, the RFC's virtual MAC; a configured MAC
/// of five octets gets the VRID as the sixth. A MAC that does not parse falls back to
/// the RFC one (`config::validate` has reported it).
pub fn plan(v: &Vmac, i: &Instance, family: Family) -> VmacPlan {
    let vrid = i.virtual_router_id;
    let mac = v
        .mac
        .as_deref()
        .and_then(|m| parse_mac(m, vrid))
        .unwrap_or_else(|| crate::net::virtual_mac(family, vrid));
    VmacPlan {
        name: v.name.clone().unwrap_or_else(|| format!("vrrp.{vrid}")),
        mac,
        // keepalived sets vmac_xmit_base itself for unicast (observed with 2.2.7, and
        // `config::validate` says so): unicast adverts go by the base interface's routes.
        xmit_base: i.vmac_xmit_base || !i.unicast_peers.is_empty(),
    }
}

/// `aa:bb:cc:dd:ee:ff`, or five octets with the VRID as the last.
pub fn parse_mac(text: &str, vrid: u8) -> Option<[u8; 6]> {
    let octets: Vec<u8> = text
        .split(':')
        .map(|o| u8::from_str_radix(o, 16).ok().filter(|_| o.len() <= 2))
        .collect::<Option<_>>()?;
    let mut mac = [0u8; 6];
    match octets.len() {
        6 => mac.copy_from_slice(&octets),
        5 => {
            mac[..5].copy_from_slice(&octets);
            mac[5] = vrid;
        }
        _ => return None,
    }
    Some(mac)
}

/// Makes sure the VMAC of instance `p` exists on `base` and is up. For IPv6 it also gets
/// `source` (the base interface's link-local address): IPv6 sends an advert only from
/// a link-local address that the sending interface holds.
pub async fn ensure(
    netlink: &Netlink,
    p: &InstancePlan,
    base: &LinkInfo,
    source: Option<IpAddr>,
    rp_saved: &mut Option<RpFilterSaved>,
) -> Option<LinkInfo> {
    let vm = p.vmac.as_ref()?;
    let spec = VmacSpec {
        name: vm.name.clone(),
        parent: base.ifindex,
        mac: vm.mac,
        family: p.family,
    };
    if p.family == Family::V4 {
        match crate::net::vmac::lift_all_rp_filter() {
            Ok(Some(saved)) => {
                info!(
                    "use_vmac: all.rp_filter moved to each interface and set to 0 until baton stops"
                );
                *rp_saved = Some(saved);
            }
            Ok(None) => {}
            Err(e) => {
                warn!(error = %e, "use_vmac: cannot lift all.rp_filter; adverts on the VMAC may be dropped")
            }
        }
    }
    if let Err(e) = crate::net::vmac::set_base_sysctls(&base.name) {
        warn!(instance = %p.name, interface = %base.name, error = %e, "cannot set the base interface's ARP sysctls for use_vmac");
    }
    let link = match netlink.ensure_vmac(&spec).await {
        Ok(l) => l,
        Err(e) => {
            warn!(instance = %p.name, vmac = %vm.name, error = %e, "cannot create the VMAC: the instance uses its base interface and MAC");
            return None;
        }
    };
    if let (Family::V6, Some(src @ IpAddr::V6(_)), false) = (p.family, source, vm.xmit_base) {
        let addr = VirtualAddress {
            prefix_len: 64,
            scope: Scope::Link,
            ..VirtualAddress::host(link.ifindex, src)
        };
        if let Err(e) = netlink.add_address(&addr).await {
            warn!(instance = %p.name, vmac = %vm.name, error = %e, "cannot put the link-local source address on the VMAC");
        }
    }
    Some(link)
}

/// Puts `all.rp_filter` back as it was before the first VMAC.
pub fn restore_rp_filter(saved: Option<RpFilterSaved>) {
    if let Some(s) = saved {
        if let Err(e) = crate::net::vmac::restore_rp_filter(&s) {
            warn!(error = %e, "cannot restore all.rp_filter");
        }
    }
}

/// Every VMAC name a plan needs.
pub fn names(plan: &Plan) -> BTreeSet<String> {
    plan.instances
        .iter()
        .filter_map(|p| p.vmac.as_ref().map(|v| v.name.clone()))
        .collect()
}

/// Deletes the VMACs in `names` (every one is tried; failures are logged).
pub async fn remove(netlink: &Netlink, names: impl IntoIterator<Item = String>) {
    for name in names {
        match netlink.delete_vmac(&name).await {
            Ok(()) => info!(vmac = %name, "VMAC removed"),
            Err(e) => warn!(vmac = %name, error = %e, "cannot remove the VMAC"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_mac;
    use crate::daemon::plan::tests::plan;
    use std::time::Duration;

    fn inst(extra: &str) -> String {
        format!(
            "vrrp_instance V {{\n interface eth0\n virtual_router_id 51\n{extra}\n virtual_ipaddress {{ 10.0.0.1/24 }}\n}}\n"
        )
    }

    #[test]
    fn use_vmac_defaults_and_unicast_implies_xmit_base() {
        let p = plan(&inst(" use_vmac"));
        let v = p.instances[0].vmac.clone().unwrap();
        assert_eq!(v.name, "vrrp.51");
        assert_eq!(v.mac, [0, 0, 0x5e, 0, 1, 51]);
        assert!(!v.xmit_base);
        let p = plan(&inst(" use_vmac vm7 02:00:00:00:07"));
        let v = p.instances[0].vmac.clone().unwrap();
        assert_eq!((v.name.as_str(), v.mac), ("vm7", [2, 0, 0, 0, 7, 51]));
        let p = plan(&inst(
            " use_vmac\n unicast_src_ip 10.0.0.2\n unicast_peer {\n 10.0.0.3\n }",
        ));
        assert!(p.instances[0].vmac.as_ref().unwrap().xmit_base);
        assert_eq!(plan(&inst("")).instances[0].vmac, None);
    }

    #[test]
    fn lower_prio_garp_defaults_to_the_master_schedule() {
        let p = plan(&inst(" garp_master_delay 3\n garp_master_repeat 2"));
        let i = &p.instances[0];
        assert_eq!(
            (i.lower_prio_garp_delay, i.lower_prio_garp_repeat),
            (Duration::from_secs(3), 2)
        );
        let p = plan(&format!(
            "global_defs {{\n vrrp_garp_lower_prio_delay 7\n vrrp_garp_lower_prio_repeat 1\n}}\n{}",
            inst(" garp_lower_prio_repeat 4")
        ));
        let i = &p.instances[0];
        assert_eq!(
            (i.lower_prio_garp_delay, i.lower_prio_garp_repeat),
            (Duration::from_secs(7), 4)
        );
    }

    #[test]
    fn unicast_fault_no_peer_without_peers_is_a_configuration_fault() {
        let p = plan(&inst(" unicast_fault_no_peer"));
        assert!(p.instances[0].config_fault.is_some());
        let p = plan(&inst(
            " unicast_fault_no_peer\n unicast_peer {\n 10.0.0.3\n }",
        ));
        assert_eq!(p.instances[0].config_fault, None);
        let p = plan(&inst(" unicast_peer {\n }"));
        assert_eq!(p.instances[0].config_fault, None, "empty block: multicast");
        assert!(!p.instances[0].is_unicast());
    }

    #[test]
    fn macs_of_six_or_five_octets() {
        assert_eq!(
            parse_mac("02:00:5e:00:01:0a", 7),
            Some([2, 0, 0x5e, 0, 1, 10])
        );
        assert_eq!(parse_mac("02:00:5e:00:01", 7), Some([2, 0, 0x5e, 0, 1, 7]));
        assert_eq!(parse_mac("02:00:5e:00", 7), None);
        assert_eq!(parse_mac("02:00:5e:00:01:0a:0b", 7), None);
        assert_eq!(parse_mac("zz:00:5e:00:01:0a", 7), None);
        assert_eq!(parse_mac("002:00:5e:00:01:0a", 7), None);
    }
}
