//! The replication report: attempts -> filesystems -> steps, serialisable for `status`.
//!
//! The engine updates a shared [`Progress`] while it runs; readers take consistent copies with
//! [`Progress::snapshot`].

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::endpoint::{EndpointError, ErrorKind, FsPath, Incremental};

/// Current time in Unix seconds.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A whole replication run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// When the run started (Unix seconds).
    pub started_at: i64,
    /// When it finished, once it has.
    pub finished_at: Option<i64>,
    /// The attempts, oldest first.
    pub attempts: Vec<AttemptReport>,
}

impl Report {
    /// The most recent attempt.
    pub fn last_attempt(&self) -> Option<&AttemptReport> {
        self.attempts.last()
    }

    /// Whether the last attempt finished without any failed filesystem.
    pub fn succeeded(&self) -> bool {
        self.last_attempt().is_some_and(|a| {
            a.error.is_none() && a.filesystems.iter().all(|f| !f.state.is_failure())
        })
    }

    /// The report of `path` in the last attempt.
    pub fn filesystem(&self, path: &str) -> Option<&FsReport> {
        self.last_attempt()?
            .filesystems
            .iter()
            .find(|f| f.path.as_str() == path)
    }
}

/// One attempt: a listing, a plan and its execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptReport {
    /// 1-based attempt number.
    pub number: u32,
    /// When the attempt started (Unix seconds).
    pub started_at: i64,
    /// When it finished.
    pub finished_at: Option<i64>,
    /// Where the attempt is.
    pub state: AttemptState,
    /// An error that stopped the whole attempt (listing failed, peer unreachable).
    pub error: Option<ReportError>,
    /// Per filesystem, sorted by path.
    pub filesystems: Vec<FsReport>,
    /// While waiting for the peers after a temporary failure: when they are asked next (Unix
    /// seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_retry_at: Option<i64>,
    /// While waiting for the peers: when the run gives up (the reconnect deadline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gives_up_at: Option<i64>,
}

/// Progress of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptState {
    /// Listing both sides and planning.
    Planning,
    /// Running steps.
    Executing,
    /// Finished (see the filesystems for failures).
    Done,
    /// Could not plan or execute at all.
    Failed,
}

/// One filesystem within an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsReport {
    /// The filesystem (sender namespace).
    pub path: FsPath,
    /// Its state.
    pub state: FsState,
    /// Why it failed or is blocked.
    pub error: Option<ReportError>,
    /// The planned steps.
    pub steps: Vec<StepReport>,
}

/// State of one filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsState {
    /// Steps planned, not started.
    Planned,
    /// Waiting for its parent's initial replication.
    Waiting,
    /// A step is running.
    Running,
    /// All steps done.
    Done,
    /// Nothing to do.
    UpToDate,
    /// Nothing to send (no snapshots).
    NothingToSend,
    /// A conflict prevents replication.
    Conflict,
    /// A step failed.
    Failed,
    /// Its parent's initial replication failed.
    ParentFailed,
    /// Failed permanently in an earlier attempt; not retried.
    Skipped,
}

impl FsState {
    /// Whether this state counts as a failure of the run.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            FsState::Conflict | FsState::Failed | FsState::ParentFailed | FsState::Skipped
        )
    }
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReport {
    /// The base (`@snap` or `#bookmark`), `None` for a full send.
    pub from: Option<String>,
    /// The target snapshot name.
    pub to: String,
    /// `-i` or `-I`.
    pub incremental: Incremental,
    /// How many snapshots the step brings over.
    pub snapshots: usize,
    /// Its state.
    pub state: StepState,
    /// Estimated stream size.
    pub bytes_expected: Option<u64>,
    /// Bytes streamed so far.
    pub bytes_replicated: u64,
    /// Whether the step resumed an interrupted receive.
    pub resumed: bool,
    /// The step's position in the order steps were started within the attempt (0 = first).
    #[serde(default)]
    pub start_order: Option<u32>,
    /// Why it failed.
    pub error: Option<ReportError>,
}

/// State of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// Not started.
    Pending,
    /// Streaming.
    Running,
    /// Received and confirmed.
    Done,
    /// Failed.
    Failed,
}

/// An error as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportError {
    /// Its class.
    pub kind: ErrorKind,
    /// Its text.
    pub message: String,
}

impl From<&EndpointError> for ReportError {
    fn from(e: &EndpointError) -> Self {
        Self {
            kind: e.kind,
            message: e.message.clone(),
        }
    }
}

/// Shared, live view of a run's [`Report`].
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Mutex<Report>>);

impl Progress {
    /// A fresh progress handle.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the current report.
    pub fn snapshot(&self) -> Report {
        self.lock().clone()
    }

    /// Locks the report for an update.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Report> {
        // A panic while holding the lock leaves a report that is still valid data.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies `f` to filesystem `fs` of the current attempt.
    pub(crate) fn with_fs(&self, fs: usize, f: impl FnOnce(&mut FsReport)) {
        let mut report = self.lock();
        if let Some(fs) = report
            .attempts
            .last_mut()
            .and_then(|a| a.filesystems.get_mut(fs))
        {
            f(fs);
        }
    }

    /// Applies `f` to step `step` of filesystem `fs` of the current attempt.
    pub(crate) fn with_step(&self, fs: usize, step: usize, f: impl FnOnce(&mut StepReport)) {
        self.with_fs(fs, |fs| {
            if let Some(step) = fs.steps.get_mut(step) {
                f(step);
            }
        });
    }
}
