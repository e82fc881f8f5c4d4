//! The per-instance timer table: a small enum-indexed array of deadlines.
//!
//! Owns only deadlines; it never reads the clock. The earliest entry is the instance's
//! next wake-up, and firing a timer that is not due is impossible by construction
//! (`due` only returns entries at or before `now`), so spurious wake-ups are harmless.

use std::time::Instant;

/// The deadlines an instance can wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// MASTER: send the next periodic advertisement.
    Advert,
    /// BACKUP: no advertisement heard for Master_Down_Interval (or Skew_Time after a
    /// priority 0 advert): take over.
    MasterDown,
    /// BACKUP: the startup `preempt_delay` ends while a lower-priority master is heard.
    Preempt,
    /// MASTER: the second set of announcements after a lower-priority advert.
    LowerPrioGarp,
}

impl Timer {
    const ALL: [Timer; 4] = [
        Timer::Advert,
        Timer::MasterDown,
        Timer::Preempt,
        Timer::LowerPrioGarp,
    ];

    fn index(self) -> usize {
        match self {
            Timer::Advert => 0,
            Timer::MasterDown => 1,
            Timer::Preempt => 2,
            Timer::LowerPrioGarp => 3,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; 4],
}

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer.index()] = Some(at);
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer.index()]
    }

    pub(crate) fn clear(&mut self, timer: Timer) {
        self.deadlines[timer.index()] = None;
    }

    pub(crate) fn clear_all(&mut self) {
        self.deadlines = [None; 4];
    }

    /// The earliest deadline, if any.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// The earliest timer whose deadline is at or before `now`, with that deadline; it
    /// is cleared.
    pub(crate) fn take_due(&mut self, now: Instant) -> Option<(Timer, Instant)> {
        let (at, due) = Timer::ALL
            .into_iter()
            .filter_map(|t| self.get(t).filter(|at| *at <= now).map(|at| (at, t)))
            .min_by_key(|(at, _)| *at)?;
        self.clear(due);
        Some((due, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn next_is_the_minimum_and_only_due_timers_fire() {
        let t0 = crate::test_clock::origin();
        let mut table = TimerTable::default();
        assert_eq!(table.next(), None);
        table.set(Timer::MasterDown, t0 + Duration::from_millis(30));
        table.set(Timer::Preempt, t0 + Duration::from_millis(10));
        assert_eq!(table.next(), Some(t0 + Duration::from_millis(10)));
        assert_eq!(table.take_due(t0), None, "nothing is due yet");
        assert_eq!(
            table.take_due(t0 + Duration::from_millis(40)),
            Some((Timer::Preempt, t0 + Duration::from_millis(10)))
        );
        assert_eq!(
            table.take_due(t0 + Duration::from_millis(40)),
            Some((Timer::MasterDown, t0 + Duration::from_millis(30)))
        );
        assert_eq!(table.take_due(t0 + Duration::from_millis(40)), None);
        assert_eq!(table.next(), None);
    }
}
