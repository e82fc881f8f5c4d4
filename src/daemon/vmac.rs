//! `use_vmac` on the daemon side: which macvlan an instance needs, making sure it is
//! there before the instance binds, and removing the ones no instance needs any more.
//!
//! The engine owns the set of VMACs this run uses; this file only talks to `net`.

use std::collections::BTreeSet;
use std::net::IpAddr;

use tracing::{info, warn};

use crate::net::vmac::RpFilterSaved;
use crate::net::{Family, LinkInfo, Netlink, Scope, VirtualAddress, VmacSpec};

use super::plan::{InstancePlan, Plan};

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
