//! Switching a synced directory to a new generation in one atomic step.
//!
//! `Stage::apply` builds the new generation of `root` beside it, in
//! `parent/.<name>.baton-stage` (see `build.rs`), makes it durable, and then exchanges
//! the two directories with renameat2(RENAME_EXCHANGE): at every instant `root` is either
//! the whole previous generation or the whole new one, for readers and after a crash
//! alike. If `root` does not exist yet the stage is renamed to it (RENAME_NOREPLACE).
//! Then the old generation, now at the stage path, has its local changes moved into the
//! conflicts folder (see `conflict.rs`) and is removed.
//!
//! Guarantees: any error before the exchange removes the stage and leaves `root`
//! untouched (contents renamed out of the incoming area are put back). Paths are joined
//! only from manifests that pass `Manifest::validate`, so nothing is written outside the
//! stage, the incoming area, `root` and `conflicts_dir/<stamp>`.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use rustix::fs::{RenameFlags, renameat_with};

use super::at;
use super::build::{Build, io_err};
use super::conflict::{Rules, sweep};
use super::incoming::Incoming;
use super::manifest::{Manifest, ManifestError};
use super::path::check_rel;

/// The stage of one synced directory.
#[derive(Debug, Clone)]
pub struct Stage {
    root: PathBuf,
    parent: PathBuf,
    name: OsString,
    stage: PathBuf,
    stage_name: OsString,
}

/// What a successful `apply` did besides switching.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Relative paths of local changes moved aside (sorted; non-UTF-8 names lossily).
    pub conflicts: Vec<String>,
    /// `conflicts_dir/<stamp>`, if anything was moved there.
    pub conflicts_dir: Option<PathBuf>,
    /// Problems after the switch (the new generation is in place regardless): a local
    /// change that could not be moved aside, or an old generation that could not be
    /// removed. Empty when all went well.
    pub errors: Vec<String>,
    /// Where the old generation was kept because some local change in it could not be
    /// moved aside (`parent/.<name>.baton-old-<stamp>`); the operator should look at it.
    pub kept_old: Option<PathBuf>,
}

/// Why `apply` failed. Except where noted, `root` is as it was before the call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StageError {
    #[error("manifest refused: {0}")]
    Invalid(ManifestError),
    #[error("no source for the content of {path:?}")]
    Missing { path: String },
    #[error("unusable directory: {0}")]
    BadRoot(String),
    #[error("{op} {}: {error}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        error: io::Error,
    },
}

impl Stage {
    /// The stage for `root`, which must be absolute with a parent and a file name.
    pub fn new(root: &Path) -> Result<Stage, StageError> {
        let bad = || {
            StageError::BadRoot(format!(
                "{} is not an absolute path with a name",
                root.display()
            ))
        };
        if !root.is_absolute() {
            return Err(bad());
        }
        let (Some(parent), Some(name)) = (root.parent(), root.file_name()) else {
            return Err(bad());
        };
        let mut stage_name = OsString::from(".");
        stage_name.push(name);
        stage_name.push(".baton-stage");
        Ok(Stage {
            root: root.to_path_buf(),
            parent: parent.to_path_buf(),
            name: name.to_os_string(),
            stage: parent.join(&stage_name),
            stage_name,
        })
    }

    pub fn stage_path(&self) -> &Path {
        &self.stage
    }

    /// Removes a leftover stage (call at start-up; `apply` does it too).
    pub fn clean(&self) -> io::Result<()> {
        match fs::symlink_metadata(&self.stage) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(&self.stage),
            Ok(_) => fs::remove_file(&self.stage),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Switches `root` to `new`; see the module doc. `current` is the scan of `root`
    /// taken just before, `base` the manifest both nodes last agreed on (None: never
    /// synced), `stamp` a single path component naming this switch's conflicts folder.
    pub fn apply(
        &self,
        current: &Manifest,
        new: &Manifest,
        incoming: &Incoming,
        base: Option<&Manifest>,
        conflicts_dir: &Path,
        stamp: &str,
    ) -> Result<Applied, StageError> {
        new.validate(u64::MAX, usize::MAX)
            .map_err(StageError::Invalid)?;
        current
            .validate(u64::MAX, usize::MAX)
            .map_err(StageError::Invalid)?;
        if check_rel(stamp).is_err() || stamp.contains('/') {
            return Err(StageError::BadRoot(format!(
                "conflict stamp {stamp:?} is not a single path component"
            )));
        }
        if !conflicts_dir.is_absolute()
            || conflicts_dir.starts_with(&self.root)
            || conflicts_dir.starts_with(&self.stage)
        {
            return Err(StageError::BadRoot(format!(
                "conflicts folder {} must be absolute and outside {}",
                conflicts_dir.display(),
                self.root.display()
            )));
        }
        let root_meta = match fs::symlink_metadata(&self.root) {
            Ok(m) if m.is_dir() => Some(m),
            Ok(_) => {
                return Err(StageError::BadRoot(format!(
                    "{} is not a directory",
                    self.root.display()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err("lstat", &self.root)(e)),
        };
        let empty = Manifest::default();
        let current = if root_meta.is_some() { current } else { &empty };
        self.clean()
            .map_err(io_err("remove leftover stage", &self.stage))?;

        let root_fd = match root_meta {
            Some(_) => Some(at::open_root(&self.root).map_err(io_err("open", &self.root))?),
            None => None,
        };
        let mut build = Build::new(root_fd, &self.stage, current, incoming);
        let built = build
            .run(new, root_meta.as_ref())
            .and_then(|()| self.switch(root_meta.is_some()));
        if let Err(e) = built {
            build.undo();
            let _ = self.clean();
            return Err(e);
        }
        if root_meta.is_none() {
            return Ok(Applied::default());
        }
        // The switch is done: from here on, problems are reported, not returned.
        let out = conflicts_dir.join(stamp);
        let rules = Rules {
            current,
            new,
            base,
            linked: &build.linked,
        };
        let swept = sweep(&self.stage, &rules, &out);
        let mut applied = Applied {
            conflicts_dir: (!swept.moved.is_empty()).then(|| out.clone()),
            conflicts: swept.moved,
            errors: swept.errors,
            kept_old: None,
        };
        if applied.errors.is_empty() {
            if let Err(e) = fs::remove_dir_all(&self.stage) {
                applied.errors.push(format!(
                    "remove old generation {}: {e}",
                    self.stage.display()
                ));
            }
        } else {
            // Something local could not be moved aside: keep the old generation whole,
            // out of the way of the next apply (which would remove a leftover stage).
            let mut kept = OsString::from(".");
            kept.push(&self.name);
            kept.push(format!(".baton-old-{stamp}"));
            let kept = self.parent.join(kept);
            match fs::rename(&self.stage, &kept) {
                Ok(()) => applied.kept_old = Some(kept),
                Err(e) => applied
                    .errors
                    .push(format!("keep old generation as {}: {e}", kept.display())),
            }
        }
        Ok(applied)
    }

    /// Exchanges the built stage with `root` (or renames it there if there is no root),
    /// then makes the change durable.
    fn switch(&self, exchange: bool) -> Result<(), StageError> {
        let dir = File::open(&self.parent).map_err(io_err("open", &self.parent))?;
        let flags = if exchange {
            RenameFlags::EXCHANGE
        } else {
            RenameFlags::NOREPLACE
        };
        // rustix makes the system call itself: glibc has a renameat2 wrapper only from
        // 2.28, and baton's packages link against glibc 2.17 (CentOS 7, whose 3.10
        // kernel answers ENOSYS, reported as the error it is).
        renameat_with(&dir, &self.stage_name, &dir, &self.name, flags)
            .map_err(io::Error::from)
            .map_err(io_err("renameat2", &self.root))?;
        // The switch has happened; a failed fsync of the parent cannot undo it, so it is
        // not an error that would make the caller believe `root` is unchanged.
        let _ = dir.sync_all();
        Ok(())
    }
}
