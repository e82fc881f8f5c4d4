//! A precise wake-up for the engine's protocol deadlines.
//!
//! Owns one thread and one deadline; knows nothing of VRRP.

use std::future::Future;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use tracing::error;

/// Wakes the engine at its next protocol deadline to within tens of microseconds.
///
/// tokio's timer works in whole milliseconds and rounds deadlines up, which made every
/// master-down expiry, skew wait and advert 0–2 ms late: a measurable share of a
/// takeover at advert_int 0.01, and later than keepalived's timer. A thread sleeping on a
/// condition variable (a futex with a monotonic-clock timeout) has no such tick; it
/// wakes the runtime through a [`tokio::sync::Notify`].
pub(crate) struct PreciseTimer {
    shared: Arc<(Mutex<TimerState>, Condvar)>,
    fired: Arc<tokio::sync::Notify>,
}

#[derive(Default)]
struct TimerState {
    deadline: Option<Instant>,
    stop: bool,
}

impl PreciseTimer {
    pub(crate) fn start() -> PreciseTimer {
        let shared = Arc::new((Mutex::new(TimerState::default()), Condvar::new()));
        let fired = Arc::new(tokio::sync::Notify::new());
        let (s, f) = (Arc::clone(&shared), Arc::clone(&fired));
        let spawned = std::thread::Builder::new()
            .name("baton-timer".into())
            .spawn(move || {
                let (lock, cv) = &*s;
                let Ok(mut st) = lock.lock() else { return };
                while !st.stop {
                    let now = Instant::now();
                    st = match st.deadline {
                        None => match cv.wait(st) {
                            Ok(g) => g,
                            Err(_) => return,
                        },
                        Some(d) if d <= now => {
                            st.deadline = None;
                            f.notify_one();
                            continue;
                        }
                        Some(d) => match cv.wait_timeout(st, d - now) {
                            Ok((g, _)) => g,
                            Err(_) => return,
                        },
                    };
                }
            });
        if let Err(e) = spawned {
            // Without the thread nothing would ever fire: fail loudly at start.
            error!(error = %e, "cannot start the timer thread");
        }
        PreciseTimer { shared, fired }
    }

    /// Arms the timer for `deadline` (or disarms it), replacing any earlier deadline.
    pub(crate) fn set(&self, deadline: Option<Instant>) {
        let (lock, cv) = &*self.shared;
        if let Ok(mut st) = lock.lock() {
            // Only an earlier deadline needs the thread now. A later one (a backup's
            // master-down timer pushed back by every advert) or none is noticed when the
            // thread wakes for the old one: one wake instead of one per packet.
            let sooner = match (st.deadline, deadline) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(old), Some(new)) => new < old,
            };
            st.deadline = deadline;
            if sooner {
                cv.notify_one();
            }
        }
    }

    /// Resolves when the armed deadline has passed (possibly spuriously, which the
    /// engine tolerates: the node only acts on deadlines that are due).
    pub(crate) fn fired(&self) -> impl Future<Output = ()> + '_ {
        self.fired.notified()
    }
}

impl Drop for PreciseTimer {
    fn drop(&mut self) {
        let (lock, cv) = &*self.shared;
        if let Ok(mut st) = lock.lock() {
            st.stop = true;
            cv.notify_one();
        }
    }
}
