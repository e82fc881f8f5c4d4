//! The invariants checked as the schedule runs: on every action a node asks for (its
//! driver-side bookkeeping) and on a settled, quiet network (one master, no flapping, the
//! best node wins).

use std::net::IpAddr;

use baton::proto::{Action, InitialState, InstanceId, Node, State};

use super::{Op, Sim};

impl Sim<'_> {
    /// Carry out everything node `n` asked for, checking driver-side invariants.
    pub(crate) fn drain(&mut self, n: usize) -> Result<(), String> {
        loop {
            let Some(node) = self.nodes[n].node.as_mut() else {
                return Ok(());
            };
            let Some(action) = node.poll_action() else {
                break;
            };
            if self.verbose {
                println!("{:10.6} node {n}: {action:?}", self.t());
            }
            self.trace_action(n, &action);
            self.dirty[n] = true;
            match action {
                Action::SendAdvert { instance, advert } => self.send(n, instance.0, advert),
                Action::AddAddresses { instance } => {
                    if std::mem::replace(&mut self.nodes[n].held[instance.0], true) {
                        return Err(format!(
                            "node {n} inst {} added addresses it already holds",
                            instance.0
                        ));
                    }
                }
                Action::RemoveAddresses { instance } => {
                    if !std::mem::replace(&mut self.nodes[n].held[instance.0], false) {
                        return Err(format!(
                            "node {n} inst {} removed addresses it does not hold",
                            instance.0
                        ));
                    }
                }
                Action::Announce { instance } | Action::AnnounceLowerPriority { instance, .. } => {
                    if !self.nodes[n].held[instance.0] {
                        return Err(format!(
                            "node {n} inst {} announced addresses it does not hold",
                            instance.0
                        ));
                    }
                }
                Action::Transition {
                    instance,
                    from,
                    to,
                    reason,
                    ..
                } => {
                    let seen = self.nodes[n].state[instance.0];
                    if seen != from {
                        return Err(format!(
                            "node {n} inst {}: transition from {from:?} but was {seen:?}",
                            instance.0
                        ));
                    }
                    if self.stable() {
                        return Err(format!(
                            "node {n} inst {}: flap {from:?} -> {to:?} ({}) on a quiet, settled network",
                            instance.0, reason.0
                        ));
                    }
                    self.nodes[n].state[instance.0] = to;
                    if let (Some(h), Some(l)) = (self.hand.as_mut(), self.link.as_mut()) {
                        h.transition(self.now, n, (false, instance.0), (from, to), l)?;
                    }
                    self.cov.transitions += 1;
                    self.cov.to_master += u64::from(to == State::Master);
                    self.cov.to_fault += u64::from(to == State::Fault);
                }
                Action::GroupTransition { group, from, to } => {
                    if let (Some(h), Some(l)) = (self.hand.as_mut(), self.link.as_mut()) {
                        h.transition(self.now, n, (true, group), (from, to), l)?;
                    }
                }
                other => return Err(format!("node {n}: unexpected action {other:?}")),
            }
        }
        let sn = &self.nodes[n];
        if let Some(node) = &sn.node {
            for i in 0..sn.state.len() {
                let state = node.state(InstanceId(i));
                if state != sn.state[i] {
                    return Err(format!(
                        "node {n} inst {i}: state {state:?} without a Transition"
                    ));
                }
                if sn.held[i] != (state == State::Master) {
                    return Err(format!(
                        "node {n} inst {i}: in {state:?} but holds addresses: {}",
                        sn.held[i]
                    ));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn master_of(&self, inst: usize) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|n| {
                self.nodes[*n]
                    .node
                    .as_ref()
                    .is_some_and(|node| node.state(InstanceId(inst)) == State::Master)
            })
            .collect()
    }

    /// Invariants that hold on a settled, quiet network.
    pub(crate) fn check_stable(&mut self) -> Result<(), String> {
        if !self.stable() {
            return Ok(());
        }
        self.cov.settled_checks += 1;
        for inst in 0..self.sc.cfgs[0].len() {
            let live: Vec<(usize, &Node)> = self
                .nodes
                .iter()
                .enumerate()
                .filter_map(|(n, s)| s.node.as_ref().map(|node| (n, node)))
                .collect();
            let id = InstanceId(inst);
            let eligible: Vec<usize> = live
                .iter()
                .filter(|(_, node)| node.state(id) != State::Fault)
                .map(|(n, _)| *n)
                .collect();
            let masters = self.master_of(inst);
            let want = usize::from(!eligible.is_empty());
            if masters.len() != want {
                return Err(format!(
                    "vrid index {inst}: masters {masters:?} (eligible {eligible:?}) on a settled network"
                ));
            }
            let key = |n: usize| {
                let node = self.nodes[n]
                    .node
                    .as_ref()
                    .map_or(0, |node| node.effective_priority(id));
                let addr = match self.sc.cfgs[n][inst].primary_address {
                    IpAddr::V4(a) => u128::from(u32::from(a)),
                    IpAddr::V6(a) => u128::from(a),
                };
                (node, addr)
            };
            if let Some(best) = eligible.iter().copied().max_by_key(|n| key(*n)) {
                let cfg = &self.nodes[best].cfgs[inst];
                let op = self.nodes[best].op[inst];
                let preempts = op == Op::Promoted
                    || (op == Op::None
                        && (cfg.preempt || cfg.initial_state == InitialState::Master));
                if preempts {
                    self.cov.best_node_checks += 1;
                }
                if preempts && masters != [best] {
                    return Err(format!(
                        "vrid index {inst}: best node {best} {:?} preempts but masters are {masters:?}",
                        key(best)
                    ));
                }
            }
        }
        for (n, sn) in self.nodes.iter().enumerate() {
            let (Some(node), Some(g)) = (&sn.node, self.sc.groups.first()) else {
                continue;
            };
            let states: Vec<State> = g.members.iter().map(|m| node.state(*m)).collect();
            if states.windows(2).any(|w| w[0] != w[1]) {
                return Err(format!("node {n}: sync group members disagree: {states:?}"));
            }
        }
        Ok(())
    }
}
