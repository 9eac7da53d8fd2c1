//! `snapshotting`: when a job takes snapshots (`periodic`, `cron`, `manual`), how they are
//! named (`prefix` + timestamp in `timestamp_format` at `timestamp_location`) and which hooks run
//! around them.
//!
//! Naming and cron syntax are checked with the same code the daemon's snapshotter uses
//! ([`crate::daemon::snapshot`]), so a configuration that passes `configcheck` names snapshots
//! the way the daemon will.

use serde::{Serialize, Serializer};
use std::path::PathBuf;

use super::decode::{DResult, Fields, Path, fail, list_of, non_empty, parsed, string, type_tag};
use super::duration::{GoDuration, POSITIVE_DURATION_EXPECTED, PositiveDuration};
use super::filesystems::{FilesystemsFilter, decode_filesystems};
use super::global::positive_go_duration;
use super::yaml::Node;
use crate::daemon::snapshot::naming::SnapshotNamer;
use crate::daemon::snapshot::schedule::{CronSchedule, ScheduleError};

/// When and how a job snapshots.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Snapshotting {
    /// Every `interval`, aligned to the newest existing snapshot with the prefix.
    Periodic(PeriodicSnapshotting),
    /// At the times of a cron expression.
    Cron(CronSnapshotting),
    /// Never by itself (another job or the administrator snapshots).
    Manual,
}

/// `type: periodic`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PeriodicSnapshotting {
    /// Snapshot name prefix; the snapshotter only considers snapshots with this prefix its own.
    pub prefix: String,
    /// Time between snapshots.
    pub interval: PositiveDuration,
    /// Hooks run before and after each snapshot.
    pub hooks: Vec<Hook>,
    /// Timestamp format (default `dense`).
    pub timestamp_format: String,
    /// Timestamp zone (default `UTC`).
    pub timestamp_location: String,
}

/// `type: cron`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CronSnapshotting {
    /// Snapshot name prefix.
    pub prefix: String,
    /// Cron expression: 5 fields (minute hour day-of-month month day-of-week) or 6 with
    /// leading seconds.
    pub cron: CronSpec,
    /// Hooks run before and after each snapshot.
    pub hooks: Vec<Hook>,
    /// Timestamp format (default `dense`).
    pub timestamp_format: String,
    /// Timestamp zone (default `UTC`).
    pub timestamp_location: String,
}

/// A validated cron expression.
#[derive(Clone, Debug)]
pub struct CronSpec {
    expr: String,
    schedule: Box<CronSchedule>,
}

impl CronSpec {
    /// Checks zrepl's cron grammar: 5 fields, or 6 with leading seconds; no `@` descriptors.
    pub fn parse(expr: &str) -> Result<Self, String> {
        if expr.contains('@') {
            return Err("descriptors such as `@daily` are not supported".to_owned());
        }
        let fields = expr.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(format!(
                "has {fields} fields, expected 5 (minute hour day-of-month month day-of-week) or 6 (with leading seconds)"
            ));
        }
        let schedule = CronSchedule::parse(expr).map_err(|e| match e {
            ScheduleError::BadCron { why, .. } => why,
            other => other.to_string(),
        })?;
        Ok(Self {
            expr: expr.to_owned(),
            schedule: Box::new(schedule),
        })
    }

    /// The expression as written.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The parsed schedule.
    pub fn schedule(&self) -> &CronSchedule {
        &self.schedule
    }
}

impl PartialEq for CronSpec {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr
    }
}

impl Serialize for CronSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.expr)
    }
}

impl Snapshotting {
    /// The snapshot namer of a periodic or cron snapshotter (`None` for `manual`). The
    /// configuration was validated with the same call, so this only fails if the time zone
    /// database changed since.
    pub fn namer(&self) -> Option<Result<SnapshotNamer, String>> {
        let (prefix, format, location) = match self {
            Snapshotting::Periodic(p) => (&p.prefix, &p.timestamp_format, &p.timestamp_location),
            Snapshotting::Cron(c) => (&c.prefix, &c.timestamp_format, &c.timestamp_location),
            Snapshotting::Manual => return None,
        };
        Some(SnapshotNamer::new(prefix, format, location).map_err(|e| e.to_string()))
    }

    /// The hooks of this snapshotter.
    pub fn hooks(&self) -> &[Hook] {
        match self {
            Snapshotting::Periodic(p) => &p.hooks,
            Snapshotting::Cron(c) => &c.hooks,
            Snapshotting::Manual => &[],
        }
    }
}

/// A hook run around snapshots.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Hook {
    /// An executable run before and after the snapshot of each matching filesystem.
    #[serde(rename = "command")]
    Command(CommandHook),
    /// `CHECKPOINT` on a PostgreSQL server before the snapshot.
    #[serde(rename = "postgres-checkpoint")]
    PostgresCheckpoint(DatabaseHook),
    /// `FLUSH TABLES WITH READ LOCK` on a MySQL server during the snapshot.
    #[serde(rename = "mysql-lock-tables")]
    MysqlLockTables(DatabaseHook),
}

/// `type: command`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommandHook {
    /// Absolute path of the executable (no arguments).
    pub path: PathBuf,
    /// Kill the hook after this long (default `30s`).
    pub timeout: GoDuration,
    /// Filesystems the hook runs for (default: all, `{"<": true}`).
    pub filesystems: FilesystemsFilter,
    /// Whether a failing pre-snapshot hook prevents the snapshot (default `false`).
    pub err_is_fatal: bool,
}

/// `type: postgres-checkpoint` and `type: mysql-lock-tables`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DatabaseHook {
    /// Connection string of the database server.
    pub dsn: String,
    /// Give up after this long (default `30s`).
    pub timeout: GoDuration,
    /// Filesystems that hold the database (required).
    pub filesystems: FilesystemsFilter,
    /// Whether a failing hook prevents the snapshot (default `false`).
    pub err_is_fatal: bool,
}

pub(crate) fn decode_snapshotting(node: &Node, path: &Path) -> DResult<Snapshotting> {
    let ty = type_tag(node, path, &["periodic", "cron", "manual"])?;
    match ty.as_str() {
        "manual" => {
            Fields::new(node, path, &["type"])?;
            Ok(Snapshotting::Manual)
        }
        "periodic" => {
            let f = Fields::new(
                node,
                path,
                &[
                    "type",
                    "prefix",
                    "interval",
                    "hooks",
                    "timestamp_format",
                    "timestamp_location",
                ],
            )?;
            let prefix = f.req("prefix", non_empty)?;
            let interval = f.req("interval", |n, p| {
                parsed(n, p, POSITIVE_DURATION_EXPECTED, PositiveDuration::parse)
            })?;
            let hooks = f.or("hooks", Vec::new(), |n, p| {
                list_of(n, p, false, decode_hook)
            })?;
            let (timestamp_format, timestamp_location) = naming(&f, &prefix)?;
            Ok(Snapshotting::Periodic(PeriodicSnapshotting {
                prefix,
                interval,
                hooks,
                timestamp_format,
                timestamp_location,
            }))
        }
        _ => {
            let f = Fields::new(
                node,
                path,
                &[
                    "type",
                    "prefix",
                    "cron",
                    "hooks",
                    "timestamp_format",
                    "timestamp_location",
                ],
            )?;
            let prefix = f.req("prefix", non_empty)?;
            let cron = f.req("cron", |n, p| {
                parsed(
                    n,
                    p,
                    "a cron expression like `*/5 * * * *`",
                    CronSpec::parse,
                )
            })?;
            let hooks = f.or("hooks", Vec::new(), |n, p| {
                list_of(n, p, false, decode_hook)
            })?;
            let (timestamp_format, timestamp_location) = naming(&f, &prefix)?;
            Ok(Snapshotting::Cron(CronSnapshotting {
                prefix,
                cron,
                hooks,
                timestamp_format,
                timestamp_location,
            }))
        }
    }
}

/// `timestamp_format` and `timestamp_location`, checked together with the prefix.
fn naming(f: &Fields<'_>, prefix: &str) -> DResult<(String, String)> {
    let format = f.or("timestamp_format", "dense".to_owned(), string)?;
    let location = f.or("timestamp_location", "UTC".to_owned(), string)?;
    if let Err(e) = SnapshotNamer::new(prefix, &format, &location) {
        // Point at the key that is most likely wrong: the location if one was given.
        let (node, path) = f
            .get("timestamp_location")
            .or_else(|| f.get("timestamp_format"))
            .or_else(|| f.get("prefix"))
            .unwrap_or((f.node(), f.path().clone()));
        return fail(node, &path, format!("invalid snapshot naming: {e}"));
    }
    Ok((format, location))
}

fn decode_hook(node: &Node, path: &Path) -> DResult<Hook> {
    let ty = type_tag(
        node,
        path,
        &["command", "postgres-checkpoint", "mysql-lock-tables"],
    )?;
    let thirty = GoDuration::from_secs(30);
    if ty == "command" {
        let f = Fields::new(
            node,
            path,
            &["type", "path", "timeout", "filesystems", "err_is_fatal"],
        )?;
        let hook_path = f.req("path", |n, p| {
            let s = non_empty(n, p)?;
            if !s.starts_with('/') {
                return fail(n, p, format!("found `{s}`, expected an absolute path"));
            }
            Ok(PathBuf::from(s))
        })?;
        return Ok(Hook::Command(CommandHook {
            path: hook_path,
            timeout: f.or("timeout", thirty, positive_go_duration)?,
            filesystems: f.or("filesystems", FilesystemsFilter::all(), decode_filesystems)?,
            err_is_fatal: f.flag("err_is_fatal", false)?,
        }));
    }
    let f = Fields::new(
        node,
        path,
        &["type", "dsn", "timeout", "filesystems", "err_is_fatal"],
    )?;
    let hook = DatabaseHook {
        dsn: f.req("dsn", non_empty)?,
        timeout: f.or("timeout", thirty, positive_go_duration)?,
        filesystems: f.req("filesystems", decode_filesystems)?,
        err_is_fatal: f.flag("err_is_fatal", false)?,
    };
    Ok(if ty == "postgres-checkpoint" {
        Hook::PostgresCheckpoint(hook)
    } else {
        Hook::MysqlLockTables(hook)
    })
}
