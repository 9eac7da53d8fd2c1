//! The interface between the control server and the jobs, and the request/response types both
//! ends of the socket share.

use serde::{Deserialize, Serialize};

use crate::daemon::status::DaemonStatus;

/// Why a control request cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ControlError {
    /// No job with that name.
    #[error("no job named {0:?}")]
    UnknownJob(String),
    /// The job exists but cannot do what was asked (e.g. wake up a sink).
    #[error("job {job:?} cannot {action}: {why}")]
    NotSupported {
        /// The job.
        job: String,
        /// What was asked.
        action: String,
        /// Why not.
        why: String,
    },
}

/// The result of a wakeup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakeupOutcome {
    /// The job woken up.
    pub job: String,
    /// Whether the caller waited for the run to finish.
    pub waited: bool,
    /// With `wait`: whether the run succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<bool>,
    /// With `wait`: what failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// With `wait`: what looks wrong although nothing failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// What the control server needs from the daemon's jobs.
#[async_trait::async_trait]
pub trait JobControl: Send + Sync {
    /// The current status of the daemon and all jobs.
    fn status(&self) -> DaemonStatus;

    /// Starts a run of `job` now (or queues exactly one more if one is running). With `wait`,
    /// returns when that run has finished, with its result.
    async fn wakeup(&self, job: &str, wait: bool) -> Result<WakeupOutcome, ControlError>;

    /// Resets `job`: aborts its current run and clears its error state.
    async fn reset(&self, job: &str) -> Result<(), ControlError>;
}

/// Body of `POST /signal/wakeup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakeupRequest {
    /// The job.
    pub job: String,
    /// Wait for the run to finish.
    #[serde(default)]
    pub wait: bool,
}

/// Body of `POST /signal/reset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetRequest {
    /// The job.
    pub job: String,
}

/// Body of `GET /version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// zferry's version.
    pub version: String,
    /// Operating system.
    pub os: String,
    /// CPU architecture.
    pub arch: String,
}

impl VersionInfo {
    /// The version of this build.
    pub fn current() -> VersionInfo {
        VersionInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
        }
    }
}

/// The body of an error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
}
