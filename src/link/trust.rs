//! The trust store: which peers' fingerprints this node trusts, and which unknown peers
//! have been seen knocking.
//!
//! A fingerprint is trusted for one of two reasons: a user approved it (`baton peer
//! approve`, kept in the state directory's `trusted` file so it survives a restart), or
//! baton's own file lists it (given to the store by the caller, never written to
//! `trusted`: removing it from that file and reloading is the only way to end that trust).
//! An untrusted peer that completed a handshake is *pending*: held in memory only, with
//! its address and when it was first and last seen, at most [`PENDING_MAX`] of them, the
//! one seen longest ago dropped first, so a stream of fresh keys cannot grow the list.
//!
//! The `trusted` file, one peer per line, `#` comments:
//!
//! ```text
//! # fingerprint  node-id  approved-at (seconds since 1970-01-01 UTC)
//! 9C:13:…:8D 3f2a9c0d11b2e4f5 1796169600
//! ```
//!
//! `-` stands for a node id not known at approval. Fields after the third are ignored, so
//! a later baton can add some. The file is rewritten whole on every change (a temporary
//! file renamed over it, mode 0600).
//!
//! Time is an argument here: `Instant`s for sightings, `SystemTime` for approvals.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::identity::{self, Fingerprint, IdentityError, NodeId};

/// The file of approved peers, in the state directory.
pub const TRUSTED_FILE: &str = "trusted";
/// How many untrusted peers are remembered at once.
pub const PENDING_MAX: usize = 16;

/// Why the trust store could not be read or written. Each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    Refused(#[from] IdentityError),
}

/// How a fingerprint stands. `Configured` wins over `Approved` when both hold, because
/// only editing baton's own file can end it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    Configured,
    Approved,
    Pending,
    Unknown,
}

impl Trust {
    pub fn is_trusted(self) -> bool {
        matches!(self, Trust::Configured | Trust::Approved)
    }
}

/// One approval, as kept in the `trusted` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approval {
    pub node_id: Option<NodeId>,
    pub approved_at: SystemTime,
}

/// When and from where a peer was seen (memory only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    pub address: IpAddr,
    pub node_id: Option<NodeId>,
    pub first_seen: Instant,
    pub last_seen: Instant,
}

/// One row of `baton peer list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerEntry {
    pub fingerprint: Fingerprint,
    pub trust: Trust,
    pub approval: Option<Approval>,
    pub sighting: Option<Sighting>,
}

/// What [`TrustStore::approve`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approved {
    /// Trusted now and written to `trusted`; `was_pending` if it had been seen.
    Now { was_pending: bool },
    /// Already approved: nothing changed.
    Already,
    /// baton's own file already trusts it: nothing written.
    Configured,
}

/// What [`TrustStore::revoke`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// The approval is removed from `trusted`; the peer is no longer trusted.
    Approval,
    /// The approval is removed, but baton's own file still lists the fingerprint.
    ApprovalButConfigured,
    /// Only baton's own file lists it: edit that file and reload to end the trust.
    ConfiguredOnly,
    /// It was pending: forgotten until it connects again.
    Pending,
    /// Not known at all.
    Unknown,
}

impl Revoked {
    /// Whether the peer's live connections must now be closed.
    pub fn ends_trust(self) -> bool {
        matches!(self, Revoked::Approval)
    }
}

/// Approved, configured and pending peers of one node.
#[derive(Debug)]
pub struct TrustStore {
    dir: PathBuf,
    approved: BTreeMap<Fingerprint, Approval>,
    configured: BTreeSet<Fingerprint>,
    seen: BTreeMap<Fingerprint, Sighting>,
}

impl TrustStore {
    /// Reads `dir/trusted` (absent: nothing approved yet) and takes `configured`, the
    /// fingerprints baton's own file lists.
    pub fn load(
        dir: &Path,
        configured: impl IntoIterator<Item = Fingerprint>,
    ) -> Result<TrustStore, TrustError> {
        let path = dir.join(TRUSTED_FILE);
        let approved = match fs::metadata(&path) {
            Ok(meta) => {
                identity::check_not_writable_by_others(&path, &meta)?;
                let text = fs::read(&path).map_err(|source| TrustError::Io {
                    path: path.clone(),
                    source,
                })?;
                parse(&path, &text)?
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(TrustError::Io { path, source }),
        };
        Ok(TrustStore {
            dir: dir.to_path_buf(),
            approved,
            configured: configured.into_iter().collect(),
            seen: BTreeMap::new(),
        })
    }

    /// Replaces the fingerprints from baton's own file (on reload).
    pub fn set_configured(&mut self, configured: impl IntoIterator<Item = Fingerprint>) {
        self.configured = configured.into_iter().collect();
        self.drop_excess_pending(None);
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(TRUSTED_FILE)
    }

    pub fn trust(&self, fingerprint: &Fingerprint) -> Trust {
        if self.configured.contains(fingerprint) {
            Trust::Configured
        } else if self.approved.contains_key(fingerprint) {
            Trust::Approved
        } else if self.seen.contains_key(fingerprint) {
            Trust::Pending
        } else {
            Trust::Unknown
        }
    }

    pub fn is_trusted(&self, fingerprint: &Fingerprint) -> bool {
        self.trust(fingerprint).is_trusted()
    }

    /// Records that a peer completed a handshake from `address` at `now` (with its node
    /// id once its Hello is read), and says how it stands.
    pub fn observe(
        &mut self,
        fingerprint: Fingerprint,
        address: IpAddr,
        node_id: Option<NodeId>,
        now: Instant,
    ) -> Trust {
        let sighting = self.seen.entry(fingerprint).or_insert(Sighting {
            address,
            node_id,
            first_seen: now,
            last_seen: now,
        });
        sighting.address = address;
        sighting.node_id = node_id.or(sighting.node_id);
        sighting.last_seen = sighting.last_seen.max(now);
        self.drop_excess_pending(Some(fingerprint));
        self.trust(&fingerprint)
    }

    /// Trusts `fingerprint` from now on and writes it to `trusted`. The fingerprint need
    /// not have been seen: a user may approve a peer before it first connects. If writing
    /// fails, nothing changes.
    pub fn approve(
        &mut self,
        fingerprint: Fingerprint,
        now: SystemTime,
    ) -> Result<Approved, TrustError> {
        if self.configured.contains(&fingerprint) {
            return Ok(Approved::Configured);
        }
        if self.approved.contains_key(&fingerprint) {
            return Ok(Approved::Already);
        }
        let sighting = self.seen.get(&fingerprint);
        let approval = Approval {
            node_id: sighting.and_then(|s| s.node_id),
            approved_at: now,
        };
        let was_pending = sighting.is_some();
        self.approved.insert(fingerprint, approval);
        if let Err(e) = self.save() {
            self.approved.remove(&fingerprint);
            return Err(e);
        }
        Ok(Approved::Now { was_pending })
    }

    /// Ends an approval (written to `trusted`) or forgets a pending peer. If writing
    /// fails, nothing changes.
    pub fn revoke(&mut self, fingerprint: &Fingerprint) -> Result<Revoked, TrustError> {
        let configured = self.configured.contains(fingerprint);
        if let Some(approval) = self.approved.remove(fingerprint) {
            if let Err(e) = self.save() {
                self.approved.insert(*fingerprint, approval);
                return Err(e);
            }
            if configured {
                return Ok(Revoked::ApprovalButConfigured);
            }
            self.seen.remove(fingerprint);
            return Ok(Revoked::Approval);
        }
        if configured {
            return Ok(Revoked::ConfiguredOnly);
        }
        match self.seen.remove(fingerprint) {
            Some(_) => Ok(Revoked::Pending),
            None => Ok(Revoked::Unknown),
        }
    }

    /// One peer's row, if the store knows it at all.
    pub fn get(&self, fingerprint: &Fingerprint) -> Option<PeerEntry> {
        let trust = self.trust(fingerprint);
        (trust != Trust::Unknown).then(|| PeerEntry {
            fingerprint: *fingerprint,
            trust,
            approval: self.approved.get(fingerprint).copied(),
            sighting: self.seen.get(fingerprint).copied(),
        })
    }

    /// Every peer the store knows, trusted and pending, in fingerprint order.
    /// Whether any key is trusted, configured or approved.
    pub fn trusts_any(&self) -> bool {
        !self.configured.is_empty() || !self.approved.is_empty()
    }

    pub fn list(&self) -> Vec<PeerEntry> {
        let all: BTreeSet<&Fingerprint> = self
            .configured
            .iter()
            .chain(self.approved.keys())
            .chain(self.seen.keys())
            .collect();
        all.into_iter().filter_map(|fp| self.get(fp)).collect()
    }

    /// The pending peers, in fingerprint order.
    pub fn pending(&self) -> impl Iterator<Item = (&Fingerprint, &Sighting)> {
        self.seen.iter().filter(|(fp, _)| !self.is_trusted(fp))
    }

    /// Keeps at most `PENDING_MAX` untrusted sightings, dropping the ones seen longest
    /// ago, never `keep` (the peer just seen).
    fn drop_excess_pending(&mut self, keep: Option<Fingerprint>) {
        loop {
            let pending: Vec<(Fingerprint, Instant)> = self
                .pending()
                .map(|(fp, sighting)| (*fp, sighting.last_seen))
                .collect();
            if pending.len() <= PENDING_MAX {
                return;
            }
            let oldest = pending
                .iter()
                .filter(|(fp, _)| Some(*fp) != keep)
                .min_by_key(|(_, last_seen)| *last_seen)
                .map(|(fp, _)| *fp);
            match oldest {
                Some(fp) => self.seen.remove(&fp),
                None => return,
            };
        }
    }

    fn save(&self) -> Result<(), TrustError> {
        let mut text = String::from(
            "# Peers approved with `baton peer approve`; written by baton.\n\
             # fingerprint  node-id  approved-at (seconds since 1970-01-01 UTC)\n",
        );
        for (fingerprint, approval) in &self.approved {
            let node_id = approval
                .node_id
                .map_or_else(|| "-".to_string(), |id| id.to_string());
            let secs = approval
                .approved_at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let _ = writeln!(text, "{fingerprint} {node_id} {secs}");
        }
        identity::ensure_state_dir(&self.dir)?;
        identity::write_private_file(&self.dir, TRUSTED_FILE, text.as_bytes()).map_err(|source| {
            TrustError::Io {
                path: self.path(),
                source,
            }
        })
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<BTreeMap<Fingerprint, Approval>, TrustError> {
    let syntax = |line: usize, message: String| TrustError::Syntax {
        path: path.to_path_buf(),
        line,
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        syntax(line, "not UTF-8 text".to_string())
    })?;
    let mut approved = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [fingerprint, node_id, approved_at, ..] = fields[..] else {
            return Err(syntax(
                number,
                "expected a fingerprint, a node id (or -) and the approval time".to_string(),
            ));
        };
        let fingerprint: Fingerprint = fingerprint
            .parse()
            .map_err(|e| syntax(number, format!("{fingerprint:?}: {e}")))?;
        let node_id = match node_id {
            "-" => None,
            id => Some(
                id.parse::<NodeId>()
                    .map_err(|e| syntax(number, format!("{id:?}: {e}")))?,
            ),
        };
        let secs: u64 = approved_at.parse().map_err(|_| {
            syntax(
                number,
                format!("{approved_at:?}: the approval time is whole seconds since 1970"),
            )
        })?;
        let approved_at = SystemTime::UNIX_EPOCH
            .checked_add(Duration::from_secs(secs))
            .ok_or_else(|| syntax(number, format!("{approved_at:?}: out of range")))?;
        let approval = Approval {
            node_id,
            approved_at,
        };
        if approved.insert(fingerprint, approval).is_some() {
            return Err(syntax(
                number,
                format!("{fingerprint} is listed a second time"),
            ));
        }
    }
    Ok(approved)
}

#[cfg(test)]
mod tests;
