//! Human-written durations (`10m`, `1h30m`, `30d`) and sizes (`5GiB`, `500MB`) in job files and
//! agent settings.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A duration written as one or more `<number><unit>` parts: `ms`, `s`, `m`, `h`, `d`, `w`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

/// A byte count written as a number with an optional unit: `B`, `KB`/`MB`/`GB`/`TB` (powers of
/// 1000), `KiB`/`MiB`/`GiB`/`TiB` or Kubernetes' `Ki`/`Mi`/`Gi`/`Ti` (powers of 1024).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

/// Why a duration or size did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnitError(String);

// Ten years: beyond this a schedule setting is a typo, and it keeps arithmetic far from overflow.
const MAX_DURATION: Duration = Duration::from_secs(10 * 366 * 24 * 3600);

impl FromStr for HumanDuration {
    type Err = UnitError;

    fn from_str(text: &str) -> Result<Self, UnitError> {
        let hint = "write it as a number and a unit, e.g. `90s`, `10m`, `1h30m`, `7d` (units: ms, s, m, h, d, w)";
        let s = text.trim();
        if s.is_empty() {
            return Err(UnitError(format!("empty duration; {hint}")));
        }
        if s.starts_with('-') {
            return Err(UnitError(format!(
                "negative duration `{text}`; durations must be ≥ 0"
            )));
        }
        if s.contains('.') {
            return Err(UnitError(format!(
                "fractional duration `{text}`; combine whole units instead, e.g. `1h30m` for 1.5h"
            )));
        }
        let mut total: u128 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(UnitError(format!("invalid duration `{text}`; {hint}")));
            }
            let number: u128 = rest[..digits]
                .parse()
                .map_err(|_| UnitError(format!("number too large in `{text}`")))?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let millis: u128 = match unit {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "w" => 604_800_000,
                "" => {
                    return Err(UnitError(format!("duration `{text}` has no unit; {hint}")));
                }
                other => {
                    return Err(UnitError(format!(
                        "unknown unit `{other}` in duration `{text}`; {hint}"
                    )));
                }
            };
            total = total.saturating_add(number.saturating_mul(millis));
        }
        if total > MAX_DURATION.as_millis() {
            return Err(UnitError(format!(
                "duration `{text}` is longer than ten years"
            )));
        }
        let millis = u64::try_from(total)
            .map_err(|_| UnitError(format!("duration `{text}` is too large")))?;
        Ok(HumanDuration(Duration::from_millis(millis)))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [
            ("d", 86_400_000u128),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
            ("ms", 1),
        ] {
            if ms >= size {
                write!(f, "{}{unit}", ms / size)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

impl FromStr for ByteSize {
    type Err = UnitError;

    fn from_str(text: &str) -> Result<Self, UnitError> {
        let hint = "write it as a number and a unit, e.g. `500MB`, `5GiB`, `10Gi` (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB, Ki, Mi, Gi, Ti)";
        let s = text.trim();
        if s.starts_with('-') {
            return Err(UnitError(format!("negative size `{text}`")));
        }
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let unit = unit.trim();
        if number.is_empty() || number.matches('.').count() > 1 || number.ends_with('.') {
            return Err(UnitError(format!("invalid size `{text}`; {hint}")));
        }
        let factor: u64 = match unit {
            "" | "B" => 1,
            "KB" | "kB" | "K" | "k" => 1_000,
            "MB" | "M" => 1_000_000,
            "GB" | "G" => 1_000_000_000,
            "TB" | "T" => 1_000_000_000_000,
            "KiB" | "Ki" => 1 << 10,
            "MiB" | "Mi" => 1 << 20,
            "GiB" | "Gi" => 1 << 30,
            "TiB" | "Ti" => 1 << 40,
            other => {
                return Err(UnitError(format!(
                    "unknown unit `{other}` in size `{text}`; {hint}"
                )));
            }
        };
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        let whole: u64 = whole
            .parse()
            .map_err(|_| UnitError(format!("number too large in `{text}`")))?;
        let mut bytes = whole
            .checked_mul(factor)
            .ok_or_else(|| UnitError(format!("size `{text}` is too large")))?;
        if !frac.is_empty() {
            let digits = frac.len().min(9) as u32;
            let frac_value: u64 = frac[..digits as usize]
                .parse()
                .map_err(|_| UnitError(format!("invalid size `{text}`; {hint}")))?;
            let scaled = u128::from(frac_value) * u128::from(factor) / 10u128.pow(digits);
            bytes = bytes
                .checked_add(u64::try_from(scaled).unwrap_or(u64::MAX))
                .ok_or_else(|| UnitError(format!("size `{text}` is too large")))?;
        }
        Ok(ByteSize(bytes))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, size) in [
            ("TiB", 1u64 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
        ] {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

macro_rules! text_unit {
    ($ty:ident, $name:literal, $pattern:literal, $what:literal) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // A bare number (`minFreeDisk: 0`) arrives as an integer from YAML and figment;
                // it is read like the same digits written as text.
                #[derive(Deserialize)]
                #[serde(untagged)]
                enum Raw {
                    Text(String),
                    Number(u64),
                }
                let text = match Raw::deserialize(d)? {
                    Raw::Text(t) => t,
                    Raw::Number(n) => n.to_string(),
                };
                text.parse().map_err(de::Error::custom)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "pattern": $pattern, "description": $what })
            }
        }
    };
}

text_unit!(
    HumanDuration,
    "Duration",
    "^([0-9]+(ms|s|m|h|d|w))+$",
    "A duration such as `90s`, `10m`, `1h30m` or `7d`."
);
text_unit!(
    ByteSize,
    "ByteSize",
    "^[0-9]+(\\.[0-9]+)?\\s*(B|KB|kB|K|k|MB|M|GB|G|TB|T|KiB|Ki|MiB|Mi|GiB|Gi|TiB|Ti)?$",
    "A size such as `500MB`, `5GiB` or `10Gi`."
);

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Result<Duration, UnitError> {
        s.parse::<HumanDuration>().map(|h| h.0)
    }

    #[test]
    fn durations_parse_compound_units() {
        assert_eq!(d("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(d("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(d("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(d("2w"), Ok(Duration::from_secs(14 * 86400)));
        assert_eq!(d("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(d("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_say_why() {
        for (text, needle) in [
            ("10x", "unknown unit `x`"),
            ("-5m", "negative"),
            ("", "empty"),
            ("10", "no unit"),
            ("m", "invalid duration"),
            ("1.5h", "fractional"),
            ("99999999999999999999999d", "ten years"),
            ("9999999999999999999999999999999999999999999s", "too large"),
            ("20000d", "ten years"),
        ] {
            let err = d(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn durations_round_trip_through_text() {
        for text in ["1d2h3m4s5ms", "30m", "0s"] {
            let parsed: HumanDuration = text.parse().expect(text);
            assert_eq!(parsed.to_string(), text);
        }
    }

    #[test]
    fn sizes_parse_decimal_and_binary_units() {
        let b = |s: &str| s.parse::<ByteSize>().map(|b| b.0);
        assert_eq!(b("5GiB"), Ok(5 << 30));
        assert_eq!(b("10Gi"), Ok(10 << 30));
        assert_eq!(b("500MB"), Ok(500_000_000));
        assert_eq!(b("1024"), Ok(1024));
        assert_eq!(b("1.5KiB"), Ok(1536));
        assert!(
            b("10x")
                .expect_err("bad unit")
                .to_string()
                .contains("unknown unit `x`")
        );
        assert!(b("-1GB").is_err());
        assert!(b("GB").is_err());
        assert!(
            b("99999999999TiB")
                .expect_err("overflow")
                .to_string()
                .contains("too large")
        );
        assert_eq!(ByteSize(5 << 30).to_string(), "5GiB");
    }
}
