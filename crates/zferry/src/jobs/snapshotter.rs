//! The snapshotter of push, source and snap jobs: `periodic` (with zrepl's sync-up to the newest
//! prefixed snapshot), `cron` or `manual`. Each round snapshots every matching filesystem under
//! one name, atomically per pool, with the configured hooks ([`crate::daemon::snapshot::round`]),
//! and then wakes the job (a push replicates, a snap job prunes).

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use zferry_zfs::{DatasetPath, SnapshotName, VersionQuery, Zfs};

use super::datasets::matching_filesystems;
use super::shared::JobShared;
use super::trigger::Trigger;
use crate::config::filesystems::FilesystemsFilter;
use crate::config::snapshotting::Snapshotting;
use crate::daemon::hooks::Hook;
use crate::daemon::snapshot::batch::{DEFAULT_ARG_BUDGET, SnapshotInvocation};
use crate::daemon::snapshot::naming::SnapshotNamer;
use crate::daemon::snapshot::round::{Round, SnapshotCreator, run_round};
use crate::daemon::snapshot::schedule::{NewestSnapshot, periodic_next_round, periodic_sync_point};
use crate::daemon::status::{SnapshotterKind, SnapshotterState, SnapshottingStatus};

/// How many recent errors the status keeps.
const MAX_ERRORS: usize = 10;
/// Wait after a failed sync-up before trying again.
const SYNC_UP_RETRY: Duration = Duration::from_secs(10);

/// A job's snapshotter.
pub struct Snapshotter {
    /// The job's name (for logs).
    pub job: String,
    /// The ZFS driver.
    pub zfs: Zfs,
    /// Listing roots of the filter.
    pub roots: Vec<DatasetPath>,
    /// The job's `filesystems`.
    pub filter: FilesystemsFilter,
    /// The configuration.
    pub config: Snapshotting,
    /// Names the snapshots (`None` for manual).
    pub namer: Option<SnapshotNamer>,
    /// The hooks, in configuration order.
    pub hooks: Vec<Arc<dyn Hook>>,
    /// Where the status goes.
    pub shared: Arc<JobShared>,
    /// Woken after each round.
    pub after_round: Option<Trigger>,
}

/// `zfs snapshot` through the driver.
struct ZfsCreator(Zfs);

#[async_trait::async_trait]
impl SnapshotCreator for ZfsCreator {
    async fn create(&self, invocation: &SnapshotInvocation) -> Result<(), String> {
        let names = invocation
            .snapshots
            .iter()
            .map(|s| SnapshotName::parse(s).map_err(|e| format!("{s}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        self.0.snapshot(&names).await.map_err(|e| e.to_string())
    }
}

async fn sleep_until(at: Timestamp) {
    let wait = at.duration_since(Timestamp::now());
    if let Ok(wait) = Duration::try_from(wait) {
        tokio::time::sleep(wait).await;
    }
}

impl Snapshotter {
    fn kind(&self) -> SnapshotterKind {
        match self.config {
            Snapshotting::Periodic(_) => SnapshotterKind::Periodic,
            Snapshotting::Cron(_) => SnapshotterKind::Cron,
            Snapshotting::Manual => SnapshotterKind::Manual,
        }
    }

    fn set(&self, state: SnapshotterState, next_at: Option<Timestamp>) {
        let kind = self.kind();
        self.shared.update(|s| {
            let snap = s.snapshotting.get_or_insert_with(|| SnapshottingStatus {
                kind,
                state,
                next_at: None,
                last_round: None,
                errors: Vec::new(),
            });
            snap.state = state;
            snap.next_at = next_at;
        });
    }

    fn error(&self, error: String) {
        tracing::error!(job = %self.job, subsystem = "snapshotting", %error, "snapshotting failed");
        self.shared.update(|s| {
            if let Some(snap) = s.snapshotting.as_mut() {
                snap.errors.push(error);
                let excess = snap.errors.len().saturating_sub(MAX_ERRORS);
                snap.errors.drain(..excess);
            }
        });
    }

    /// Runs until the task is aborted.
    pub async fn run(self) {
        match &self.config {
            Snapshotting::Manual => {
                self.set(SnapshotterState::Idle, None);
                std::future::pending::<()>().await;
            }
            Snapshotting::Periodic(p) => {
                let interval = p.interval.as_std();
                let mut next = loop {
                    self.set(SnapshotterState::SyncUp, None);
                    match self.sync_point(&p.prefix, interval).await {
                        Ok(at) => break at,
                        Err(e) => {
                            self.error(e);
                            self.set(SnapshotterState::ErrorWait, None);
                            tokio::time::sleep(SYNC_UP_RETRY).await;
                        }
                    }
                };
                loop {
                    self.set(SnapshotterState::Waiting, Some(next));
                    sleep_until(next).await;
                    let started = Timestamp::now();
                    self.round(started).await;
                    next = periodic_next_round(started, interval).unwrap_or(started);
                    // Never schedule into the past after a slow round.
                    if next < Timestamp::now() {
                        next = Timestamp::now();
                    }
                }
            }
            Snapshotting::Cron(c) => {
                // The namer was built from the same `timestamp_location`.
                let zone = self
                    .namer
                    .as_ref()
                    .map_or(TimeZone::UTC, |n| n.zone().clone());
                loop {
                    let next = match c.cron.schedule().next_after(Timestamp::now(), &zone) {
                        Ok(z) => z.timestamp(),
                        Err(e) => {
                            self.error(e.to_string());
                            self.set(SnapshotterState::Idle, None);
                            std::future::pending::<()>().await;
                            return;
                        }
                    };
                    self.set(SnapshotterState::Waiting, Some(next));
                    sleep_until(next).await;
                    self.round(Timestamp::now()).await;
                }
            }
        }
    }

    /// zrepl's sync-up: the first round follows the newest snapshot with our prefix.
    async fn sync_point(&self, prefix: &str, interval: Duration) -> Result<Timestamp, String> {
        let filesystems = matching_filesystems(&self.zfs, &self.roots, &self.filter).await?;
        let versions = self
            .zfs
            .list_versions(
                &filesystems,
                VersionQuery {
                    bookmarks: false,
                    recursive: false,
                    creation: true,
                    ..VersionQuery::default()
                },
            )
            .await
            .map_err(|e| format!("listing snapshots for sync-up: {e}"))?;
        let newest: Vec<NewestSnapshot> = filesystems
            .iter()
            .map(|fs| NewestSnapshot {
                filesystem: fs.to_string(),
                creation: versions
                    .iter()
                    .filter(|v| &v.version.dataset == fs && v.version.name.starts_with(prefix))
                    .max_by_key(|v| v.version.createtxg)
                    .and_then(|v| v.version.creation)
                    .and_then(|c| Timestamp::from_second(c).ok()),
            })
            .collect();
        let point =
            periodic_sync_point(Timestamp::now(), interval, &newest).map_err(|e| e.to_string())?;
        for fs in &point.from_the_future {
            tracing::warn!(job = %self.job, filesystem = %fs, "newest snapshot is from the future; ignored for sync-up");
        }
        Ok(point.at)
    }

    async fn round(&self, at: Timestamp) {
        let Some(namer) = &self.namer else { return };
        self.set(SnapshotterState::Snapshotting, None);
        let filesystems = match matching_filesystems(&self.zfs, &self.roots, &self.filter).await {
            Ok(f) => f.into_iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            Err(e) => {
                self.error(e);
                return;
            }
        };
        let snapname = namer.name_at(at);
        let report = run_round(
            Round {
                filesystems: &filesystems,
                snapname: &snapname,
                hooks: &self.hooks,
                dry_run: false,
                arg_budget: DEFAULT_ARG_BUDGET,
            },
            &ZfsCreator(self.zfs.clone()),
        )
        .await;
        if report.ok() {
            tracing::info!(job = %self.job, subsystem = "snapshotting", snapshot = %snapname, filesystems = filesystems.len(), "snapshot round done");
        } else {
            self.error(format!("round {snapname} had errors"));
        }
        self.shared.update(|s| {
            if let Some(snap) = s.snapshotting.as_mut() {
                snap.last_round = Some(report);
            }
        });
        if let Some(trigger) = &self.after_round {
            trigger.wake();
        }
    }
}
