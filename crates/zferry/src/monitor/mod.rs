//! Freshness against limits: how old the newest replicated snapshot is per filesystem (lag),
//! how old the newest snapshot per prefix is, and how long ago the last successful run ended,
//! each compared with the job's `monitor` limits.
//!
//! The daemon and `zferry check` share this: they differ only in where the observations come
//! from. The daemon's active jobs see both sides after every run ([`observe::lag_from_listings`]);
//! `zferry check` sees only the local ZFS ([`local`]): a sender knows the creation time of its
//! replication cursor, a receiver the creation time of the snapshots it received (`zfs recv`
//! keeps the sender's), and both are the creation time of the newest snapshot the two sides
//! share, so both hosts compute the same lag.

pub mod local;
pub mod observe;

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::config::monitor::{Limits, Monitor};

/// The state of one check, in the order of severity `zferry check` and the status use: an
/// unknown state is worse than a warning, as it may hide a critical one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Within the limits (or no limit set).
    Ok,
    /// Above the warning limit.
    Warn,
    /// The figure cannot be known (nothing in common yet, ZFS unreadable).
    Unknown,
    /// Above the critical limit.
    Crit,
}

impl Level {
    /// The monitoring-plugins word (`OK`, `WARNING`, `CRITICAL`, `UNKNOWN`).
    pub fn plugin_word(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warn => "WARNING",
            Level::Unknown => "UNKNOWN",
            Level::Crit => "CRITICAL",
        }
    }

    /// The monitoring-plugins exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Level::Ok => 0,
            Level::Warn => 1,
            Level::Crit => 2,
            Level::Unknown => 3,
        }
    }

    /// The short word of `zferry status` (`ok`, `warn`, `crit`, `unknown`).
    pub fn word(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Unknown => "unknown",
            Level::Crit => "crit",
        }
    }
}

/// The level of an age against limits.
pub fn level_of(age_seconds: u64, limits: Option<Limits>) -> Level {
    let above = |limit: Option<crate::config::duration::PositiveDuration>| {
        limit.is_some_and(|l| age_seconds > l.as_std().as_secs())
    };
    let limits = limits.unwrap_or_default();
    if above(limits.crit) {
        Level::Crit
    } else if above(limits.warn) {
        Level::Warn
    } else {
        Level::Ok
    }
}

/// What a check measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// Age of the newest sender snapshot present on the receiver.
    Lag,
    /// Age of the newest snapshot with a prefix.
    SnapshotAge,
    /// Time since the last fully successful run ended.
    LastSuccess,
    /// Whether the last run failed (`zferry check --failures`; no figure).
    LastRun,
}

/// One figure against its limits, as status JSON, `zferry status` and `zferry check` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckStatus {
    /// What is measured.
    pub kind: CheckKind,
    /// The filesystem (sender-side name); absent for `last_success`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<String>,
    /// The other side of the lane, where one job has many (a sink's or a source's clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// The snapshot prefix of a `snapshot_age` check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The time the age is counted from (snapshot creation, end of the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// The age in seconds, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_seconds: Option<u64>,
    /// The warning limit in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_seconds: Option<u64>,
    /// The critical limit in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crit_seconds: Option<u64>,
    /// The state.
    pub level: Level,
    /// Why the state is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl CheckStatus {
    /// The check's label in messages and perfdata: `lag pool/fs`, `snapshots pool/fs@prefix`,
    /// `last_success`.
    pub fn label(&self) -> String {
        let fs = match &self.peer {
            Some(peer) => format!("{peer}:{}", self.filesystem.as_deref().unwrap_or("")),
            None => self.filesystem.clone().unwrap_or_default(),
        };
        let label = match self.kind {
            CheckKind::Lag => format!("lag {fs}"),
            CheckKind::SnapshotAge if self.prefix.is_some() || !fs.is_empty() => {
                format!("snapshots {fs}@{}", self.prefix.as_deref().unwrap_or(""))
            }
            CheckKind::SnapshotAge => "snapshots".to_string(),
            CheckKind::LastSuccess => "last_success".to_string(),
            CheckKind::LastRun => "last_run".to_string(),
        };
        label.trim_end().to_string()
    }
}

/// A job's checks and their worst level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorStatus {
    /// The worst level of all checks.
    pub level: Level,
    /// The checks, lag first, then snapshot ages, then last success.
    pub checks: Vec<CheckStatus>,
}

/// A filesystem of one lane.
pub type LagKey = (Option<String>, String);

/// What was observed, before it is compared with limits at a given time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Per lane peer (`None` where the job has one lane) and replicated filesystem (sender-side
    /// name): the creation time of the newest sender snapshot present on the receiver; `None`
    /// when the two sides share none. `None` for the whole map when it was never observed.
    pub lag: Option<BTreeMap<LagKey, Option<Timestamp>>>,
    /// Why the lag is unknown when it could not be observed.
    pub lag_error: Option<String>,
    /// Per filesystem and prefix: the creation time of the newest snapshot with that prefix.
    pub snapshots: BTreeMap<String, BTreeMap<String, Option<Timestamp>>>,
    /// Why the snapshot ages are unknown.
    pub snapshots_error: Option<String>,
    /// The end of the last fully successful run (`None`: none since the daemon started).
    pub last_success: Option<Timestamp>,
}

/// Which checks to assess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// Replication lag per filesystem.
    pub lag: bool,
    /// Snapshot age per filesystem and prefix.
    pub snapshots: bool,
    /// Time since the last success.
    pub last_success: bool,
}

impl Selection {
    /// Every check.
    pub const ALL: Selection = Selection {
        lag: true,
        snapshots: true,
        last_success: true,
    };
}

fn seconds(limit: Option<crate::config::duration::PositiveDuration>) -> Option<u64> {
    limit.map(|l| l.as_std().as_secs())
}

fn age_check(
    kind: CheckKind,
    filesystem: Option<&str>,
    prefix: Option<&str>,
    since: Option<Timestamp>,
    limits: Option<Limits>,
    now: Timestamp,
) -> CheckStatus {
    let age = since.map(|t| u64::try_from(now.duration_since(t).as_secs()).unwrap_or(0));
    let l = limits.unwrap_or_default();
    CheckStatus {
        kind,
        filesystem: filesystem.map(str::to_string),
        peer: None,
        prefix: prefix.map(str::to_string),
        since,
        age_seconds: age,
        warn_seconds: seconds(l.warn),
        crit_seconds: seconds(l.crit),
        level: age.map_or(Level::Unknown, |a| level_of(a, limits)),
        reason: None,
    }
}

fn unknown(kind: CheckKind, limits: Option<Limits>, reason: &str) -> CheckStatus {
    let mut c = age_check(kind, None, None, None, limits, Timestamp::UNIX_EPOCH);
    c.reason = Some(reason.to_string());
    c
}

fn lag_checks(observed: &Observed, monitor: &Monitor, now: Timestamp) -> Vec<CheckStatus> {
    let Some(lag) = &observed.lag else {
        let reason = observed
            .lag_error
            .as_deref()
            .unwrap_or("not observed yet (no run since the daemon started)");
        return vec![unknown(CheckKind::Lag, monitor.lag, reason)];
    };
    lag.iter()
        .map(|((peer, fs), newest)| {
            let mut c = age_check(
                CheckKind::Lag,
                Some(fs),
                None,
                *newest,
                monitor.lag_for(fs),
                now,
            );
            c.peer = peer.clone();
            if newest.is_none() {
                c.reason = Some("no snapshot of the sender is on the receiver yet".into());
            }
            c
        })
        .collect()
}

fn snapshot_checks(observed: &Observed, monitor: &Monitor, now: Timestamp) -> Vec<CheckStatus> {
    if let Some(e) = &observed.snapshots_error {
        return vec![unknown(CheckKind::SnapshotAge, None, e)];
    }
    let mut checks = Vec::new();
    for (fs, prefixes) in &observed.snapshots {
        let limits = monitor.snapshots_for(fs);
        for (prefix, newest) in prefixes {
            let limit = limits
                .iter()
                .find(|l| &l.prefix == prefix)
                .map(|l| l.limits);
            let mut c = age_check(
                CheckKind::SnapshotAge,
                Some(fs),
                Some(prefix),
                *newest,
                limit,
                now,
            );
            if newest.is_none() {
                c.reason = Some(format!("no snapshot named `{prefix}…`"));
            }
            checks.push(c);
        }
    }
    checks
}

/// Compares `observed` with the limits of `monitor` at `now`. `runs` says whether the job has
/// runs (only then is `last_success` assessed).
pub fn assess(
    observed: &Observed,
    monitor: &Monitor,
    selection: Selection,
    runs: bool,
    now: Timestamp,
) -> MonitorStatus {
    let mut checks = Vec::new();
    if selection.lag && (observed.lag.is_some() || observed.lag_error.is_some()) {
        checks.extend(lag_checks(observed, monitor, now));
    }
    if selection.snapshots {
        checks.extend(snapshot_checks(observed, monitor, now));
    }
    if selection.last_success && runs {
        let mut c = age_check(
            CheckKind::LastSuccess,
            None,
            None,
            observed.last_success,
            monitor.last_success,
            now,
        );
        if observed.last_success.is_none() {
            c.reason = Some("no successful run since the daemon started".into());
            // Without a limit, a daemon that has not finished its first run is not unknown.
            if monitor.last_success.is_none() {
                c.level = Level::Ok;
            }
        }
        checks.push(c);
    }
    MonitorStatus {
        level: checks.iter().map(|c| c.level).max().unwrap_or(Level::Ok),
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::duration::PositiveDuration;

    fn limits(warn: &str, crit: &str) -> Option<Limits> {
        Some(Limits {
            warn: PositiveDuration::parse(warn).ok(),
            crit: PositiveDuration::parse(crit).ok(),
        })
    }

    fn t(s: &str) -> Timestamp {
        s.parse().expect("time")
    }

    #[test]
    fn ages_above_a_limit_reach_its_level() {
        let l = limits("15m", "1h");
        assert_eq!(level_of(900, l), Level::Ok);
        assert_eq!(level_of(901, l), Level::Warn);
        assert_eq!(level_of(3601, l), Level::Crit);
        assert_eq!(level_of(1_000_000, None), Level::Ok);
    }

    #[test]
    fn the_job_level_is_the_worst_filesystem() {
        let monitor = Monitor {
            lag: limits("15m", "1h"),
            ..Monitor::default()
        };
        let observed = Observed {
            lag: Some(BTreeMap::from([
                ((None, "p/a".to_string()), Some(t("2024-01-01T11:50:00Z"))),
                ((None, "p/b".to_string()), Some(t("2024-01-01T11:40:00Z"))),
                ((None, "p/c".to_string()), None),
            ])),
            ..Observed::default()
        };
        let s = assess(
            &observed,
            &monitor,
            Selection::ALL,
            false,
            t("2024-01-01T12:00:00Z"),
        );
        let levels: Vec<Level> = s.checks.iter().map(|c| c.level).collect();
        assert_eq!(levels, [Level::Ok, Level::Warn, Level::Unknown]);
        assert_eq!(s.level, Level::Unknown);
        assert_eq!(s.checks[1].age_seconds, Some(1200));
        assert_eq!(s.checks[1].label(), "lag p/b");
    }

    #[test]
    fn no_success_yet_is_unknown_only_with_a_limit() {
        let observed = Observed::default();
        let now = t("2024-01-01T12:00:00Z");
        let plain = assess(&observed, &Monitor::default(), Selection::ALL, true, now);
        assert_eq!(plain.level, Level::Ok);
        let limited = Monitor {
            last_success: limits("1h", "1d"),
            ..Monitor::default()
        };
        assert_eq!(
            assess(&observed, &limited, Selection::ALL, true, now).level,
            Level::Unknown
        );
    }
}
