//! baton's own settings: what keepalived.conf has no keyword for.
//!
//! keepalived 2.2.7 `-t` exits 5 on any keyword it does not know, so one baton keyword in
//! keepalived.conf would break a rollback to keepalived or a keepalived-side config check.
//! baton's settings therefore live in a file of their own, `/etc/baton/baton.conf` by
//! default (`--baton-conf FILE`), written in the same block syntax and read by the same
//! lexer and parser, with the same `file:line:col` diagnostics. No file: every setting
//! has its default and baton behaves as it did before the file existed.
//!
//! The file refers to keepalived.conf's instances by name:
//!
//! ```text
//! global {
//!     notify_timeout 30              # seconds a notify hook may run before it is killed
//!     notify_obsolete_grace 2        # seconds an obsolete hook keeps running before it is killed
//!     unicast_accept_any_source no   # unicast: accept adverts only from unicast_peer
//!     handover_timeout 10            # seconds a new master waits at most for its peer's release
//! }
//! instance VI_1 {
//!     notify_timeout 10
//! }
//! ```
//!
//! A setting under `instance NAME` overrides the one under `global` for that instance.
//! This module holds the typed model and its defaults.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The default path of baton's own file.
pub const DEFAULT_BATON_CONF: &str = "/etc/baton/baton.conf";

/// Default time a notify hook may run before it is killed with its process group.
pub const NOTIFY_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);
/// Default time a hook that a newer transition has made obsolete may keep running.
pub const NOTIFY_OBSOLETE_GRACE_DEFAULT: Duration = Duration::from_secs(2);

/// How long a node that entered MASTER waits at most for its peer's release, when the
/// peer is alive but gives no answer: a leaving hook that hangs, both nodes VRRP master,
/// the link down while the peer is still heard on VRRP.
///
/// 10 s: above the stop time of the services baton is for (the NeuronEX guide's stops in
/// about 1 s; systemd units commonly take a few seconds) plus the time VRRP takes to
/// settle two masters at the common 1 s advert interval (one or two adverts), with room
/// to spare; and a third of the default `notify_timeout` (30 s), so a hung leaving hook
/// is not waited out until it is killed. A service that stops more slowly needs a larger
/// value: past this bound the two nodes' service intervals may overlap.
pub const HANDOVER_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);

/// The link's TCP port unless `link { port N }` says otherwise (not in Debian's
/// /etc/services).
pub const LINK_PORT_DEFAULT: u16 = 7411;
/// Where the node keeps its identity and the fingerprints it trusts.
pub const LINK_STATE_DIR_DEFAULT: &str = "/var/lib/baton";
/// Heartbeat interval and the silence after which a linked peer counts as gone.
pub const LINK_HEARTBEAT_DEFAULT: Duration = Duration::from_secs(1);
pub const LINK_DEAD_AFTER_DEFAULT: Duration = Duration::from_secs(3);

/// `link { ... }`: the baton-to-baton link. No block: no link, no listener, no identity.
///
/// ```text
/// link {
///     listen 10.0.0.1                 # repeatable; default: the instances' unicast_src_ip
///     port 7411
///     peer 10.0.0.2                   # repeatable; default: the instances' unicast_peer
///     peer 10.0.0.3 port 7412 fingerprint AB:CD:...   # pinned: only this key, no approval
///     trust AB:CD:...                 # repeatable: trusted from any peer address
///     state_dir /var/lib/baton
///     heartbeat 1
///     dead_after 3
///     sync_dir /opt/neuronex/data instance VI_1   # repeatable; or `group NAME`
///     sync_interval 60
///     sync_max_file_size 1073741824
/// }
/// ```
///
/// The loader ([`batonconf`](super::batonconf)) guarantees what the driver relies on: every
/// fingerprint here is in the canonical form of [`canonical_fingerprint`], no address is
/// listed twice among `listen` or among `peers`, no peer is a listen address, `state_dir`
/// is absolute, `heartbeat` is 0.1 to 60 s and `dead_after` longer than it (at most 600 s).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkConf {
    /// Addresses to listen on; empty: the instances' `unicast_src_ip` addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub listen: Vec<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Peers to dial and accept; empty: the `unicast_peer` addresses of the instances
    /// and, for multicast instances, the sources of adverts for their VRIDs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<LinkPeer>,
    /// Fingerprints trusted without approval, in the canonical `AB:CD:...` form
    /// (64 upper-case hex digits in colon-separated pairs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trusted: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<PathBuf>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "super::model::opt_secs"
    )]
    pub heartbeat: Option<Duration>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "super::model::opt_secs"
    )]
    pub dead_after: Option<Duration>,
    /// Directories kept in step with the peers, each following an instance or group.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sync_dirs: Vec<SyncDir>,
    /// Full compare of every synced directory, on top of inotify.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "super::model::opt_secs"
    )]
    pub sync_interval: Option<Duration>,
    /// The largest file a peer may send (bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_max_file_size: Option<u64>,
}

/// The HTTP server's port unless `http { port N }` says otherwise: the community
/// keepalived exporter's, so a Prometheus scrape job written for it finds baton.
pub const HTTP_PORT_DEFAULT: u16 = 9165;
/// Where the HTTP server listens unless `http { listen ADDRESS }` says otherwise: this
/// host only.
pub const HTTP_LISTEN_DEFAULT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// `http { ... }`: baton's read-only HTTP server (`/metrics`, `/status`, the status
/// page). No block: no server.
///
/// ```text
/// http {
///     listen 127.0.0.1     # repeatable; 0.0.0.0 or :: for every address
///     port 9165
/// }
/// ```
///
/// The loader guarantees no address is listed twice and none is a multicast address.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConf {
    /// Addresses to listen on; empty: [`HTTP_LISTEN_DEFAULT`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub listen: Vec<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

impl HttpConf {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(HTTP_PORT_DEFAULT)
    }

    /// Every address and port the server listens on.
    pub fn sockets(&self) -> Vec<std::net::SocketAddr> {
        let port = self.port();
        if self.listen.is_empty() {
            return vec![std::net::SocketAddr::new(HTTP_LISTEN_DEFAULT, port)];
        }
        (self.listen.iter())
            .map(|a| std::net::SocketAddr::new(*a, port))
            .collect()
    }
}

pub const SYNC_INTERVAL_DEFAULT: Duration = Duration::from_secs(60);
pub const SYNC_MAX_FILE_SIZE_DEFAULT: u64 = 1 << 30;

/// One `sync_dir PATH instance NAME` (or `group NAME`) of the link block. The loader
/// guarantees the path is absolute, normalised (no `.`, `..` or trailing `/`), not `/`,
/// not inside another synced directory, and that NAME is an instance or sync group of
/// keepalived.conf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncDir {
    pub path: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// One `peer ADDRESS [port N] [fingerprint FP]` of the link block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkPeer {
    pub address: IpAddr,
    /// Port to dial; default: the link's own port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Pinned key (canonical form): this address must present exactly this key, and is
    /// trusted without approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

impl LinkConf {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(LINK_PORT_DEFAULT)
    }

    pub fn state_dir(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(LINK_STATE_DIR_DEFAULT))
    }

    pub fn heartbeat(&self) -> Duration {
        self.heartbeat.unwrap_or(LINK_HEARTBEAT_DEFAULT)
    }

    pub fn dead_after(&self) -> Duration {
        self.dead_after.unwrap_or(LINK_DEAD_AFTER_DEFAULT)
    }

    pub fn sync_interval(&self) -> Duration {
        self.sync_interval.unwrap_or(SYNC_INTERVAL_DEFAULT)
    }

    pub fn sync_max_file_size(&self) -> u64 {
        self.sync_max_file_size
            .unwrap_or(SYNC_MAX_FILE_SIZE_DEFAULT)
    }
}

/// A fingerprint as users paste it into the canonical form baton stores and compares:
/// 32 bytes as 64 upper-case hex digits in colon-separated pairs (`9C:13:...:8D`), which is
/// what `openssl x509 -noout -fingerprint -sha256` prints after its `=`.
///
/// Accepted: any case, colons or none, surrounding blanks, and the prefixes `SHA256:`,
/// `SHA256=`, `SHA256 ` (as `baton identity` prints it) and `sha256 Fingerprint=` (as openssl
/// prints it). The error is a plain sentence for a diagnostic.
pub fn canonical_fingerprint(text: &str) -> Result<String, String> {
    let mut hex = text.trim();
    // Longest first: "sha256 fingerprint=" also starts with "sha256 ".
    for prefix in ["sha256 fingerprint=", "sha256:", "sha256=", "sha256 "] {
        if let Some(head) = hex.get(..prefix.len()) {
            if head.eq_ignore_ascii_case(prefix) {
                hex = hex[prefix.len()..].trim_start();
                break;
            }
        }
    }
    let mut digits = Vec::with_capacity(64);
    for c in hex.chars().filter(|&c| c != ':') {
        if !c.is_ascii_hexdigit() {
            return Err(format!(
                "'{text}' is not a fingerprint: '{c}' is not a hex digit"
            ));
        }
        digits.push(c.to_ascii_uppercase());
    }
    if digits.len() != 64 {
        return Err(format!(
            "'{text}' is not a fingerprint: a SHA-256 fingerprint has 64 hex digits \
             (32 bytes, colons optional), this has {}",
            digits.len()
        ));
    }
    let pairs: Vec<String> = digits.chunks(2).map(|p| p.iter().collect()).collect();
    Ok(pairs.join(":"))
}

/// Settings that can be given globally and per instance. `None`: not written.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// How long a notify hook may run before its process group is killed (SIGTERM, then
    /// SIGKILL a second later) and the instance's next hook starts. Applies to a hook
    /// that nothing newer waits behind; see `notify_obsolete_grace` for the others.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "super::model::opt_secs"
    )]
    pub notify_timeout: Option<Duration>,
    /// How long the hooks of a transition may go on once a newer transition of the same
    /// instance (or sync group) is queued behind them: past it, the running hook's process
    /// group gets SIGTERM, then SIGKILL a second later, it is logged (`notify_fault made
    /// obsolete by MASTER, killed after 2 s`) and the next transition's hooks start. The
    /// generic `notify` of the obsolete transition runs only while the grace lasts.
    /// Hooks still run one at a time and in transition order.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "super::model::opt_secs"
    )]
    pub notify_obsolete_grace: Option<Duration>,
    /// With a link: how long a node that entered MASTER holds its MASTER hooks at most
    /// while its peer's service may still run (its release has not come, or the link is
    /// down while the peer is still heard on VRRP). `0`: never hold.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "super::model::opt_secs"
    )]
    pub handover_timeout: Option<Duration>,
    /// Unicast instances: accept adverts from sources not in `unicast_peer`
    /// (keepalived's behaviour without `check_unicast_src`). baton's default is no.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unicast_accept_any_source: Option<bool>,
}

impl Settings {
    pub fn is_empty(&self) -> bool {
        *self == Settings::default()
    }
}

pub const ARBITER_PREFIX_DEFAULT: &str = "/baton/";
pub const ARBITER_TTL_DEFAULT: Duration = Duration::from_secs(5);
/// 1 %, in parts per million.
pub const ARBITER_DRIFT_DEFAULT: u32 = 10_000;

/// What a node does when it cannot reach a majority of etcd (also when etcd is down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EtcdDown {
    /// Stop serving at the lease deadline (safe; the default).
    #[default]
    Stop,
    /// A node that is serving keeps serving until etcd answers again (a node that is not
    /// serving still never starts without the election).
    Keep,
}

/// How the targets of an arbiter block are elected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArbiterMode {
    /// VRRP elects; a VRRP master serves only while it also holds the etcd election.
    #[default]
    Vrrp,
    /// No VRRP on the wire: the etcd election alone decides.
    Only,
}

/// One `arbiter etcd { ... }` block. The loader guarantees at least one endpoint and one
/// target, that every target is an instance or sync group of keepalived.conf and belongs to
/// no other arbiter block, and that the times are in range (`margin` below half the TTL).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArbiterConf {
    /// `host:port`, `http://host:port` or `https://host:port`, in the order tried.
    pub endpoints: Vec<String>,
    /// Instances (`instance NAME`) this block arbitrates.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<String>,
    /// Sync groups (`group NAME`) this block arbitrates.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Key prefix; default [`ARBITER_PREFIX_DEFAULT`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// This node's name in the election; default: the host name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "super::model::opt_secs"
    )]
    pub lease_ttl: Option<Duration>,
    pub mode: ArbiterMode,
    pub etcd_down: EtcdDown,
    /// The bound on clock rate differences, in parts per million; default
    /// [`ARBITER_DRIFT_DEFAULT`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_drift_ppm: Option<u32>,
    /// Time the leaving hooks have before the lease could expire; default: a quarter of
    /// the TTL, at most 1 s.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "super::model::opt_secs"
    )]
    pub stop_margin: Option<Duration>,
    /// Default: a quarter of the TTL, at most 1 s.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "super::model::opt_secs"
    )]
    pub request_timeout: Option<Duration>,
    /// TLS: the CA that signs the members' certificates (its presence turns TLS on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// TLS client certificate and key (both or neither).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// etcd authentication: user, and a file holding the password (first line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
}

impl ArbiterConf {
    pub fn prefix(&self) -> &str {
        self.prefix.as_deref().unwrap_or(ARBITER_PREFIX_DEFAULT)
    }

    pub fn lease_ttl(&self) -> Duration {
        self.lease_ttl.unwrap_or(ARBITER_TTL_DEFAULT)
    }

    /// As a fraction (0.01: 1 %).
    pub fn clock_drift(&self) -> f64 {
        f64::from(self.clock_drift_ppm.unwrap_or(ARBITER_DRIFT_DEFAULT)) / 1e6
    }

    pub fn stop_margin(&self) -> Duration {
        self.stop_margin
            .unwrap_or_else(|| (self.lease_ttl() / 4).min(Duration::from_secs(1)))
    }

    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
            .unwrap_or_else(|| (self.lease_ttl() / 4).min(Duration::from_secs(1)))
    }

    /// Whether the block arbitrates instance or group `name`.
    pub fn covers(&self, name: &str) -> bool {
        self.instances.iter().chain(&self.groups).any(|n| n == name)
    }
}

/// The whole of baton's own file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatonConf {
    /// `global { ... }`.
    #[serde(skip_serializing_if = "Settings::is_empty")]
    pub global: Settings,
    /// `instance NAME { ... }`, by instance name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub instances: BTreeMap<String, Settings>,
    /// `link { ... }`; `None`: no link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkConf>,
    /// `http { ... }`; `None`: no HTTP server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpConf>,
    /// Each `arbiter etcd { ... }` block.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub arbiters: Vec<ArbiterConf>,
}

impl BatonConf {
    pub fn is_empty(&self) -> bool {
        self.global.is_empty()
            && self.instances.is_empty()
            && self.link.is_none()
            && self.http.is_none()
            && self.arbiters.is_empty()
    }

    /// The first value written for `instance`, then globally.
    fn pick<T: Copy>(
        &self,
        instance: Option<&str>,
        get: impl Fn(&Settings) -> Option<T>,
    ) -> Option<T> {
        instance
            .and_then(|name| self.instances.get(name))
            .and_then(&get)
            .or_else(|| get(&self.global))
    }

    /// Notify timeout for an instance (`None`: a sync group or global hook).
    pub fn notify_timeout(&self, instance: Option<&str>) -> Duration {
        self.pick(instance, |s| s.notify_timeout)
            .unwrap_or(NOTIFY_TIMEOUT_DEFAULT)
    }

    /// Grace for an obsolete hook of an instance (`None`: a sync group or global hook).
    pub fn notify_obsolete_grace(&self, instance: Option<&str>) -> Duration {
        self.pick(instance, |s| s.notify_obsolete_grace)
            .unwrap_or(NOTIFY_OBSOLETE_GRACE_DEFAULT)
    }

    /// The longest a new master holds its MASTER hooks for its linked peer's release
    /// (`None`: a sync group's own setting is the global one).
    pub fn handover_timeout(&self, instance: Option<&str>) -> Duration {
        self.pick(instance, |s| s.handover_timeout)
            .unwrap_or(HANDOVER_TIMEOUT_DEFAULT)
    }

    /// Whether a unicast instance accepts adverts from sources outside its peers.
    pub fn unicast_accept_any_source(&self, instance: &str) -> bool {
        self.pick(Some(instance), |s| s.unicast_accept_any_source)
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_settings_override_global_ones_and_defaults_fill_the_rest() {
        let mut conf = BatonConf::default();
        assert_eq!(conf.notify_timeout(Some("VI_1")), NOTIFY_TIMEOUT_DEFAULT);
        assert!(!conf.unicast_accept_any_source("VI_1"));
        conf.global.notify_timeout = Some(Duration::from_secs(5));
        conf.instances.insert(
            "VI_1".into(),
            Settings {
                notify_timeout: Some(Duration::from_secs(1)),
                unicast_accept_any_source: Some(true),
                ..Settings::default()
            },
        );
        assert_eq!(conf.notify_timeout(Some("VI_1")), Duration::from_secs(1));
        assert_eq!(conf.notify_timeout(Some("VI_2")), Duration::from_secs(5));
        assert_eq!(conf.notify_timeout(None), Duration::from_secs(5));
        assert!(conf.unicast_accept_any_source("VI_1"));
        assert!(!conf.unicast_accept_any_source("VI_2"));
    }
}
