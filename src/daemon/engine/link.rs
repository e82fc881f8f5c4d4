//! The engine's side of the link: it publishes this node's status and config summary
//! for the peers, hands the link the control requests that are its own, tells it the
//! sources of adverts, and merges the peers into `baton status`.
//!
//! Nothing here waits on the link: publishing replaces a `watch` value, requests go on
//! an unbounded channel with their reply sender, and the peers' rows are read from the
//! link's shared state. No link event is a `proto` input, so VRRP timing cannot depend
//! on the link.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::config;
use crate::control::{LinkView, PeerView, Request, Response, VrrpSeen};
use crate::hooks::{HookPhase, HookReport, Target};
use crate::link::compare;
use crate::link::message::{self, ConfigSummary, HookResult, InstanceStatus, TrackedState};
use crate::link::session::HandoverMsg;
use crate::proto::{InstanceId, TrackStatus};

use super::super::link::{LinkHandle, LinkReport, LocalView, setup_of};
use super::{Engine, Event, forward};

/// The last adverts one source sent for one of our instances.
#[derive(Debug, Clone, Copy)]
struct Seen {
    vrid: u8,
    priority: u8,
    at: Instant,
}

#[derive(Debug, Default)]
struct HookRt {
    running: Option<&'static str>,
    last: Option<(&'static str, String, Instant)>,
}

/// The engine's link state.
#[derive(Default)]
pub(super) struct LinkSide {
    handle: Option<LinkHandle>,
    /// Our summary as the configuration gives it (sources filled in when published).
    summary: Arc<ConfigSummary>,
    /// The last summary published (sources filled in), shared with the link.
    published: Option<Arc<ConfigSummary>>,
    dirty: bool,
    hooks: HashMap<String, HookRt>,
    adverts: HashMap<(IpAddr, String), Seen>,
    sources: HashSet<IpAddr>,
}

impl Engine {
    /// Starts the link if baton's file has a link block. An unusable link block stops
    /// baton from starting (the error says why).
    pub(super) fn start_link(&mut self, config: &config::Config) -> anyhow::Result<()> {
        self.link.summary = Arc::new(compare::summarize(config));
        let Some(setup) = setup_of(config, &self.plan) else {
            return Ok(());
        };
        let setup = setup?;
        let (tx, rx) = mpsc::unbounded_channel();
        forward(&self.tx, rx, Event::Link);
        let view = self.local_view(Instant::now());
        self.link.published = Some(Arc::clone(&view.config));
        let handle = LinkHandle::start(setup, &self.plan.router_id, view, tx)?;
        self.link.handle = Some(handle);
        Ok(())
    }

    /// After a reload: the new summary, and the link's new peers and trusted keys.
    pub(super) fn reload_link(&mut self, config: &config::Config) {
        self.link.summary = Arc::new(compare::summarize(config));
        self.link.dirty = true;
        match (setup_of(config, &self.plan), &self.link.handle) {
            (Some(Ok(setup)), Some(handle)) => handle.reconfigure(setup),
            (Some(Err(e)), _) => warn!("link settings not applied: {e:#}"),
            (Some(Ok(_)), None) => {
                warn!("a link block added by a reload takes effect when baton restarts")
            }
            (None, Some(_)) => {
                warn!("a link block removed by a reload takes effect when baton restarts")
            }
            (None, None) => {}
        }
    }

    /// The link logs ups and downs itself; no link report is a VRRP input, only the
    /// handover hears them.
    pub(super) fn on_link(&mut self, now: Instant, report: LinkReport) {
        tracing::debug!(?report, "link report");
        match report {
            LinkReport::Up { peer, handover } => self.handover_link(now, peer, Some(handover)),
            LinkReport::Down { peer } => self.handover_link(now, peer, None),
            LinkReport::Handover { peer, msg } => self.handover_message(now, peer, msg),
            LinkReport::SyncCaughtUp => self.handover_repump(now),
        }
    }

    /// `None`: no link. Otherwise whether a peer key is trusted (see
    /// [`LinkHandle::expects_peer`]).
    pub(super) fn link_expects_peer(&self) -> Option<bool> {
        self.link.handle.as_ref().map(LinkHandle::expects_peer)
    }

    pub(super) fn link_handover(&self, msg: HandoverMsg) {
        if let Some(h) = &self.link.handle {
            h.handover(msg);
        }
    }

    pub(super) fn link_sync_serving(&self, serving: std::collections::BTreeMap<String, bool>) {
        if let Some(h) = &self.link.handle {
            h.sync_serving(serving);
        }
    }

    pub(super) fn link_sync_catching_up(&self, target: &str) -> bool {
        (self.link.handle.as_ref()).is_some_and(|h| h.sync_catching_up(target))
    }

    /// The synced directories, for `baton status`.
    pub(super) fn sync_status(&self) -> Vec<crate::sync::DirStatus> {
        self.link
            .handle
            .as_ref()
            .map(LinkHandle::sync_status)
            .unwrap_or_default()
    }

    /// Something a peer would want to know changed; it is published before the engine
    /// next sleeps.
    pub(super) fn link_dirty(&mut self) {
        self.link.dirty = true;
    }

    pub(super) fn publish_link(&mut self) {
        if !self.link.dirty || self.link.handle.is_none() {
            return;
        }
        self.link.dirty = false;
        let view = self.local_view(Instant::now());
        self.link.published = Some(Arc::clone(&view.config));
        if let Some(h) = &self.link.handle {
            h.publish(view);
        }
    }

    /// A control request that belongs to the link: answered by the link itself.
    pub(super) fn link_control(&self, req: Request, reply: oneshot::Sender<Response>) {
        match &self.link.handle {
            Some(h) => h.control(req, reply),
            None => {
                let _ = reply.send(Response::Error {
                    message: "this node has no link (no link block in baton's file, see \
                              baton.conf(5))"
                        .into(),
                });
            }
        }
    }

    /// An advert accepted for instance `i`.
    pub(super) fn note_advert(&mut self, now: Instant, i: usize, from: IpAddr, priority: u8) {
        let Some(p) = self.plan.instances.get(i) else {
            return;
        };
        let seen = Seen {
            vrid: p.vrid,
            priority,
            at: now,
        };
        self.link.adverts.insert((from, p.name.clone()), seen);
        self.handover_heard(now, i);
        if self.link.sources.insert(from)
            && let Some(h) = &self.link.handle
        {
            h.advert_source(from);
        }
    }

    pub(super) fn note_hook(&mut self, r: &HookReport) {
        let Target::Instance(name) = &r.target else {
            return;
        };
        let label = r.kind.keyword();
        let rt = self.link.hooks.entry(name.clone()).or_default();
        match &r.phase {
            HookPhase::Started { .. } => rt.running = Some(label),
            HookPhase::Finished { outcome } => {
                rt.running = None;
                rt.last = Some((label, super::history::outcome_text(outcome), Instant::now()));
            }
            HookPhase::Refused { reason } => {
                rt.last = Some((label, format!("not run: {reason}"), Instant::now()));
            }
        }
        self.link.dirty = true;
    }

    /// The peers' rows of `baton status`.
    pub(super) fn link_status(&self, now: Instant) -> LinkView {
        let sources: HashSet<IpAddr> = self.link.adverts.keys().map(|(a, _)| *a).collect();
        let mut view = match &self.link.handle {
            Some(h) => h.shared.view(now, &|a| sources.contains(a)),
            None => LinkView::default(),
        };
        let mut adverts: Vec<(&(IpAddr, String), &Seen)> = self.link.adverts.iter().collect();
        adverts.sort_by(|a, b| a.0.cmp(b.0));
        for ((addr, instance), seen) in adverts {
            let address = addr.to_string();
            let row = match view.peers.iter().position(|p| p.address == address) {
                Some(i) => &mut view.peers[i],
                None => {
                    view.peers.push(PeerView {
                        address,
                        node_id: None,
                        fingerprint: None,
                        link: "vrrp only".into(),
                        link_since_ms_ago: None,
                        rtt_us: None,
                        last_heard_ms_ago: None,
                        status: None,
                        config: None,
                        vrrp: Vec::new(),
                        refused: Default::default(),
                    });
                    let last = view.peers.len() - 1;
                    &mut view.peers[last]
                }
            };
            row.vrrp.push(VrrpSeen {
                instance: instance.clone(),
                vrid: seen.vrid,
                priority: seen.priority,
                last_advert_ms_ago: now.saturating_duration_since(seen.at).as_millis() as u64,
            });
        }
        view
    }

    pub(super) async fn shutdown_link(&mut self) {
        if let Some(h) = self.link.handle.take() {
            info!("closing the link");
            h.shutdown(Duration::from_millis(700)).await;
        }
    }

    /// This node as its peers see it.
    fn local_view(&self, now: Instant) -> LocalView {
        let instances = self
            .plan
            .instances
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let rt = self.rt.get(i)?;
                let id = InstanceId(i);
                let hooks = self.link.hooks.get(&p.name);
                Some(InstanceStatus {
                    name: p.name.clone(),
                    state: self.node.state(id).into(),
                    effective_priority: self.node.effective_priority(id),
                    base_priority: p.priority,
                    last_reason: rt.reason.clone(),
                    in_state_ms: now.saturating_duration_since(rt.since).as_millis() as u64,
                    tracked: p
                        .tracks
                        .iter()
                        .map(|t| TrackedState {
                            key: t.key.clone(),
                            state: self
                                .track_state
                                .get(&t.key)
                                .map_or_else(|| "unknown".into(), TrackStatus::to_string),
                        })
                        .collect(),
                    hook_running: hooks.and_then(|h| h.running).map(str::to_string),
                    last_hook: hooks
                        .and_then(|h| h.last.as_ref())
                        .map(|(hook, result, at)| HookResult {
                            hook: hook.to_string(),
                            result: result.clone(),
                            ago_ms: now.saturating_duration_since(*at).as_millis() as u64,
                        }),
                })
            })
            .collect();
        // Unicast instances without a written unicast_src_ip send from their interface's
        // address, which only the running node knows.
        let source_of = |name: &str| {
            let i = self.plan.position(name)?;
            let unicast = self.plan.instances.get(i)?.is_unicast();
            self.rt.get(i).and_then(|rt| rt.primary).filter(|_| unicast)
        };
        let unfilled = &self.link.summary;
        let needs_fill = (unfilled.instances.iter())
            .any(|s| s.unicast_source.is_none() && source_of(&s.name).is_some());
        // One copy for the engine and every session, replaced only when it changes; with
        // nothing to fill in, the configuration's own summary is that copy.
        let config = if needs_fill {
            let mut filled = (**unfilled).clone();
            compare::fill_unicast_sources(&mut filled, source_of);
            match &self.link.published {
                Some(p) if **p == filled => Arc::clone(p),
                _ => Arc::new(filled),
            }
        } else {
            Arc::clone(unfilled)
        };
        LocalView {
            status: message::Status {
                baton_version: env!("CARGO_PKG_VERSION").to_string(),
                uptime_ms: now.saturating_duration_since(self.started).as_millis() as u64,
                instances,
            },
            config,
            built: now,
        }
    }
}
