//! Durations in the YAML form: seconds as a float, at keepalived's
//! microsecond resolution, for serde's `with =` attribute.

/// Serde for `Duration` as seconds (float, microsecond resolution).
pub(crate) mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(to_f64(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        from_f64(v).ok_or_else(|| serde::de::Error::custom("expected seconds >= 0"))
    }

    pub(crate) fn to_f64(d: Duration) -> f64 {
        d.as_micros() as f64 / 1e6
    }

    pub(crate) fn from_f64(v: f64) -> Option<Duration> {
        if !v.is_finite() || !(0.0..=1e9).contains(&v) {
            return None;
        }
        // Round to microseconds, keepalived's resolution, so the YAML text
        // of a value parsed from keepalived.conf reads back identical.
        Some(Duration::from_micros((v * 1e6).round() as u64))
    }
}

/// Serde for `Option<Duration>` as optional seconds.
pub(crate) mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&super::secs::to_f64(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<f64>::deserialize(d)? {
            None => Ok(None),
            Some(v) => super::secs::from_f64(v)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("expected seconds >= 0")),
        }
    }
}
