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
    let step_name = |s: &report::StepReport| {
        let name = match &s.from {
            Some(from) => format!("{from} -> @{}", s.to),
            None => format!("full @{}", s.to),
        };
        if s.resumed {
            format!("{name} (resumed)")
        } else {
            name
        }
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
        resumed_steps: count(fs.steps.iter().filter(|s| s.resumed)),
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
        next_retry_at: a.next_retry_at.map(timestamp),
        gives_up_at: a.gives_up_at.map(timestamp),
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
            keep: u32::try_from(f.snapshots.saturating_sub(f.destroyed.len())).unwrap_or(u32::MAX),
            destroy: u32::try_from(f.destroyed.len()).unwrap_or(u32::MAX),
            protected: f
                .skipped
                .iter()
                .map(|k| format!("@{}: {}", k.name, k.reason))
                .collect(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use zferry_repl::endpoint::{ErrorKind, FsPath, Incremental};
    use zferry_repl::prune::{FsPruneReport, SkippedSnapshot};
    use zferry_repl::report::{ReportError, StepReport};

    fn step(state: StepState, bytes: u64) -> StepReport {
        StepReport {
            from: Some("@a".into()),
            to: "b".into(),
            incremental: Incremental::WithIntermediates,
            snapshots: 1,
            state,
            bytes_expected: Some(100),
            bytes_replicated: bytes,
            resumed: false,
            error: None,
            start_order: None,
        }
    }

    fn report(fs_state: FsState, error: Option<&str>) -> Report {
        Report {
            started_at: 1000,
            finished_at: Some(1010),
            attempts: vec![AttemptReport {
                number: 2,
                started_at: 1000,
                finished_at: Some(1010),
                state: report::AttemptState::Done,
                error: None,
                next_retry_at: None,
                gives_up_at: None,
                filesystems: vec![FsReport {
                    path: FsPath::new("pool/a").expect("path"),
                    state: fs_state,
                    error: error.map(|m| ReportError {
                        kind: ErrorKind::Permanent,
                        message: m.into(),
                    }),
                    steps: vec![step(StepState::Done, 100), step(StepState::Running, 50)],
                }],
            }],
        }
    }

    #[test]
    fn replication_report_maps_to_status() {
        let r = report(FsState::Running, None);
        let s = replication_status(&r, Timestamp::from_second(1010).expect("ts")).expect("status");
        assert_eq!(s.attempt, 2);
        assert_eq!(s.state, AttemptState::Done);
        assert_eq!(s.bytes_replicated, 150);
        assert_eq!(s.bytes_expected, 200);
        assert_eq!(s.rate_bytes_per_sec, 15);
        let f = &s.filesystems[0];
        assert_eq!(f.state, FsReplicationState::Stepping);
        assert_eq!((f.steps_done, f.steps_total), (1, 2));
        assert_eq!(f.current_step.as_deref(), Some("@a -> @b"));
        assert_eq!(replication_failure(&r), None);
    }

    #[test]
    fn a_failed_filesystem_fails_the_attempt_and_the_run() {
        let r = report(FsState::Failed, Some("boom"));
        let s = replication_status(&r, Timestamp::now()).expect("status");
        assert_eq!(s.state, AttemptState::Failed);
        assert_eq!(s.filesystems[0].error.as_deref(), Some("boom"));
        assert_eq!(replication_failure(&r).as_deref(), Some("pool/a: boom"));
        assert!(replication_failure(&Report::default()).is_some());
    }

    #[test]
    fn prune_errors_fail_the_side() {
        let mut p = PruneReport::default();
        p.filesystems.push(FsPruneReport {
            path: Some(FsPath::new("pool/a").expect("path")),
            snapshots: 3,
            destroyed: vec!["s1".into()],
            skipped: vec![],
            errors: vec![SkippedSnapshot {
                name: "s2".into(),
                reason: "busy".into(),
            }],
        });
        let s = prune_side_status(&p);
        assert_eq!(s.state, PruneState::Failed);
        assert_eq!(s.filesystems[0].destroy, 1);
        assert_eq!(
            prune_failure("sender", &p).as_deref(),
            Some("pruning the sender: s2: busy")
        );
        assert_eq!(prune_failure("sender", &PruneReport::default()), None);
    }
}
