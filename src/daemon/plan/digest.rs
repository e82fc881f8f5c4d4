//! The configuration digest two nodes of a pair compare (`baton status` shows it):
//! a short hash of what both must agree on, per instance.
//!
//! Pure: hashes the configuration model, nothing else.

use std::collections::BTreeSet;

use crate::config::model::Config;

/// What two nodes of one VRRP pair must agree on, per instance: VRID, version, interval,
/// virtual addresses, authentication. Priorities, peers, scripts and interfaces differ
/// between nodes by design and stay out.
pub(super) fn shared_digest(config: &Config) -> String {
    let mut parts = BTreeSet::new();
    for i in &config.instances {
        let mut vips: Vec<String> = i
            .virtual_ipaddresses
            .iter()
            .map(|a| format!("{}/{}", a.address, a.prefix_len))
            .collect();
        vips.sort();
        parts.insert(format!(
            "{}|{}|{}|{}|{}|{:?}",
            i.name,
            i.virtual_router_id,
            i.effective_version(&config.global),
            i.advert_int.as_micros(),
            vips.join(","),
            i.authentication
        ));
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for p in &parts {
        for b in p.bytes().chain(std::iter::once(b'\n')) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{:08x}", hash >> 32)
}
