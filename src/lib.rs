//! baton: a VRRP failover agent that reads keepalived's configuration unchanged.
//!
//! The crate is layered (see `DESIGN.md` in the shared docs); imports only point down:
//!
//! | module    | owns                                                          |
//! |-----------|---------------------------------------------------------------|
//! | `wire`    | VRRP v2/v3 bytes: parse, emit, checksums                      |
//! | `proto`   | the sans-IO state machine per instance, sync groups, priority |
//! | `config`  | keepalived.conf and YAML into a validated, typed model        |
//! | `track`   | vrrp_script, track_file, track_process, interface watching    |
//! | `net`     | raw sockets, multicast, netlink addresses/routes, GARP / NA   |
//! | `hooks`   | notify scripts in order, notify FIFO                          |
//! | `control` | local control socket: status, promote, demote, reload         |
//! | `dump`    | keepalived's dump files (.data, .stats, .json) as text        |
//! | `link`    | baton-to-baton link: identity, trust, TLS, frames, session    |
//! | `sync`    | data sync: manifests, staged generations, the sync worker     |
//! | `web`     | HTTP answers: request limits, Prometheus metrics, status page |
//! | `arbiter` | the etcd election per target: lease deadline, fencing token   |
//! | `daemon`  | the async driver that owns every instance                     |

pub mod arbiter;
pub mod config;
pub mod control;
pub mod daemon;
pub mod dump;
pub mod hooks;
pub mod link;
pub mod net;
pub mod proto;
pub mod sync;
pub mod track;
pub mod web;
pub mod wire;

/// The one clock reading the crate's unit tests need: a starting instant for virtual time.
/// It lives here so that `proto` and `wire`, tests included, never read the clock.
#[cfg(test)]
pub(crate) mod test_clock {
    pub fn origin() -> std::time::Instant {
        std::time::Instant::now()
    }
}
