//! The hub's answers to the control socket's link requests: identity, the peer list,
//! approve, revoke, and the peers' config summaries.

use std::collections::HashSet;
use std::time::{Instant, SystemTime};

use tracing::info;

use super::super::LinkReport;
use super::super::conn::ToConn;
use super::super::state::LinkState;
use super::Hub;
use crate::control::{IdentityView, PeerConfig, PeerListEntry, Request, Response};
use crate::link::identity::Fingerprint;
use crate::link::trust::{Approved, Revoked, Trust};

impl Hub {
    pub(super) fn on_control(&mut self, req: Request) -> Response {
        let parse = |fp: &str| {
            fp.parse::<Fingerprint>().map_err(|e| Response::Error {
                message: format!("{fp:?} is not a fingerprint: {e}"),
            })
        };
        match req {
            Request::Identity => Response::Identity(IdentityView {
                fingerprint: self.env.identity.fingerprint().to_string(),
                node_id: self.env.hello.node_id.clone(),
                state_dir: self.setup.state_dir.display().to_string(),
                listen: (self.shared.lock().listen.iter())
                    .map(|a| a.to_string())
                    .collect(),
            }),
            Request::Peers => Response::Peers {
                peers: self.peer_list(),
            },
            Request::PeerApprove { fingerprint } => match parse(&fingerprint) {
                Err(e) => e,
                Ok(fp) => match self.store.approve(fp, SystemTime::now()) {
                    Err(e) => Response::Error {
                        message: format!("approving {fp}: {e}"),
                    },
                    Ok(result) => {
                        info!("link: {fp} approved");
                        self.retrust_pending();
                        Response::Ok {
                            message: match result {
                                Approved::Now { was_pending: true } => {
                                    format!("{fp}: approved; linking")
                                }
                                Approved::Now { was_pending: false } => format!(
                                    "{fp}: approved (not seen yet: it links when it connects)"
                                ),
                                Approved::Already => format!("{fp}: already approved"),
                                Approved::Configured => {
                                    format!("{fp}: already trusted in baton's file")
                                }
                            },
                        }
                    }
                },
            },
            Request::PeerRevoke { fingerprint } => match parse(&fingerprint) {
                Err(e) => e,
                Ok(fp) => match self.store.revoke(&fp) {
                    Err(e) => Response::Error {
                        message: format!("revoking {fp}: {e}"),
                    },
                    Ok(result) => {
                        let ends = matches!(result, Revoked::Approval | Revoked::Pending);
                        if ends {
                            info!("link: {fp} revoked");
                            let now = Instant::now();
                            let mut shared = self.shared.lock();
                            for c in self.conns.values_mut().filter(|c| c.fingerprint == fp) {
                                // What it still carries before it closes is not the
                                // peer's word any more.
                                c.session_up = false;
                                let _ = c.tx.send(if c.trusted {
                                    ToConn::Trusted(false)
                                } else {
                                    ToConn::Shutdown
                                });
                                // The link is down before the reply, not once the
                                // connection's task has had its turn: status and the
                                // engine hear it now, and the session's end agrees.
                                let peer = shared.peers.get_mut(&c.addr);
                                if let Some(p) = peer.filter(|p| p.is_up()) {
                                    p.set_link(LinkState::Down, now);
                                    info!("link to {} down", c.addr);
                                    let _ = self.report.send(LinkReport::Down { peer: c.addr });
                                }
                            }
                            drop(shared);
                        }
                        match result {
                            Revoked::Approval => Response::Ok {
                                message: format!("{fp}: revoked; its link is closed"),
                            },
                            Revoked::Pending => Response::Ok {
                                message: format!("{fp}: pending request dropped"),
                            },
                            Revoked::ApprovalButConfigured | Revoked::ConfiguredOnly => {
                                Response::Error {
                                    message: format!(
                                        "{fp} is trusted in baton's file: remove it there and reload"
                                    ),
                                }
                            }
                            Revoked::Unknown => Response::Error {
                                message: format!("{fp}: not a known peer"),
                            },
                        }
                    }
                },
            },
            Request::PeerConfigs => {
                let shared = self.shared.lock();
                Response::PeerConfigs {
                    peers: (shared.peers.iter())
                        .filter(|(_, p)| p.is_up())
                        .filter_map(|(addr, p)| {
                            Some(PeerConfig {
                                address: addr.to_string(),
                                node_id: p.node_id.clone(),
                                summary: p.summary.clone()?,
                            })
                        })
                        .collect(),
                }
            }
            _ => Response::Error {
                message: "not a link request".into(),
            },
        }
    }

    fn peer_list(&self) -> Vec<PeerListEntry> {
        let now = Instant::now();
        let linked: HashSet<Fingerprint> = (self.conns.values())
            .filter(|c| c.up)
            .map(|c| c.fingerprint)
            .collect();
        self.store
            .list()
            .into_iter()
            .map(|e| PeerListEntry {
                fingerprint: e.fingerprint.to_string(),
                trust: match e.trust {
                    Trust::Configured => "configured",
                    Trust::Approved => "approved",
                    Trust::Pending | Trust::Unknown => "pending",
                }
                .into(),
                node_id: self.node_name_of(&e.fingerprint),
                address: e.sighting.map(|s| s.address.to_string()),
                // The last frame heard on a live connection counts as seen too.
                last_seen_ms_ago: [
                    e.sighting.map(|s| s.last_seen),
                    self.last_heard(&e.fingerprint),
                ]
                .into_iter()
                .flatten()
                .max()
                .map(|t| now.saturating_duration_since(t).as_millis() as u64),
                approved_at: e.approval.map(|a| rfc3339(a.approved_at)),
                linked: linked.contains(&e.fingerprint),
            })
            .collect()
    }

    fn last_heard(&self, fp: &Fingerprint) -> Option<std::time::Instant> {
        let shared = self.shared.lock();
        shared
            .peers
            .values()
            .filter(|p| p.fingerprint.as_ref() == Some(fp))
            .filter_map(|p| p.last_heard)
            .max()
    }

    fn node_name_of(&self, fp: &Fingerprint) -> Option<String> {
        let shared = self.shared.lock();
        shared
            .peers
            .values()
            .find(|p| p.fingerprint.as_ref() == Some(fp))
            .and_then(|p| p.node_id.clone())
    }
}

/// RFC 3339 in UTC, to the second.
fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}
