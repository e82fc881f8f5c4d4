//! `keepalived.stats` (SIGUSR2): each instance's counters in keepalived 2.2.7's layout,
//! and the mapping from baton's counters to keepalived's, which the JSON file shares.

use std::fmt::Write as _;

use super::DumpView;
use crate::proto::Stats;

/// keepalived's counters of one instance, filled from baton's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub advert_rcvd: u64,
    pub advert_sent: u64,
    pub become_master: u64,
    pub release_master: u64,
    pub packet_len_err: u64,
    pub ip_ttl_err: u64,
    pub invalid_type_rcvd: u64,
    pub advert_interval_err: u64,
    pub addr_list_err: u64,
    /// An authentication type keepalived does not know; baton counts every
    /// authentication mismatch as one failure, so this stays 0.
    pub invalid_authtype: u64,
    /// Also within baton's one authentication counter: 0.
    pub authtype_mismatch: u64,
    pub auth_failure: u64,
    pub pri_zero_rcvd: u64,
    pub pri_zero_sent: u64,
}

impl Counters {
    /// baton's checksum, version, VRID and source errors have no keepalived counter (it
    /// only logs them); they are left out.
    pub fn from_stats(s: &Stats) -> Counters {
        Counters {
            advert_rcvd: s.adverts_received,
            advert_sent: s.adverts_sent,
            become_master: s.became_master,
            release_master: s.released_master,
            packet_len_err: s.length_errors,
            ip_ttl_err: s.ttl_errors,
            invalid_type_rcvd: s.type_errors,
            advert_interval_err: s.interval_errors,
            addr_list_err: s.address_list_errors,
            invalid_authtype: 0,
            authtype_mismatch: 0,
            auth_failure: s.auth_errors,
            pri_zero_rcvd: s.priority_zero_received,
            pri_zero_sent: s.priority_zero_sent,
        }
    }
}

/// The whole file.
pub fn render(view: &DumpView) -> String {
    let mut out = String::new();
    for i in &view.instances {
        let c = Counters::from_stats(&i.stats);
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "VRRP Instance: {}\n\
             \x20 Advertisements:\n\
             \x20   Received: {}\n\
             \x20   Sent: {}\n\
             \x20 Became master: {}\n\
             \x20 Released master: {}\n\
             \x20 Packet Errors:\n\
             \x20   Length: {}\n\
             \x20   TTL: {}\n\
             \x20   Invalid Type: {}\n\
             \x20   Advertisement Interval: {}\n\
             \x20   Address List: {}\n\
             \x20 Authentication Errors:\n\
             \x20   Invalid Type: {}\n\
             \x20   Type Mismatch: {}\n\
             \x20   Failure: {}\n\
             \x20 Priority Zero:\n\
             \x20   Received: {}\n\
             \x20   Sent: {}\n",
            i.name,
            c.advert_rcvd,
            c.advert_sent,
            c.become_master,
            c.release_master,
            c.packet_len_err,
            c.ip_ttl_err,
            c.invalid_type_rcvd,
            c.advert_interval_err,
            c.addr_list_err,
            c.invalid_authtype,
            c.authtype_mismatch,
            c.auth_failure,
            c.pri_zero_rcvd,
            c.pri_zero_sent,
        );
    }
    out
}
