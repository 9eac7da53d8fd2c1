//! Turning the engine's reports (replication [`Report`], [`PruneReport`]) into the daemon's
//! status model.

use jiff::Timestamp;
use zferry_repl::prune::PruneReport;
use zferry_repl::report::{self, AttemptReport, FsReport, FsState, Report, StepState};

use crate::daemon::status::{
    AttemptState, FsPruneStatus, FsReplicationState, FsReplicationStatus, PruneSideStatus,
    PruneState, ReplicationStatus,
};

fn timestamp(unix: i64) -> Timestamp {
    Timestamp::from_second(unix).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn attempt_state(state: report::AttemptState) -> AttemptState {
    match state {
        report::AttemptState::Planning => AttemptState::Planning,
        report::AttemptState::Executing => AttemptState::Running,
        report::AttemptState::Done => AttemptState::Done,
        report::AttemptState::Failed => AttemptState::Failed,
    }
}

fn fs_state(state: FsState) -> FsReplicationState {
    match state {
        FsState::Planned | FsState::Waiting => FsReplicationState::Queued,
        FsState::Running => FsReplicationState::Stepping,
        FsState::Done | FsState::UpToDate => FsReplicationState::Done,
        FsState::NothingToSend => FsReplicationState::Skipped,
        FsState::Conflict | FsState::Failed | FsState::ParentFailed | FsState::Skipped => {
            FsReplicationState::Failed
        }
    }
}

/// Bytes replicated by one filesystem's steps.
pub fn fs_bytes(fs: &FsReport) -> u64 {
    fs.steps.iter().map(|s| s.bytes_replicated).sum()
}

fn fs_status(fs: &FsReport) -> FsReplicationStatus {
    let step_name = |s: &report::StepReport| match &s.from {
        Some(from) => format!("{from} -> @{}", s.to),
        None => format!("full @{}", s.to),
    };
    FsReplicationStatus {
        filesystem: fs.path.to_string(),
        state: fs_state(fs.state),
        steps_done: count(fs.steps.iter().filter(|s| s.state == StepState::Done)),
        steps_total: count(fs.steps.iter()),
        current_step: fs
            .steps
            .iter()
            .find(|s| s.state == StepState::Running)
            .map(step_name),
        bytes_expected: fs.steps.iter().filter_map(|s| s.bytes_expected).sum(),
        bytes_replicated: fs_bytes(fs),
        error: fs.error.as_ref().map(|e| e.message.clone()),
    }
}

fn count<T>(it: impl Iterator<Item = T>) -> u32 {
    u32::try_from(it.count()).unwrap_or(u32::MAX)
}

fn attempt_status(a: &AttemptReport, now: Timestamp) -> ReplicationStatus {
    let mut filesystems: Vec<FsReplicationStatus> = a.filesystems.iter().map(fs_status).collect();
    filesystems.sort_by(|x, y| x.filesystem.cmp(&y.filesystem));
    let bytes_replicated: u64 = filesystems.iter().map(|f| f.bytes_replicated).sum();
    let end = a.finished_at.map(timestamp).unwrap_or(now);
    let secs = end.duration_since(timestamp(a.started_at)).as_secs_f64();
    let rate = if secs > 0.0 {
        (bytes_replicated as f64 / secs) as u64
    } else {
        0
    };
    ReplicationStatus {
        attempt: a.number,
        state: attempt_state(a.state),
        started_at: timestamp(a.started_at),
        finished_at: a.finished_at.map(timestamp),
        error: a.error.as_ref().map(|e| e.message.clone()),
        bytes_expected: filesystems.iter().map(|f| f.bytes_expected).sum(),
        bytes_replicated,
        rate_bytes_per_sec: rate,
        filesystems,
    }
}

/// The status of the current or last attempt of a run (`None` before the first attempt).
pub fn replication_status(report: &Report, now: Timestamp) -> Option<ReplicationStatus> {
    let attempt = report.last_attempt()?;
    let mut status = attempt_status(attempt, now);
    // A failed filesystem in the last attempt fails the attempt as the operator sees it.
    if status.state == AttemptState::Done
        && attempt.filesystems.iter().any(|f| f.state.is_failure())
    {
        status.state = AttemptState::Failed;
    }
    Some(status)
}

/// Why a finished run counts as failed, if it does.
pub fn replication_failure(report: &Report) -> Option<String> {
    let Some(attempt) = report.last_attempt() else {
        return Some("replication did not start".into());
    };
    if let Some(e) = &attempt.error {
        return Some(e.message.clone());
    }
    let failed: Vec<String> = attempt
        .filesystems
        .iter()
        .filter(|f| f.state.is_failure())
        .map(|f| match &f.error {
            Some(e) => format!("{}: {}", f.path, e.message),
            None => format!("{}: {:?}", f.path, f.state),
        })
        .collect();
    (!failed.is_empty()).then(|| failed.join("; "))
}

/// The status of one pruned side.
pub fn prune_side_status(report: &PruneReport) -> PruneSideStatus {
    let filesystems = report
        .filesystems
        .iter()
        .map(|f| FsPruneStatus {
            filesystem: f.path.as_ref().map(ToString::to_string).unwrap_or_default(),
            keep: u32::try_from(f.skipped.len()).unwrap_or(u32::MAX),
            destroy: u32::try_from(f.destroyed.len()).unwrap_or(u32::MAX),
            error: (!f.errors.is_empty()).then(|| {
                f.errors
                    .iter()
                    .map(|e| format!("{}: {}", e.name, e.reason))
                    .collect::<Vec<_>>()
                    .join("; ")
            }),
        })
        .collect();
    let failed = report.error.is_some() || report.filesystems.iter().any(|f| !f.errors.is_empty());
    PruneSideStatus {
        state: if failed {
            PruneState::Failed
        } else {
            PruneState::Done
        },
        error: report.error.clone(),
        filesystems,
    }
}

/// Why a pruning run counts as failed, if it does.
pub fn prune_failure(side: &str, report: &PruneReport) -> Option<String> {
    if let Some(e) = &report.error {
        return Some(format!("pruning the {side}: {e}"));
    }
    let errors: Vec<String> = report
        .filesystems
        .iter()
        .flat_map(|f| f.errors.iter().map(|e| format!("{}: {}", e.name, e.reason)))
        .collect();
    (!errors.is_empty()).then(|| format!("pruning the {side}: {}", errors.join("; ")))
}
