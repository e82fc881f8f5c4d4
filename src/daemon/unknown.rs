//! Adverts for VRIDs that no instance has on the interface they arrive on. Other
//! routers' VRIDs on a shared LAN are normal, but a mistyped `virtual_router_id` on
//! one node looks exactly like this, so they are counted per interface, family and
//! VRID (with the last source) for `baton status`, and the first of each is logged once.
//!
//! Bounded: at most 256 VRIDs per interface and family. Pure: the caller gives the time.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Instant;

use crate::control::UnknownVridStatus;
use crate::net::Family;

#[derive(Debug, Clone)]
struct Seen {
    count: u64,
    last_source: IpAddr,
    last_seen: Instant,
}

/// The table, keyed by (interface name, family, VRID).
#[derive(Debug, Default)]
pub struct UnknownVrids {
    seen: BTreeMap<(String, bool, u8), Seen>,
}

impl UnknownVrids {
    /// Counts one advert. True for the first of its (interface, family, VRID): the one
    /// to log.
    pub fn record(
        &mut self,
        interface: &str,
        family: Family,
        vrid: u8,
        source: IpAddr,
        now: Instant,
    ) -> bool {
        let key = (interface.to_string(), family == Family::V6, vrid);
        match self.seen.get_mut(&key) {
            Some(s) => {
                s.count += 1;
                s.last_source = source;
                s.last_seen = now;
                false
            }
            None => {
                self.seen.insert(
                    key,
                    Seen {
                        count: 1,
                        last_source: source,
                        last_seen: now,
                    },
                );
                true
            }
        }
    }

    /// Drops the entries an instance now answers for (after a reload or a rebind), so
    /// the table only ever shows VRIDs that are unknown now.
    pub fn forget(&mut self, known: impl Fn(&str, Family, u8) -> bool) {
        self.seen.retain(|(ifname, v6, vrid), _| {
            let family = if *v6 { Family::V6 } else { Family::V4 };
            !known(ifname, family, *vrid)
        });
    }

    /// What `baton status` shows, by interface, family and VRID.
    pub fn view(&self, now: Instant) -> Vec<UnknownVridStatus> {
        self.seen
            .iter()
            .map(|((ifname, v6, vrid), s)| UnknownVridStatus {
                interface: ifname.clone(),
                family: if *v6 { "IPv6" } else { "IPv4" }.into(),
                vrid: *vrid,
                count: s.count,
                last_source: s.last_source.to_string(),
                last_seen_ms_ago: now.saturating_duration_since(s.last_seen).as_millis() as u64,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn counts_per_interface_family_and_vrid_and_reports_only_the_first() {
        let t0 = crate::test_clock::origin();
        let a: IpAddr = "10.0.0.7".parse().unwrap();
        let b: IpAddr = "10.0.0.8".parse().unwrap();
        let mut u = UnknownVrids::default();
        assert!(u.record("eth0", Family::V4, 77, a, t0));
        assert!(!u.record("eth0", Family::V4, 77, b, t0 + Duration::from_millis(10)));
        assert!(u.record("eth1", Family::V4, 77, a, t0), "another interface");
        assert!(u.record("eth0", Family::V6, 77, a, t0), "another family");
        let v = u.view(t0 + Duration::from_millis(110));
        assert_eq!(v.len(), 3);
        let first = &v[0];
        assert_eq!(
            (first.interface.as_str(), first.family.as_str(), first.vrid),
            ("eth0", "IPv4", 77)
        );
        assert_eq!(first.count, 2);
        assert_eq!(first.last_source, "10.0.0.8");
        assert_eq!(first.last_seen_ms_ago, 100);

        u.forget(|ifname, family, vrid| ifname == "eth0" && family == Family::V4 && vrid == 77);
        assert_eq!(u.view(t0).len(), 2);
        assert!(
            u.record("eth0", Family::V4, 77, a, t0),
            "unknown again after being known: logged again"
        );
    }
}
