//! VRRP advertisement: a high-level representation and its parse / emit.

use std::net::IpAddr;
use std::time::Duration;

/// A time interval in centiseconds, the unit VRRPv3 carries on the wire (12 bits).
/// VRRPv2 carries whole seconds; a v2 [`Advert`] holds a multiple of 100 here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Centis(pub u16);

impl Centis {
    /// Largest interval VRRPv3 can carry (12 bits): 40.95 s.
    pub const MAX_V3: Centis = Centis(0x0fff);

    pub fn as_duration(self) -> Duration {
        Duration::from_millis(u64::from(self.0) * 10)
    }

    /// Rounds to the nearest centisecond, saturating at `u16::MAX`.
    pub fn from_duration(d: Duration) -> Centis {
        let cs = (d.as_micros() + 5_000) / 10_000;
        Centis(u16::try_from(cs).unwrap_or(u16::MAX))
    }
}

/// Protocol version carried in the high nibble of the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V2,
    V3,
}

/// VRRPv2 authentication (RFC 3768 section 5.3.6). VRRPv3 has none: always [`Auth::None`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Auth {
    None,
    /// Simple text password, 8 bytes on the wire (shorter passwords are zero padded).
    Pass([u8; 8]),
    /// IP Authentication Header: recognised, never accepted.
    Ah,
    Unknown(u8),
}

/// How the VRRPv3 checksum over IPv4 is computed. IPv6 always uses the pseudo-header;
/// VRRPv2 never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChecksumMode {
    /// RFC 5798: include the IPv4 pseudo-header.
    #[default]
    PseudoHeader,
    /// keepalived's `v3_checksum_as_v2`: checksum over the VRRP message alone.
    V2Style,
}

/// Why bytes were refused. Each variant maps to one VRRP statistics counter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("packet too short or length does not match the address count")]
    Length,
    #[error("unsupported VRRP version {0}")]
    Version(u8),
    #[error("packet type {0} is not an advertisement")]
    Type(u8),
    #[error("bad checksum")]
    Checksum,
    #[error("address count does not fit the packet")]
    AddressCount,
    #[error("authentication type {0} not supported")]
    AuthType(u8),
    #[error("IP Authentication Header (AH) is not supported")]
    AuthAh,
    #[error("interval field is zero or out of range")]
    Interval,
}

/// One VRRP advertisement, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Advert {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    /// v3: Max Advertise Interval in centiseconds (12 bits).
    /// v2: Advertisement Interval, whole seconds, stored here as seconds * 100.
    pub max_advert_int: Centis,
    /// Always [`Auth::None`] for v3.
    pub auth: Auth,
    /// Virtual addresses, all of one family (the family of the carrying IP packet).
    pub addresses: Vec<IpAddr>,
}
