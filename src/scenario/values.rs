//! Value types of scenario files that TOML has no native form for: durations (`"250ms"`, `"5s"`),
//! latency ranges (`"1ms..3ms"`), `acks` (`"all"`, `1`, `0`, `-1`) and starting positions
//! (`"earliest"`, `"latest"` or an offset).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::model::protocol::Acks;
use crate::model::SimDuration;

/// Parses `"250ms"`, `"5s"`, `"1.5s"`, `"2m"`, `"100us"`.
pub fn parse_duration(text: &str) -> Option<SimDuration> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().ok()?;
    let micros_per = match unit.trim() {
        "us" | "µs" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" | "min" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    let micros = value * micros_per;
    (micros.is_finite() && micros >= 0.0).then(|| SimDuration(micros.round() as u64))
}

/// A duration written as a string with a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Duration(pub SimDuration);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration with a unit, like \"250ms\" or \"5s\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
                parse_duration(s).map(Duration).ok_or_else(|| E::invalid_value(de::Unexpected::Str(s), &self))
            }
        }
        d.deserialize_str(V)
    }
}

/// A clock offset: a signed duration, `"+30s"`, `"-5s"` (a bare `"2m"` is ahead), in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockOffset(pub i64);

impl<'de> Deserialize<'de> for ClockOffset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ClockOffset;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a signed duration, like \"+30s\" (the clock runs ahead) or \"-5s\" (behind)")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ClockOffset, E> {
                let t = s.trim();
                let (sign, rest) = match t.strip_prefix('-') {
                    Some(rest) => (-1, rest),
                    None => (1, t.strip_prefix('+').unwrap_or(t)),
                };
                let d = parse_duration(rest).ok_or_else(|| E::invalid_value(de::Unexpected::Str(s), &self))?;
                Ok(ClockOffset(sign * d.as_millis() as i64))
            }
        }
        d.deserialize_str(V)
    }
}

/// A latency: one duration (`"2ms"`) or a uniform range (`"1ms..5ms"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatencyRange {
    pub min: SimDuration,
    pub max: SimDuration,
}

impl<'de> Deserialize<'de> for LatencyRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LatencyRange;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a latency like \"2ms\" or a range like \"1ms..5ms\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<LatencyRange, E> {
                let bad = || E::invalid_value(de::Unexpected::Str(s), &self);
                match s.split_once("..") {
                    Some((a, b)) => {
                        let (min, max) = (parse_duration(a).ok_or_else(bad)?, parse_duration(b).ok_or_else(bad)?);
                        if min > max {
                            return Err(bad());
                        }
                        Ok(LatencyRange { min, max })
                    }
                    None => parse_duration(s).map(|d| LatencyRange { min: d, max: d }).ok_or_else(bad),
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// `acks` as Kafka accepts it: `"all"`, `"-1"`, `"1"`, `"0"`, or the integers.
pub fn deserialize_acks<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Acks>, D::Error> {
    acks(d).map(Some)
}

fn acks<'de, D: Deserializer<'de>>(d: D) -> Result<Acks, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Acks;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("acks: \"all\", -1, 1 or 0")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Acks, E> {
            match v {
                -1 => Ok(Acks::All),
                1 => Ok(Acks::Leader),
                0 => Ok(Acks::None),
                _ => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
            }
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Acks, E> {
            match s {
                "all" | "-1" => Ok(Acks::All),
                "1" => Ok(Acks::Leader),
                "0" => Ok(Acks::None),
                _ => Err(E::invalid_value(de::Unexpected::Str(s), &self)),
            }
        }
    }
    d.deserialize_any(V)
}

/// Where a consumer starts: `"earliest"`, `"latest"` or an offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    Earliest,
    Latest,
    Offset(i64),
}

impl<'de> Deserialize<'de> for Start {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Start;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"earliest\", \"latest\" or an offset (an integer >= 0)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Start, E> {
                if v < 0 {
                    return Err(E::invalid_value(de::Unexpected::Signed(v), &self));
                }
                Ok(Start::Offset(v))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Start, E> {
                match s {
                    "earliest" => Ok(Start::Earliest),
                    "latest" => Ok(Start::Latest),
                    _ => Err(E::invalid_value(de::Unexpected::Str(s), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Record keys: a number of distinct keys (`keys = 10`) or `"none"` for null keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keys {
    None,
    Distinct(u32),
}

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of distinct keys (>= 1) or \"none\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Keys, E> {
                u32::try_from(v)
                    .ok()
                    .filter(|n| *n >= 1)
                    .map(Keys::Distinct)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Keys, E> {
                match s {
                    "none" => Ok(Keys::None),
                    _ => Err(E::invalid_value(de::Unexpected::Str(s), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Some(SimDuration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(SimDuration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Some(SimDuration::from_secs(120)));
        assert_eq!(parse_duration("7"), None);
        assert_eq!(parse_duration("5 parsecs"), None);
    }

    #[test]
    fn clock_offsets_are_signed() {
        let parse = |s: &str| toml::from_str::<std::collections::BTreeMap<String, ClockOffset>>(&format!("o = \"{s}\"")).map(|m| m["o"].0);
        assert_eq!(parse("+30s").unwrap(), 30_000);
        assert_eq!(parse("-5s").unwrap(), -5_000);
        assert_eq!(parse("2m").unwrap(), 120_000);
        assert!(parse("-").is_err() && parse("ahead").is_err());
    }
}
