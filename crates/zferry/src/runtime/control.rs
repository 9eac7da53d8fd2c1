//! The daemon's [`JobControl`]: status, wakeup and reset over the running jobs.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::daemon::control::api::{ControlError, JobControl, WakeupOutcome};
use crate::daemon::status::{DaemonStatus, JobState};
use crate::jobs::JobHandle;

/// All jobs of the daemon, by name.
pub struct JobSet {
    started_at: Timestamp,
    jobs: BTreeMap<String, JobHandle>,
}

impl JobSet {
    /// The set of `jobs`, for a daemon started at `started_at`.
    pub fn new(started_at: Timestamp, jobs: impl IntoIterator<Item = JobHandle>) -> JobSet {
        JobSet {
            started_at,
            jobs: jobs.into_iter().map(|j| (j.name.clone(), j)).collect(),
        }
    }

    fn job(&self, name: &str) -> Result<&JobHandle, ControlError> {
        self.jobs
            .get(name)
            .ok_or_else(|| ControlError::UnknownJob(name.to_string()))
    }
}

fn not_supported(job: &JobHandle, action: &str, why: impl Into<String>) -> ControlError {
    ControlError::NotSupported {
        job: job.name.clone(),
        action: action.to_string(),
        why: why.into(),
    }
}

#[async_trait::async_trait]
impl JobControl for JobSet {
    fn status(&self) -> DaemonStatus {
        DaemonStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: self.started_at,
            jobs: self
                .jobs
                .iter()
                .map(|(name, j)| (name.clone(), j.shared.status()))
                .collect(),
        }
    }

    async fn wakeup(&self, name: &str, wait: bool) -> Result<WakeupOutcome, ControlError> {
        let job = self.job(name)?;
        if let Some(e) = &job.shared.status().setup_error {
            return Err(not_supported(
                job,
                "wake up",
                format!("its setup failed: {e}"),
            ));
        }
        let Some(trigger) = &job.trigger else {
            return Err(not_supported(
                job,
                "wake up",
                format!("a {} job only serves requests", job.type_name),
            ));
        };
        let gone = || not_supported(job, "wake up", "the job has stopped");
        if !wait {
            return if trigger.wake() {
                Ok(WakeupOutcome {
                    job: name.to_string(),
                    waited: false,
                    succeeded: None,
                    error: None,
                    warnings: Vec::new(),
                })
            } else {
                Err(gone())
            };
        }
        let outcome = trigger
            .wake_and_wait()
            .ok_or_else(gone)?
            .await
            .map_err(|_| gone())?;
        Ok(WakeupOutcome {
            job: name.to_string(),
            waited: true,
            succeeded: Some(outcome.succeeded),
            error: outcome.error,
            warnings: outcome.warnings,
        })
    }

    async fn reset(&self, name: &str) -> Result<(), ControlError> {
        let job = self.job(name)?;
        let Some(reset) = &job.reset else {
            return Err(not_supported(
                job,
                "reset",
                format!("a {} job has no run to reset", job.type_name),
            ));
        };
        reset.notify_waiters();
        job.shared.update(|s| {
            // Only jobs whose setup succeeded can be reset (`reset` is `None` otherwise).
            s.state = JobState::Idle;
            s.replication = None;
            s.pruning = None;
        });
        Ok(())
    }
}
