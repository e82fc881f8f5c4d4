//! The schedule of one run, drawn from its seed: what VRRP and the network do, when.

use std::time::{Duration, Instant};

use super::{MDI, VRRP_SETTLE, World};

/// splitmix64: small, seedable.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub(super) fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Act {
    Enter(usize),
    Leave(usize),
    Stop(usize),
    Crash { node: usize, eof: bool },
    Restart(usize),
    Cut,
    Heal,
}

impl World {
    /// VRRP and the network as a script: each step a few acts at chosen offsets.
    pub(super) fn draw_script(&mut self) -> Vec<(Instant, Act)> {
        let mut out = Vec::new();
        let mut t = self.now + Duration::from_millis(50);
        out.push((t, Act::Enter(0)));
        let mut last = t;
        let mut master = 0;
        let mut down: Option<usize> = None;
        // A third of the schedules keep the link whole throughout.
        let cuts = self.rng.below(3) != 0;
        for _ in 0..40 {
            // Steps do not interleave: VRRP settles one change before the next.
            t = last + self.rng.ms(50, 6000);
            last = t + VRRP_SETTLE + MDI;
            let other = 1 - master;
            let settle = self.rng.ms(0, VRRP_SETTLE.as_millis() as u64);
            if let Some(d) = down.take() {
                out.push((t, Act::Restart(d)));
                continue;
            }
            match self.rng.below(9) {
                // Preemption back, promote, failed check: the new master first.
                0 | 1 => {
                    out.push((t, Act::Enter(other)));
                    out.push((t + settle, Act::Leave(master)));
                    master = other;
                }
                // Demote, a check that makes the master FAULT: the old one leaves first.
                2 => {
                    out.push((t, Act::Leave(master)));
                    out.push((t + self.rng.ms(0, 360), Act::Enter(other)));
                    master = other;
                }
                3 => {
                    out.push((t, Act::Stop(master)));
                    out.push((t + self.rng.ms(0, 50), Act::Enter(other)));
                    down = Some(master);
                    master = other;
                }
                4 => {
                    // A host crash leaves a connection that looks up until its dead
                    // time, as a cut does: the whole-link schedules crash processes only.
                    let eof = !cuts || self.rng.below(2) == 0;
                    out.push((t, Act::Crash { node: master, eof }));
                    out.push((t + MDI, Act::Enter(other)));
                    down = Some(master);
                    master = other;
                }
                // Two masters for a moment (adverts lost): the other enters while the
                // master serves; VRRP keeps one.
                5 => {
                    out.push((t, Act::Enter(other)));
                    let loser = self.rng.below(2) as usize;
                    out.push((t + settle, Act::Leave(loser)));
                    master = 1 - loser;
                }
                // Both enter MASTER at the same moment with neither serving (both started
                // together, or both missed adverts); VRRP keeps one.
                6 => {
                    out.push((t, Act::Leave(master)));
                    let both = t + self.rng.ms(0, 2000);
                    out.push((both, Act::Enter(0)));
                    out.push((both, Act::Enter(1)));
                    let loser = self.rng.below(2) as usize;
                    out.push((both + settle, Act::Leave(loser)));
                    master = 1 - loser;
                    last = both + VRRP_SETTLE + MDI;
                }
                _ if !cuts => {}
                _ => {
                    let act = if self.cut_in_script(&out) {
                        Act::Heal
                    } else {
                        Act::Cut
                    };
                    out.push((t, act));
                }
            }
        }
        out.sort_by_key(|(t, _)| *t);
        out
    }

    fn cut_in_script(&self, script: &[(Instant, Act)]) -> bool {
        let mut cut = false;
        for (_, a) in script {
            match a {
                Act::Cut => cut = true,
                Act::Heal => cut = false,
                _ => {}
            }
        }
        cut
    }
}
