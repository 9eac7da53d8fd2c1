//! Snapshot names: `prefix + timestamp`, with zrepl's `timestamp_format` and
//! `timestamp_location` rules.
//!
//! Formats (names case-insensitive): `dense` = layout `20060102_150405_000`, `human` =
//! `2006-01-02_15:04:05`, `iso-8601` = `2006-01-02T15:04:05.000Z0700` (zrepl's code uses the
//! offset without colon; its documentation shows `Z07:00`, the code is what produced existing
//! snapshot names), `unix-seconds` = seconds since the epoch, anything else = a custom Go layout
//! (see [`super::go_layout`]). `dense`, `human` and `unix-seconds` carry no zone and therefore
//! require the location `UTC`. A layout must not contain `+` (not allowed in ZFS names); a `+`
//! produced by a positive zone offset is written as `_`.
//!
//! Locations: `UTC` (also the empty string, the default), `Local` (the system's zone), or an IANA
//! zone name such as `Europe/Berlin`.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::go_layout::GoLayout;

/// Why a snapshot naming configuration cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NamingError {
    /// The location is neither `UTC`, `Local` nor a known IANA zone.
    #[error("unknown timestamp_location {0:?}: expected UTC, Local or an IANA time zone name")]
    UnknownLocation(String),
    /// A zone-less format combined with a location other than UTC.
    #[error("timestamp_format {format:?} requires timestamp_location UTC, not {location:?}")]
    RequiresUtc {
        /// The configured format.
        format: String,
        /// The configured location.
        location: String,
    },
    /// The custom layout contains `+`.
    #[error("timestamp_format {0:?} contains '+', which is not allowed in ZFS snapshot names")]
    PlusInLayout(String),
    /// Formatting a sample time produced a name ZFS would reject.
    #[error("prefix + timestamp would give the invalid snapshot name {name:?}: {why}")]
    InvalidName {
        /// The name the configuration would produce.
        name: String,
        /// What is wrong with it.
        why: String,
    },
}

/// How the timestamp part of a name is written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Format {
    Layout(GoLayout),
    UnixSeconds,
}

/// Makes snapshot names for one snapshotting configuration.
#[derive(Debug, Clone)]
pub struct SnapshotNamer {
    prefix: String,
    format: Format,
    zone: TimeZone,
}

impl SnapshotNamer {
    /// Builds a namer from the configuration values `prefix`, `timestamp_format` and
    /// `timestamp_location`, checking (like zrepl) that names for a summer and a winter date are
    /// valid ZFS snapshot names.
    pub fn new(prefix: &str, format: &str, location: &str) -> Result<SnapshotNamer, NamingError> {
        let (zone, is_utc) = resolve_location(location)?;
        let requires_utc = || NamingError::RequiresUtc {
            format: format.to_string(),
            location: location.to_string(),
        };
        let layout = |layout: &str| -> Result<Format, NamingError> {
            if layout.contains('+') {
                return Err(NamingError::PlusInLayout(layout.to_string()));
            }
            Ok(Format::Layout(GoLayout::parse(layout)))
        };
        let format = match format.to_ascii_lowercase().as_str() {
            "" | "dense" if is_utc => layout("20060102_150405_000")?,
            "human" if is_utc => layout("2006-01-02_15:04:05")?,
            "unix-seconds" if is_utc => Format::UnixSeconds,
            "" | "dense" | "human" | "unix-seconds" => return Err(requires_utc()),
            "iso-8601" => layout("2006-01-02T15:04:05.000Z0700")?,
            _ => layout(format)?,
        };
        let namer = SnapshotNamer {
            prefix: prefix.to_string(),
            format,
            zone,
        };
        for sample in ["2020-06-01T00:00:00Z", "2020-12-01T00:00:00Z"] {
            let t: Timestamp = sample.parse().map_err(|_| NamingError::InvalidName {
                name: sample.to_string(),
                why: "sample time does not parse".to_string(),
            })?;
            let name = namer.name_at(t);
            if let Err(why) = check_component(&name) {
                return Err(NamingError::InvalidName { name, why });
            }
        }
        Ok(namer)
    }

    /// The configured prefix; the snapshotter's own snapshots are those starting with it.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The time zone of `timestamp_location` (cron schedules are read in it too).
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The snapshot name (the part after `@`) for the instant `t`.
    pub fn name_at(&self, t: Timestamp) -> String {
        let stamp = match &self.format {
            Format::UnixSeconds => t.as_second().to_string(),
            Format::Layout(layout) => layout.format(&t.to_zoned(self.zone.clone())),
        };
        format!("{}{}", self.prefix, stamp.replace('+', "_"))
    }
}

/// Resolves a `timestamp_location`; the flag says whether it is UTC in zrepl's sense.
fn resolve_location(location: &str) -> Result<(TimeZone, bool), NamingError> {
    match location {
        "" | "UTC" => Ok((TimeZone::UTC, true)),
        "Local" => Ok((TimeZone::system(), false)),
        name => jiff::tz::db()
            .get(name)
            .map(|zone| (zone, false))
            .map_err(|_| NamingError::UnknownLocation(name.to_string())),
    }
}

/// OpenZFS's rules for one name component: 1..=255 bytes of `[A-Za-z0-9_.: -]`.
fn check_component(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty name".to_string());
    }
    if name.len() > 255 {
        return Err(format!("{} bytes, more than 255", name.len()));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | ' ' | '-')))
    {
        Some(c) => Err(format!("character {c:?} is not allowed")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("valid test time")
    }

    #[test]
    fn builtin_formats_in_utc() {
        let at = t("2024-03-09T07:05:03.456Z");
        let name = |format| {
            SnapshotNamer::new("zrepl_", format, "UTC")
                .expect("valid")
                .name_at(at)
        };
        assert_eq!(name("dense"), "zrepl_20240309_070503_000");
        assert_eq!(name("DENSE"), "zrepl_20240309_070503_000");
        assert_eq!(name("human"), "zrepl_2024-03-09_07:05:03");
        assert_eq!(name("iso-8601"), "zrepl_2024-03-09T07:05:03.456Z");
        assert_eq!(name("unix-seconds"), "zrepl_1709967903");
        assert_eq!(name("2006.01.02"), "zrepl_2024.03.09");
    }

    #[test]
    fn default_format_and_location_are_dense_utc() {
        let namer = SnapshotNamer::new("p_", "", "").expect("valid");
        assert_eq!(
            namer.name_at(t("2024-03-09T07:05:03Z")),
            "p_20240309_070503_000"
        );
        assert_eq!(namer.prefix(), "p_");
    }

    #[test]
    fn positive_offset_plus_becomes_underscore() {
        let namer = SnapshotNamer::new("s_", "iso-8601", "Europe/Berlin").expect("valid");
        assert_eq!(
            namer.name_at(t("2024-07-01T10:00:00Z")),
            "s_2024-07-01T12:00:00.000_0200"
        );
        let ny =
            SnapshotNamer::new("s_", "2006-01-02T15:04-07:00", "America/New_York").expect("valid");
        assert_eq!(
            ny.name_at(t("2024-01-01T17:00:00Z")),
            "s_2024-01-01T12:00-05:00"
        );
    }

    #[test]
    fn zoneless_formats_require_utc() {
        for format in ["dense", "human", "unix-seconds"] {
            assert_eq!(
                SnapshotNamer::new("p_", format, "Europe/Berlin").err(),
                Some(NamingError::RequiresUtc {
                    format: format.to_string(),
                    location: "Europe/Berlin".to_string()
                })
            );
        }
    }

    #[test]
    fn rejects_bad_configurations() {
        assert!(matches!(
            SnapshotNamer::new("p_", "2006+01", "UTC"),
            Err(NamingError::PlusInLayout(_))
        ));
        assert!(matches!(
            SnapshotNamer::new("p_", "iso-8601", "Mars/Olympus"),
            Err(NamingError::UnknownLocation(_))
        ));
        // "/" is not allowed in a snapshot name.
        assert!(matches!(
            SnapshotNamer::new("p_", "2006/01/02", "UTC"),
            Err(NamingError::InvalidName { .. })
        ));
        assert!(matches!(
            SnapshotNamer::new("bad@", "dense", "UTC"),
            Err(NamingError::InvalidName { .. })
        ));
    }
}
