//! When to snapshot: `periodic` (with zrepl's sync-up), `cron`, or `manual`.
//!
//! Periodic sync-up: at start the snapshotter looks at the newest snapshot carrying its prefix on
//! every filesystem it snapshots. The earliest `newest + interval` among filesystems that have
//! such a snapshot is the first snapshot time; when that lies in the past (the newest snapshot is
//! older than the interval) the first round runs at once. Filesystems without any prefixed
//! snapshot do not pull the sync point forward; if no filesystem has one, the first round runs at
//! once. After a round, the next one is due `interval` after the previous round started. A
//! restart therefore neither snapshots early nor late.
//!
//! Cron: `(second) minute hour day-of-month month day-of-week`, seconds optional, evaluated in
//! the given time zone (zrepl evaluates in the system's local zone). A round that is still running
//! when the next cron time comes is not overlapped: that tick is skipped and counted.

use std::time::Duration;

use croner::Cron;
use croner::parser::{CronParser, Seconds};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};

/// Errors of scheduling.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleError {
    /// The cron expression does not parse.
    #[error("invalid cron expression {expr:?}: {why}")]
    BadCron {
        /// The expression as configured.
        expr: String,
        /// The parser's explanation.
        why: String,
    },
    /// The cron expression has no further occurrence.
    #[error("cron expression {0:?} has no next occurrence")]
    NoNextOccurrence(String),
    /// The interval of a periodic schedule is zero or too large.
    #[error("periodic interval must be positive and finite")]
    BadInterval,
    /// Every filesystem's newest snapshot lies in the future (clock skew).
    #[error("cannot find a sync point: {0}")]
    NoSyncPoint(String),
}

/// The newest snapshot with the snapshotter's prefix on one filesystem, as input to sync-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewestSnapshot {
    /// The filesystem.
    pub filesystem: String,
    /// Creation time of its newest prefixed snapshot (by createtxg), `None` if it has none.
    pub creation: Option<Timestamp>,
}

/// The outcome of the periodic sync-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPoint {
    /// When the first round should run (may be in the past: then run at once).
    pub at: Timestamp,
    /// Filesystems whose newest snapshot lies in the future; they are ignored for the sync point.
    pub from_the_future: Vec<String>,
}

/// Computes the first snapshot time of a periodic snapshotter (see the module docs).
pub fn periodic_sync_point(
    now: Timestamp,
    interval: Duration,
    newest: &[NewestSnapshot],
) -> Result<SyncPoint, ScheduleError> {
    let interval = SignedDuration::try_from(interval).map_err(|_| ScheduleError::BadInterval)?;
    if interval.is_zero() {
        return Err(ScheduleError::BadInterval);
    }
    let mut from_the_future = Vec::new();
    let mut earliest: Option<Timestamp> = None;
    let mut without_snapshots = 0;
    for fs in newest {
        match fs.creation {
            None => without_snapshots += 1,
            Some(creation) if creation > now => from_the_future.push(fs.filesystem.clone()),
            Some(creation) => {
                let due = creation
                    .checked_add(interval)
                    .map_err(|_| ScheduleError::BadInterval)?;
                earliest = Some(earliest.map_or(due, |e| e.min(due)));
            }
        }
    }
    if !newest.is_empty() && without_snapshots == 0 && earliest.is_none() {
        return Err(ScheduleError::NoSyncPoint(format!(
            "the newest snapshots of all filesystems are from the future: {}",
            from_the_future.join(", ")
        )));
    }
    Ok(SyncPoint {
        at: earliest.unwrap_or(now),
        from_the_future,
    })
}

/// The time of the round after one that started at `round_started`.
pub fn periodic_next_round(
    round_started: Timestamp,
    interval: Duration,
) -> Result<Timestamp, ScheduleError> {
    let interval = SignedDuration::try_from(interval).map_err(|_| ScheduleError::BadInterval)?;
    round_started
        .checked_add(interval)
        .map_err(|_| ScheduleError::BadInterval)
}

/// A parsed cron schedule.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expr: String,
    cron: Cron,
}

impl CronSchedule {
    /// Parses a 5-field expression (minute granularity) or a 6-field one with leading seconds.
    pub fn parse(expr: &str) -> Result<CronSchedule, ScheduleError> {
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(expr)
            .map_err(|e| ScheduleError::BadCron {
                expr: expr.to_string(),
                why: e.to_string(),
            })?;
        Ok(CronSchedule {
            expr: expr.to_string(),
            cron,
        })
    }

    /// The first occurrence strictly after `now`, evaluated in `zone`.
    pub fn next_after(&self, now: Timestamp, zone: &TimeZone) -> Result<Zoned, ScheduleError> {
        self.cron
            .find_next_occurrence(&now.to_zoned(zone.clone()), false)
            .map_err(|_| ScheduleError::NoNextOccurrence(self.expr.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("valid test time")
    }

    fn fs(name: &str, creation: Option<&str>) -> NewestSnapshot {
        NewestSnapshot {
            filesystem: name.to_string(),
            creation: creation.map(t),
        }
    }

    const TEN_MIN: Duration = Duration::from_secs(600);

    #[test]
    fn young_newest_snapshot_delays_the_first_round() {
        let now = t("2024-01-01T12:00:00Z");
        let sp = periodic_sync_point(
            now,
            TEN_MIN,
            &[
                fs("a", Some("2024-01-01T11:57:00Z")),
                fs("b", Some("2024-01-01T11:55:00Z")),
                fs("c", None),
            ],
        )
        .expect("sync point");
        // The earliest due time among filesystems with snapshots wins.
        assert_eq!(sp.at, t("2024-01-01T12:05:00Z"));
    }

    #[test]
    fn old_newest_snapshot_means_snapshot_now() {
        let now = t("2024-01-01T12:00:00Z");
        let sp = periodic_sync_point(now, TEN_MIN, &[fs("a", Some("2024-01-01T10:00:00Z"))])
            .expect("sync point");
        assert!(sp.at <= now, "due in the past: run at once");
    }

    #[test]
    fn no_snapshots_or_no_filesystems_means_now() {
        let now = t("2024-01-01T12:00:00Z");
        assert_eq!(
            periodic_sync_point(now, TEN_MIN, &[fs("a", None)])
                .expect("ok")
                .at,
            now
        );
        assert_eq!(periodic_sync_point(now, TEN_MIN, &[]).expect("ok").at, now);
    }

    #[test]
    fn snapshots_from_the_future_are_reported() {
        let now = t("2024-01-01T12:00:00Z");
        let sp = periodic_sync_point(
            now,
            TEN_MIN,
            &[
                fs("a", Some("2024-01-01T13:00:00Z")),
                fs("b", Some("2024-01-01T11:59:00Z")),
            ],
        )
        .expect("one usable filesystem");
        assert_eq!(sp.at, t("2024-01-01T12:09:00Z"));
        assert_eq!(sp.from_the_future, vec!["a".to_string()]);
        assert!(matches!(
            periodic_sync_point(now, TEN_MIN, &[fs("a", Some("2024-01-01T13:00:00Z"))]),
            Err(ScheduleError::NoSyncPoint(_))
        ));
    }

    #[test]
    fn zero_interval_is_rejected() {
        assert_eq!(
            periodic_sync_point(t("2024-01-01T12:00:00Z"), Duration::ZERO, &[]),
            Err(ScheduleError::BadInterval)
        );
    }

    #[test]
    fn next_round_follows_round_start() {
        assert_eq!(
            periodic_next_round(t("2024-01-01T12:00:03Z"), TEN_MIN).expect("ok"),
            t("2024-01-01T12:10:03Z")
        );
    }

    #[test]
    fn cron_five_and_six_fields() {
        let daily = CronSchedule::parse("0 3 * * *").expect("valid");
        let next = daily
            .next_after(t("2024-01-01T12:00:00Z"), &TimeZone::UTC)
            .expect("next");
        assert_eq!(next.timestamp(), t("2024-01-02T03:00:00Z"));

        let every_ten_seconds = CronSchedule::parse("*/10 * * * * *").expect("valid");
        let next = every_ten_seconds
            .next_after(t("2024-01-01T12:00:03Z"), &TimeZone::UTC)
            .expect("next");
        assert_eq!(next.timestamp(), t("2024-01-01T12:00:10Z"));
        // Strictly after: a time that matches exactly yields the following occurrence.
        let next = every_ten_seconds
            .next_after(t("2024-01-01T12:00:10Z"), &TimeZone::UTC)
            .expect("next");
        assert_eq!(next.timestamp(), t("2024-01-01T12:00:20Z"));
    }

    #[test]
    fn cron_is_evaluated_in_the_zone() {
        let daily = CronSchedule::parse("0 3 * * *").expect("valid");
        let berlin = jiff::tz::db().get("Europe/Berlin").expect("zone");
        let next = daily
            .next_after(t("2024-01-01T12:00:00Z"), &berlin)
            .expect("next");
        assert_eq!(next.timestamp(), t("2024-01-02T02:00:00Z"));
    }

    #[test]
    fn bad_cron_expressions_are_rejected() {
        for bad in ["", "61 * * * *", "* * *", "a b c d e"] {
            assert!(
                matches!(CronSchedule::parse(bad), Err(ScheduleError::BadCron { .. })),
                "{bad:?} should not parse"
            );
        }
    }
}
