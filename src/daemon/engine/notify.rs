//! The hook side of the engine's start and events: the hook runner's settings from the
//! plan, every target's notify scripts, and the log line of each hook report.

use tracing::{debug, info, warn};

use crate::hooks::{self, FifoSpec, HookPhase, HookReport, HookSettings, Target};

use super::super::plan::{self, Plan};

pub(super) fn hook_settings(plan: &Plan) -> HookSettings {
    let mut s = HookSettings {
        script_security: plan.script_security,
        fifos: plan
            .fifos
            .iter()
            .map(|(path, script)| FifoSpec {
                path: path.into(),
                script: script.clone(),
            })
            .collect(),
        script_user: hooks::exec::default_script_user(),
    };
    if let Some(user) = plan.script_user.as_ref().and_then(plan::resolve_run_as) {
        s.script_user = user;
    }
    s
}

pub(super) fn set_all_notify(plan: &Plan, mut set: impl FnMut(Target, hooks::NotifySpec)) {
    for p in &plan.instances {
        set(Target::Instance(p.name.clone()), p.notify.clone());
    }
    for g in &plan.groups {
        set(Target::Group(g.name.clone()), g.notify.clone());
    }
}

pub(super) fn log_hook(r: &HookReport) {
    let who = match &r.target {
        Target::Instance(n) => n.as_str(),
        Target::Group(n) => n.as_str(),
    };
    let cmd = r.argv.join(" ");
    match &r.phase {
        HookPhase::Started { pid } => debug!("{who}: hook started (pid {pid}): {cmd}"),
        HookPhase::Finished { outcome } => info!("{who}: hook {cmd}: {outcome:?}"),
        HookPhase::Refused { reason } => warn!("{who}: hook not run: {cmd}: {reason}"),
    }
}
