//! Data sizes and rates in zrepl's grammar: a decimal number (optionally negative or
//! fractional), optional spaces, and a unit: `bit`, or an optional SI (`K`, `M`, `G`, `T`: powers
//! of 1000) or IEC (`Ki`, `Mi`, `Gi`, `Ti`: powers of 1024) prefix followed by `b` (bits) or `B`
//! (bytes). Examples: `23 bit`, `10MiB`, `10.5 Kib`, `-1 B` (the "no limit" value).

use serde::{Serialize, Serializer};
use std::fmt;

/// A data size, stored as a number of bits; it prints as it was written.
#[derive(Clone, Debug)]
pub struct DataSize {
    bits: f64,
    text: String,
}

/// What the size grammar expects, for messages.
pub const SIZE_EXPECTED: &str =
    "a data size: a number and a unit `bit`, `B`, `KiB`, `MB`, `Mib`, … (e.g. `10 MiB`)";

impl DataSize {
    /// Parses the size grammar.
    pub fn parse(text: &str) -> Result<Self, String> {
        let num_end = text
            .find(|c: char| !(c.is_ascii_digit() || c == '-' || c == '.'))
            .unwrap_or(text.len());
        let (num, unit) = text.split_at(num_end);
        let unit = unit.trim_start();
        let value: f64 = num
            .parse()
            .map_err(|_| format!("`{num}` is not a number"))?;
        if !value.is_finite() {
            return Err("number out of range".to_owned());
        }
        let bits = if unit == "bit" {
            if value.fract() != 0.0 {
                return Err("unit bit must be an integer value".to_owned());
            }
            value
        } else {
            let (prefix, base) = unit.split_at(unit.len().saturating_sub(1));
            let base_bits = match base {
                "b" => 1.0,
                "B" => 8.0,
                _ => return Err(format!("unknown unit `{unit}`")),
            };
            let factor = match prefix {
                "" => 1.0,
                "K" => 1e3,
                "M" => 1e6,
                "G" => 1e9,
                "T" => 1e12,
                "Ki" => 1024.0,
                "Mi" => 1024.0 * 1024.0,
                "Gi" => 1024.0 * 1024.0 * 1024.0,
                "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
                _ => return Err(format!("unknown unit `{unit}`")),
            };
            value * factor * base_bits
        };
        Ok(Self {
            bits,
            text: text.to_owned(),
        })
    }

    /// A size given as bits with the text it is printed as (for defaults).
    pub(crate) fn literal(bits: f64, text: &str) -> Self {
        Self {
            bits,
            text: text.to_owned(),
        }
    }

    /// The size in bits (negative for the "no limit" marker).
    pub fn bits(&self) -> f64 {
        self.bits
    }

    /// The size in whole bytes, rounded down; negative sizes give `None`.
    pub fn whole_bytes(&self) -> Option<u64> {
        if self.bits < 0.0 {
            return None;
        }
        // Truncation towards zero is the intent (Go's int64(float) conversion).
        let bytes = (self.bits / 8.0).floor();
        if bytes >= u64::MAX as f64 {
            Some(u64::MAX)
        } else {
            Some(bytes as u64)
        }
    }
}

impl PartialEq for DataSize {
    fn eq(&self, other: &Self) -> bool {
        self.bits == other.bits
    }
}

impl fmt::Display for DataSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for DataSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        for (text, bits) in [
            ("23 bit", 23.0),
            ("23bit", 23.0),
            ("10MiB", 10.0 * 1024.0 * 1024.0 * 8.0),
            ("10.5 Kib", 10.5 * 1024.0),
            ("1 B", 8.0),
            ("1 Kb", 1e3),
            ("1 Mb", 1e6),
            ("1 Gib", 1024.0 * 1024.0 * 1024.0),
            ("1 Tb", 1e12),
            ("-1 B", -8.0),
            ("12345 B", 12345.0 * 8.0),
        ] {
            assert_eq!(DataSize::parse(text).map(|s| s.bits()), Ok(bits), "{text}");
        }
    }

    #[test]
    fn rejects() {
        for bad in [
            "10", "10 kB", "1.5 bit", "10 KiBs", "MiB", "10 iB", "ten B", "10 Bit",
        ] {
            assert!(DataSize::parse(bad).is_err(), "{bad} must be rejected");
        }
    }

    #[test]
    fn bytes() {
        assert_eq!(
            DataSize::parse("128 KiB").map(|s| s.whole_bytes()),
            Ok(Some(131_072))
        );
        assert_eq!(DataSize::parse("-1 B").map(|s| s.whole_bytes()), Ok(None));
        assert_eq!(
            DataSize::parse("7 bit").map(|s| s.whole_bytes()),
            Ok(Some(0))
        );
    }
}
