//! Sync groups: the state a group reports and which instances belong to it.
//!
//! Owns the group's last reported state and the membership lookup. The rules that move
//! members together live in [`super::Node`], which sees every instance at once.

use super::{State, SyncGroupConfig};

#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) cfg: SyncGroupConfig,
    /// Last state reported with [`super::Action::GroupTransition`].
    pub(crate) state: State,
}

/// The state of a group given its members' states: one member in FAULT faults the group;
/// otherwise any MASTER makes it MASTER (the others are being pulled along), then BACKUP.
pub(crate) fn aggregate(states: impl Iterator<Item = State> + Clone) -> State {
    let any = |s: State| states.clone().any(|m| m == s);
    if any(State::Fault) {
        State::Fault
    } else if any(State::Master) {
        State::Master
    } else if any(State::Backup) {
        State::Backup
    } else if states.clone().next().is_some() && states.clone().all(|m| m == State::Stop) {
        State::Stop
    } else {
        State::Initialize
    }
}

/// `member_of[i]`: the group of instance `i`. An instance listed in several groups
/// belongs to the first; ids beyond `len` are ignored (config validation reports both).
pub(crate) fn membership(groups: &[SyncGroupConfig], len: usize) -> Vec<Option<usize>> {
    let mut member_of = vec![None; len];
    for (g, cfg) in groups.iter().enumerate() {
        for id in &cfg.members {
            if let Some(slot) = member_of.get_mut(id.0) {
                slot.get_or_insert(g);
            }
        }
    }
    member_of
}
