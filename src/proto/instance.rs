//! One VRRP instance: the RFC 5798 state machine with keepalived's extensions.
//!
//! Owns the state, the timer table, the learned master interval, the tracked-object
//! readings this instance references, operator overrides and the statistics. Sync-group
//! rules are not here: [`super::Node`] applies them on top of the transitions this file
//! makes. No I/O and no clock: every method takes `now` and appends [`Action`]s to `out`.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::priority::{self, MAX_NON_OWNER, MIN, OWNER};
use super::timer::{Timer, TimerTable};
use super::{
    Action, InitialState, InstanceConfig, InstanceId, Reason, RxError, State, Stats, TrackStatus,
};
use crate::wire::{Advert, Auth, Version};

/// An operator override (control socket), in force until Release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Operator {
    #[default]
    None,
    /// Behave as if the effective priority were 254 (an owner stays 255), always preempt.
    Promoted,
    /// Behave as if the effective priority were 1 and never preempt.
    Demoted,
}

/// Total order used for elections: priority first, then the primary address compared as
/// an unsigned integer (RFC 5798 6.4.3). IPv4 and IPv6 never meet in one instance.
fn election_key(priority: u8, addr: IpAddr) -> (u8, u128) {
    let bits = match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    (priority, bits)
}

/// Same addresses regardless of order (lists are a handful of entries).
fn same_address_set(a: &[IpAddr], b: &[IpAddr]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
}

#[derive(Debug, Clone)]
pub(crate) struct Instance {
    pub(crate) id: InstanceId,
    pub(crate) cfg: InstanceConfig,
    pub(crate) state: State,
    timers: TimerTable,
    /// v3: learned from the master's adverts; v2: always the configured interval.
    master_adver_interval: Duration,
    master_address: Option<IpAddr>,
    /// Priority of the master last accepted while BACKUP (for the preempt-delay timer).
    master_priority: Option<u8>,
    /// Last reading of every object in `cfg.tracks` that has been reported.
    pub(crate) statuses: HashMap<String, TrackStatus>,
    started_at: Option<Instant>,
    pub(crate) operator: Operator,
    /// Another member of this instance's sync group is failing a weight-0 object.
    pub(crate) group_fault: bool,
    pub(crate) stats: Stats,
}

impl Instance {
    pub(crate) fn new(id: InstanceId, cfg: InstanceConfig) -> Instance {
        let master_adver_interval = cfg.advert_interval.as_duration();
        Instance {
            id,
            cfg,
            state: State::Initialize,
            timers: TimerTable::default(),
            master_adver_interval,
            master_address: None,
            master_priority: None,
            statuses: HashMap::new(),
            started_at: None,
            operator: Operator::None,
            group_fault: false,
            stats: Stats::default(),
        }
    }

    pub(crate) fn tracks_key(&self, key: &str) -> bool {
        self.cfg.tracks.iter().any(|t| t.key == key)
    }

    pub(crate) fn effective_priority(&self) -> u8 {
        match self.operator {
            Operator::Demoted => MIN,
            Operator::Promoted if self.cfg.priority == OWNER => OWNER,
            Operator::Promoted => MAX_NON_OWNER,
            Operator::None => {
                priority::effective(self.cfg.priority, &self.cfg.tracks, &self.statuses)
            }
        }
    }

    /// A weight-0 object of this instance itself is failing.
    pub(crate) fn own_fault(&self) -> bool {
        priority::track_fault(&self.cfg.tracks, &self.statuses)
    }

    fn wants_fault(&self) -> bool {
        self.own_fault() || self.group_fault || self.cfg.config_fault.is_some()
    }

    /// Why the instance is (or would be) in FAULT, for the transition's reason.
    fn fault_reason(&self) -> &str {
        if let Some(r) = &self.cfg.config_fault {
            r
        } else if self.own_fault() {
            "a tracked object is down"
        } else {
            "sync group member in fault"
        }
    }

    pub(crate) fn master_address(&self) -> Option<IpAddr> {
        if self.state == State::Backup {
            self.master_address
        } else {
            None
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The priority of the master last heard, while BACKUP.
    pub(crate) fn master_priority(&self) -> Option<u8> {
        if self.state == State::Backup {
            self.master_priority
        } else {
            None
        }
    }

    /// v3: the interval learned from the master's adverts; v2: the configured one.
    pub(crate) fn master_advert_interval(&self) -> Duration {
        self.master_adver_interval
    }

    /// keepalived accepts `nopreempt` only with `state BACKUP`; an operator override wins.
    fn may_preempt(&self) -> bool {
        match self.operator {
            Operator::Promoted => true,
            Operator::Demoted => false,
            Operator::None => self.cfg.preempt || self.cfg.initial_state == InitialState::Master,
        }
    }

    /// The end of the startup preempt delay, while it is still ahead of `now`.
    fn preempt_delay_end(&self, now: Instant) -> Option<Instant> {
        if self.operator == Operator::Promoted || self.cfg.initial_state == InitialState::Master {
            return None;
        }
        let end = self.started_at? + self.cfg.preempt_delay;
        (end > now).then_some(end)
    }

    fn own_interval(&self) -> Duration {
        self.cfg.advert_interval.as_duration()
    }

    fn master_down_interval(&self) -> Duration {
        priority::master_down_interval(self.effective_priority(), self.master_adver_interval)
    }

    fn advert(&self, priority: u8) -> Advert {
        Advert {
            version: self.cfg.version,
            vrid: self.cfg.vrid,
            priority,
            max_advert_int: self.cfg.advert_interval,
            auth: match self.cfg.version {
                Version::V2 => self.cfg.auth.clone(),
                Version::V3 => Auth::None,
            },
            addresses: self.cfg.virtual_addresses.clone(),
        }
    }

    fn send_advert(&mut self, priority: u8, out: &mut VecDeque<Action>) {
        if self.cfg.elected_externally {
            return;
        }
        self.stats.adverts_sent += 1;
        if priority == 0 {
            self.stats.priority_zero_sent += 1;
        }
        out.push_back(Action::SendAdvert {
            instance: self.id,
            advert: self.advert(priority),
        });
    }

    fn transition(&mut self, to: State, reason: &str, out: &mut VecDeque<Action>) {
        let from = self.state;
        self.state = to;
        if from == State::Master && to != State::Master {
            self.stats.released_master += 1;
        }
        out.push_back(Action::Transition {
            instance: self.id,
            from,
            to,
            reason: Reason(reason.to_owned()),
            priority: self.effective_priority(),
        });
    }

    /// Actions in the order the driver needs them: the advert claims the VRID, the
    /// addresses exist before the announcement, and the hooks run last.
    pub(crate) fn become_master(&mut self, now: Instant, reason: &str, out: &mut VecDeque<Action>) {
        self.timers.clear_all();
        self.master_address = None;
        self.master_priority = None;
        self.master_adver_interval = self.own_interval();
        self.send_advert(self.effective_priority(), out);
        out.push_back(Action::AddAddresses { instance: self.id });
        out.push_back(Action::Announce { instance: self.id });
        self.stats.became_master += 1;
        self.transition(State::Master, reason, out);
        self.timers.set(Timer::Advert, now + self.own_interval());
    }

    /// Leave MASTER (if there) and wait as BACKUP with a fresh master-down timer.
    pub(crate) fn become_backup(&mut self, now: Instant, reason: &str, out: &mut VecDeque<Action>) {
        if self.state == State::Master {
            out.push_back(Action::RemoveAddresses { instance: self.id });
        }
        self.timers.clear_all();
        self.transition(State::Backup, reason, out);
        self.timers
            .set(Timer::MasterDown, now + self.master_down_interval());
    }

    /// Priority 0 first so the backups take over after Skew_Time instead of
    /// Master_Down_Interval, then the addresses go, then the hooks run.
    fn release_mastership(&mut self, out: &mut VecDeque<Action>) {
        if self.state == State::Master {
            self.send_advert(0, out);
            out.push_back(Action::RemoveAddresses { instance: self.id });
        }
    }

    pub(crate) fn startup(&mut self, now: Instant, out: &mut VecDeque<Action>) {
        if !matches!(self.state, State::Initialize | State::Stop) {
            return;
        }
        self.started_at = Some(now);
        self.master_adver_interval = self.own_interval();
        if self.wants_fault() {
            self.timers.clear_all();
            let reason = format!("startup: {}", self.fault_reason());
            self.transition(State::Fault, &reason, out);
        } else if self.effective_priority() == OWNER && !self.cfg.elected_externally {
            self.become_master(now, "startup: address owner (priority 255)", out);
        } else {
            // `state MASTER` below 255 also starts here, as keepalived does: it takes
            // over when the master-down timer expires unless a better master speaks.
            self.become_backup(now, "startup", out);
        }
    }

    pub(crate) fn shutdown(&mut self, out: &mut VecDeque<Action>) {
        if self.state == State::Stop {
            return;
        }
        self.release_mastership(out);
        self.timers.clear_all();
        self.transition(State::Stop, "shutdown", out);
    }

    /// Enter or leave FAULT according to the tracked objects and the sync group.
    pub(crate) fn refresh_fault(&mut self, now: Instant, out: &mut VecDeque<Action>) {
        let want = self.wants_fault();
        match self.state {
            State::Master | State::Backup if want => {
                let reason = self.fault_reason().to_owned();
                self.release_mastership(out);
                self.timers.clear_all();
                self.master_address = None;
                self.transition(State::Fault, &reason, out);
            }
            State::Fault if !want => {
                self.master_adver_interval = self.own_interval();
                self.master_address = None;
                self.become_backup(now, "tracked objects recovered", out);
            }
            _ => {}
        }
    }

    pub(crate) fn rx_error(&mut self, error: RxError) {
        let s = &mut self.stats;
        let counter = match error {
            RxError::Checksum => &mut s.checksum_errors,
            RxError::Ttl => &mut s.ttl_errors,
            RxError::Version => &mut s.version_errors,
            RxError::Vrid => &mut s.vrid_errors,
            RxError::Auth => &mut s.auth_errors,
            RxError::Interval => &mut s.interval_errors,
            RxError::AddressList => &mut s.address_list_errors,
            RxError::Length => &mut s.length_errors,
            RxError::Type => &mut s.type_errors,
            RxError::Source => &mut s.source_errors,
        };
        *counter += 1;
    }

    /// Checks that drop the advert (and count why). `false`: drop.
    fn validate(&mut self, advert: &Advert) -> bool {
        if advert.version != self.cfg.version {
            self.rx_error(RxError::Version);
            return false;
        }
        if advert.vrid != self.cfg.vrid {
            self.rx_error(RxError::Vrid);
            return false;
        }
        // A zero interval would make a zero master-down interval (a timer storm).
        if advert.max_advert_int.0 == 0 {
            self.rx_error(RxError::Interval);
            return false;
        }
        if self.cfg.version == Version::V2 {
            if advert.auth != self.cfg.auth {
                self.rx_error(RxError::Auth);
                return false;
            }
            // RFC 3768: the interval is not learned in v2; a mismatch is a misconfiguration.
            if advert.max_advert_int != self.cfg.advert_interval {
                self.rx_error(RxError::Interval);
                return false;
            }
        }
        // A different address list is counted but the advert is still accepted (keepalived
        // with skip_check_adv_addr off only logs it). Dropping it would leave both boxes
        // MASTER whenever the two configurations drift apart, which is the one outcome a
        // failover pair must avoid.
        if !self.cfg.skip_check_adv_addr
            && !same_address_set(&advert.addresses, &self.cfg.virtual_addresses)
        {
            self.rx_error(RxError::AddressList);
        }
        true
    }

    pub(crate) fn on_advert(
        &mut self,
        now: Instant,
        from: IpAddr,
        advert: &Advert,
        out: &mut VecDeque<Action>,
    ) {
        if self.cfg.elected_externally {
            return;
        }
        self.stats.adverts_received += 1;
        if !self.validate(advert) {
            return;
        }
        // Our own advert looped back (multicast loop, or a unicast peer list naming us).
        if from == self.cfg.primary_address {
            return;
        }
        if advert.priority == 0 {
            self.stats.priority_zero_received += 1;
        }
        match self.state {
            State::Backup => self.backup_rx(now, from, advert),
            State::Master => self.master_rx(now, from, advert, out),
            // INITIALIZE, FAULT, STOP: counted above, otherwise ignored.
            _ => {}
        }
    }

    fn learn_interval(&mut self, advert: &Advert) {
        if self.cfg.version == Version::V3 {
            self.master_adver_interval = advert.max_advert_int.as_duration();
        }
    }

    fn backup_rx(&mut self, now: Instant, from: IpAddr, advert: &Advert) {
        if advert.priority == 0 {
            // The master is leaving: take over after Skew_Time, the highest priority first.
            self.master_address = None;
            self.master_priority = None;
            let skew = priority::skew_time(self.effective_priority(), self.master_adver_interval);
            self.timers.set(Timer::MasterDown, now + skew);
            return;
        }
        let theirs = election_key(advert.priority, from);
        let ours = election_key(self.effective_priority(), self.cfg.primary_address);
        let delay_end = self.preempt_delay_end(now);
        // Unlike RFC 5798 6.4.2 (which accepts an equal priority) the backup preempts
        // on the same total order a master yields on, so the winner is the same whichever
        // node came up first: that is what "ties go to the highest address" means here.
        if theirs > ours || !self.may_preempt() || delay_end.is_some() {
            self.learn_interval(advert);
            self.master_address = Some(from);
            self.master_priority = Some(advert.priority);
            self.timers
                .set(Timer::MasterDown, now + self.master_down_interval());
            match delay_end {
                Some(end) if theirs < ours && self.may_preempt() => {
                    self.timers.set(Timer::Preempt, end)
                }
                _ => self.timers.clear(Timer::Preempt),
            }
        }
        // Otherwise discard: the lower master is ignored, the master-down timer runs out
        // and this backup preempts.
    }

    fn master_rx(
        &mut self,
        now: Instant,
        from: IpAddr,
        advert: &Advert,
        out: &mut VecDeque<Action>,
    ) {
        if advert.priority == 0 {
            // Someone released the VRID while we hold it: reassert at once.
            self.send_advert(self.effective_priority(), out);
            self.timers.set(Timer::Advert, now + self.own_interval());
            return;
        }
        let theirs = election_key(advert.priority, from);
        let ours = election_key(self.effective_priority(), self.cfg.primary_address);
        if theirs > ours {
            if self.cfg.higher_prio_send_advert {
                self.send_advert(self.effective_priority(), out);
            }
            self.learn_interval(advert);
            self.master_address = Some(from);
            self.master_priority = Some(advert.priority);
            self.become_backup(now, "higher priority advert received", out);
        } else {
            if !self.cfg.lower_prio_no_advert {
                // Tell the lower-priority master at once that it must yield.
                self.send_advert(self.effective_priority(), out);
                self.timers.set(Timer::Advert, now + self.own_interval());
            }
            self.lower_prio_announce(now, out);
        }
    }

    /// Two masters were active, and the other one's announcements may be the last the
    /// switches saw: announce again now and once more after the delay. A further lower
    /// advert moves the second set later, so it always follows the last one heard.
    fn lower_prio_announce(&mut self, now: Instant, out: &mut VecDeque<Action>) {
        let repeat = self.cfg.lower_prio_garp_repeat;
        if repeat == 0 {
            return;
        }
        out.push_back(Action::AnnounceLowerPriority {
            instance: self.id,
            repeat,
        });
        if self.cfg.lower_prio_garp_delay.is_zero() {
            self.timers.clear(Timer::LowerPrioGarp);
        } else {
            self.timers
                .set(Timer::LowerPrioGarp, now + self.cfg.lower_prio_garp_delay);
        }
    }

    /// Fire every timer due at `now`, earliest first.
    pub(crate) fn on_timer(&mut self, now: Instant, out: &mut VecDeque<Action>) {
        while let Some((timer, deadline)) = self.timers.take_due(now) {
            if self.cfg.elected_externally {
                // No VRRP: nothing to advertise, no master to wait for.
                continue;
            }
            match (timer, self.state) {
                (Timer::Advert, State::Master) => {
                    self.send_advert(self.effective_priority(), out);
                    // The next advert is due one interval after this one was due, not
                    // after the driver noticed: waking late must not stretch every
                    // interval (a timer wheel is always a little late). Only when a
                    // whole interval was missed does the schedule restart from now.
                    let next = deadline + self.own_interval();
                    let next = if next > now {
                        next
                    } else {
                        now + self.own_interval()
                    };
                    self.timers.set(Timer::Advert, next);
                }
                (Timer::LowerPrioGarp, State::Master) => {
                    out.push_back(Action::AnnounceLowerPriority {
                        instance: self.id,
                        repeat: self.cfg.lower_prio_garp_repeat,
                    });
                }
                (Timer::MasterDown, State::Backup) => {
                    self.become_master(now, "master down timer expired", out);
                }
                (Timer::Preempt, State::Backup) => {
                    // The startup preempt delay is over and the master we hear is lower.
                    let ours = self.effective_priority();
                    if self.may_preempt() && self.master_priority.is_some_and(|p| p < ours) {
                        self.become_master(now, "preempt delay over: preempting", out);
                    }
                }
                _ => {}
            }
        }
    }

    /// [`Input::Elected`](super::Input::Elected).
    pub(crate) fn elected(&mut self, now: Instant, won: bool, out: &mut VecDeque<Action>) {
        if !self.cfg.elected_externally {
            return;
        }
        match (won, self.state) {
            (true, State::Backup) => self.become_master(now, "holds the arbiter's election", out),
            (false, State::Master) => {
                self.become_backup(now, "no longer holds the arbiter's election", out)
            }
            _ => {}
        }
    }

    pub(crate) fn promote(&mut self, now: Instant, out: &mut VecDeque<Action>) {
        self.operator = Operator::Promoted;
        if self.cfg.elected_externally {
            // Only the election makes such an instance MASTER.
            return;
        }
        match self.state {
            State::Backup => self.become_master(now, "operator promote", out),
            State::Master => {
                // Advertise the new priority right away.
                self.send_advert(self.effective_priority(), out);
                self.timers.set(Timer::Advert, now + self.own_interval());
            }
            _ => {}
        }
    }

    pub(crate) fn demote(&mut self, now: Instant, out: &mut VecDeque<Action>) {
        self.operator = Operator::Demoted;
        if self.state == State::Master {
            self.release_mastership(out);
            self.timers.clear_all();
            self.transition(State::Backup, "operator demote", out);
            self.timers
                .set(Timer::MasterDown, now + self.master_down_interval());
        }
    }

    pub(crate) fn release(&mut self) {
        self.operator = Operator::None;
    }

    /// Adopt a new configuration for the same VRID, keeping the state. A master whose
    /// virtual addresses changed gets one [`Action::UpdateAddresses`].
    pub(crate) fn update_config(
        &mut self,
        now: Instant,
        id: InstanceId,
        cfg: InstanceConfig,
        out: &mut VecDeque<Action>,
    ) {
        self.id = id;
        if self.state == State::Master {
            let removed: Vec<IpAddr> = (self.cfg.virtual_addresses.iter())
                .filter(|a| !cfg.virtual_addresses.contains(a))
                .copied()
                .collect();
            let added: Vec<IpAddr> = (cfg.virtual_addresses.iter())
                .filter(|a| !self.cfg.virtual_addresses.contains(a))
                .copied()
                .collect();
            if !removed.is_empty() || !added.is_empty() {
                out.push_back(Action::UpdateAddresses {
                    instance: id,
                    removed,
                    added,
                });
            }
            if cfg.advert_interval != self.cfg.advert_interval {
                self.timers
                    .set(Timer::Advert, now + cfg.advert_interval.as_duration());
            }
        }
        self.statuses
            .retain(|k, _| cfg.tracks.iter().any(|t| &t.key == k));
        if self.state != State::Backup || cfg.version == Version::V2 {
            self.master_adver_interval = cfg.advert_interval.as_duration();
        }
        self.cfg = cfg;
    }

    /// The actions of an instance that disappears from the configuration.
    pub(crate) fn remove(mut self, out: &mut VecDeque<Action>) {
        let release = (self.state == State::Master).then(|| {
            self.stats.adverts_sent += 1;
            self.stats.priority_zero_sent += 1;
            self.advert(0)
        });
        out.push_back(Action::Removed {
            config: Box::new(self.cfg),
            from: self.state,
            release,
        });
    }
}
