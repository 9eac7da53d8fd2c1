//! The status model: what `GET /status` on the control socket returns and what `zferry status`
//! renders. It is plain data (serde), filled by the jobs; the JSON shape is part of zferry's
//! interface (`zferry status --mode raw`), so fields are only ever added.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::snapshot::round::RoundReport;
use crate::monitor::MonitorStatus;

/// The whole daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// The daemon's version.
    pub version: String,
    /// When the daemon started.
    pub started_at: Timestamp,
    /// Jobs by name.
    pub jobs: BTreeMap<String, JobStatus>,
}

/// The kind of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobType {
    /// Snapshots, replicates to a sink, prunes both sides.
    Push,
    /// Receives from push jobs.
    Sink,
    /// Pulls from a source, prunes both sides.
    Pull,
    /// Serves pull jobs (and snapshots).
    Source,
    /// Snapshots and prunes locally.
    Snap,
}

/// What a job is doing right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for the next run (or a wakeup).
    Idle,
    /// Replicating.
    Replicating,
    /// Pruning.
    Pruning,
    /// Serving requests (passive jobs).
    Serving,
    /// The job could not be set up (see `setup_error`).
    SetupFailed,
}

/// One job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    /// The kind of job.
    #[serde(rename = "type")]
    pub job_type: JobType,
    /// What it does now.
    pub state: JobState,
    /// Why setup failed (state `setup_failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_error: Option<String>,
    /// When the next run is due (active jobs with an interval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run_at: Option<Timestamp>,
    /// The current or last replication attempt (push, pull).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationStatus>,
    /// The current or last pruning run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruning: Option<PruningStatus>,
    /// The snapshotter (push, source, snap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshotting: Option<SnapshottingStatus>,
    /// What looked wrong in the last run although nothing failed (a filter that matches no
    /// dataset).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Lag, snapshot ages and last success against the job's `monitor` limits (push, pull,
    /// snap), assessed when the status is asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<MonitorStatus>,
}

impl JobStatus {
    /// A job of `job_type` in `state` with nothing else known yet.
    pub fn new(job_type: JobType, state: JobState) -> JobStatus {
        JobStatus {
            job_type,
            state,
            setup_error: None,
            next_run_at: None,
            replication: None,
            pruning: None,
            snapshotting: None,
            warnings: Vec::new(),
            monitor: None,
        }
    }
}

/// Where a replication attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptState {
    /// Listing both sides and computing steps.
    Planning,
    /// Sending and receiving.
    Running,
    /// Every filesystem done.
    Done,
    /// Some filesystems or the whole attempt failed.
    Failed,
}

/// One replication attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicationStatus {
    /// Number of this attempt within the current run, starting at 1.
    pub attempt: u32,
    /// Where it stands.
    pub state: AttemptState,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// An error of the whole attempt (e.g. cannot connect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// After a temporary failure: when the peers are asked again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_retry_at: Option<Timestamp>,
    /// After a temporary failure: when the run gives up (the reconnect deadline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gives_up_at: Option<Timestamp>,
    /// Estimated bytes of all steps.
    pub bytes_expected: u64,
    /// Bytes replicated so far.
    pub bytes_replicated: u64,
    /// Current transfer rate in bytes per second.
    pub rate_bytes_per_sec: u64,
    /// Per filesystem, sorted by name.
    pub filesystems: Vec<FsReplicationStatus>,
}

/// Where the replication of one filesystem stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsReplicationState {
    /// Steps being computed.
    Planning,
    /// Waiting for a concurrency slot.
    Queued,
    /// Sending a step.
    Stepping,
    /// Up to date.
    Done,
    /// Failed permanently in this attempt.
    Failed,
    /// Nothing to do (e.g. filtered out, placeholder).
    Skipped,
}

/// One filesystem in a replication attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsReplicationStatus {
    /// The filesystem (sender side name).
    pub filesystem: String,
    /// Where it stands.
    pub state: FsReplicationState,
    /// Steps completed (the `i` of "step i/n").
    pub steps_done: u32,
    /// Steps planned (the `n`).
    pub steps_total: u32,
    /// The step being sent, e.g. `@a -> @b`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step: Option<String>,
    /// Estimated bytes of all its steps.
    pub bytes_expected: u64,
    /// Bytes sent so far.
    pub bytes_replicated: u64,
    /// Steps that resumed an interrupted receive instead of starting over.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub resumed_steps: u32,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Pruning of both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruningStatus {
    /// The sending side (or the only side, for snap jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<PruneSideStatus>,
    /// The receiving side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<PruneSideStatus>,
}

/// Where pruning of one side stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PruneState {
    /// Not started.
    Pending,
    /// Listing and destroying.
    Running,
    /// Finished.
    Done,
    /// Failed.
    Failed,
}

/// Pruning of one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneSideStatus {
    /// Where it stands.
    pub state: PruneState,
    /// An error of the whole side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Per filesystem.
    pub filesystems: Vec<FsPruneStatus>,
}

/// Pruning of one filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsPruneStatus {
    /// The filesystem.
    pub filesystem: String,
    /// Snapshots kept (every snapshot not destroyed).
    pub keep: u32,
    /// Snapshots destroyed (or to destroy).
    pub destroy: u32,
    /// Snapshots the rules would destroy but that are kept, each as `name: why` (a replication
    /// cursor points at it, it has a hold).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protected: Vec<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How a job snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotterKind {
    /// `periodic`.
    Periodic,
    /// `cron`.
    Cron,
    /// `manual`.
    Manual,
}

/// What the snapshotter does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotterState {
    /// Finding the sync point (periodic, at start).
    SyncUp,
    /// Waiting for the next round.
    Waiting,
    /// Running a round.
    Snapshotting,
    /// Waiting after a failed round.
    ErrorWait,
    /// Manual: never snapshots.
    Idle,
}

/// The snapshotter of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshottingStatus {
    /// Periodic, cron or manual.
    pub kind: SnapshotterKind,
    /// What it does now.
    pub state: SnapshotterState,
    /// When the next round is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_at: Option<Timestamp>,
    /// The current or last round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_round: Option<RoundReport>,
    /// Errors (failed rounds, cron ticks skipped because a round was still running).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}
