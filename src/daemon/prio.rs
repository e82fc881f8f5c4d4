//! `notify_priority_changes`: a FIFO line whenever the effective priority of a watched
//! instance changes while it is MASTER or BACKUP, as keepalived 2.2.7 writes it
//! (`INSTANCE "VI_1" BACKUP_PRIORITY 80`; see [`crate::hooks::fifo::priority_line`]).
//!
//! The engine asks after every input that can move a priority (a tracked object, an
//! operator command); only instances with the setting are looked at, so without it this
//! costs nothing. A reload takes the priorities as they are then without a line.

use crate::proto::{InstanceId, Node, State};

use super::effects::Effect;
use super::plan::Plan;

/// The last effective priority seen per instance (`None`: not watched).
#[derive(Debug, Default)]
pub(super) struct PriorityWatch {
    last: Vec<Option<u8>>,
}

impl PriorityWatch {
    /// Starts over for a new configuration, without reporting anything.
    pub fn reset(&mut self, plan: &Plan, node: &Node) {
        self.last = (0..plan.instances.len().min(node.len()))
            .map(|i| {
                plan.instances[i]
                    .notify_priority_changes
                    .then(|| node.effective_priority(InstanceId(i)))
            })
            .collect();
    }

    /// The FIFO lines owed since the last call.
    pub fn changes(&mut self, plan: &Plan, node: &Node) -> Vec<Effect> {
        let mut out = Vec::new();
        for (i, last) in self.last.iter_mut().enumerate() {
            let Some(seen) = last else { continue };
            let (Some(p), true) = (plan.instances.get(i), i < node.len()) else {
                continue;
            };
            let id = InstanceId(i);
            let now = node.effective_priority(id);
            if now == *seen {
                continue;
            }
            *seen = now;
            let master = match node.state(id) {
                State::Master => true,
                State::Backup => false,
                _ => continue,
            };
            out.push(Effect::PriorityChanged {
                instance: p.name.clone(),
                master,
                priority: now,
            });
        }
        out
    }
}
