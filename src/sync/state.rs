//! What a node keeps of each synced directory across restarts, and what `baton status`
//! shows of it.
//!
//! The kept state is the generation both nodes last agreed on: the one this node applied
//! from its peer, or the one its peer acknowledged holding. It is the base against which
//! local changes are told apart from the peer's (a file changed here since then and
//! overwritten by the peer's generation is moved aside, never lost). Written to a
//! temporary file, synced, then renamed: a crash leaves the old or the new one.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::tree::Manifest;

/// A generation: its number, its digest and its manifest.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Held {
    pub generation: u64,
    pub digest: String,
    /// Shared with the worker's current view of the directory when they are the same.
    pub manifest: Arc<Manifest>,
}

/// The directory under the state directory where one synced directory's state lives:
/// its path with `/` turned into `_` (so a human finds it), e.g.
/// `/var/lib/baton/sync/opt_neuronex_data`.
pub fn dir_state(state_dir: &Path, dir: &Path) -> PathBuf {
    let name: String = dir
        .to_string_lossy()
        .trim_matches('/')
        .chars()
        .map(|c| if c == '/' { '_' } else { c })
        .collect();
    state_dir
        .join("sync")
        .join(if name.is_empty() { "_" } else { &name })
}

impl Held {
    fn file(state: &Path) -> PathBuf {
        state.join("held.json")
    }

    /// The kept generation; `None` when there is none yet (or it cannot be read, which
    /// is logged by the caller: a lost base only means more files are moved aside).
    pub fn load(state: &Path) -> std::io::Result<Option<Held>> {
        match std::fs::read(Held::file(state)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn save(&self, state: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(state)?;
        let path = Held::file(state);
        let tmp = state.join(".held.json.tmp");
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        serde_json::to_writer(&mut f, self).map_err(std::io::Error::other)?;
        f.flush()?;
        f.get_ref().sync_all()?;
        std::fs::rename(&tmp, &path)
    }
}

/// One directory as `baton status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DirStatus {
    pub dir: String,
    /// The instance or sync group it follows.
    pub target: String,
    /// `source` (our service runs: our copy is the one that counts), `copy` (our
    /// service is stopped: we hold the peer's), `waiting` (no generation yet).
    pub role: String,
    /// The generation in our directory, its digest (first 16 digits), files and bytes.
    pub generation: Option<u64>,
    pub digest: Option<String>,
    pub files: u64,
    pub bytes: u64,
    /// The peer that holds (or sends) the other copy, and its generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_generation: Option<u64>,
    /// Both nodes hold the same generation.
    pub in_step: bool,
    /// Milliseconds since the two copies were last made equal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_ms_ago: Option<u64>,
    /// Milliseconds the copies have differed (a newer generation not yet everywhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_ms: Option<u64>,
    /// A transfer in progress: files and bytes still to come.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<TransferStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Files moved aside because the peer's generation replaced a local change, in all,
    /// and where the last ones went.
    pub conflicts: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicts_dir: Option<String>,
    /// What was refused from the peer, by cause.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refused: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferStatus {
    pub generation: u64,
    pub files_left: u64,
    pub bytes_left: u64,
    pub bytes_done: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dirs_are_named_after_the_path() {
        let s = dir_state(Path::new("/var/lib/baton"), Path::new("/opt/neuronex/data"));
        assert_eq!(s, Path::new("/var/lib/baton/sync/opt_neuronex_data"));
    }
}
