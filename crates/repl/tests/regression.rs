//! One test per fixed bug of the replication engine, named after what broke (issue 12's
//! observations are numbered in the comments).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use regex::Regex;
use zferry_repl::endpoint::{
    ByteStream, DestroySnapshotsRequest, DestroySnapshotsResponse, Endpoint, EndpointError,
    FilesystemInfo, FsPath, FsVersion, HintRequest, ListVersionsRequest, ListVersionsResponse,
    SendCompletedRequest, SendEstimate, SendRequest, SendResponse, Sender,
};
use zferry_repl::executor::{ReplicationOptions, replicate};
use zferry_repl::planner::Conflict;
use zferry_repl::prune::{GridInterval, GridKeep, KeepRule, RuleSnapshot, destroy_set};
use zferry_repl::report::{AttemptState, Progress};

mod common;

// Observation 11: the documentation disagreed on which snapshot a grid interval keeps; the code
// (like zrepl) keeps the oldest, which is what the docs now say.
#[test]
fn grid_interval_keeps_its_oldest_snapshot() {
    let snaps: Vec<RuleSnapshot> = [0, 600, 1200, 1800]
        .iter()
        .map(|&t| RuleSnapshot {
            name: format!("zrepl_{t}"),
            creation: 1_700_000_000 + t,
            replicated: true,
            at_cursor: false,
        })
        .collect();
    // One interval of 1h back from the newest (which is always kept) holds the other three:
    // only the oldest of them stays.
    let rules = [KeepRule::Grid {
        intervals: GridInterval::repeat(1, Duration::from_secs(3600), GridKeep::Count(1)),
        regex: Regex::new("^zrepl_").expect("regex"),
    }];
    assert_eq!(destroy_set(&rules, &snaps), [1, 2]);
}

// Observation 12: the divergence errors told the administrator to "allow rollback for this job",
// a setting that does not exist.
#[test]
fn conflict_hints_name_no_setting_that_does_not_exist() {
    let diverged = Conflict::Diverged {
        common: "@s1".into(),
        receiver_only: vec!["local".into()],
    };
    let modified = Conflict::ReceiverModified {
        written: 4096,
        newest: "s1".into(),
    };
    for conflict in [diverged, modified] {
        let text = conflict.to_string();
        assert!(!text.contains("allow rollback"), "{text}");
        assert!(text.contains("by hand"), "{text}");
    }
}

/// A sender that never answers (a peer that is not listening).
struct Unreachable;

fn refused<T>() -> Result<T, EndpointError> {
    Err(EndpointError::temporary(
        "connecting to tcp 127.0.0.1:9: connection refused",
    ))
}

#[async_trait]
impl Endpoint for Unreachable {
    async fn list_filesystems(&self) -> Result<Vec<FilesystemInfo>, EndpointError> {
        refused()
    }
    async fn list_versions(
        &self,
        _: ListVersionsRequest,
    ) -> Result<ListVersionsResponse, EndpointError> {
        refused()
    }
    async fn destroy_snapshots(
        &self,
        _: DestroySnapshotsRequest,
    ) -> Result<DestroySnapshotsResponse, EndpointError> {
        refused()
    }
    async fn ping(&self) -> Result<(), EndpointError> {
        refused()
    }
}

#[async_trait]
impl Sender for Unreachable {
    async fn send_estimate(&self, _: SendRequest) -> Result<SendEstimate, EndpointError> {
        refused()
    }
    async fn send(&self, _: SendRequest) -> Result<(SendResponse, ByteStream), EndpointError> {
        refused()
    }
    async fn send_completed(&self, _: SendCompletedRequest) -> Result<(), EndpointError> {
        refused()
    }
    async fn replication_cursor(&self, _: FsPath) -> Result<Option<FsVersion>, EndpointError> {
        refused()
    }
    async fn hint_most_recent_common_ancestor(&self, _: HintRequest) -> Result<(), EndpointError> {
        refused()
    }
}

// Observation 1: after the reconnect deadline the failed attempt's `finished` time was its start
// (when the first error happened), and nothing said when the next try would be.
#[tokio::test]
async fn unreachable_peer_attempt_ends_at_the_deadline_and_shows_the_next_try() {
    let w = common::World::new();
    let options = ReplicationOptions {
        reconnect_deadline: Duration::from_millis(2500),
        backoff_initial: Duration::from_millis(200),
        backoff_max: Duration::from_millis(400),
        ..ReplicationOptions::default()
    };
    let progress = Progress::new();
    let run = replicate(Arc::new(Unreachable), w.receiver(), &options, &progress);
    tokio::pin!(run);
    let mut saw_next_try = false;
    let report = loop {
        tokio::select! {
            report = &mut run => break report,
            () = tokio::time::sleep(Duration::from_millis(50)) => {
                let now = progress.snapshot();
                if let Some(a) = now.attempts.last() {
                    saw_next_try |= a.next_retry_at.is_some() && a.gives_up_at.is_some();
                }
            }
        }
    };
    assert!(
        saw_next_try,
        "the attempt said when it tries next and gives up"
    );
    let last = report.last_attempt().expect("an attempt");
    assert_eq!(last.state, AttemptState::Failed);
    let error = last.error.as_ref().expect("error").message.clone();
    assert!(
        error.contains("reconnect deadline") && error.contains("127.0.0.1:9"),
        "{error}"
    );
    let finished = last.finished_at.expect("finished");
    assert!(
        finished >= last.started_at + 2,
        "finished {finished}, started {}",
        last.started_at
    );
    assert_eq!((last.next_retry_at, last.gives_up_at), (None, None));
}
