//! keepalived's dump interface on the engine's side: SIGUSR1 (`keepalived.data`), SIGUSR2
//! (`keepalived.stats`) and SIGRTMIN+2 (`keepalived.json`).
//!
//! The engine only copies its state into a [`DumpView`] (no lookup, no IO). A blocking task
//! then resolves the global script user (a passwd lookup), renders the text and writes it
//! to a fresh file beside the target, which it renames over the target: a reader sees the
//! previous file or the new one, never half of one. The directory is keepalived's:
//! `$TMPDIR`, else `/tmp`.

use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tracing::{debug, warn};

use crate::dump::{
    self, AuthView, DumpKind, DumpView, Garp, Globals, Hook, InstanceView, Notify, Owner,
    ScriptView, Tracked,
};
use crate::hooks::{self, HookCmd};
use crate::proto::{InstanceId, State, TrackRef, TrackStatus};
use crate::wire::{Auth, Version};

use super::super::plan::{self, InstancePlan, iface_key};
use super::Engine;

impl Engine {
    /// Writes one dump file from the current state, off the engine.
    pub(super) fn write_dump(&self, kind: DumpKind) {
        let mut view = self.dump_view(Instant::now(), SystemTime::now());
        let script_user = self.plan.script_user.clone();
        tokio::task::spawn_blocking(move || {
            let owner = script_user
                .as_ref()
                .and_then(plan::resolve_run_as)
                .unwrap_or_else(hooks::exec::default_script_user);
            view.globals.script_owner = Owner {
                uid: owner.uid,
                gid: owner.gid,
            };
            let dir = dump::dump_dir(std::env::var_os("TMPDIR").as_deref());
            let path = dir.join(kind.file_name());
            match write_replacing(&path, kind.render(&view).as_bytes()) {
                Ok(()) => debug!(path = %path.display(), "dump written"),
                Err(e) => warn!("writing {}: {e}", path.display()),
            }
        });
    }

    /// The state the three files show, at `now` (`wall` is the same instant on the
    /// system clock, for the times the files print).
    fn dump_view(&self, now: Instant, wall: SystemTime) -> DumpView {
        let to_wall = |t: Instant| -> SystemTime {
            if t <= now {
                wall.checked_sub(now - t).unwrap_or(wall)
            } else {
                wall.checked_add(t - now).unwrap_or(wall)
            }
        };
        let n = self
            .plan
            .instances
            .len()
            .min(self.node.len())
            .min(self.rt.len());
        let instances = (0..n)
            .filter_map(|i| {
                let p = self.plan.instances.get(i)?;
                let rt = self.rt.get(i)?;
                Some(self.instance_view(p, InstanceId(i), to_wall(rt.since), &to_wall, rt))
            })
            .collect();
        let scripts = (self.plan.track.scripts.iter())
            .map(|s| {
                let key = format!("script:{}", s.name);
                let tracking: Vec<(String, i32)> = (self.plan.instances.iter())
                    .flat_map(|p| {
                        (p.tracks.iter())
                            .filter(|t| t.key == key)
                            .map(|t| (p.name.clone(), t.weight))
                    })
                    .collect();
                ScriptView {
                    name: s.name.clone(),
                    argv: s.argv.clone(),
                    interval: s.interval,
                    timeout: s.timeout,
                    // The plan keeps the weight each instance uses, not the script's own.
                    weight: tracking.first().map_or(0, |(_, w)| *w),
                    rise: s.rise,
                    fall: s.fall,
                    good: self.track_state.get(&key).map(|st| *st == TrackStatus::Up),
                    init_fail: s.init_fail,
                    owner: s.user.as_ref().map(|u| Owner {
                        uid: u.uid,
                        gid: u.gid,
                    }),
                    tracking,
                }
            })
            .collect();
        DumpView {
            globals: Globals {
                router_id: self.plan.router_id.clone(),
                default_interface: self.plan.statics.interface.clone(),
                script_security: self.plan.script_security,
                // Resolved off the engine (see `write_dump`).
                script_owner: Owner::default(),
            },
            instances,
            scripts,
        }
    }

    fn instance_view(
        &self,
        p: &InstancePlan,
        id: InstanceId,
        last_transition: SystemTime,
        to_wall: &dyn Fn(Instant) -> SystemTime,
        rt: &super::InstanceRt,
    ) -> InstanceView {
        let state = self.node.state(id);
        let version = match p.version {
            Version::V2 => 2,
            Version::V3 => 3,
        };
        let effective = self.node.effective_priority(id);
        let master_interval = self.node.master_advert_interval(id);
        let status = |t: &TrackRef| self.track_state.get(&t.key);
        let primary_key = p.interface.as_deref().map(iface_key);
        let dont_track_primary = primary_key
            .as_ref()
            .is_some_and(|k| !p.tracks.iter().any(|t| &t.key == k));
        // The own interface is tracked first unless `dont_track_primary`; keepalived lists
        // only the `track_interface` ones.
        let mut skipped_primary = dont_track_primary;
        let mut tracked_interfaces = Vec::new();
        for t in &p.tracks {
            let Some(name) = t.key.strip_prefix("iface:") else {
                continue;
            };
            if !skipped_primary && primary_key.as_deref() == Some(t.key.as_str()) {
                skipped_primary = true;
                continue;
            }
            tracked_interfaces.push(tracked(name, t));
        }
        let tracked_scripts = (p.tracks.iter())
            .filter_map(|t| Some(tracked(t.key.strip_prefix("script:")?, t)))
            .collect();
        InstanceView {
            name: p.name.clone(),
            version,
            state,
            master: self
                .node
                .master_address(id)
                .map(|a| (a, self.node.master_priority(id))),
            master_advert_interval: master_interval,
            config_faults: u32::from(p.config_fault.is_some()),
            track_faults: count(
                p.tracks
                    .iter()
                    .filter(|t| t.weight == 0 && status(t) == Some(&TrackStatus::Down)),
            ),
            scripts_init: count(
                (p.tracks.iter()).filter(|t| t.key.starts_with("script:") && status(t).is_none()),
            ),
            last_transition,
            next_timer: self.node.instance_deadline(id).map(to_wall),
            master_down_timer: dump::master_down_timer(version, effective, master_interval),
            interface: (rt.ifname.clone())
                .or_else(|| p.interface.clone())
                .unwrap_or_default(),
            source: rt.primary.or(p.source),
            source_configured: p.source.is_some(),
            mcast_group: p.mcast_group,
            unicast_peers: p.peers.clone(),
            check_unicast_src: p.check_unicast_src,
            old_unicast_checksum: p.old_unicast_checksum,
            garp: Garp {
                delay: p.garp.delay,
                repeat: p.garp.repeat,
                refresh: p.garp.refresh,
                refresh_repeat: p.garp.refresh_repeat,
                lower_prio_delay: p.lower_prio_garp_delay,
                lower_prio_repeat: p.lower_prio_garp_repeat,
            },
            lower_prio_no_advert: p.lower_prio_no_advert,
            higher_prio_send_advert: p.higher_prio_send_advert,
            skip_check_adv_addr: p.skip_check_adv_addr,
            dont_track_primary,
            vrid: p.vrid,
            priority: p.priority,
            effective_priority: effective,
            advert_interval: p.advert_interval.as_duration(),
            preempt: p.preempt,
            preempt_delay: p.preempt_delay,
            auth: match &p.auth {
                Auth::Pass(bytes) => {
                    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
                    AuthView::Pass(String::from_utf8_lossy(&bytes[..end]).into_owned())
                }
                Auth::Ah => AuthView::Ah,
                _ => AuthView::None,
            },
            virtual_addresses: p.virtual_addresses.clone(),
            excluded_addresses: p.excluded_addresses.clone(),
            addresses_set: state == State::Master,
            tracked_interfaces,
            tracked_scripts,
            notify: Notify {
                backup: p.notify.backup.as_ref().map(hook),
                master: p.notify.master.as_ref().map(hook),
                fault: p.notify.fault.as_ref().map(hook),
                stop: p.notify.stop.as_ref().map(hook),
                generic: p.notify.notify.as_ref().map(hook),
                master_rx_lower_pri: p.notify.master_rx_lower_pri.as_ref().map(hook),
            },
            notify_priority_changes: p.notify_priority_changes,
            vmac: p.vmac.as_ref().map(|v| v.name.clone()),
            stats: self.node.stats(id).clone(),
        }
    }
}

fn tracked(name: &str, t: &TrackRef) -> Tracked {
    Tracked {
        name: name.to_string(),
        weight: t.weight,
        reverse: t.reverse,
    }
}

fn hook(h: &HookCmd) -> Hook {
    Hook {
        argv: h.argv.clone(),
        owner: h.run_as.as_ref().map(|r| Owner {
            uid: r.uid,
            gid: r.gid,
        }),
    }
}

fn count<T>(it: impl Iterator<Item = T>) -> u32 {
    u32::try_from(it.count()).unwrap_or(u32::MAX)
}

/// Writes `bytes` to a new file in `path`'s directory (mode 0600, never an existing file
/// or a symlink someone left there: `/tmp` is everyone's) and renames it over `path`.
fn write_replacing(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut last = io::Error::other("no temporary name was free");
    for _ in 0..16 {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .subsec_nanos();
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.{}.{seq}.{nanos}", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp);
        match file {
            Ok(mut f) => {
                let done = f
                    .write_all(bytes)
                    .and_then(|()| std::fs::rename(&tmp, path));
                if done.is_err() {
                    let _ = std::fs::remove_file(&tmp);
                }
                return done;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::write_replacing;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keepalived.data");
        std::fs::write(&path, "old").unwrap();
        write_replacing(&path, b"new text").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new text");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "a temporary file was left behind");
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_symlink_in_place_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let path = dir.path().join("keepalived.stats");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        write_replacing(&path, b"stats").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "stats");
        assert!(!std::fs::symlink_metadata(&path).unwrap().is_symlink());
    }
}
