//! The state a running job shares with the control server: its [`JobStatus`], while it
//! replicates the engine's live [`Progress`], and what it observed of its freshness (assessed
//! against the `monitor` limits whenever the status is asked for, so ages are current).

use std::sync::{Mutex, MutexGuard, PoisonError};

use zferry_repl::report::Progress;

use super::report::replication_status;
use crate::config::monitor::Monitor;
use crate::daemon::status::{AttemptState, JobState, JobStatus, JobType, PruneState};
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

    /// Ends a run that was aborted (by a reset): its report stays in the status as a failed
    /// attempt (and an interrupted pruning side as failed) with `why`, instead of vanishing.
    pub fn abort_run(&self, why: &str) {
        let live = self
            .progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .map(|p| p.snapshot());
        let now = jiff::Timestamp::now();
        self.update(|s| {
            s.state = JobState::Idle;
            if let Some(r) = live.and_then(|report| replication_status(&report, now)) {
                s.replication = Some(r);
            }
            if let Some(r) = s.replication.as_mut()
                && matches!(r.state, AttemptState::Planning | AttemptState::Running)
            {
                r.state = AttemptState::Failed;
                r.finished_at = Some(now);
                r.error = Some(why.to_string());
            }
            let sides = s
                .pruning
                .iter_mut()
                .flat_map(|p| [&mut p.sender, &mut p.receiver]);
            for side in sides.flatten() {
                if matches!(side.state, PruneState::Pending | PruneState::Running) {
                    side.state = PruneState::Failed;
                    side.error = Some(why.to_string());
                }
            }
        });
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
