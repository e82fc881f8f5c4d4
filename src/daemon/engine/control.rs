//! The control socket: accepting `baton` commands on a Unix socket, answering
//! operator requests (promote, demote, release, reload) and building `baton status`
//! and the one-line status systemd shows.
//!
//! Each connection runs in its own task and reaches the engine only through its
//! channel; only root (or baton's own user) may change state, anyone may look.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use tokio::sync::{mpsc, oneshot};
use tracing::info;

use crate::control::{GroupStatus, InstanceStatus, Request, Response, Status, TrackStatusView};
use crate::proto::{Input, InstanceId, State};
use crate::wire;

use super::{Engine, Event, state_name};

impl Engine {
    pub(super) async fn on_control(&mut self, now: Instant, req: Request) -> Response {
        let operator =
            |engine: &mut Engine, name: &str, input: Input, mark: Option<&'static str>| {
                let Some(i) = engine.plan.position(name) else {
                    return Response::Error {
                        message: format!("no vrrp_instance named {name:?}"),
                    };
                };
                engine.node.handle(now, InstanceId(i), input);
                if let Some(rt) = engine.rt.get_mut(i) {
                    rt.operator = mark;
                }
                info!(
                    instance = name,
                    action = mark.unwrap_or("released"),
                    "operator command"
                );
                Response::Ok {
                    message: format!("{name}: {}", mark.unwrap_or("released")),
                }
            };
        match req {
            Request::Status => Response::Status(Box::new(self.status(now))),
            Request::Promote { instance } => {
                // A node whose own checks fail must not be told to serve: say so rather
                // than store a promotion that would fire the moment it recovers.
                let faulted = self
                    .plan
                    .position(&instance)
                    .is_some_and(|i| self.node.state(InstanceId(i)) == State::Fault);
                let elected = (self.plan.position(&instance))
                    .and_then(|i| self.plan.instances.get(i))
                    .is_some_and(|p| p.elected_externally);
                if faulted {
                    Response::Error {
                        message: format!(
                            "{instance} is in FAULT (a tracked object is down): promote refused"
                        ),
                    }
                } else if elected {
                    Response::Error {
                        message: format!(
                            "{instance} is elected by its arbiter alone (mode only): promote \
                             refused; demote the node that holds it instead"
                        ),
                    }
                } else {
                    operator(self, &instance, Input::Promote, Some("promoted"))
                }
            }
            Request::Demote { instance } => {
                operator(self, &instance, Input::Demote, Some("demoted"))
            }
            Request::Release { instance } => operator(self, &instance, Input::Release, None),
            Request::Reload => match self.reload().await {
                Ok(()) => Response::Ok {
                    message: "configuration reloaded".into(),
                },
                Err(e) => Response::Error {
                    message: format!("reload refused, the running configuration stays:\n{e}"),
                },
            },
            // Answered by the link (see `Engine::link_control`).
            Request::Identity
            | Request::Peers
            | Request::PeerApprove { .. }
            | Request::PeerRevoke { .. }
            | Request::PeerConfigs => Response::Error {
                message: "not an engine request".into(),
            },
        }
    }

    pub(super) fn status(&self, now: Instant) -> Status {
        let instances = self
            .plan
            .instances
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let id = InstanceId(i);
                let state = self.node.state(id);
                let rt = &self.rt[i.min(self.rt.len().saturating_sub(1))];
                InstanceStatus {
                    name: p.name.clone(),
                    state: state_name(state).to_string(),
                    interface: rt.ifname.clone().unwrap_or_else(|| "-".into()),
                    vrid: p.vrid,
                    version: match p.version {
                        wire::Version::V2 => 2,
                        wire::Version::V3 => 3,
                    },
                    priority: p.priority,
                    effective_priority: self.node.effective_priority(id),
                    master: if state == State::Master {
                        Some("self".into())
                    } else {
                        self.node.master_address(id).map(|a| a.to_string())
                    },
                    virtual_addresses: p
                        .virtual_addresses
                        .iter()
                        .map(|a| format!("{}/{}", a.address, a.prefix_len))
                        .collect(),
                    in_state_ms: now.duration_since(rt.since).as_millis() as u64,
                    last_reason: rt.reason.clone(),
                    operator: rt.operator.map(str::to_string),
                    stats: self.node.stats(id).clone(),
                    excluded_addresses: (p.excluded_addresses.iter())
                        .map(|a| format!("{}/{}", a.address, a.prefix_len))
                        .collect(),
                    transitions: self.history.transitions(&p.name, now),
                }
            })
            .collect();
        let groups = self
            .plan
            .groups
            .iter()
            .map(|g| {
                let members: Vec<String> = g
                    .members
                    .iter()
                    .filter_map(|&m| self.plan.instances.get(m).map(|p| p.name.clone()))
                    .collect();
                let state = g
                    .members
                    .first()
                    .map(|&m| state_name(self.node.state(InstanceId(m))))
                    .unwrap_or("-");
                GroupStatus {
                    name: g.name.clone(),
                    state: state.to_string(),
                    members,
                }
            })
            .collect();
        Status {
            router_id: self.plan.router_id.clone(),
            config_file: self.opts.config.clone(),
            config_digest: self.plan.shared_digest.clone(),
            pid: std::process::id(),
            uptime_ms: now.duration_since(self.started).as_millis() as u64,
            instances,
            groups,
            unknown_vrids: self.unknown.view(now),
            link: self.link_status(now),
            handover: self.handover_status(now),
            sync: self.sync_status(),
            scripts: (self.tracker.iter())
                .flat_map(|t| t.script_reports())
                .map(super::history::script_view)
                .collect(),
            hooks: self.history.hooks(now),
            hook_counts: self.history.counts(),
            arbiter: self.arbiter_status(now),
            tracks: self
                .track_state
                .iter()
                .map(|(k, v)| TrackStatusView {
                    key: k.clone(),
                    status: v.to_string(),
                })
                .collect(),
        }
    }

    pub(super) fn status_line(&self) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for i in 0..self.plan.instances.len() {
            *counts
                .entry(state_name(self.node.state(InstanceId(i))))
                .or_default() += 1;
        }
        let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
        if parts.is_empty() {
            "no instances".into()
        } else {
            parts.join(", ")
        }
    }
}

pub(super) fn start_control(
    path: &PathBuf,
    tx: mpsc::UnboundedSender<Event>,
) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("binding the control socket {}", path.display()))?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let tx = tx.clone();
            tokio::spawn(serve_control(stream, tx));
        }
    });
    Ok(())
}

async fn serve_control(stream: tokio::net::UnixStream, tx: mpsc::UnboundedSender<Event>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    // Anyone who can open the socket may look; only root (or baton's own user) may
    // change anything.
    let may_change = stream
        .peer_cred()
        .is_ok_and(|c| c.uid() == 0 || c.uid() == nix::unistd::geteuid().as_raw());
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let resp = match serde_json::from_str::<Request>(&line) {
            Ok(req) if !req.is_read_only() && !may_change => Response::Error {
                message: "only root may change baton's state".into(),
            },
            Ok(req) => {
                let (reply, answer) = oneshot::channel();
                if tx.send(Event::Control(req, reply)).is_err() {
                    return;
                }
                answer.await.unwrap_or(Response::Error {
                    message: "baton is stopping".into(),
                })
            }
            Err(e) => Response::Error {
                message: format!("bad request: {e}"),
            },
        };
        let Ok(mut text) = serde_json::to_string(&resp) else {
            return;
        };
        text.push('\n');
        if write.write_all(text.as_bytes()).await.is_err() {
            return;
        }
    }
}
