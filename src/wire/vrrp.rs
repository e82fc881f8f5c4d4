//! VRRP advertisement: a zero-copy checked view over the bytes ([`Packet`]) and a high-level
//! representation ([`Advert`]) with its parse and emit.
//!
//! Owns: the VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798, RFC 9568) message layout, its checksum
//! (with or without the IPv4/IPv6 pseudo-header) and the field-level validity rules.
//! May not: touch sockets, threads, tokio or the clock. The IP header is not ours: callers
//! hand over the VRRP message (the IP payload) and the carrying packet's addresses.
//!
//! Panic freedom: [`Packet::new_checked`] checks once that the 8-byte fixed header is
//! present. After that every header accessor is infallible, and every accessor that reaches
//! past the header (addresses, v2 authentication data) returns an `Option`, so no accessor
//! can panic on any input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// IP protocol number of VRRP (both versions).
pub const PROTOCOL: u8 = 112;
/// IPv4 multicast group of VRRP (224.0.0.18).
pub const MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group of VRRP (ff02::12).
pub const MULTICAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// TTL / hop limit every advertisement is sent with and must arrive with.
pub const TTL: u8 = 255;
/// Length of the fixed header shared by both versions.
pub const HEADER_LEN: usize = 8;
/// Length of the VRRPv2 authentication data that trails the addresses.
pub const V2_AUTH_DATA_LEN: usize = 8;
/// The only VRRP packet type: advertisement.
pub const TYPE_ADVERTISEMENT: u8 = 1;

/// Byte ranges of the fixed header. Addresses start at [`field::ADDRESSES`]; in v2 the
/// authentication data follows them.
mod field {
    use std::ops::Range;

    pub const VER_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    /// v2 only: authentication type.
    pub const V2_AUTH_TYPE: usize = 4;
    /// v2 only: advertisement interval in whole seconds.
    pub const V2_ADVER_INT: usize = 5;
    /// v3 only: 4 reserved bits then the 12-bit maximum advertisement interval.
    pub const V3_MAX_ADVER_INT: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
    pub const ADDRESSES: usize = 8;
}

/// A time interval in centiseconds, the unit VRRPv3 carries on the wire (12 bits).
/// VRRPv2 carries whole seconds; a v2 [`Advert`] holds a multiple of 100 here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Centis(pub u16);

impl Centis {
    /// Largest interval VRRPv3 can carry (12 bits): 40.95 s.
    pub const MAX_V3: Centis = Centis(0x0fff);
    /// Largest interval VRRPv2 can carry: 255 s.
    pub const MAX_V2: Centis = Centis(25_500);

    pub fn as_duration(self) -> Duration {
        Duration::from_millis(u64::from(self.0) * 10)
    }

    /// Rounds to the nearest centisecond, saturating at `u16::MAX`.
    pub fn from_duration(d: Duration) -> Centis {
        let cs = (d.as_micros() + 5_000) / 10_000;
        Centis(u16::try_from(cs).unwrap_or(u16::MAX))
    }

    /// Whole seconds, as VRRPv2 carries them.
    pub fn from_secs(secs: u8) -> Centis {
        Centis(u16::from(secs) * 100)
    }

    /// The interval as VRRPv2 whole seconds, if it is one (1..=255 s exactly).
    pub fn as_v2_secs(self) -> Option<u8> {
        if self.0 % 100 != 0 {
            return None;
        }
        u8::try_from(self.0 / 100).ok().filter(|&s| s != 0)
    }
}

/// Protocol version carried in the high nibble of the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V2,
    V3,
}

impl Version {
    /// The number in the version nibble.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    pub fn from_number(n: u8) -> Option<Version> {
        match n {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            _ => None,
        }
    }
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

impl Auth {
    /// The authentication type number carried in a v2 header.
    pub fn type_code(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Pass(_) => 1,
            Auth::Ah => 2,
            Auth::Unknown(n) => *n,
        }
    }

    /// A simple text password as it goes on the wire: the first 8 bytes, zero padded.
    /// Longer passwords are cut to 8 bytes (as keepalived does); warning about that is the
    /// configuration's job.
    pub fn from_password(password: &[u8]) -> Auth {
        let mut data = [0u8; 8];
        for (d, p) in data.iter_mut().zip(password) {
            *d = *p;
        }
        Auth::Pass(data)
    }

    /// Whether a received authentication matches the configured one.
    ///
    /// For two passwords the comparison takes the same time whatever the 8 bytes hold, so
    /// an attacker timing our replies learns nothing about how much of a guess was right.
    /// Which variant each side is (none, password, ...) is not secret and decides early.
    pub fn matches(&self, other: &Auth) -> bool {
        match (self, other) {
            (Auth::Pass(a), Auth::Pass(b)) => {
                let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
                // Keep the optimiser from turning the fold into an early-exit comparison.
                std::hint::black_box(diff) == 0
            }
            (Auth::None, Auth::None) | (Auth::Ah, Auth::Ah) => true,
            (Auth::Unknown(a), Auth::Unknown(b)) => a == b,
            _ => false,
        }
    }
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
    /// Source and destination of different families, VRRPv2 over IPv6, or an address list
    /// whose family differs from the carrying packet's.
    #[error("address family does not fit the VRRP version or the carrying packet")]
    Family,
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

/// The VRRP version nibble of a message, if it names a version we know. Lets a caller route
/// a message that fails to parse to the right statistics.
pub fn peek_version(bytes: &[u8]) -> Option<Version> {
    bytes.first().and_then(|b| Version::from_number(b >> 4))
}

/// The virtual router id of a message, whatever else is wrong with it (it needs 2 bytes).
/// Lets a caller charge a message that fails to parse to its instance's error counters.
pub fn peek_vrid(bytes: &[u8]) -> Option<u8> {
    bytes.get(field::VRID).copied()
}

/// A zero-copy view over the bytes of one VRRP message (the IP payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it. Header accessors may panic on a buffer shorter
    /// than [`HEADER_LEN`]; use [`Packet::new_checked`] for untrusted bytes.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after checking that the fixed header is there; from then on no
    /// accessor can panic.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// [`Error::Length`] if the buffer cannot hold the fixed header. Whether the length
    /// fits the address count is a matter for [`Advert::parse_packet`], which knows the
    /// address family.
    pub fn check_len(&self) -> Result<(), Error> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Length)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Length of the whole message.
    pub fn len(&self) -> usize {
        self.buffer.as_ref().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The raw version nibble.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] >> 4
    }

    /// The raw type nibble (1 is an advertisement).
    pub fn packet_type(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] & 0x0f
    }

    pub fn vrid(&self) -> u8 {
        self.buffer.as_ref()[field::VRID]
    }

    pub fn priority(&self) -> u8 {
        self.buffer.as_ref()[field::PRIORITY]
    }

    /// "Count IPvX Addr": how many addresses follow the header.
    pub fn addr_count(&self) -> u8 {
        self.buffer.as_ref()[field::COUNT]
    }

    /// v2 only: the authentication type.
    pub fn v2_auth_type(&self) -> u8 {
        self.buffer.as_ref()[field::V2_AUTH_TYPE]
    }

    /// v2 only: the advertisement interval in whole seconds.
    pub fn v2_adver_int_secs(&self) -> u8 {
        self.buffer.as_ref()[field::V2_ADVER_INT]
    }

    /// v3 only: the 12-bit maximum advertisement interval; the 4 reserved bits above it
    /// are ignored, as RFC 5798 asks of receivers.
    pub fn v3_max_adver_int(&self) -> Centis {
        let b = &self.buffer.as_ref()[field::V3_MAX_ADVER_INT];
        Centis(u16::from_be_bytes([b[0], b[1]]) & 0x0fff)
    }

    pub fn checksum(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Everything after the fixed header: the addresses, then (v2) the authentication data.
    pub fn body(&self) -> &[u8] {
        self.buffer.as_ref().get(field::ADDRESSES..).unwrap_or(&[])
    }

    /// The `index`th IPv4 address, if the buffer holds it.
    pub fn address_v4(&self, index: usize) -> Option<Ipv4Addr> {
        let start = field::ADDRESSES.checked_add(index.checked_mul(4)?)?;
        let bytes: [u8; 4] = self
            .buffer
            .as_ref()
            .get(start..start.checked_add(4)?)?
            .try_into()
            .ok()?;
        Some(Ipv4Addr::from(bytes))
    }

    /// The `index`th IPv6 address, if the buffer holds it.
    pub fn address_v6(&self, index: usize) -> Option<Ipv6Addr> {
        let start = field::ADDRESSES.checked_add(index.checked_mul(16)?)?;
        let bytes: [u8; 16] = self
            .buffer
            .as_ref()
            .get(start..start.checked_add(16)?)?
            .try_into()
            .ok()?;
        Some(Ipv6Addr::from(bytes))
    }

    /// v2 only: the 8 bytes of authentication data after the `addr_count` IPv4 addresses,
    /// if the buffer holds them.
    pub fn v2_auth_data(&self) -> Option<[u8; V2_AUTH_DATA_LEN]> {
        let start = field::ADDRESSES + usize::from(self.addr_count()) * 4;
        self.buffer
            .as_ref()
            .get(start..start + V2_AUTH_DATA_LEN)?
            .try_into()
            .ok()
    }

    /// The checksum this message should carry, computed with the checksum field taken as
    /// zero. VRRPv2 covers the message alone; VRRPv3 adds the pseudo-header of `src` and
    /// `dst` (over IPv4 only in [`ChecksumMode::PseudoHeader`]). [`Error::Family`] if `src`
    /// and `dst` differ in family.
    pub fn compute_checksum(
        &self,
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<u16, Error> {
        let bytes = self.buffer.as_ref();
        let mut sum = pseudo_header_sum(self.version(), bytes.len(), src, dst, mode)?;
        sum += ones_sum(&bytes[..field::CHECKSUM.start]);
        sum += ones_sum(&bytes[field::CHECKSUM.end..]);
        Ok(!fold(sum))
    }

    /// [`Error::Checksum`] unless the checksum field is right for these addresses and mode.
    pub fn verify_checksum(
        &self,
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<(), Error> {
        let bytes = self.buffer.as_ref();
        // Summing the field in as well gives 0xffff for a correct checksum, whichever of
        // the two one's complement zeros the sender wrote.
        let sum = pseudo_header_sum(self.version(), bytes.len(), src, dst, mode)? + ones_sum(bytes);
        if fold(sum) == 0xffff {
            Ok(())
        } else {
            Err(Error::Checksum)
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_version(&mut self, version: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_TYPE];
        *b = (*b & 0x0f) | (version << 4);
    }

    pub fn set_packet_type(&mut self, packet_type: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_TYPE];
        *b = (*b & 0xf0) | (packet_type & 0x0f);
    }

    pub fn set_vrid(&mut self, vrid: u8) {
        self.buffer.as_mut()[field::VRID] = vrid;
    }

    pub fn set_priority(&mut self, priority: u8) {
        self.buffer.as_mut()[field::PRIORITY] = priority;
    }

    pub fn set_addr_count(&mut self, count: u8) {
        self.buffer.as_mut()[field::COUNT] = count;
    }

    pub fn set_v2_auth_type(&mut self, auth_type: u8) {
        self.buffer.as_mut()[field::V2_AUTH_TYPE] = auth_type;
    }

    pub fn set_v2_adver_int_secs(&mut self, secs: u8) {
        self.buffer.as_mut()[field::V2_ADVER_INT] = secs;
    }

    /// Writes the 12-bit interval and zeroes the reserved bits (values above 12 bits are
    /// cut; [`Advert::emit`] refuses them before they get here).
    pub fn set_v3_max_adver_int(&mut self, interval: Centis) {
        let v = interval.0 & 0x0fff;
        self.buffer.as_mut()[field::V3_MAX_ADVER_INT].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_checksum(&mut self, checksum: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&checksum.to_be_bytes());
    }

    /// Everything after the fixed header, writable.
    pub fn body_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::ADDRESSES..)
            .unwrap_or(&mut [])
    }

    /// Computes and writes the checksum (see [`Packet::compute_checksum`]).
    pub fn fill_checksum(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<(), Error> {
        let checksum = self.compute_checksum(src, dst, mode)?;
        self.set_checksum(checksum);
        Ok(())
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// Sum of 16-bit big-endian words (an odd last byte is padded with zero), not yet folded.
/// u64 cannot overflow for any slice that fits in memory.
fn ones_sum(bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(2);
    let mut sum: u64 = chunks
        .by_ref()
        .map(|w| u64::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The loop leaves sum <= 0xffff.
    u16::try_from(sum).unwrap_or(0xffff)
}

/// The pseudo-header's contribution to the checksum, zero where none is used.
fn pseudo_header_sum(
    version: u8,
    len: usize,
    src: IpAddr,
    dst: IpAddr,
    mode: ChecksumMode,
) -> Result<u64, Error> {
    // A message longer than any IP payload cannot be valid; saturating keeps the sum
    // well-defined (and wrong) instead of panicking.
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            if version != 3 || mode == ChecksumMode::V2Style {
                return Ok(0);
            }
            // source, destination, zero, protocol, upper-layer length (16 bits)
            Ok(ones_sum(&s.octets())
                + ones_sum(&d.octets())
                + u64::from(PROTOCOL)
                + u64::from(len & 0xffff))
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            if version != 3 {
                return Ok(0);
            }
            // source, destination, upper-layer length (32 bits), zeros, next header
            Ok(ones_sum(&s.octets())
                + ones_sum(&d.octets())
                + u64::from(len >> 16)
                + u64::from(len & 0xffff)
                + u64::from(PROTOCOL))
        }
        _ => Err(Error::Family),
    }
}

impl Advert {
    /// Parses one VRRP message (the IP payload). `src` and `dst` are the carrying IP
    /// packet's addresses: the address list is read in `src`'s family, and VRRPv3 checks
    /// its checksum with their pseudo-header (`dst` is the real destination, the peer's
    /// address when unicast).
    ///
    /// Checks, in order: header present, version, type, families, length against the
    /// address count, checksum, authentication type, interval. The first failure is
    /// returned. An unknown v2 authentication type comes back as [`Auth::Unknown`] so the
    /// caller can count the mismatch against its configuration.
    pub fn parse(
        bytes: &[u8],
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<Advert, Error> {
        Advert::parse_packet(&Packet::new_checked(bytes)?, src, dst, mode)
    }

    /// [`Advert::parse`] over an already checked [`Packet`].
    pub fn parse_packet<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<Advert, Error> {
        packet.check_len()?;
        let version =
            Version::from_number(packet.version()).ok_or(Error::Version(packet.version()))?;
        if packet.packet_type() != TYPE_ADVERTISEMENT {
            return Err(Error::Type(packet.packet_type()));
        }
        let addr_len = match (version, src, dst) {
            (Version::V2, IpAddr::V4(_), IpAddr::V4(_))
            | (Version::V3, IpAddr::V4(_), IpAddr::V4(_)) => 4,
            (Version::V3, IpAddr::V6(_), IpAddr::V6(_)) => 16,
            _ => return Err(Error::Family),
        };
        let trailer = match version {
            Version::V2 => V2_AUTH_DATA_LEN,
            Version::V3 => 0,
        };
        let addr_bytes = packet
            .len()
            .checked_sub(HEADER_LEN + trailer)
            .ok_or(Error::Length)?;
        if addr_bytes % addr_len != 0 {
            return Err(Error::Length);
        }
        let count = usize::from(packet.addr_count());
        if addr_bytes / addr_len != count {
            return Err(Error::AddressCount);
        }
        packet.verify_checksum(src, dst, mode)?;

        let (auth, max_advert_int) = match version {
            Version::V2 => {
                let auth = match packet.v2_auth_type() {
                    0 => Auth::None,
                    1 => Auth::Pass(packet.v2_auth_data().ok_or(Error::Length)?),
                    2 => return Err(Error::AuthAh),
                    n => Auth::Unknown(n),
                };
                (auth, Centis::from_secs(packet.v2_adver_int_secs()))
            }
            Version::V3 => (Auth::None, packet.v3_max_adver_int()),
        };
        if max_advert_int.0 == 0 {
            return Err(Error::Interval);
        }

        let addresses = (0..count)
            .map(|i| match addr_len {
                4 => packet.address_v4(i).map(IpAddr::V4),
                _ => packet.address_v6(i).map(IpAddr::V6),
            })
            .collect::<Option<Vec<_>>>()
            .ok_or(Error::Length)?;

        Ok(Advert {
            version,
            vrid: packet.vrid(),
            priority: packet.priority(),
            max_advert_int,
            auth,
            addresses,
        })
    }

    /// Bytes [`Advert::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let addrs: usize = self
            .addresses
            .iter()
            .map(|a| match a {
                IpAddr::V4(_) => 4,
                IpAddr::V6(_) => 16,
            })
            .sum();
        let trailer = match self.version {
            Version::V2 => V2_AUTH_DATA_LEN,
            Version::V3 => 0,
        };
        HEADER_LEN + addrs + trailer
    }

    /// Writes the message into the front of `buf` and returns its length. Nothing is
    /// written unless the advert is valid:
    /// - [`Error::Length`]: `buf` is shorter than [`Advert::buffer_len`];
    /// - [`Error::Family`]: `src`/`dst`/addresses of mixed families, or v2 over IPv6;
    /// - [`Error::AddressCount`]: more than 255 addresses;
    /// - [`Error::Interval`]: v2 not a whole number of seconds in 1..=255, v3 not in
    ///   1..=4095 centiseconds;
    /// - [`Error::AuthAh`] / [`Error::AuthType`]: AH, authentication on v3, or an
    ///   `Unknown` code that is really 0, 1 or 2.
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<usize, Error> {
        let v6 = match (self.version, src, dst) {
            (_, IpAddr::V4(_), IpAddr::V4(_)) => false,
            (Version::V3, IpAddr::V6(_), IpAddr::V6(_)) => true,
            _ => return Err(Error::Family),
        };
        if self.addresses.iter().any(|a| a.is_ipv6() != v6) {
            return Err(Error::Family);
        }
        let count = u8::try_from(self.addresses.len()).map_err(|_| Error::AddressCount)?;
        match self.version {
            Version::V2 => {
                self.max_advert_int.as_v2_secs().ok_or(Error::Interval)?;
                match self.auth {
                    Auth::Ah => return Err(Error::AuthAh),
                    Auth::Unknown(n @ 0..=2) => return Err(Error::AuthType(n)),
                    _ => {}
                }
            }
            Version::V3 => {
                if self.max_advert_int.0 == 0 || self.max_advert_int > Centis::MAX_V3 {
                    return Err(Error::Interval);
                }
                match self.auth {
                    Auth::None => {}
                    Auth::Ah => return Err(Error::AuthAh),
                    ref other => return Err(Error::AuthType(other.type_code())),
                }
            }
        }
        let len = self.buffer_len();
        let buf = buf.get_mut(..len).ok_or(Error::Length)?;
        buf.fill(0);
        let mut packet = Packet::new_unchecked(buf);
        packet.set_version(self.version.number());
        packet.set_packet_type(TYPE_ADVERTISEMENT);
        packet.set_vrid(self.vrid);
        packet.set_priority(self.priority);
        packet.set_addr_count(count);
        let body = packet.body_mut();
        let mut at = 0;
        for addr in &self.addresses {
            let octets: &[u8] = match addr {
                IpAddr::V4(a) => &a.octets(),
                IpAddr::V6(a) => &a.octets(),
            };
            body[at..at + octets.len()].copy_from_slice(octets);
            at += octets.len();
        }
        match self.version {
            Version::V2 => {
                packet.set_v2_auth_type(self.auth.type_code());
                packet.set_v2_adver_int_secs(
                    self.max_advert_int.as_v2_secs().ok_or(Error::Interval)?,
                );
                if let Auth::Pass(data) = &self.auth {
                    packet.body_mut()[at..at + V2_AUTH_DATA_LEN].copy_from_slice(data);
                }
            }
            Version::V3 => packet.set_v3_max_adver_int(self.max_advert_int),
        }
        packet.fill_checksum(src, dst, mode)?;
        Ok(len)
    }

    /// [`Advert::emit`] into a new buffer of exactly [`Advert::buffer_len`] bytes.
    pub fn to_bytes(&self, src: IpAddr, dst: IpAddr, mode: ChecksumMode) -> Result<Vec<u8>, Error> {
        let mut buf = vec![0; self.buffer_len()];
        self.emit(&mut buf, src, dst, mode)?;
        Ok(buf)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test
mod tests {
    use super::*;

    // keepalived 2.2.7, VRRPv2, vrid 51, priority 150, advert_int 1, auth PASS "s3cret",
    // VIP 10.201.0.100, from 10.201.0.1 to 224.0.0.18 (tests/data/wire/v2_mcast_pass.hex).
    static V2_PASS: [u8; 20] = [
        0x21, 0x33, 0x96, 0x01, 0x01, 0x01, 0x00, 0x83, 0x0a, 0xc9, 0x00, 0x64, 0x73, 0x33, 0x63,
        0x72, 0x65, 0x74, 0x00, 0x00,
    ];
    // keepalived 2.2.7, VRRPv3, vrid 60, priority 120, advert_int 0.05, three VIPs,
    // from 10.201.0.1 to 224.0.0.18 (tests/data/wire/v3_ipv4_mcast.hex).
    static V3_MCAST: [u8; 20] = [
        0x31, 0x3c, 0x78, 0x03, 0x00, 0x05, 0x49, 0x94, 0x0a, 0xc9, 0x00, 0x78, 0x0a, 0xc9, 0x00,
        0x79, 0x0a, 0xc9, 0x00, 0x7a,
    ];

    const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 201, 0, 1));
    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 201, 0, 2));
    const MCAST: IpAddr = IpAddr::V4(MULTICAST_V4);

    fn v3_repr() -> Advert {
        Advert {
            version: Version::V3,
            vrid: 60,
            priority: 120,
            max_advert_int: Centis(5),
            auth: Auth::None,
            addresses: vec![
                IpAddr::V4(Ipv4Addr::new(10, 201, 0, 120)),
                IpAddr::V4(Ipv4Addr::new(10, 201, 0, 121)),
                IpAddr::V4(Ipv4Addr::new(10, 201, 0, 122)),
            ],
        }
    }

    #[test]
    fn deconstruct_v2() {
        let p = Packet::new_checked(&V2_PASS[..]).unwrap();
        assert_eq!(p.version(), 2);
        assert_eq!(p.packet_type(), 1);
        assert_eq!(p.vrid(), 51);
        assert_eq!(p.priority(), 150);
        assert_eq!(p.addr_count(), 1);
        assert_eq!(p.v2_auth_type(), 1);
        assert_eq!(p.v2_adver_int_secs(), 1);
        assert_eq!(p.checksum(), 0x0083);
        assert_eq!(p.address_v4(0), Some(Ipv4Addr::new(10, 201, 0, 100)));
        assert_eq!(p.address_v4(1), Some(Ipv4Addr::new(0x73, 0x33, 0x63, 0x72))); // auth data
        assert_eq!(p.address_v4(3), None);
        assert_eq!(p.v2_auth_data(), Some(*b"s3cret\0\0"));
        assert_eq!(
            p.verify_checksum(SRC, MCAST, ChecksumMode::PseudoHeader),
            Ok(())
        );
    }

    #[test]
    fn deconstruct_v3() {
        let p = Packet::new_checked(&V3_MCAST[..]).unwrap();
        assert_eq!(
            (p.version(), p.packet_type(), p.vrid(), p.priority()),
            (3, 1, 60, 120)
        );
        assert_eq!(p.addr_count(), 3);
        assert_eq!(p.v3_max_adver_int(), Centis(5));
        assert_eq!(p.checksum(), 0x4994);
        assert_eq!(p.address_v4(2), Some(Ipv4Addr::new(10, 201, 0, 122)));
    }

    #[test]
    fn construct_v3_matches_keepalived() {
        let mut buf = [0xa5u8; 20];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_version(3);
        p.set_packet_type(1);
        p.set_vrid(60);
        p.set_priority(120);
        p.set_addr_count(3);
        p.set_v3_max_adver_int(Centis(5));
        p.body_mut().copy_from_slice(&V3_MCAST[8..]);
        p.fill_checksum(SRC, MCAST, ChecksumMode::PseudoHeader)
            .unwrap();
        assert_eq!(buf, V3_MCAST);
    }

    #[test]
    fn parse_and_emit_v3() {
        let advert = Advert::parse(&V3_MCAST, SRC, MCAST, ChecksumMode::PseudoHeader).unwrap();
        assert_eq!(advert, v3_repr());
        assert_eq!(advert.buffer_len(), V3_MCAST.len());
        let mut buf = [0u8; 64];
        let n = advert
            .emit(&mut buf, SRC, MCAST, ChecksumMode::PseudoHeader)
            .unwrap();
        assert_eq!(&buf[..n], &V3_MCAST[..]);
    }

    #[test]
    fn parse_and_emit_v2() {
        let advert = Advert::parse(&V2_PASS, SRC, MCAST, ChecksumMode::PseudoHeader).unwrap();
        assert_eq!(advert.version, Version::V2);
        assert_eq!(advert.max_advert_int, Centis(100));
        assert_eq!(advert.auth, Auth::from_password(b"s3cret"));
        assert_eq!(
            advert.addresses,
            vec![IpAddr::V4(Ipv4Addr::new(10, 201, 0, 100))]
        );
        // v2 has no pseudo-header, so neither destination nor mode changes its bytes.
        assert_eq!(
            advert.to_bytes(SRC, PEER, ChecksumMode::V2Style).unwrap(),
            V2_PASS
        );
    }

    #[test]
    fn checksum_modes_differ_for_v3_ipv4_only() {
        let a = v3_repr();
        let pseudo = a.to_bytes(SRC, MCAST, ChecksumMode::PseudoHeader).unwrap();
        let plain = a.to_bytes(SRC, MCAST, ChecksumMode::V2Style).unwrap();
        assert_ne!(pseudo[6..8], plain[6..8]);
        assert_eq!(pseudo[..6], plain[..6]);
        // Each is refused under the other mode.
        assert_eq!(
            Advert::parse(&pseudo, SRC, MCAST, ChecksumMode::V2Style),
            Err(Error::Checksum)
        );
        assert_eq!(
            Advert::parse(&plain, SRC, MCAST, ChecksumMode::PseudoHeader),
            Err(Error::Checksum)
        );
        assert_eq!(
            Advert::parse(&plain, SRC, MCAST, ChecksumMode::V2Style),
            Ok(a.clone())
        );

        // IPv6 always uses the pseudo-header: the mode changes nothing.
        let s6: IpAddr = "fe80::1".parse().unwrap();
        let d6 = IpAddr::V6(MULTICAST_V6);
        let a6 = Advert {
            addresses: vec!["fd00::1".parse().unwrap()],
            ..a
        };
        assert_eq!(
            a6.to_bytes(s6, d6, ChecksumMode::PseudoHeader).unwrap(),
            a6.to_bytes(s6, d6, ChecksumMode::V2Style).unwrap()
        );
    }

    #[test]
    fn unicast_pseudo_header_uses_real_destination() {
        let a = v3_repr();
        let to_peer = a.to_bytes(SRC, PEER, ChecksumMode::PseudoHeader).unwrap();
        let to_group = a.to_bytes(SRC, MCAST, ChecksumMode::PseudoHeader).unwrap();
        assert_ne!(to_peer, to_group);
        assert_eq!(
            Advert::parse(&to_peer, SRC, PEER, ChecksumMode::PseudoHeader),
            Ok(a)
        );
        assert_eq!(
            Advert::parse(&to_peer, SRC, MCAST, ChecksumMode::PseudoHeader),
            Err(Error::Checksum)
        );
    }

    #[test]
    fn v2_interval_is_seconds_v3_is_centiseconds() {
        let mut bytes = V3_MCAST;
        // advert_int 0.05 s in keepalived is 5 centiseconds on the wire.
        assert_eq!(bytes[4..6], [0x00, 0x05]);
        bytes[4] = 0xf0; // reserved bits are ignored on receipt
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.v3_max_adver_int(), Centis(5));
        assert_eq!(Centis(5).as_duration(), Duration::from_millis(50));

        let v2 = Advert::parse(&V2_PASS, SRC, MCAST, ChecksumMode::PseudoHeader).unwrap();
        assert_eq!(v2.max_advert_int.as_duration(), Duration::from_secs(1));

        let mut a = v2.clone();
        for bad in [Centis(0), Centis(150), Centis(5), Centis(25_600)] {
            a.max_advert_int = bad;
            assert_eq!(
                a.to_bytes(SRC, MCAST, ChecksumMode::PseudoHeader),
                Err(Error::Interval)
            );
        }
        a.max_advert_int = Centis::MAX_V2;
        let bytes = a.to_bytes(SRC, MCAST, ChecksumMode::PseudoHeader).unwrap();
        assert_eq!(bytes[5], 255);

        let mut v3 = v3_repr();
        v3.max_advert_int = Centis(0x1000);
        assert_eq!(
            v3.to_bytes(SRC, MCAST, ChecksumMode::PseudoHeader),
            Err(Error::Interval)
        );
    }

    #[test]
    fn refusals() {
        let parse = |b: &[u8]| Advert::parse(b, SRC, MCAST, ChecksumMode::PseudoHeader);
        assert_eq!(parse(&V2_PASS[..7]), Err(Error::Length));
        let mut b = V2_PASS;
        b[0] = 0x41;
        assert_eq!(parse(&b), Err(Error::Version(4)));
        b[0] = 0x22;
        assert_eq!(parse(&b), Err(Error::Type(2)));
        assert_eq!(parse(&V2_PASS[..19]), Err(Error::Length));
        let mut b = V3_MCAST;
        b[3] = 2;
        assert_eq!(parse(&b), Err(Error::AddressCount));
        assert_eq!(parse(&V3_MCAST[..18]), Err(Error::Length));
        let mut b = V3_MCAST;
        b[7] ^= 1;
        assert_eq!(parse(&b), Err(Error::Checksum));
        // Refusals found after the checksum need a correct checksum to be reached.
        let refill = |b: &mut [u8]| {
            Packet::new_unchecked(b)
                .fill_checksum(SRC, MCAST, ChecksumMode::PseudoHeader)
                .unwrap()
        };
        let mut b = V2_PASS;
        b[4] = 2;
        refill(&mut b);
        assert_eq!(parse(&b), Err(Error::AuthAh));
        b[4] = 9;
        refill(&mut b);
        assert_eq!(parse(&b).unwrap().auth, Auth::Unknown(9));
        b[5] = 0;
        refill(&mut b);
        assert_eq!(parse(&b), Err(Error::Interval));
        let mut b = V3_MCAST;
        b[4..6].copy_from_slice(&[0xf0, 0x00]);
        refill(&mut b);
        assert_eq!(parse(&b), Err(Error::Interval));
        // v2 cannot ride on IPv6, and source and destination must agree.
        let s6: IpAddr = "fe80::1".parse().unwrap();
        assert_eq!(
            Advert::parse(&V2_PASS, s6, s6, ChecksumMode::PseudoHeader),
            Err(Error::Family)
        );
        assert_eq!(
            Advert::parse(&V3_MCAST, SRC, s6, ChecksumMode::PseudoHeader),
            Err(Error::Family)
        );
    }

    #[test]
    fn emit_refusals() {
        let mut a = v3_repr();
        a.auth = Auth::from_password(b"x");
        assert_eq!(
            a.to_bytes(SRC, MCAST, ChecksumMode::PseudoHeader),
            Err(Error::AuthType(1))
        );
        a.auth = Auth::Ah;
        assert_eq!(
            a.to_bytes(SRC, MCAST, ChecksumMode::PseudoHeader),
            Err(Error::AuthAh)
        );
        a.auth = Auth::None;
        a.addresses.push("fd00::1".parse().unwrap());
        assert_eq!(
            a.to_bytes(SRC, MCAST, ChecksumMode::PseudoHeader),
            Err(Error::Family)
        );
        a.addresses = vec![SRC; 256];
        assert_eq!(
            a.to_bytes(SRC, MCAST, ChecksumMode::PseudoHeader),
            Err(Error::AddressCount)
        );
        let a = v3_repr();
        let mut short = [0u8; 19];
        assert_eq!(
            a.emit(&mut short, SRC, MCAST, ChecksumMode::PseudoHeader),
            Err(Error::Length)
        );
        assert_eq!(short, [0u8; 19], "nothing written on refusal");
    }

    #[test]
    fn peeks_survive_garbage() {
        assert_eq!(peek_vrid(&[]), None);
        assert_eq!(peek_vrid(&[0x21]), None);
        assert_eq!(peek_vrid(&[0x21, 7]), Some(7));
        assert_eq!(peek_version(&[0x21]), Some(Version::V2));
        assert_eq!(peek_version(&[0x31]), Some(Version::V3));
        assert_eq!(peek_version(&[0x41]), None);
        assert_eq!(peek_version(&[]), None);
    }

    #[test]
    fn auth_matches() {
        let a = Auth::from_password(b"s3cret");
        assert!(a.matches(&Auth::Pass(*b"s3cret\0\0")));
        assert!(!a.matches(&Auth::from_password(b"s3creT")));
        assert!(!a.matches(&Auth::None));
        assert!(Auth::None.matches(&Auth::None));
        // keepalived keeps only the first 8 bytes of a password.
        assert!(Auth::from_password(b"123456789").matches(&Auth::from_password(b"12345678")));
    }
}
