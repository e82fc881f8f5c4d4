//! Tracked objects in the plan: the specs the tracker runs (`vrrp_script`,
//! `track_file`, `track_process`) and the track references each instance and sync
//! group gets, with keepalived's weights and `reverse`.
//!
//! Pure, like the rest of the plan: builds descriptions, runs nothing.

use crate::config::model::{self, Config, TrackRef as ConfigTrackRef};
use crate::proto::TrackRef;
use crate::track::{FileSpec, ProcessSpec, ScriptSpec, TrackSpecs};

use super::{iface_key, resolve_run_as};

/// The tracked objects the tracker runs: every `vrrp_script`, `track_file` and
/// `track_process`, whether or not an instance refers to it.
pub(super) fn track_specs(config: &Config) -> TrackSpecs {
    TrackSpecs {
        scripts: config
            .vrrp_scripts
            .iter()
            .filter_map(|s| {
                let cmd = s.script.as_ref()?;
                Some(ScriptSpec {
                    name: s.name.clone(),
                    argv: cmd.argv.clone(),
                    interval: s.interval,
                    timeout: s.effective_timeout(),
                    rise: s.rise,
                    fall: s.fall,
                    user: cmd.run_as.as_ref().and_then(resolve_run_as),
                    init_fail: s.init_fail,
                })
            })
            .collect(),
        files: config
            .track_files
            .iter()
            .filter_map(|f| {
                Some(FileSpec {
                    name: f.name.clone(),
                    path: f.file.as_ref()?.into(),
                    init_file: f.init_file.as_ref().map(|i| i.value),
                    init_overwrite: f.init_file.as_ref().is_some_and(|i| i.overwrite),
                })
            })
            .collect(),
        processes: config
            .track_processes
            .iter()
            .filter_map(|p| {
                Some(ProcessSpec {
                    name: p.name.clone(),
                    process: p.process.clone()?,
                    params: p.params.clone(),
                    param_match: p.param_match.map(|m| match m {
                        model::ParamMatch::Exact => crate::track::ParamMatch::Exact,
                        model::ParamMatch::Partial => crate::track::ParamMatch::Partial,
                        _ => crate::track::ParamMatch::Initial,
                    }),
                    full_command: p.full_command,
                    quorum: p.quorum,
                    quorum_max: p.quorum_max,
                    fork_delay: p.fork_delay.unwrap_or_default(),
                    terminate_delay: p.terminate_delay.unwrap_or_default(),
                })
            })
            .collect(),
    }
}

pub(super) fn track_ref(key: &str, t: &ConfigTrackRef, default_weight: i32) -> TrackRef {
    TrackRef {
        key: key.to_string(),
        weight: t.weight.unwrap_or(default_weight),
        reverse: t.reverse,
    }
}

pub(super) fn object_tracks<'a>(
    scripts: impl Iterator<Item = &'a ConfigTrackRef>,
    files: impl Iterator<Item = &'a ConfigTrackRef>,
    processes: impl Iterator<Item = &'a ConfigTrackRef>,
    config: &Config,
) -> Vec<TrackRef> {
    let mut out = Vec::new();
    for t in scripts {
        if let Some(s) = config.vrrp_script(&t.name) {
            let mut r = track_ref(&format!("script:{}", t.name), t, s.weight);
            r.reverse ^= s.weight_reverse && t.weight.is_none();
            out.push(r);
        }
    }
    for t in files {
        if let Some(f) = config.track_file(&t.name) {
            let mut r = track_ref(&format!("file:{}", t.name), t, f.weight);
            r.reverse ^= f.weight_reverse && t.weight.is_none();
            out.push(r);
        }
    }
    for t in processes {
        if let Some(p) = config.track_process(&t.name) {
            let mut r = track_ref(&format!("process:{}", t.name), t, p.weight);
            r.reverse ^= p.weight_reverse && t.weight.is_none();
            out.push(r);
        }
    }
    out
}

/// A sync group's tracked objects, each with the interface to watch (if it is one).
pub(super) fn group_tracks(
    sg: &model::SyncGroup,
    config: &Config,
) -> Vec<(TrackRef, Option<String>)> {
    let mut out: Vec<(TrackRef, Option<String>)> = sg
        .track_interfaces
        .iter()
        .map(|t| (track_ref(&iface_key(&t.name), t, 0), Some(t.name.clone())))
        .collect();
    out.extend(
        object_tracks(
            sg.track_scripts.iter(),
            sg.track_files.iter(),
            sg.track_processes.iter(),
            config,
        )
        .into_iter()
        .map(|t| (t, None)),
    );
    out
}
