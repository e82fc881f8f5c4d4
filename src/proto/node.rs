//! [`Node`]: every instance and sync group of one host, and the only public entry point.
//!
//! Owns the instances, the groups, the last reading of every tracked object and the
//! action queue. It routes inputs to instances and then applies the sync-group rules
//! (members move between MASTER and BACKUP together; one member in FAULT faults the
//! group) to whatever transitions the instance made. No I/O, no clock.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::group::{self, Group};
use super::instance::Instance;
use super::{
    Action, Input, InstanceConfig, InstanceId, State, Stats, SyncGroupConfig, TrackStatus,
};

/// All instances and sync groups of one host.
#[derive(Debug)]
pub struct Node {
    instances: Vec<Instance>,
    groups: Vec<Group>,
    member_of: Vec<Option<usize>>,
    /// Last reading of every tracked object, so instances added by a reload start with it.
    statuses: HashMap<String, TrackStatus>,
    actions: VecDeque<Action>,
}

impl Node {
    /// Instances start in [`State::Initialize`]; each needs an [`Input::Startup`].
    pub fn new(
        instances: Vec<InstanceConfig>,
        groups: Vec<SyncGroupConfig>,
        _now: Instant,
    ) -> Node {
        let instances: Vec<Instance> = (instances.into_iter().enumerate())
            .map(|(i, cfg)| Instance::new(InstanceId(i), cfg))
            .collect();
        let member_of = group::membership(&groups, instances.len());
        let groups = (groups.into_iter())
            .map(|cfg| Group {
                cfg,
                state: State::Initialize,
            })
            .collect();
        Node {
            instances,
            groups,
            member_of,
            statuses: HashMap::new(),
            actions: VecDeque::new(),
        }
    }

    /// Feed one input to one instance. An unknown id is ignored.
    ///
    /// Operator inputs (Promote, Demote, Release) given to a sync-group member apply to
    /// every member: the group moves together, so overriding one member alone would make
    /// the group fight itself.
    pub fn handle(&mut self, now: Instant, id: InstanceId, input: Input) {
        if id.0 >= self.instances.len() {
            return;
        }
        match input {
            Input::Startup => {
                // A member starting with a failed object faults its running siblings too.
                self.refresh_faults(now);
                let prev = self.instances[id.0].state;
                self.instances[id.0].startup(now, &mut self.actions);
                self.after_change(now, id, prev);
                // Joining a group whose other members are already MASTER.
                if self.instances[id.0].state == State::Backup
                    && self
                        .siblings(id)
                        .any(|s| self.instances[s.0].state == State::Master)
                {
                    self.instances[id.0].become_master(
                        now,
                        "sync group is master",
                        &mut self.actions,
                    );
                }
            }
            Input::Advert { from, advert } => {
                let prev = self.instances[id.0].state;
                self.instances[id.0].on_advert(now, from, &advert, &mut self.actions);
                self.after_change(now, id, prev);
            }
            Input::RxError(e) => self.instances[id.0].rx_error(e),
            Input::Timer => self.fire(now, id),
            Input::Promote => {
                for m in self.group_of(id) {
                    self.instances[m.0].promote(now, &mut self.actions);
                }
            }
            Input::Demote => {
                for m in self.group_of(id) {
                    self.instances[m.0].demote(now, &mut self.actions);
                }
            }
            Input::Release => {
                for m in self.group_of(id) {
                    self.instances[m.0].release();
                }
            }
            Input::Shutdown => self.instances[id.0].shutdown(&mut self.actions),
            Input::Elected(won) => {
                for m in self.group_of(id) {
                    let prev = self.instances[m.0].state;
                    self.instances[m.0].elected(now, won, &mut self.actions);
                    self.after_change(now, m, prev);
                }
            }
        }
        self.emit_group_transitions();
    }

    /// Fire every deadline that is due at `now`.
    pub fn timer(&mut self, now: Instant) {
        for i in 0..self.instances.len() {
            self.fire(now, InstanceId(i));
        }
        self.emit_group_transitions();
    }

    /// A tracked object changed; every instance that tracks `key` re-evaluates.
    pub fn track(&mut self, now: Instant, key: &str, status: TrackStatus) {
        self.statuses.insert(key.to_owned(), status);
        let mut touched = false;
        for inst in self.instances.iter_mut().filter(|i| i.tracks_key(key)) {
            inst.statuses.insert(key.to_owned(), status);
            touched = true;
        }
        if touched {
            self.refresh_faults(now);
            self.emit_group_transitions();
        }
    }

    /// Replace the configuration. Instances are matched by name (and must keep their VRID,
    /// version and address family, otherwise they count as removed and added) and keep
    /// their state, statistics and operator overrides; a master whose addresses changed
    /// gets [`Action::UpdateAddresses`]. New instances start in Initialize and need an
    /// [`Input::Startup`]. Vanished ones produce [`Action::Removed`] (queued first).
    /// [`InstanceId`]s afterwards index the new list.
    pub fn reconfigure(
        &mut self,
        now: Instant,
        instances: Vec<InstanceConfig>,
        groups: Vec<SyncGroupConfig>,
    ) {
        let mut old: Vec<Option<Instance>> = self.instances.drain(..).map(Some).collect();
        let same = |a: &InstanceConfig, b: &InstanceConfig| {
            a.name == b.name
                && a.vrid == b.vrid
                && a.version == b.version
                && a.primary_address.is_ipv4() == b.primary_address.is_ipv4()
        };
        let mut updates = VecDeque::new();
        let mut next = Vec::with_capacity(instances.len());
        for (i, cfg) in instances.into_iter().enumerate() {
            let id = InstanceId(i);
            let found = old
                .iter_mut()
                .find(|o| o.as_ref().is_some_and(|o| same(&o.cfg, &cfg)));
            let inst = match found.and_then(Option::take) {
                Some(mut inst) => {
                    inst.update_config(now, id, cfg, &mut updates);
                    inst
                }
                None => Instance::new(id, cfg),
            };
            next.push(inst);
        }
        for gone in old.into_iter().flatten() {
            gone.remove(&mut self.actions);
        }
        self.actions.append(&mut updates);
        for inst in &mut next {
            for t in &inst.cfg.tracks {
                if let Some(s) = self.statuses.get(&t.key) {
                    inst.statuses.insert(t.key.clone(), *s);
                }
            }
        }
        self.instances = next;
        self.member_of = group::membership(&groups, self.instances.len());
        let old_groups = std::mem::take(&mut self.groups);
        self.groups = (groups.into_iter())
            .map(|cfg| {
                let state = (old_groups.iter())
                    .find(|g| g.cfg.name == cfg.name)
                    .map_or(State::Initialize, |g| g.state);
                Group { cfg, state }
            })
            .collect();
        self.refresh_faults(now);
        self.emit_group_transitions();
    }

    /// Stop every instance: masters send priority 0 and release their addresses.
    pub fn shutdown(&mut self, _now: Instant) {
        for inst in &mut self.instances {
            inst.shutdown(&mut self.actions);
        }
        self.emit_group_transitions();
    }

    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        self.instances
            .iter()
            .filter_map(Instance::next_deadline)
            .min()
    }

    pub fn len(&self) -> usize {
        self.instances.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Panics if `id` is out of range (ids come from this node's own configuration).
    pub fn config(&self, id: InstanceId) -> &InstanceConfig {
        &self.instances[id.0].cfg
    }

    /// Panics if `id` is out of range.
    pub fn state(&self, id: InstanceId) -> State {
        self.instances[id.0].state
    }

    /// The priority this instance advertises now (tracked objects and operator overrides
    /// applied). Panics if `id` is out of range.
    pub fn effective_priority(&self, id: InstanceId) -> u8 {
        self.instances[id.0].effective_priority()
    }

    /// Address of the current master as last heard (None when unknown or self).
    /// Panics if `id` is out of range.
    pub fn master_address(&self, id: InstanceId) -> Option<IpAddr> {
        self.instances[id.0].master_address()
    }

    /// Panics if `id` is out of range.
    pub fn stats(&self, id: InstanceId) -> &Stats {
        &self.instances[id.0].stats
    }

    /// The priority in the current master's adverts, while BACKUP and once heard.
    /// Panics if `id` is out of range.
    pub fn master_priority(&self, id: InstanceId) -> Option<u8> {
        self.instances[id.0].master_priority()
    }

    /// The master's advert interval as this instance uses it (v3 learns it from the
    /// master's adverts; v2 always uses its own). Panics if `id` is out of range.
    pub fn master_advert_interval(&self, id: InstanceId) -> Duration {
        self.instances[id.0].master_advert_interval()
    }

    /// The earliest deadline of this one instance. Panics if `id` is out of range.
    pub fn instance_deadline(&self, id: InstanceId) -> Option<Instant> {
        self.instances[id.0].next_deadline()
    }

    /// The members of `id`'s group, or just `id`.
    fn group_of(&self, id: InstanceId) -> Vec<InstanceId> {
        match self.member_of.get(id.0).copied().flatten() {
            Some(g) => (0..self.instances.len())
                .filter(|i| self.member_of[*i] == Some(g))
                .map(InstanceId)
                .collect(),
            None => vec![id],
        }
    }

    fn siblings(&self, id: InstanceId) -> impl Iterator<Item = InstanceId> + '_ {
        let g = self.member_of.get(id.0).copied().flatten();
        (0..self.instances.len())
            .filter(move |i| g.is_some() && *i != id.0 && self.member_of[*i] == g)
            .map(InstanceId)
    }

    fn fire(&mut self, now: Instant, id: InstanceId) {
        let prev = self.instances[id.0].state;
        self.instances[id.0].on_timer(now, &mut self.actions);
        self.after_change(now, id, prev);
    }

    /// The sync-group rule after instance `id` moved from `prev`: a member that became
    /// MASTER pulls the others (in BACKUP) to MASTER; a member that left MASTER for BACKUP
    /// pushes the other masters to BACKUP. FAULT is handled by [`Node::refresh_faults`].
    fn after_change(&mut self, now: Instant, id: InstanceId, prev: State) {
        let state = self.instances[id.0].state;
        if state == prev {
            return;
        }
        let name = self.instances[id.0].cfg.name.clone();
        let siblings: Vec<InstanceId> = self.siblings(id).collect();
        for s in siblings {
            let sib = &mut self.instances[s.0];
            match (prev, state, sib.state) {
                (_, State::Master, State::Backup) => {
                    let reason = format!("sync group: {name} became master");
                    sib.become_master(now, &reason, &mut self.actions);
                }
                (State::Master, State::Backup, State::Master) => {
                    let reason = format!("sync group: {name} became backup");
                    sib.become_backup(now, &reason, &mut self.actions);
                }
                _ => {}
            }
        }
    }

    /// Mark every member of a group with a failing weight-0 object as group-faulted.
    fn refresh_group_faults(&mut self) {
        let mut faulted = vec![false; self.groups.len()];
        for (inst, g) in self.instances.iter().zip(&self.member_of) {
            if let Some(g) = g
                && inst.own_fault()
            {
                faulted[*g] = true;
            }
        }
        for (inst, g) in self.instances.iter_mut().zip(&self.member_of) {
            inst.group_fault = g.is_some_and(|g| faulted[g]);
        }
    }

    /// Move instances into or out of FAULT after a tracked object or the config changed.
    fn refresh_faults(&mut self, now: Instant) {
        self.refresh_group_faults();
        for inst in &mut self.instances {
            inst.refresh_fault(now, &mut self.actions);
        }
    }

    fn emit_group_transitions(&mut self) {
        for (g, group) in self.groups.iter_mut().enumerate() {
            let members = (self.instances.iter().zip(&self.member_of))
                .filter(|(_, m)| **m == Some(g))
                .map(|(i, _)| i.state);
            let state = group::aggregate(members);
            if state != group.state {
                self.actions.push_back(Action::GroupTransition {
                    group: g,
                    from: group.state,
                    to: state,
                });
                group.state = state;
            }
        }
    }
}
