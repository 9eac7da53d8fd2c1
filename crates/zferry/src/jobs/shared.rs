//! The state a running job shares with the control server: its [`JobStatus`], while it
//! replicates the engine's live [`Progress`], and what it observed of its freshness (assessed
//! against the `monitor` limits whenever the status is asked for, so ages are current).

use std::sync::{Mutex, MutexGuard, PoisonError};

use zferry_repl::report::Progress;

use super::report::replication_status;
use crate::config::monitor::Monitor;
use crate::daemon::status::{JobState, JobStatus, JobType};
use crate::monitor::{Observed, Selection, assess};

/// A job's monitor limits and what it observed.
#[derive(Debug)]
struct MonitorState {
    config: Monitor,
    observed: Observed,
    /// The job has runs of its own (so a last success).
    runs: bool,
}

/// Status shared between a job's task and the control server.
#[derive(Debug)]
pub struct JobShared {
    status: Mutex<JobStatus>,
    progress: Mutex<Option<Progress>>,
    monitor: Mutex<Option<MonitorState>>,
}

impl JobShared {
    /// A job of `job_type` in `state`.
    pub fn new(job_type: JobType, state: JobState) -> JobShared {
        JobShared {
            status: Mutex::new(JobStatus::new(job_type, state)),
            progress: Mutex::new(None),
            monitor: Mutex::new(None),
        }
    }

    /// Starts assessing the job's freshness against `config`; `runs` says whether the job has
    /// runs of its own (push, pull, snap), whose last success is then assessed too.
    pub fn enable_monitor(&self, config: Monitor, runs: bool) {
        *self.monitor.lock().unwrap_or_else(PoisonError::into_inner) = Some(MonitorState {
            config,
            observed: Observed::default(),
            runs,
        });
    }

    /// Records an observation (no effect unless the monitor is enabled).
    pub fn observe(&self, f: impl FnOnce(&mut Observed)) {
        if let Some(m) = self
            .monitor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            f(&mut m.observed);
        }
    }

    /// A job whose setup failed.
    pub fn setup_failed(job_type: JobType, error: String) -> JobShared {
        let shared = JobShared::new(job_type, JobState::SetupFailed);
        shared.update(|s| s.setup_error = Some(error));
        shared
    }

    fn lock_status(&self) -> MutexGuard<'_, JobStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the status.
    pub fn update(&self, f: impl FnOnce(&mut JobStatus)) {
        f(&mut self.lock_status());
    }

    /// Sets what the job does now.
    pub fn set_state(&self, state: JobState) {
        self.update(|s| s.state = state);
    }

    /// Publishes (or, with `None`, withdraws) the live progress of a replication.
    pub fn set_progress(&self, progress: Option<Progress>) {
        *self.progress.lock().unwrap_or_else(PoisonError::into_inner) = progress;
    }

    /// The current status, with the live replication progress merged in.
    pub fn status(&self) -> JobStatus {
        let mut status = self.lock_status().clone();
        let live = self
            .progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(Progress::snapshot);
        if let Some(report) = live
            && let Some(r) = replication_status(&report, jiff::Timestamp::now())
        {
            status.replication = Some(r);
        }
        status.monitor = self
            .monitor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|m| {
                assess(
                    &m.observed,
                    &m.config,
                    Selection::ALL,
                    m.runs,
                    jiff::Timestamp::now(),
                )
            });
        status
    }
}
