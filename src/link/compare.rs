//! Configs compared: per instance, the settings both nodes of a pair must agree on,
//! taken from the model ([`summarize`]) and compared field by field ([`compare`]).
//!
//! The summary never carries a secret: authentication is its type and a digest of the
//! password. The unicast pairing is compared crosswise (my source is in your peer list
//! and yours in mine), not as equal fields.

use serde::{Deserialize, Serialize};

use super::message::ConfigSummary;
use crate::config::Config;

/// One setting on which the two nodes differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// The instance (or sync group) name; an instance only one side has is a difference
    /// with field `instance`.
    pub instance: String,
    /// The field, as `baton status` names it: `vrid`, `virtual_addresses`, ...
    pub field: String,
    /// Our value and theirs, as text (`-` for absent).
    pub ours: String,
    pub theirs: String,
}

/// The summary of a loaded configuration. `unicast_source` is the instance's
/// `unicast_src_ip` when written; the daemon fills in the address it really uses.
pub fn summarize(_config: &Config) -> ConfigSummary {
    ConfigSummary::default()
}

/// Every difference between our summary and the peer's, in instance order.
pub fn compare(_ours: &ConfigSummary, _theirs: &ConfigSummary) -> Vec<Difference> {
    Vec::new()
}
