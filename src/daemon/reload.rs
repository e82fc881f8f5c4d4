//! What a reload changes on a master besides its virtual addresses. The protocol core
//! diffs those itself (they are in its adverts and it answers for them); excluded
//! addresses, virtual routes and virtual rules exist only on this host, so the engine
//! moves them from this diff of the old and the new [`InstancePlan`].
//!
//! Pure: compares two plans and touches nothing.

use crate::config::model::{Route, Rule, VirtualAddress};

use super::plan::InstancePlan;

/// Host-side items to take away and to put in place, for one instance that stays master.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostSideDiff {
    pub removed_addresses: Vec<VirtualAddress>,
    pub removed_routes: Vec<Route>,
    pub removed_rules: Vec<Rule>,
    pub added_addresses: Vec<VirtualAddress>,
    pub added_routes: Vec<Route>,
    pub added_rules: Vec<Rule>,
}

impl HostSideDiff {
    /// Between the configuration a master ran with (`old`) and the one it runs with now.
    /// An item whose settings changed counts as removed and added (the removal is carried
    /// out first). An address that moves between `virtual_ipaddress` and
    /// `virtual_ipaddress_excluded` is on the interface before and after, so it is in
    /// neither list; the engine also keeps the protocol core's removal of it.
    pub fn between(old: &InstancePlan, new: &InstancePlan) -> HostSideDiff {
        let vip = |p: &InstancePlan, a: &VirtualAddress| {
            p.virtual_addresses.iter().any(|v| v.address == a.address)
        };
        HostSideDiff {
            removed_addresses: (old.excluded_addresses.iter())
                .filter(|a| !new.excluded_addresses.contains(a) && !vip(new, a))
                .cloned()
                .collect(),
            added_addresses: (new.excluded_addresses.iter())
                .filter(|a| !old.excluded_addresses.contains(a) && !vip(old, a))
                .cloned()
                .collect(),
            removed_routes: missing_from(&old.routes, &new.routes),
            added_routes: missing_from(&new.routes, &old.routes),
            removed_rules: missing_from(&old.rules, &new.rules),
            added_rules: missing_from(&new.rules, &old.rules),
        }
    }

    pub fn removes_anything(&self) -> bool {
        !(self.removed_addresses.is_empty()
            && self.removed_routes.is_empty()
            && self.removed_rules.is_empty())
    }

    pub fn adds_anything(&self) -> bool {
        !(self.added_addresses.is_empty()
            && self.added_routes.is_empty()
            && self.added_rules.is_empty())
    }
}

/// The items of `from` that `other` does not have.
fn missing_from<T: PartialEq + Clone>(from: &[T], other: &[T]) -> Vec<T> {
    from.iter()
        .filter(|x| !other.contains(x))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, LoadOptions};
    use crate::daemon::plan::Plan;

    fn instance(body: &str) -> InstancePlan {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keepalived.conf");
        let text = format!(
            "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n priority 100\n{body}}}\n"
        );
        std::fs::write(&path, text).unwrap();
        let loaded = config::load(&path, &LoadOptions::default()).unwrap();
        Plan::new(&loaded.config).instances.remove(0)
    }

    const OLD: &str = " virtual_ipaddress {\n 10.0.0.100/24\n 10.0.0.101/24\n }\n virtual_ipaddress_excluded {\n 10.0.0.200/24\n 10.0.0.201/24\n 10.0.0.202/24\n }\n virtual_routes {\n 10.1.0.0/16 dev eth0\n 10.2.0.0/16 dev eth0\n }\n virtual_rules {\n from 10.0.0.200/32 table 100\n }\n";

    #[test]
    fn only_the_changed_host_side_items_move() {
        let old = instance(OLD);
        let new = instance(
            &OLD.replace(" 10.0.0.201/24\n", " 10.0.0.203/24\n")
                .replace(" 10.0.0.202/24\n", " 10.0.0.202/32\n")
                .replace("10.2.0.0/16", "10.3.0.0/16")
                .replace("table 100", "table 101"),
        );
        let d = HostSideDiff::between(&old, &new);
        let addrs = |v: &[VirtualAddress]| -> Vec<String> {
            v.iter()
                .map(|a| format!("{}/{}", a.address, a.prefix_len))
                .collect()
        };
        assert_eq!(
            addrs(&d.removed_addresses),
            ["10.0.0.201/24", "10.0.0.202/24"]
        );
        assert_eq!(
            addrs(&d.added_addresses),
            ["10.0.0.203/24", "10.0.0.202/32"],
            "a changed prefix is a removal and an addition"
        );
        let nets =
            |v: &[Route]| -> Vec<String> { v.iter().map(|r| r.to.address.to_string()).collect() };
        assert_eq!(nets(&d.removed_routes), ["10.2.0.0"]);
        assert_eq!(nets(&d.added_routes), ["10.3.0.0"]);
        assert_eq!(d.removed_rules.len(), 1);
        assert_eq!(d.added_rules.len(), 1);

        let same = HostSideDiff::between(&old, &instance(OLD));
        assert!(!same.removes_anything() && !same.adds_anything());
    }

    #[test]
    fn an_address_moving_between_the_lists_stays_put() {
        let old = instance(OLD);
        // 10.0.0.101 becomes excluded, 10.0.0.200 becomes a virtual address.
        let new = instance(
            &OLD.replace(" 10.0.0.101/24\n }", " 10.0.0.200/24\n }")
                .replace(" 10.0.0.200/24\n 10.0.0.201", " 10.0.0.101/24\n 10.0.0.201"),
        );
        assert_eq!(new.virtual_addresses[1].address.to_string(), "10.0.0.200");
        let d = HostSideDiff::between(&old, &new);
        assert!(d.removed_addresses.is_empty(), "{d:?}");
        assert!(d.added_addresses.is_empty(), "{d:?}");
    }
}
