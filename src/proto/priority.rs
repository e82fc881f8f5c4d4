//! Effective priority and the VRRP timing formulas that depend on it.
//!
//! Owns the arithmetic only: tracked-object weights (keepalived semantics), the FAULT
//! condition of weight-0 objects, Skew_Time and Master_Down_Interval. Pure functions,
//! no state, no clock.

use std::collections::HashMap;
use std::time::Duration;

use super::{TrackRef, TrackStatus};

/// Priority of the address owner: never changed by tracked objects.
pub(crate) const OWNER: u8 = 255;
/// Highest priority a non-owner can reach through weights (and what Promote uses).
pub(crate) const MAX_NON_OWNER: u8 = 254;
/// Lowest priority a running instance advertises (0 means "I am leaving").
pub(crate) const MIN: u8 = 1;

/// The signed priority change one tracked object contributes right now.
///
/// Objects never reported are assumed healthy and contribute nothing: the tracker reports
/// every object's first reading before (or right after) Startup, and guessing "down"
/// would make every node start with a lowered priority.
fn adjustment(track: &TrackRef, status: Option<TrackStatus>) -> i64 {
    let weight = i64::from(track.weight);
    match status {
        None => 0,
        Some(TrackStatus::Value(v)) => {
            let product = weight.saturating_mul(v);
            if track.reverse {
                product.saturating_neg()
            } else {
                product
            }
        }
        Some(s) => {
            let up = (s == TrackStatus::Up) != track.reverse;
            match (weight > 0, up) {
                (true, true) => weight,
                (false, false) if weight < 0 => weight,
                _ => 0,
            }
        }
    }
}

/// True when a weight-0 object is failing: the instance must be in FAULT.
pub(crate) fn track_fault(tracks: &[TrackRef], statuses: &HashMap<String, TrackStatus>) -> bool {
    tracks
        .iter()
        .filter(|t| t.weight == 0)
        .any(|t| match statuses.get(&t.key) {
            None => false,
            Some(TrackStatus::Value(v)) => (*v != 0) != t.reverse,
            Some(s) => (*s == TrackStatus::Up) == t.reverse,
        })
}

/// Configured priority plus the weights of tracked objects, clamped to 1..=254.
/// An address owner (255) keeps 255 whatever its tracked objects say.
pub(crate) fn effective(
    base: u8,
    tracks: &[TrackRef],
    statuses: &HashMap<String, TrackStatus>,
) -> u8 {
    if base == OWNER {
        return OWNER;
    }
    let sum = tracks.iter().fold(i64::from(base), |acc, t| {
        acc.saturating_add(adjustment(t, statuses.get(&t.key).copied()))
    });
    let clamped = sum.clamp(i64::from(MIN), i64::from(MAX_NON_OWNER));
    u8::try_from(clamped).unwrap_or(MAX_NON_OWNER)
}

/// Skew_Time = ((256 - priority) * Master_Adver_Interval) / 256, in nanoseconds so a
/// 10 ms interval still gets a fractional skew (never truncated to whole seconds).
pub(crate) fn skew_time(priority: u8, master_adver_interval: Duration) -> Duration {
    let nanos = master_adver_interval.as_nanos() * (256 - u128::from(priority)) / 256;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time.
pub(crate) fn master_down_interval(priority: u8, master_adver_interval: Duration) -> Duration {
    master_adver_interval.saturating_mul(3) + skew_time(priority, master_adver_interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(key: &str, weight: i32, reverse: bool) -> TrackRef {
        TrackRef {
            key: key.into(),
            weight,
            reverse,
        }
    }

    fn statuses(list: &[(&str, TrackStatus)]) -> HashMap<String, TrackStatus> {
        list.iter().map(|(k, s)| (k.to_string(), *s)).collect()
    }

    #[test]
    fn skew_and_master_down_are_fractional() {
        // priority 100, 1 s: skew = 156/256 s = 609.375 ms.
        let skew = skew_time(100, Duration::from_secs(1));
        assert_eq!(skew, Duration::from_micros(609_375));
        assert_eq!(
            master_down_interval(100, Duration::from_secs(1)),
            Duration::from_micros(3_609_375)
        );
        // 10 ms interval, priority 200: skew = 56/256 * 10 ms = 2.1875 ms.
        assert_eq!(
            skew_time(200, Duration::from_millis(10)),
            Duration::from_nanos(2_187_500)
        );
        assert_eq!(
            master_down_interval(200, Duration::from_millis(10)),
            Duration::from_nanos(32_187_500)
        );
        // A higher priority always has a strictly shorter master-down interval.
        let i = Duration::from_millis(50);
        assert!(master_down_interval(201, i) < master_down_interval(200, i));
    }

    #[test]
    fn script_weights_apply_by_sign_and_reverse() {
        let tracks = [
            track("script:up", 10, false),
            track("script:down", -20, false),
        ];
        let all_up = statuses(&[
            ("script:up", TrackStatus::Up),
            ("script:down", TrackStatus::Up),
        ]);
        assert_eq!(effective(100, &tracks, &all_up), 110);
        let all_down = statuses(&[
            ("script:up", TrackStatus::Down),
            ("script:down", TrackStatus::Down),
        ]);
        assert_eq!(effective(100, &tracks, &all_down), 80);
        // reverse swaps what Up and Down mean.
        let rev = [track("script:x", 10, true)];
        assert_eq!(
            effective(100, &rev, &statuses(&[("script:x", TrackStatus::Down)])),
            110
        );
        assert_eq!(
            effective(100, &rev, &statuses(&[("script:x", TrackStatus::Up)])),
            100
        );
        let rev_neg = [track("script:x", -10, true)];
        assert_eq!(
            effective(100, &rev_neg, &statuses(&[("script:x", TrackStatus::Up)])),
            90
        );
        // Unreported objects count as healthy.
        assert_eq!(effective(100, &tracks, &HashMap::new()), 100);
    }

    #[test]
    fn file_weight_multiplies_value_and_clamps() {
        let tracks = [track("file:/run/x", 5, false)];
        assert_eq!(
            effective(
                100,
                &tracks,
                &statuses(&[("file:/run/x", TrackStatus::Value(3))])
            ),
            115
        );
        assert_eq!(
            effective(
                100,
                &tracks,
                &statuses(&[("file:/run/x", TrackStatus::Value(-4))])
            ),
            80
        );
        assert_eq!(
            effective(
                100,
                &tracks,
                &statuses(&[("file:/run/x", TrackStatus::Value(1_000))])
            ),
            254
        );
        assert_eq!(
            effective(
                100,
                &tracks,
                &statuses(&[("file:/run/x", TrackStatus::Value(-1_000))])
            ),
            1
        );
        assert_eq!(
            effective(
                100,
                &tracks,
                &statuses(&[("file:/run/x", TrackStatus::Value(i64::MAX))])
            ),
            254
        );
        // The owner stays 255.
        assert_eq!(
            effective(
                255,
                &tracks,
                &statuses(&[("file:/run/x", TrackStatus::Value(-1_000))])
            ),
            255
        );
    }

    #[test]
    fn weight_zero_failure_is_fault() {
        let tracks = [track("iface:eth0", 0, false), track("file:/f", 0, false)];
        assert!(!track_fault(&tracks, &HashMap::new()));
        assert!(track_fault(
            &tracks,
            &statuses(&[("iface:eth0", TrackStatus::Down)])
        ));
        assert!(!track_fault(
            &tracks,
            &statuses(&[("iface:eth0", TrackStatus::Up)])
        ));
        assert!(track_fault(
            &tracks,
            &statuses(&[("file:/f", TrackStatus::Value(2))])
        ));
        assert!(!track_fault(
            &tracks,
            &statuses(&[("file:/f", TrackStatus::Value(0))])
        ));
        // A weighted object that is down only lowers the priority.
        let weighted = [track("script:x", -10, false)];
        assert!(!track_fault(
            &weighted,
            &statuses(&[("script:x", TrackStatus::Down)])
        ));
    }
}
