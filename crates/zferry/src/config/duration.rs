//! Durations, in the two grammars zrepl's configuration uses.
//!
//! * [`Duration`] / [`PositiveDuration`]: zrepl's own grammar for intervals (`interval`, grid
//!   entries): optional sign, an integer, optional spaces, a unit `s`, `m`, `h`, `d` (24 h) or
//!   `w` (7 d). A bare `0` needs no unit; any other number without a unit is an error.
//! * [`GoDuration`]: timeouts (`dial_timeout`, `handshake_timeout`, `retry_interval`, hook
//!   `timeout`) are Go `time.Duration` fields in zrepl, written in Go's `time.ParseDuration`
//!   syntax: a sequence of decimal numbers with units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`
//!   (`1m30s`, `1.5h`, `500ms`); a bare `0`; or a plain integer meaning nanoseconds.

use serde::{Serialize, Serializer};
use std::fmt;

/// A signed duration in whole seconds in zrepl's grammar (`10m`, `-1h`, `0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    seconds: i64,
}

const UNITS: [(char, i64); 5] = [
    ('w', 7 * 24 * 3600),
    ('d', 24 * 3600),
    ('h', 3600),
    ('m', 60),
    ('s', 1),
];

/// What the zrepl duration grammar expects, for messages.
pub const DURATION_EXPECTED: &str = "a duration (an integer with unit s, m, h, d or w, e.g. `10m`)";
/// What a positive zrepl duration looks like, for messages.
pub const POSITIVE_DURATION_EXPECTED: &str =
    "a positive duration (an integer with unit s, m, h, d or w, e.g. `10m`)";

impl Duration {
    /// Parses zrepl's duration grammar.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'+') => (1, &t[1..]),
            Some(b'-') => (-1, &t[1..]),
            _ => (1, t),
        };
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (digits, unit) = rest.split_at(digits_end);
        if digits.is_empty() {
            return Err("no number".to_owned());
        }
        let n: i64 = digits
            .parse()
            .map_err(|_| "number out of range".to_owned())?;
        let unit = unit.trim_start();
        let factor = match unit {
            "" if n == 0 => 1,
            "" => return Err("missing time unit".to_owned()),
            u => match UNITS
                .iter()
                .find(|(c, _)| u.len() == 1 && u.starts_with(*c))
            {
                Some((_, f)) => *f,
                None => return Err(format!("unknown time unit `{u}`")),
            },
        };
        let seconds = n
            .checked_mul(factor)
            .and_then(|s| s.checked_mul(sign))
            .ok_or_else(|| "duration out of range".to_owned())?;
        Ok(Self { seconds })
    }

    /// The duration in seconds (may be negative).
    pub fn seconds(self) -> i64 {
        self.seconds
    }
}

impl fmt::Display for Duration {
    /// The largest unit that represents the value exactly (`600` seconds print as `10m`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.seconds == 0 {
            return f.write_str("0s");
        }
        let (unit, factor) = UNITS
            .iter()
            .find(|(_, factor)| self.seconds % factor == 0)
            .copied()
            .unwrap_or(('s', 1));
        write!(f, "{}{unit}", self.seconds / factor)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A duration greater than zero in zrepl's grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PositiveDuration(Duration);

impl PositiveDuration {
    /// Parses zrepl's duration grammar and requires a positive value.
    pub fn parse(text: &str) -> Result<Self, String> {
        let d = Duration::parse(text)?;
        if d.seconds <= 0 {
            return Err("duration must be positive".to_owned());
        }
        Ok(Self(d))
    }

    /// As a standard duration.
    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.0.seconds.unsigned_abs())
    }

    /// The underlying signed duration.
    pub fn duration(self) -> Duration {
        self.0
    }
}

impl fmt::Display for PositiveDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A non-negative duration in Go's `time.ParseDuration` syntax, with nanosecond resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoDuration(std::time::Duration);

/// What the Go duration grammar expects, for messages.
pub const GO_DURATION_EXPECTED: &str =
    "a duration like `10s`, `1m30s` or `500ms` (units ns, us, ms, s, m, h)";

const GO_UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

impl GoDuration {
    /// Parses Go duration syntax; negative values are rejected (zrepl requires them to be zero
    /// or positive everywhere it uses them).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (negative, mut rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        if rest == "0" {
            return Ok(Self(std::time::Duration::ZERO));
        }
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            // A YAML integer: Go's decoder stores it as nanoseconds.
            let ns: u64 = text.parse().map_err(|_| "number out of range".to_owned())?;
            return Ok(Self(std::time::Duration::from_nanos(ns)));
        }
        if rest.is_empty() {
            return Err("empty duration".to_owned());
        }
        let mut total: u128 = 0;
        while !rest.is_empty() {
            let num_end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let (num, after) = rest.split_at(num_end);
            if num.is_empty() || num == "." || num.matches('.').count() > 1 {
                return Err("expected a number".to_owned());
            }
            let unit_end = after
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(after.len());
            let (unit, next) = after.split_at(unit_end);
            if unit.is_empty() {
                return Err(format!("missing unit after `{num}`"));
            }
            let factor = GO_UNITS
                .iter()
                .find(|(u, _)| *u == unit)
                .map(|(_, f)| *f)
                .ok_or_else(|| format!("unknown unit `{unit}`"))?;
            let (int, frac) = num.split_once('.').unwrap_or((num, ""));
            let int: u128 = if int.is_empty() {
                0
            } else {
                int.parse().map_err(|_| "number out of range".to_owned())?
            };
            let mut part = int
                .checked_mul(factor)
                .ok_or_else(|| "duration out of range".to_owned())?;
            let mut scale = factor;
            for d in frac.bytes() {
                scale /= 10;
                part += u128::from(d - b'0') * scale;
            }
            total = total
                .checked_add(part)
                .ok_or_else(|| "duration out of range".to_owned())?;
            rest = next;
        }
        if negative && total > 0 {
            return Err("duration must not be negative".to_owned());
        }
        let ns = u64::try_from(total).map_err(|_| "duration out of range".to_owned())?;
        Ok(Self(std::time::Duration::from_nanos(ns)))
    }

    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    /// As a standard duration.
    pub fn as_std(self) -> std::time::Duration {
        self.0
    }

    /// Whether the duration is zero.
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl fmt::Display for GoDuration {
    /// The largest unit that represents the value exactly (`10s`, `1500ms`, `0s`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.as_nanos();
        if ns == 0 {
            return f.write_str("0s");
        }
        let (unit, factor) = [
            ("h", 3_600_000_000_000u128),
            ("m", 60_000_000_000),
            ("s", 1_000_000_000),
            ("ms", 1_000_000),
            ("us", 1_000),
            ("ns", 1),
        ]
        .into_iter()
        .find(|(_, factor)| ns.is_multiple_of(*factor))
        .unwrap_or(("ns", 1));
        write!(f, "{}{unit}", ns / factor)
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zrepl_durations() {
        let ok = [
            ("10m", 600),
            ("1h", 3600),
            ("2d", 172_800),
            ("1w", 604_800),
            ("30s", 30),
            ("0", 0),
            ("-1h", -3600),
            ("+5 m", 300),
            (" 7s ", 7),
        ];
        for (text, secs) in ok {
            assert_eq!(
                Duration::parse(text).map(Duration::seconds),
                Ok(secs),
                "{text}"
            );
        }
        for bad in ["10", "10x", "1.5h", "h", "", "10ms", "1h30m", "- 1h"] {
            assert!(Duration::parse(bad).is_err(), "{bad} must be rejected");
        }
        assert_eq!(Duration::parse("10").unwrap_err(), "missing time unit");
    }

    #[test]
    fn positive_durations_reject_zero_and_negative() {
        assert!(PositiveDuration::parse("0").is_err());
        assert!(PositiveDuration::parse("-1m").is_err());
        assert_eq!(
            PositiveDuration::parse("2m").map(PositiveDuration::as_std),
            Ok(std::time::Duration::from_secs(120))
        );
    }

    #[test]
    fn durations_print_in_the_largest_exact_unit() {
        for (text, printed) in [
            ("600s", "10m"),
            ("48h", "2d"),
            ("14d", "2w"),
            ("90s", "90s"),
        ] {
            assert_eq!(
                Duration::parse(text).map(|d| d.to_string()),
                Ok(printed.to_owned())
            );
        }
    }

    #[test]
    fn go_durations() {
        let ms = |n: u64| std::time::Duration::from_millis(n);
        for (text, d) in [
            ("10s", ms(10_000)),
            ("1m30s", ms(90_000)),
            ("500ms", ms(500)),
            ("1.5h", ms(5_400_000)),
            ("0", ms(0)),
            ("2us", std::time::Duration::from_micros(2)),
            ("1000", std::time::Duration::from_nanos(1000)),
        ] {
            assert_eq!(
                GoDuration::parse(text).map(GoDuration::as_std),
                Ok(d),
                "{text}"
            );
        }
        for bad in ["", "s", "10d", "1w", "-1s", "1..5s", "10 s"] {
            assert!(GoDuration::parse(bad).is_err(), "{bad} must be rejected");
        }
        assert_eq!(
            GoDuration::parse("1500ms").map(|d| d.to_string()),
            Ok("1500ms".to_owned())
        );
        assert_eq!(
            GoDuration::parse("2m0s").map(|d| d.to_string()),
            Ok("2m".to_owned())
        );
    }
}
