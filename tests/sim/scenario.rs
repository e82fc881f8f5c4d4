//! A schedule's configuration: how many nodes and instances, their priorities, intervals,
//! tracked objects and sync group, all drawn from the schedule's seed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use baton::proto::{InitialState, InstanceConfig, InstanceId, SyncGroupConfig, TrackRef};
use baton::wire::{Auth, Centis, ChecksumMode, Version};

/// splitmix64: tiny, seedable, good enough to drive schedules.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub(crate) fn dur(&mut self, max: Duration) -> Duration {
        max.mul_f64(self.unit())
    }

    pub(crate) fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }
}

/// Tracked objects every simulated node has (weights differ per node).
pub(crate) const SCRIPT: &str = "script:chk";
pub(crate) const IFACE: &str = "iface:eth0";
pub(crate) const FILE: &str = "file:/run/prio";

/// The configuration of one schedule.
pub(crate) struct Scenario {
    pub(crate) cfgs: Vec<Vec<InstanceConfig>>,
    pub(crate) groups: Vec<SyncGroupConfig>,
    /// Longest configured advert interval anywhere.
    pub(crate) interval_max: Duration,
    pub(crate) preempt_delay_max: Duration,
}

pub(crate) fn scenario(rng: &mut Rng) -> Scenario {
    let n = 2 + rng.index(4);
    let k = 1 + rng.index(3);
    let base_ms = [10u64, 20, 50, 100, 250, 500, 1000][rng.index(7)];
    let base = Centis(u16::try_from(base_ms / 10).unwrap_or(1));
    let v6 = rng.chance(0.2);
    let versions: Vec<Version> = (0..k)
        .map(|_| {
            if base_ms == 1000 && rng.chance(0.5) {
                Version::V2
            } else {
                Version::V3
            }
        })
        .collect();
    let auth = if rng.chance(0.3) {
        Auth::Pass(*b"baton\0\0\0")
    } else {
        Auth::None
    };
    let group: Vec<usize> = if k >= 2 && rng.chance(0.4) {
        (0..2 + rng.index(k - 1)).collect()
    } else {
        vec![]
    };
    let mut octets: Vec<u8> = (1..=200).collect();
    for i in (1..octets.len()).rev() {
        octets.swap(i, rng.index(i + 1));
    }
    let addr = |last: u8, vip: bool| -> IpAddr {
        if v6 {
            IpAddr::V6(Ipv6Addr::new(
                0xfd00,
                0,
                0,
                0,
                0,
                0,
                u16::from(vip),
                u16::from(last),
            ))
        } else {
            IpAddr::V4(Ipv4Addr::new(10, 0, u8::from(vip), last))
        }
    };
    let owner_vrid = (rng.chance(0.15))
        .then(|| rng.index(k))
        .filter(|v| !group.contains(v));
    let mut cfgs = Vec::new();
    let mut interval_max = Duration::ZERO;
    let mut preempt_delay_max = Duration::ZERO;
    for (node, octet) in octets.iter().copied().take(n).enumerate() {
        let weights = [
            (
                SCRIPT,
                i32::try_from(rng.below(120)).unwrap_or(0) - 60,
                rng.chance(0.2),
            ),
            (IFACE, 0, rng.chance(0.1)),
            (FILE, i32::try_from(rng.below(21)).unwrap_or(0) - 10, false),
        ];
        let pick_tracks = |rng: &mut Rng| -> Vec<TrackRef> {
            (weights.iter())
                .filter(|_| rng.chance(0.4))
                .map(|(key, weight, reverse)| TrackRef {
                    key: (*key).to_owned(),
                    weight: if *key == SCRIPT && *weight == 0 {
                        10
                    } else {
                        *weight
                    },
                    reverse: *reverse,
                })
                .collect()
        };
        // Sync-group members on one node share priority, tracks and preemption, as a sane
        // configuration does; otherwise the group fights itself (keepalived's too).
        let group_priority = 1 + u8::try_from(rng.below(254)).unwrap_or(0);
        let group_tracks = pick_tracks(rng);
        let group_preempt = rng.chance(0.75);
        let group_delay = if rng.chance(0.3) {
            base.as_duration() * (rng.below(6) as u32)
        } else {
            Duration::ZERO
        };
        let group_initial = if rng.chance(0.2) {
            InitialState::Master
        } else {
            InitialState::Backup
        };
        let mut list = Vec::new();
        for (v, version) in versions.iter().enumerate() {
            let in_group = group.contains(&v);
            let interval = match version {
                Version::V2 => Centis(100),
                Version::V3 if rng.chance(0.3) => Centis(base.0 * 2),
                Version::V3 => base,
            };
            interval_max = interval_max.max(interval.as_duration());
            let priority = if owner_vrid == Some(v) && node == 0 {
                255
            } else if in_group {
                group_priority
            } else {
                1 + u8::try_from(rng.below(254)).unwrap_or(0)
            };
            let preempt_delay = if in_group {
                group_delay
            } else if rng.chance(0.3) {
                base.as_duration() * (rng.below(6) as u32)
            } else {
                Duration::ZERO
            };
            preempt_delay_max = preempt_delay_max.max(preempt_delay);
            list.push(InstanceConfig {
                name: format!("vi_{v}"),
                version: *version,
                vrid: 10 + u8::try_from(v).unwrap_or(0),
                priority,
                advert_interval: interval,
                initial_state: if in_group {
                    group_initial
                } else if rng.chance(0.2) {
                    InitialState::Master
                } else {
                    InitialState::Backup
                },
                preempt: if in_group {
                    group_preempt
                } else {
                    rng.chance(0.75)
                },
                preempt_delay,
                primary_address: addr(octet, false),
                virtual_addresses: vec![addr(100 + u8::try_from(v).unwrap_or(0), true)],
                auth: if *version == Version::V2 {
                    auth.clone()
                } else {
                    Auth::None
                },
                checksum: ChecksumMode::PseudoHeader,
                tracks: if in_group {
                    group_tracks.clone()
                } else {
                    pick_tracks(rng)
                },
                lower_prio_no_advert: rng.chance(0.2),
                higher_prio_send_advert: rng.chance(0.2),
                skip_check_adv_addr: rng.chance(0.2),
                // keepalived's defaults: five announcements now and five seconds later.
                lower_prio_garp_repeat: 5,
                lower_prio_garp_delay: Duration::from_secs(5),
                config_fault: None,
                elected_externally: false,
            });
        }
        cfgs.push(list);
    }
    let groups = if group.is_empty() {
        vec![]
    } else {
        vec![SyncGroupConfig {
            name: "sg".into(),
            members: group.iter().map(|v| InstanceId(*v)).collect(),
        }]
    };
    Scenario {
        cfgs,
        groups,
        interval_max,
        preempt_delay_max,
    }
}
