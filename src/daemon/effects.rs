//! The engine's hands: one task that carries out, strictly in the order they were decided,
//! the side effects of transitions: virtual addresses, routes and rules through netlink,
//! gratuitous ARP / unsolicited NA schedules, and notify hooks.
//!
//! Order matters to users: `notify_master` must find the virtual address already in
//! place, and a BACKUP hook must never overtake the MASTER hook before it. One queue
//! gives both. The engine only sends [`Effect`]s and never waits for them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::config::model;
use crate::hooks::{self, HookRunner, NotifySpec, Target};
use crate::net::{self, Announcer, Netlink};

use super::plan::GarpPlan;

/// One side effect, carried out after every effect sent before it.
#[derive(Debug)]
pub enum Effect {
    /// Put an instance's virtual addresses, routes and rules in place.
    Add(Box<AddressSet>),
    /// Take them away (every item is tried, failures are logged) and stop the
    /// instance's GARP / NA schedule: it is leaving MASTER.
    Remove(Box<AddressSet>),
    /// Take away items that are no longer configured from an instance that stays master
    /// (after a reload): like [`Effect::Remove`], but its GARP / NA schedule goes on.
    Withdraw(Box<AddressSet>),
    /// Start the GARP / NA schedule of an instance that became master.
    Announce {
        instance: String,
        interface: String,
        addresses: Vec<IpAddr>,
        garp: GarpPlan,
    },
    /// Delete these VMAC interfaces (a reload dropped their `use_vmac`).
    DeleteVmacs(Vec<String>),
    /// Run the notify hooks of a transition.
    Notify {
        target: Target,
        notify: hooks::Notify,
        priority: u8,
        /// Answered once every hook of the transition has ended (the handover waits
        /// for the hooks of leaving MASTER).
        done: Option<oneshot::Sender<()>>,
    },
    /// The effective priority of an instance in MASTER or BACKUP changed
    /// (`notify_priority_changes`): a FIFO line.
    PriorityChanged {
        instance: String,
        master: bool,
        priority: u8,
    },
    /// Replace the notify scripts of a target (after a reload).
    SetNotify { target: Target, spec: NotifySpec },
    /// The variables added to the environment of the target's hooks from now on.
    SetEnv {
        target: Target,
        env: Vec<(String, String)>,
    },
    /// Finish the hooks still queued (bounded by `deadline`), then answer.
    Finish {
        deadline: Duration,
        done: oneshot::Sender<()>,
    },
}

/// The addresses, routes and rules of one instance, with the interface they default to.
#[derive(Debug, Clone)]
pub struct AddressSet {
    pub instance: String,
    pub interface: String,
    pub addresses: Vec<model::VirtualAddress>,
    pub routes: Vec<model::Route>,
    pub rules: Vec<model::Rule>,
}

/// What the worker reports back to the engine.
#[derive(Debug)]
pub enum Report {
    /// The addresses of `instance` are in place; `took` is the netlink time.
    AddressesAdded { instance: String, took: Duration },
}

/// Starts the worker. Must be called inside the tokio runtime.
pub fn start(
    netlink: Netlink,
    hooks: HookRunner,
    reports: mpsc::UnboundedSender<Report>,
) -> (mpsc::UnboundedSender<Effect>, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let worker = Worker {
        netlink,
        hooks: Some(hooks),
        announcing: HashMap::new(),
        reports,
        known: std::sync::Mutex::new(HashMap::new()),
    };
    (tx, tokio::spawn(worker.run(rx)))
}

struct Worker {
    netlink: Netlink,
    hooks: Option<HookRunner>,
    /// Running GARP schedules by instance; aborted when the instance leaves MASTER.
    announcing: HashMap<String, JoinHandle<()>>,
    reports: mpsc::UnboundedSender<Report>,
    /// Interface indexes that earlier adds used: a takeover's addresses go out without
    /// a link lookup round trip first (0.2–1 ms). A stale entry (the interface was
    /// re-created) makes the add fail; it is then retried once after a fresh lookup.
    known: std::sync::Mutex<HashMap<String, u32>>,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Effect>) {
        while let Some(effect) = rx.recv().await {
            match effect {
                Effect::Add(set) => {
                    let started = Instant::now();
                    self.add(&set).await;
                    let _ = self.reports.send(Report::AddressesAdded {
                        instance: set.instance.clone(),
                        took: started.elapsed(),
                    });
                }
                Effect::Remove(set) => {
                    if let Some(task) = self.announcing.remove(&set.instance) {
                        task.abort();
                    }
                    self.remove(&set).await;
                }
                Effect::Withdraw(set) => self.remove(&set).await,
                Effect::Announce {
                    instance,
                    interface,
                    addresses,
                    garp,
                } => {
                    if let Some(task) = self.announcing.remove(&instance) {
                        task.abort();
                    }
                    let netlink = self.netlink.clone();
                    let task = tokio::spawn(announce(netlink, interface, addresses, garp));
                    self.announcing.insert(instance, task);
                }
                Effect::DeleteVmacs(names) => super::vmac::remove(&self.netlink, names).await,
                Effect::Notify {
                    target,
                    notify,
                    priority,
                    done,
                } => {
                    if let Some(h) = self.hooks.as_mut() {
                        h.enqueue_then(&target, notify, priority, done);
                    }
                }
                Effect::PriorityChanged {
                    instance,
                    master,
                    priority,
                } => {
                    if let Some(h) = self.hooks.as_mut() {
                        h.priority_changed(&instance, master, priority);
                    }
                }
                Effect::SetNotify { target, spec } => {
                    if let Some(h) = self.hooks.as_mut() {
                        h.set_notify(target, spec);
                    }
                }
                Effect::SetEnv { target, env } => {
                    if let Some(h) = self.hooks.as_mut() {
                        h.set_env(&target, env);
                    }
                }
                Effect::Finish { deadline, done } => {
                    for (_, task) in self.announcing.drain() {
                        task.abort();
                    }
                    if let Some(h) = self.hooks.take() {
                        h.shutdown(deadline).await;
                    }
                    let _ = done.send(());
                    return;
                }
            }
        }
    }

    async fn ifindex(&self, cache: &mut HashMap<String, Option<u32>>, name: &str) -> Option<u32> {
        if let Some(i) = cache.get(name) {
            return *i;
        }
        let idx = match self.netlink.link_by_name(name).await {
            Ok(l) => Some(l.ifindex),
            Err(e) => {
                warn!(interface = name, error = %e, "interface not found");
                None
            }
        };
        cache.insert(name.to_string(), idx);
        idx
    }

    async fn add(&self, set: &AddressSet) {
        let mut cache = HashMap::new();
        for a in &set.addresses {
            let dev = a.dev.as_deref().unwrap_or(&set.interface);
            let known = self.known.lock().ok().and_then(|k| k.get(dev).copied());
            let looked_up = match known {
                Some(_) => None,
                None => self.ifindex(&mut cache, dev).await,
            };
            let Some(mut ifindex) = known.or(looked_up) else {
                continue;
            };
            let mut result = self.netlink.add_address(&net_address(ifindex, a)).await;
            if result.is_err() && known.is_some() {
                // The interface may have been re-created under the same name.
                if let Some(fresh) = self.ifindex(&mut cache, dev).await {
                    if fresh != ifindex {
                        ifindex = fresh;
                        result = self.netlink.add_address(&net_address(ifindex, a)).await;
                    }
                }
            }
            if let (Ok(()), Ok(mut k)) = (&result, self.known.lock()) {
                k.insert(dev.to_string(), ifindex);
            }
            match result {
                Ok(()) => {
                    debug!(instance = %set.instance, address = %a.address, dev, "address added")
                }
                Err(e) => {
                    warn!(instance = %set.instance, address = %a.address, dev, error = %e, "adding virtual address failed")
                }
            }
        }
        for r in &set.routes {
            match net_route(self, &mut cache, r, &set.interface).await {
                Some(nr) => {
                    if let Err(e) = self.netlink.add_route(&nr).await {
                        warn!(instance = %set.instance, route = ?r.to, error = %e, "adding virtual route failed");
                    }
                }
                None => warn!(instance = %set.instance, route = ?r.to, "virtual route skipped"),
            }
        }
        for r in &set.rules {
            if let Err(e) = self.netlink.add_rule(&net_rule(r)).await {
                warn!(instance = %set.instance, rule = ?r, error = %e, "adding virtual rule failed");
            }
        }
    }

    async fn remove(&self, set: &AddressSet) {
        let mut cache = HashMap::new();
        for r in &set.rules {
            if let Err(e) = self.netlink.del_rule(&net_rule(r)).await {
                warn!(instance = %set.instance, rule = ?r, error = %e, "removing virtual rule failed");
            }
        }
        for r in &set.routes {
            if let Some(nr) = net_route(self, &mut cache, r, &set.interface).await {
                if let Err(e) = self.netlink.del_route(&nr).await {
                    warn!(instance = %set.instance, route = ?r.to, error = %e, "removing virtual route failed");
                }
            }
        }
        for a in &set.addresses {
            let dev = a.dev.as_deref().unwrap_or(&set.interface);
            let Some(ifindex) = self.ifindex(&mut cache, dev).await else {
                continue;
            };
            match self.netlink.del_address(&net_address(ifindex, a)).await {
                Ok(()) => {
                    debug!(instance = %set.instance, address = %a.address, dev, "address removed")
                }
                Err(e) => {
                    warn!(instance = %set.instance, address = %a.address, dev, error = %e, "removing virtual address failed")
                }
            }
        }
    }
}

/// The GARP / NA schedule: a burst now, another after `delay`, then refreshes.
async fn announce(netlink: Netlink, interface: String, addresses: Vec<IpAddr>, garp: GarpPlan) {
    let link = match netlink.link_by_name(&interface).await {
        Ok(l) => l,
        Err(e) => {
            warn!(interface, error = %e, "cannot announce: interface not found");
            return;
        }
    };
    let Some(mac) = link.mac else {
        debug!(interface, "no hardware address: nothing to announce");
        return;
    };
    let link_local = netlink
        .ipv6_link_local(link.ifindex)
        .await
        .unwrap_or_default();
    let mut announcer = match Announcer::open(&interface, mac, link_local) {
        Ok(a) => CloseElsewhere(Some(a)),
        Err(e) => {
            warn!(interface, error = %e, "cannot open packet socket for GARP / NA");
            return;
        }
    };
    let report = |failed: Vec<(IpAddr, net::Error)>| {
        for (addr, e) in failed {
            warn!(interface = %interface, address = %addr, error = %e, "announcement failed");
        }
    };
    report(
        announcer
            .get()
            .send_repeated(&addresses, garp.repeat, garp.interval)
            .await,
    );
    info!(interface = %interface, count = addresses.len(), "gratuitous ARP / NA sent");
    if !garp.delay.is_zero() {
        tokio::time::sleep(garp.delay).await;
        report(
            announcer
                .get()
                .send_repeated(&addresses, garp.repeat, garp.interval)
                .await,
        );
    }
    if garp.refresh.is_zero() {
        return;
    }
    loop {
        tokio::time::sleep(garp.refresh).await;
        report(
            announcer
                .get()
                .send_repeated(&addresses, garp.refresh_repeat, garp.interval)
                .await,
        );
    }
}

/// Owns the GARP / NA packet socket and closes it on another thread. Closing an
/// AF_PACKET socket waits for an RCU grace period in the kernel (`synchronize_net`,
/// 5–20 ms): done on the runtime thread, as when a master steps down and its schedule
/// is aborted, it stalled the whole engine — the virtual address stayed up that long
/// after a higher-priority advert, and adverts of other instances waited too.
struct CloseElsewhere(Option<Announcer>);

impl CloseElsewhere {
    fn get(&mut self) -> &mut Announcer {
        self.0.as_mut().expect("present until dropped")
    }
}

impl Drop for CloseElsewhere {
    fn drop(&mut self) {
        if let Some(a) = self.0.take() {
            // If no thread can be started, close here: slow, still correct.
            let _ = std::thread::Builder::new()
                .name("baton-close".into())
                .spawn(move || drop(a));
        }
    }
}

fn net_scope(s: Option<model::Scope>) -> net::Scope {
    match s {
        None | Some(model::Scope::Global) => net::Scope::Global,
        Some(model::Scope::Site) => net::Scope::Site,
        Some(model::Scope::Link) => net::Scope::Link,
        Some(model::Scope::Host) => net::Scope::Host,
        Some(_) => net::Scope::Nowhere,
    }
}

/// A virtual address as netlink takes it.
pub fn net_address(ifindex: u32, a: &model::VirtualAddress) -> net::VirtualAddress {
    net::VirtualAddress {
        ifindex,
        addr: a.address,
        prefix_len: a.prefix_len,
        broadcast: match a.brd {
            Some(IpAddr::V4(b)) => Some(b),
            _ => None,
        },
        label: a.label.clone(),
        scope: net_scope(a.scope),
    }
}

async fn net_route(
    w: &Worker,
    cache: &mut HashMap<String, Option<u32>>,
    r: &model::Route,
    default_if: &str,
) -> Option<net::Route> {
    let kind = match r.route_type {
        model::RouteType::Unicast => net::RouteKind::Unicast,
        model::RouteType::Blackhole => net::RouteKind::Blackhole,
        model::RouteType::Unreachable => net::RouteKind::Unreachable,
        model::RouteType::Prohibit => net::RouteKind::Prohibit,
        _ => return None,
    };
    let ifindex = match (&r.dev, kind, r.via) {
        (Some(dev), _, _) => Some(w.ifindex(cache, dev).await?),
        // A route without a device or gateway goes on the instance's interface.
        (None, net::RouteKind::Unicast, None) => Some(w.ifindex(cache, default_if).await?),
        _ => None,
    };
    Some(net::Route {
        kind,
        dst: r.to.address,
        prefix_len: r.to.len,
        gateway: r.via,
        ifindex,
        src: r.src,
        metric: r.metric,
        table: r.table.as_deref().and_then(table_id),
        scope: r.scope.map(|s| net_scope(Some(s))),
    })
}

fn net_rule(r: &model::Rule) -> net::Rule {
    net::Rule {
        from: r.from.map(|p| (p.address, p.len)),
        to: r.to.map(|p| (p.address, p.len)),
        table: r.table.as_deref().and_then(table_id).unwrap_or(254),
        priority: r.preference,
        v6: r.from.or(r.to).is_some_and(|p| p.address.is_ipv6()),
    }
}

/// A routing table by number or by name (`main`, `local`, `default`, or a name from
/// /etc/iproute2/rt_tables).
pub fn table_id(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    match name {
        "main" => return Some(254),
        "local" => return Some(255),
        "default" => return Some(253),
        _ => {}
    }
    let text = std::fs::read_to_string("/etc/iproute2/rt_tables").ok()?;
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| {
            let mut words = l.split_whitespace();
            let id = words.next()?.parse().ok()?;
            (words.next()? == name).then_some(id)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_by_name_and_number() {
        assert_eq!(table_id("100"), Some(100));
        assert_eq!(table_id("main"), Some(254));
        assert_eq!(table_id("local"), Some(255));
        assert_eq!(table_id("no-such-table-name"), None);
    }
}
