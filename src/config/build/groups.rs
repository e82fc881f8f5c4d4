//! `vrrp_sync_group`: its members, tracking lists and notify hooks.
//!
//! A member listed twice is warned about here; that each names a defined
//! instance is validation's.

use crate::config::model::*;
use crate::config::parser::Node;

use super::{B, key};

impl B<'_> {
    pub(super) fn sync_group(&mut self, n: &Node) -> Option<SyncGroup> {
        let name = self.block_name(n)?;
        let base = key(&["g", &name]);
        self.spans.set(base.clone(), &n.args[0].loc);
        let mut g = SyncGroup {
            name,
            members: Vec::new(),
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            notify: Notify::default(),
            sync_group_tracking_weight: false,
        };
        for s in n.body() {
            match s.name() {
                "group" => {
                    self.expect_block(s);
                    for m in s.body() {
                        self.spans
                            .set(format!("{base}/member/{}", m.name()), m.loc());
                        if g.members.iter().any(|x| x == m.name()) {
                            self.warn(m.loc(), format!("'{}' is listed twice", m.name()));
                        } else {
                            g.members.push(m.name().to_string());
                        }
                    }
                }
                "track_interface" => g.track_interfaces = self.track_refs(s, &base, -253, 253),
                "track_script" => g.track_scripts = self.track_refs(s, &base, -253, 253),
                "track_file" => g.track_files = self.track_refs(s, &base, -254, 254),
                "track_process" => g.track_processes = self.track_refs(s, &base, -254, 254),
                "sync_group_tracking_weight" => g.sync_group_tracking_weight = true,
                "smtp_alert" | "global_tracking" | "track_bfd" => self.ignored(s),
                _ => {
                    if !self.notify(s, &mut g.notify) {
                        self.unknown(s)
                    }
                }
            }
        }
        Some(g)
    }
}
