//! The state a running job shares with the control server: its [`JobStatus`] and, while it
//! replicates, the engine's live [`Progress`].

use std::sync::{Mutex, MutexGuard, PoisonError};

use zferry_repl::report::Progress;

use super::report::replication_status;
use crate::daemon::status::{JobState, JobStatus, JobType};

/// Status shared between a job's task and the control server.
#[derive(Debug)]
pub struct JobShared {
    status: Mutex<JobStatus>,
    progress: Mutex<Option<Progress>>,
}

impl JobShared {
    /// A job of `job_type` in `state`.
    pub fn new(job_type: JobType, state: JobState) -> JobShared {
        JobShared {
            status: Mutex::new(JobStatus::new(job_type, state)),
            progress: Mutex::new(None),
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
        status
    }
}
