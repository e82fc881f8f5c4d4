//! The node's own identity on the link: an ECDSA P-256 key and a self-signed certificate
//! kept in the state directory, the certificate's fingerprint, and the node id.
//!
//! On first start baton makes the key, the certificate and a random node id; later starts
//! load them. Peers pin the certificate by its SHA-256 fingerprint, so the certificate's
//! dates and names carry no meaning and it never expires. The fingerprint is written the
//! way `openssl x509 -noout -fingerprint -sha256` prints it, so a user can check the value
//! `baton identity` shows against the file with a tool they already trust.
//!
//! The key is refused, with a plain message, when anyone but its owner could read or
//! change it: a key others may have read proves nothing. Nothing here is ever made again
//! silently once it exists: a new key is a new fingerprint that every peer would have to
//! approve again, so a half-present identity is an error for the user to resolve.
//!
//! This module reads and writes files only; it opens no socket and reads no clock.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ring::rand::{SecureRandom, SystemRandom};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where the identity and the trust store live unless baton's own file says otherwise.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/baton";
/// The private key, PKCS#8 PEM.
pub const KEY_FILE: &str = "identity.key";
/// The self-signed certificate, PEM; its fingerprint is the node's fingerprint.
pub const CERT_FILE: &str = "identity.crt";
/// The node id, 16 hex digits and a newline.
pub const NODE_ID_FILE: &str = "node-id";

/// SHA-256 of a DER certificate: what a peer pins and what `baton peer approve` takes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a certificate, from its DER bytes.
    pub fn of_der(der: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest.as_ref());
        Fingerprint(bytes)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Fingerprint(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// `AB:CD:…`, 32 upper-case hex pairs joined by colons, as openssl prints it.
impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// Why a string is not a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    #[error("a fingerprint is 64 hex digits (32 bytes, colons optional); this has {0}")]
    Length(usize),
    #[error("a fingerprint is made of hex digits and colons; {0:?} is neither")]
    Character(char),
}

/// Accepts what users paste: any case, with or without colons, and with the prefixes
/// `baton identity` (`SHA256 `) and openssl (`SHA256 Fingerprint=`) put before it.
impl FromStr for Fingerprint {
    type Err = FingerprintError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut rest = text.trim();
        for prefix in ["sha256 fingerprint=", "sha256:", "sha256 ", "sha256="] {
            if rest.len() >= prefix.len()
                && rest.is_char_boundary(prefix.len())
                && rest[..prefix.len()].eq_ignore_ascii_case(prefix)
            {
                rest = rest[prefix.len()..].trim_start();
                break;
            }
        }
        let mut nibbles = Vec::with_capacity(64);
        for c in rest.chars().filter(|&c| c != ':') {
            nibbles.push(c.to_digit(16).ok_or(FingerprintError::Character(c))? as u8);
        }
        if nibbles.len() != 64 {
            return Err(FingerprintError::Length(nibbles.len()));
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(nibbles.chunks_exact(2)) {
            *byte = pair[0] << 4 | pair[1];
        }
        Ok(Fingerprint(bytes))
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A node's id: 64 random bits made with the identity and kept beside it, so that it
/// survives a change of key (a peer sees the same node with a new fingerprint).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u64);

impl NodeId {
    pub fn from_u64(id: u64) -> Self {
        NodeId(id)
    }

    pub fn as_u64(&self) -> u64 {
        self.0
    }
}

/// 16 lower-case hex digits.
impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

/// Why a string is not a node id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a node id is 16 hex digits")]
pub struct NodeIdError;

impl FromStr for NodeId {
    type Err = NodeIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NodeIdError);
        }
        u64::from_str_radix(text, 16)
            .map(NodeId)
            .map_err(|_| NodeIdError)
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Why the identity could not be loaded or made. Each names the file concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// The file exists but is not what baton keeps there, or is not safe to use.
    #[error("{}: {message}", path.display())]
    Refused { path: PathBuf, message: String },
}

impl IdentityError {
    fn io(path: &Path) -> impl FnOnce(io::Error) -> IdentityError + '_ {
        move |source| IdentityError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn refused(path: &Path, message: impl Into<String>) -> IdentityError {
        IdentityError::Refused {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// Whether [`Identity::load_or_create`] found the identity or made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Loaded,
    Created,
}

/// The node's key, certificate, fingerprint and id.
pub struct Identity {
    dir: PathBuf,
    node_id: NodeId,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    fingerprint: Fingerprint,
}

impl fmt::Debug for Identity {
    // Never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("dir", &self.dir)
            .field("node_id", &self.node_id)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads the identity from `dir`, or makes it there on first start (the directory
    /// too, mode 0700; every file 0600).
    pub fn load_or_create(dir: &Path) -> Result<(Identity, Origin), IdentityError> {
        ensure_state_dir(dir)?;
        let key = dir.join(KEY_FILE);
        let cert = dir.join(CERT_FILE);
        match (exists(&key)?, exists(&cert)?) {
            (true, true) => Ok((Identity::load(dir)?, Origin::Loaded)),
            (false, false) => Ok((Identity::create(dir)?, Origin::Created)),
            (true, false) => Err(IdentityError::refused(
                &cert,
                format!(
                    "missing while {KEY_FILE} exists; restore it, or remove {KEY_FILE} to make \
                     a new identity (every peer will then have to approve the new fingerprint)"
                ),
            )),
            (false, true) => Err(IdentityError::refused(
                &key,
                format!(
                    "missing while {CERT_FILE} exists; restore it, or remove {CERT_FILE} to \
                     make a new identity (every peer will then have to approve the new \
                     fingerprint)"
                ),
            )),
        }
    }

    /// Loads an existing identity; never makes one (`baton identity` offline).
    pub fn load(dir: &Path) -> Result<Identity, IdentityError> {
        check_state_dir(dir)?;
        let key_path = dir.join(KEY_FILE);
        let cert_path = dir.join(CERT_FILE);
        let key_meta = fs::metadata(&key_path).map_err(IdentityError::io(&key_path))?;
        check_private(&key_path, &key_meta, "the private key")?;
        let cert_meta = fs::metadata(&cert_path).map_err(IdentityError::io(&cert_path))?;
        check_not_writable_by_others(&cert_path, &cert_meta)?;

        let key_pem = fs::read(&key_path).map_err(IdentityError::io(&key_path))?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            IdentityError::refused(&key_path, format!("not a PEM private key ({e})"))
        })?;
        let cert_pem = fs::read(&cert_path).map_err(IdentityError::io(&cert_path))?;
        let cert = CertificateDer::from_pem_slice(&cert_pem).map_err(|e| {
            IdentityError::refused(&cert_path, format!("not a PEM certificate ({e})"))
        })?;
        // rustls checks that the key parses and that it is the certificate's key.
        let provider = rustls::crypto::ring::default_provider();
        rustls::sign::CertifiedKey::from_der(vec![cert.clone()], key.clone_key(), &provider)
            .map_err(|e| {
                IdentityError::refused(&key_path, format!("cannot be used with {CERT_FILE}: {e}"))
            })?;

        let node_id = load_or_create_node_id(dir)?;
        let fingerprint = Fingerprint::of_der(&cert);
        Ok(Identity {
            dir: dir.to_path_buf(),
            node_id,
            cert,
            key,
            fingerprint,
        })
    }

    fn create(dir: &Path) -> Result<Identity, IdentityError> {
        let node_id = load_or_create_node_id(dir)?;
        let key_path = dir.join(KEY_FILE);
        let made = |e: rcgen::Error| {
            IdentityError::refused(&key_path, format!("cannot make a key and certificate: {e}"))
        };
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(made)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(made)?;
        // Only for people reading the certificate (openssl s_client): pinning ignores names.
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("baton node {node_id}"));
        let cert = params.self_signed(&key).map_err(made)?;

        // The key goes first: a crash between the two leaves a key without a certificate,
        // which the next start reports instead of replacing.
        write_private_file(dir, KEY_FILE, key.serialize_pem().as_bytes())
            .map_err(IdentityError::io(&key_path))?;
        let cert_path = dir.join(CERT_FILE);
        write_private_file(dir, CERT_FILE, cert.pem().as_bytes())
            .map_err(IdentityError::io(&cert_path))?;
        Identity::load(dir)
    }

    pub fn state_dir(&self) -> &Path {
        &self.dir
    }

    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(CERT_FILE)
    }

    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// The private key, PKCS#8 DER, for the TLS configs.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        self.key.clone_key()
    }
}

fn exists(path: &Path) -> Result<bool, IdentityError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(IdentityError::io(path)(e)),
    }
}

/// Makes the state directory (mode 0700) if it is missing, then checks it.
pub(crate) fn ensure_state_dir(dir: &Path) -> Result<(), IdentityError> {
    if !exists(dir)? {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(IdentityError::io(dir))?;
    }
    check_state_dir(dir)
}

/// Whoever may write the directory may replace the key, the certificate or the list of
/// trusted peers: refuse one that group or others can write.
pub(crate) fn check_state_dir(dir: &Path) -> Result<(), IdentityError> {
    let meta = fs::metadata(dir).map_err(IdentityError::io(dir))?;
    if !meta.is_dir() {
        return Err(IdentityError::refused(
            dir,
            "the state directory is not a directory",
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(IdentityError::refused(
            dir,
            format!(
                "the state directory can be written by group or others (mode {:04o}); \
                 baton keeps its key there only if it cannot (chmod 700 {})",
                meta.mode() & 0o7777,
                dir.display()
            ),
        ));
    }
    Ok(())
}

fn check_private(path: &Path, meta: &fs::Metadata, what: &str) -> Result<(), IdentityError> {
    if !meta.is_file() {
        return Err(IdentityError::refused(
            path,
            format!("{what} is not a regular file"),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(IdentityError::refused(
            path,
            format!(
                "{what} can be read or written by group or others (mode {:04o}); baton \
                 refuses to use it (chmod 600 {}; if others may have read it, remove the \
                 identity files to make a new one)",
                meta.mode() & 0o7777,
                path.display()
            ),
        ));
    }
    let euid = nix::unistd::geteuid().as_raw();
    if meta.uid() != euid {
        return Err(IdentityError::refused(
            path,
            format!(
                "{what} belongs to uid {}, and baton runs as uid {euid}; the owner could \
                 change it (chown it to uid {euid})",
                meta.uid()
            ),
        ));
    }
    Ok(())
}

pub(crate) fn check_not_writable_by_others(
    path: &Path,
    meta: &fs::Metadata,
) -> Result<(), IdentityError> {
    if !meta.is_file() {
        return Err(IdentityError::refused(path, "not a regular file"));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(IdentityError::refused(
            path,
            format!(
                "can be written by group or others (mode {:04o}); baton refuses to use it \
                 (chmod 600 {})",
                meta.mode() & 0o7777,
                path.display()
            ),
        ));
    }
    Ok(())
}

fn load_or_create_node_id(dir: &Path) -> Result<NodeId, IdentityError> {
    let path = dir.join(NODE_ID_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => text
            .trim_end_matches('\n')
            .parse()
            .map_err(|e: NodeIdError| {
                IdentityError::refused(&path, format!("{e}; this file holds something else"))
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 8];
            SystemRandom::new()
                .fill(&mut bytes)
                .map_err(|_| IdentityError::refused(&path, "the system's random source failed"))?;
            let id = NodeId(u64::from_be_bytes(bytes));
            write_private_file(dir, NODE_ID_FILE, format!("{id}\n").as_bytes())
                .map_err(IdentityError::io(&path))?;
            Ok(id)
        }
        Err(e) => Err(IdentityError::io(&path)(e)),
    }
}

/// Writes `dir/name` with mode 0600 so that no reader ever sees it half-written: a
/// temporary file, flushed to disk, then renamed over the old one, then the directory
/// flushed so the rename survives a crash.
pub(crate) fn write_private_file(dir: &Path, name: &str, contents: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    // A leftover from a crash may have another mode; create_new applies ours.
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests;
