//! Running a replication: attempts, planning, step scheduling, retries.
//!
//! [`replicate`] is the entry point the daemon calls for push and pull alike.
//!
//! # Attempts and retries
//! An attempt lists both sides once (one `list_filesystems` and one `list_versions` per side),
//! plans every filesystem, then runs the steps. A filesystem whose step fails with a temporary
//! error (network, timeout, busy) is retried in the next attempt, after both peers answer a ping
//! again (exponential backoff up to `reconnect_deadline`); attempts are bounded by `max_attempts`.
//! A permanent error fails that filesystem for the rest of the run; the others go on. The first
//! attempt records, per filesystem, the newest sender snapshot (by createtxg): later attempts never
//! chase snapshots created after the run started.
//!
//! # Scheduling
//! At most `concurrency_steps` steps run at once, one per filesystem at a time. Among the
//! filesystems whose next step can run, the one whose target snapshot is oldest (smallest createtxg,
//! the fast-path ordering ZFS lists) goes first. On initial replication a child waits for every
//! ancestor that is itself being initially replicated, and fails with the ancestor's error if the
//! ancestor fails. Size estimates (`zfs send -nvP`) run before the steps, at most
//! `concurrency_size_estimates` at once.
//!
//! # Protection
//! Before the steps, every filesystem whose cursor or holds the attempt's listing shows out of
//! place is repaired on the side concerned (see [`crate::protection`]), also when it has
//! nothing to send.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::endpoint::{
    ClearResumeTokenRequest, EndpointError, ErrorKind, FilesystemInfo, FilesystemVersions, FsPath,
    FsVersion, HintRequest, ListVersionsRequest, ListVersionsResponse, ReceiveRequest, Receiver,
    SendCompletedRequest, SendRequest, Sender,
};
use crate::planner::{FsInput, FsPlan, PlanOptions, PlanOutcome, PlannedStep, plan_filesystem};
use crate::protection::{Listed, Repairs, repairs};
use crate::report::{
    AttemptReport, AttemptState, FsReport, FsState, Progress, Report, ReportError, StepReport,
    StepState, unix_now,
};

/// How a replication run behaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationOptions {
    /// Planner options (initial replication policy, protection, batching, rollback).
    pub plan: PlanOptions,
    /// Steps running at once (`replication.concurrency.steps`), at least 1.
    pub concurrency_steps: usize,
    /// Size estimates running at once (`replication.concurrency.size_estimates`), at least 1.
    pub concurrency_size_estimates: usize,
    /// Attempts per run, at least 1.
    pub max_attempts: u32,
    /// How long to wait for both peers to answer again after a temporary error.
    pub reconnect_deadline: Duration,
    /// First backoff between pings.
    pub backoff_initial: Duration,
    /// Longest backoff between pings.
    pub backoff_max: Duration,
}

impl Default for ReplicationOptions {
    fn default() -> Self {
        Self {
            plan: PlanOptions::default(),
            concurrency_steps: 1,
            concurrency_size_estimates: 4,
            max_attempts: 3,
            reconnect_deadline: Duration::from_secs(600),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// Replicates everything the sender offers to the receiver, with retries; returns the report
/// (also kept up to date in `progress` while running).
pub async fn replicate(
    sender: Arc<dyn Sender>,
    receiver: Arc<dyn Receiver>,
    options: &ReplicationOptions,
    progress: &Progress,
) -> Report {
    *progress.lock() = Report {
        started_at: unix_now(),
        finished_at: None,
        attempts: Vec::new(),
    };
    let mut run = RunState::default();
    let max_attempts = options.max_attempts.max(1);
    for number in 1..=max_attempts {
        progress.lock().attempts.push(AttemptReport {
            number,
            started_at: unix_now(),
            finished_at: None,
            state: AttemptState::Planning,
            error: None,
            filesystems: Vec::new(),
            next_retry_at: None,
            gives_up_at: None,
        });
        let result = run_attempt(&sender, &receiver, options, progress, &mut run).await;
        let retry = {
            let mut report = progress.lock();
            let attempt = report.attempts.last_mut();
            match (&result, attempt) {
                (Ok(retry), Some(a)) => {
                    a.state = AttemptState::Done;
                    a.finished_at = Some(unix_now());
                    *retry
                }
                (Err(e), Some(a)) => {
                    a.state = AttemptState::Failed;
                    a.error = Some(e.into());
                    a.finished_at = Some(unix_now());
                    e.is_temporary()
                }
                (_, None) => false,
            }
        };
        if !retry || number == max_attempts {
            break;
        }
        if let Err(e) = &result {
            tracing::warn!(attempt = number, error = %e.message, "replication attempt failed; retrying");
        }
        let waited =
            wait_for_connectivity(sender.as_ref(), receiver.as_ref(), options, progress).await;
        if let Err(e) = waited {
            tracing::warn!(error = %e.message, "giving up: the peers did not answer before the reconnect deadline");
            if let Some(a) = progress.lock().attempts.last_mut() {
                a.error = Some((&e).into());
                // The attempt ends when the run gives up, not when its first error happened.
                a.finished_at = Some(unix_now());
            }
            break;
        }
    }
    let mut report = progress.lock();
    report.finished_at = Some(unix_now());
    report.clone()
}

/// Pings both peers until they answer, with exponential backoff, up to the deadline. While it
/// waits, the last attempt in `progress` says when the next ping is and when it gives up, and
/// every failed ping is logged (at info: the peer may just be restarting).
async fn wait_for_connectivity(
    sender: &dyn Sender,
    receiver: &dyn Receiver,
    options: &ReplicationOptions,
    progress: &Progress,
) -> Result<(), EndpointError> {
    let deadline = tokio::time::Instant::now() + options.reconnect_deadline;
    let gives_up_at = unix_now() + secs(options.reconnect_deadline);
    let mut backoff = options.backoff_initial;
    let result = loop {
        let pause = backoff.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        if let Some(a) = progress.lock().attempts.last_mut() {
            a.next_retry_at = Some(unix_now() + secs(pause));
            a.gives_up_at = Some(gives_up_at);
        }
        tokio::time::sleep(pause).await;
        let (s, r) = tokio::join!(sender.ping(), receiver.ping());
        let err = match (s, r) {
            (Ok(()), Ok(())) => break Ok(()),
            (Err(e), _) => e.context("sender"),
            (_, Err(e)) => e.context("receiver"),
        };
        if tokio::time::Instant::now() >= deadline {
            break Err(err.context("peers did not answer before the reconnect deadline"));
        }
        backoff = (backoff * 2).min(options.backoff_max);
        tracing::info!(error = %err.message, "the peers do not answer yet; retrying");
    };
    if let Some(a) = progress.lock().attempts.last_mut() {
        a.next_retry_at = None;
        a.gives_up_at = None;
    }
    result
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// What survives from one attempt to the next.
#[derive(Default)]
struct RunState {
    /// Newest sender snapshot createtxg per filesystem at the first attempt.
    limits: Option<HashMap<FsPath, u64>>,
    /// Filesystems that failed permanently, with why.
    permanent: HashMap<FsPath, ReportError>,
}

/// Per-filesystem execution state within an attempt.
struct FsRun {
    plan: FsPlan,
    steps: Vec<PlannedStep>,
    next: usize,
    /// Ancestors (indices) still to finish their initial replication.
    blockers: usize,
    dependents: Vec<usize>,
    finished: bool,
}

/// Runs one attempt; `Ok(true)` when some filesystem should be retried.
async fn run_attempt(
    sender: &Arc<dyn Sender>,
    receiver: &Arc<dyn Receiver>,
    options: &ReplicationOptions,
    progress: &Progress,
    run: &mut RunState,
) -> Result<bool, EndpointError> {
    let listing = list_both(sender.as_ref(), receiver.as_ref(), true).await?;
    let limits = run.limits.get_or_insert_with(|| newest_snapshots(&listing));
    let planned = plan_all(&listing, &options.plan, limits);
    drop(listing);

    let mut runs: Vec<FsRun> = Vec::with_capacity(planned.len());
    let mut reports: Vec<FsReport> = Vec::with_capacity(planned.len());
    let mut repairs: Vec<Repairs> = Vec::with_capacity(planned.len());
    for (plan, repair) in planned {
        let steps = match &plan.outcome {
            PlanOutcome::Steps { steps } => steps.clone(),
            _ => Vec::new(),
        };
        let (state, error) = if let Some(e) = run.permanent.get(&plan.path) {
            (FsState::Skipped, Some(e.clone()))
        } else {
            match &plan.outcome {
                PlanOutcome::UpToDate => (FsState::UpToDate, None),
                PlanOutcome::NothingToSend => (FsState::NothingToSend, None),
                PlanOutcome::Steps { .. } => (FsState::Planned, None),
                PlanOutcome::Conflict { conflict } => (
                    FsState::Conflict,
                    Some(ReportError {
                        kind: ErrorKind::Conflict,
                        message: conflict.to_string(),
                    }),
                ),
            }
        };
        reports.push(FsReport {
            path: plan.path.clone(),
            state,
            error,
            steps: steps.iter().map(step_report).collect(),
        });
        repairs.push(repair);
        runs.push(FsRun {
            finished: state != FsState::Planned,
            plan,
            steps,
            next: 0,
            blockers: 0,
            dependents: Vec::new(),
        });
    }
    for r in &reports {
        if let (FsState::Conflict, Some(error)) = (r.state, &r.error) {
            run.permanent.insert(r.path.clone(), error.clone());
        }
    }
    if let Some(a) = progress.lock().attempts.last_mut() {
        a.filesystems = reports;
        a.state = AttemptState::Executing;
    }

    // Parent-before-child on initial replication.
    let index: HashMap<FsPath, usize> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.plan.path.clone(), i))
        .collect();
    let mut parent_failures: Vec<(usize, usize)> = Vec::new();
    for child in 0..runs.len() {
        if runs[child].finished || !runs[child].plan.initial {
            continue;
        }
        for ancestor in runs[child].plan.path.ancestors() {
            let Some(&a) = index.get(&ancestor) else {
                continue;
            };
            if !runs[a].plan.initial {
                continue;
            }
            match &runs[a].plan.outcome {
                PlanOutcome::Steps { .. } if !runs[a].finished => {
                    runs[child].blockers += 1;
                    runs[a].dependents.push(child);
                }
                PlanOutcome::Conflict { .. } => parent_failures.push((child, a)),
                _ => {}
            }
        }
    }
    let mut retry = false;
    let mut exec = Exec {
        runs,
        progress,
        permanent: &mut run.permanent,
        retry: &mut retry,
    };
    for (child, ancestor) in parent_failures {
        let error = exec.fs_error(ancestor);
        exec.fail_dependent(child, ancestor, &error, false);
    }

    // Prepare: protection repairs, aborting unusable resume tokens, size estimates.
    // The futures are collected first: a borrowing iterator chain held across the `.await`
    // would make `replicate`'s future not `Send`.
    let jobs: Vec<_> = exec
        .runs
        .iter()
        .enumerate()
        .filter(|(i, r)| !r.finished || repairs[*i].any())
        .map(|(i, r)| {
            let hint = HintRequest {
                filesystem: r.plan.path.clone(),
                version: r.plan.common.clone(),
                protection: options.plan.protection.incremental,
            };
            let repair = repairs[i];
            let abort = r.plan.abort_resume.clone();
            let steps = if r.finished {
                Vec::new()
            } else {
                r.steps.clone()
            };
            let sender = Arc::clone(sender);
            let receiver = Arc::clone(receiver);
            async move {
                let result = prepare(sender, receiver, (repair, hint), abort, steps).await;
                (i, result)
            }
        })
        .collect();
    let prepared: Vec<(usize, Result<Estimates, EndpointError>)> = stream::iter(jobs)
        .buffer_unordered(options.concurrency_size_estimates.max(1))
        .collect()
        .await;
    for (i, result) in prepared {
        match result {
            Ok(estimates) => {
                for (s, estimate) in estimates.into_iter().enumerate() {
                    progress.with_step(i, s, |step| step.bytes_expected = estimate);
                }
            }
            Err(e) if !exec.runs[i].finished => exec.fail(i, &e),
            Err(e) => progress.with_fs(i, |fs| fs.error = Some((&e).into())),
        }
    }

    // Execute.
    let mut ready: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    for (i, r) in exec.runs.iter().enumerate() {
        if !r.finished && r.blockers == 0 {
            ready.push(Reverse((r.steps[0].to.createtxg, i)));
        }
    }
    let mut running: JoinSet<(usize, usize, Result<(), EndpointError>)> = JoinSet::new();
    let concurrency = options.concurrency_steps.max(1);
    let mut started: u32 = 0;
    loop {
        while running.len() < concurrency {
            let Some(Reverse((_, i))) = ready.pop() else {
                break;
            };
            if exec.runs[i].finished {
                continue;
            }
            let step_index = exec.runs[i].next;
            let step = exec.runs[i].steps[step_index].clone();
            let path = exec.runs[i].plan.path.clone();
            progress.with_fs(i, |fs| fs.state = FsState::Running);
            let order = started;
            started += 1;
            progress.with_step(i, step_index, |s| {
                s.state = StepState::Running;
                s.start_order = Some(order);
            });
            let sender = Arc::clone(sender);
            let receiver = Arc::clone(receiver);
            let progress = progress.clone();
            // In the caller's span, so the step's log lines name the job.
            running.spawn(
                async move {
                    let result =
                        run_step(sender, receiver, path, step, &progress, i, step_index).await;
                    (i, step_index, result)
                }
                .in_current_span(),
            );
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, step_index, result) = joined
            .map_err(|e| EndpointError::permanent(format!("replication step task failed: {e}")))?;
        match result {
            Ok(()) => {
                progress.with_step(i, step_index, |s| s.state = StepState::Done);
                let r = &mut exec.runs[i];
                r.next += 1;
                if r.next < r.steps.len() {
                    ready.push(Reverse((r.steps[r.next].to.createtxg, i)));
                } else {
                    r.finished = true;
                    progress.with_fs(i, |fs| fs.state = FsState::Done);
                    for d in std::mem::take(&mut r.dependents) {
                        let child = &mut exec.runs[d];
                        child.blockers -= 1;
                        if child.blockers == 0 && !child.finished {
                            ready.push(Reverse((child.steps[0].to.createtxg, d)));
                        }
                    }
                }
            }
            Err(e) => {
                let step = exec.runs[i].steps[step_index].clone();
                progress.with_step(i, step_index, |s| {
                    s.state = StepState::Failed;
                    s.error = Some((&e).into());
                });
                if let Some(token) = step.resume_token.filter(|_| !e.is_temporary()) {
                    // The sender refused the token: abort it so the next attempt starts afresh.
                    let cleared = receiver
                        .clear_resume_token(ClearResumeTokenRequest {
                            filesystem: exec.runs[i].plan.path.clone(),
                            token,
                        })
                        .await;
                    let e = match cleared {
                        Ok(()) => EndpointError::temporary(format!(
                            "resume token refused ({e}); partial receive aborted, replanning"
                        )),
                        Err(clear) => {
                            e.context(format!("aborting the partial receive failed: {clear}"))
                        }
                    };
                    exec.fail(i, &e);
                } else {
                    exec.fail(i, &e);
                }
            }
        }
    }
    Ok(retry)
}

/// Both sides' listings for one attempt.
struct Listing {
    sender_fs: Vec<FilesystemInfo>,
    receiver_fs: Vec<FilesystemInfo>,
    sender: ListVersionsResponse,
    receiver: ListVersionsResponse,
}

/// Lists both sides: one filesystem listing and one version listing per side (with this lane's
/// holds when `with_holds`, for the protection check).
async fn list_both(
    sender: &dyn Sender,
    receiver: &dyn Receiver,
    with_holds: bool,
) -> Result<Listing, EndpointError> {
    let all = ListVersionsRequest {
        filesystems: Vec::new(),
        with_creation: false,
        with_holds,
    };
    let (sender_fs, receiver_fs) =
        tokio::join!(sender.list_filesystems(), receiver.list_filesystems());
    let sender_fs = sender_fs.map_err(|e| e.context("listing the sender's filesystems"))?;
    let receiver_fs = receiver_fs.map_err(|e| e.context("listing the receiver's filesystems"))?;
    let (sender_versions, receiver_versions) = tokio::join!(
        sender.list_versions(all.clone()),
        receiver.list_versions(all)
    );
    Ok(Listing {
        sender_fs,
        receiver_fs,
        sender: sender_versions.map_err(|e| e.context("listing the sender's versions"))?,
        receiver: receiver_versions.map_err(|e| e.context("listing the receiver's versions"))?,
    })
}

/// The newest sender snapshot (createtxg) per filesystem: the run's limit.
fn newest_snapshots(listing: &Listing) -> HashMap<FsPath, u64> {
    listing
        .sender
        .filesystems
        .iter()
        .map(|f| {
            let newest = f
                .versions
                .iter()
                .filter(|v| v.is_snapshot())
                .map(|v| v.createtxg)
                .max()
                .unwrap_or(0);
            (f.path.clone(), newest)
        })
        .collect()
}

/// Plans every sender filesystem (sorted by path), with the repairs its protection needs.
fn plan_all(
    listing: &Listing,
    options: &PlanOptions,
    limits: &HashMap<FsPath, u64>,
) -> Vec<(FsPlan, Repairs)> {
    let sender_map: HashMap<&FsPath, &FilesystemVersions> = listing
        .sender
        .filesystems
        .iter()
        .map(|f| (&f.path, f))
        .collect();
    let receiver_info: HashMap<&FsPath, &FilesystemInfo> =
        listing.receiver_fs.iter().map(|f| (&f.path, f)).collect();
    let receiver_map: HashMap<&FsPath, &FilesystemVersions> = listing
        .receiver
        .filesystems
        .iter()
        .map(|f| (&f.path, f))
        .collect();
    let mut paths: Vec<&FilesystemInfo> = listing.sender_fs.iter().collect();
    paths.sort_by(|a, b| a.path.cmp(&b.path));
    paths
        .into_iter()
        .map(|info| {
            let sent = sender_map.get(&info.path).copied();
            let received = receiver_map.get(&info.path).copied();
            let sender = sent.map_or(&[][..], |f| f.versions.as_slice());
            let plan = plan_filesystem(
                FsInput {
                    path: &info.path,
                    sender,
                    receiver_fs: receiver_info.get(&info.path).copied(),
                    receiver: received.map_or(&[][..], |f| f.versions.as_slice()),
                    sender_limit: Some(limits.get(&info.path).copied().unwrap_or(0)),
                },
                options,
            );
            let listed = Listed {
                sender,
                cursor: sent.and_then(|f| f.cursor.as_ref()),
                step_holds: sent.map_or(&[][..], |f| f.step_holds.as_slice()),
                last_received: received.map_or(&[][..], |f| f.last_received.as_slice()),
            };
            let repair = repairs(plan.common.as_ref(), listed);
            (plan, repair)
        })
        .collect()
}

/// Lists both sides and plans every filesystem without running anything (for `status`,
/// `test` commands and benchmarks).
pub async fn dry_run(
    sender: &dyn Sender,
    receiver: &dyn Receiver,
    options: &PlanOptions,
) -> Result<Vec<FsPlan>, EndpointError> {
    let listing = list_both(sender, receiver, false).await?;
    let limits = newest_snapshots(&listing);
    Ok(plan_all(&listing, options, &limits)
        .into_iter()
        .map(|(plan, _)| plan)
        .collect())
}

fn step_report(step: &PlannedStep) -> StepReport {
    StepReport {
        from: step.from.as_ref().map(FsVersion::relative_name),
        to: step.to.name.clone(),
        incremental: step.incremental,
        snapshots: step.snapshots,
        state: StepState::Pending,
        bytes_expected: None,
        bytes_replicated: 0,
        resumed: step.resume_token.is_some(),
        start_order: None,
        error: None,
    }
}

/// Attempt-local failure bookkeeping.
struct Exec<'a> {
    runs: Vec<FsRun>,
    progress: &'a Progress,
    permanent: &'a mut HashMap<FsPath, ReportError>,
    retry: &'a mut bool,
}

impl Exec<'_> {
    fn fs_error(&self, i: usize) -> ReportError {
        self.progress
            .snapshot()
            .last_attempt()
            .and_then(|a| a.filesystems.get(i))
            .and_then(|f| f.error.clone())
            .unwrap_or(ReportError {
                kind: ErrorKind::Permanent,
                message: "failed".into(),
            })
    }

    /// Marks filesystem `i` failed and fails everything waiting for it.
    fn fail(&mut self, i: usize, error: &EndpointError) {
        self.mark(i, FsState::Failed, error.into(), error.is_temporary());
    }

    fn fail_dependent(
        &mut self,
        child: usize,
        ancestor: usize,
        cause: &ReportError,
        temporary: bool,
    ) {
        if self.runs[child].finished {
            return;
        }
        let report = ReportError {
            kind: cause.kind,
            message: format!(
                "parent {} failed its initial replication: {}",
                self.runs[ancestor].plan.path, cause.message
            ),
        };
        self.mark(child, FsState::ParentFailed, report, temporary);
    }

    /// Records the failure of `i` (retried next attempt when temporary, else never again this
    /// run), then fails its dependents.
    fn mark(&mut self, i: usize, state: FsState, report: ReportError, temporary: bool) {
        self.runs[i].finished = true;
        self.progress.with_fs(i, |fs| {
            fs.state = state;
            fs.error = Some(report.clone());
        });
        if temporary {
            *self.retry = true;
        } else {
            self.permanent
                .insert(self.runs[i].plan.path.clone(), report.clone());
        }
        for d in std::mem::take(&mut self.runs[i].dependents) {
            self.fail_dependent(d, i, &report, temporary);
        }
    }
}

/// Size estimates of a filesystem's steps, in step order.
type Estimates = Vec<Option<u64>>;

/// Protection repairs, abort, estimates for one filesystem.
async fn prepare(
    sender: Arc<dyn Sender>,
    receiver: Arc<dyn Receiver>,
    (repair, hint): (Repairs, HintRequest),
    abort: Option<String>,
    steps: Vec<PlannedStep>,
) -> Result<Estimates, EndpointError> {
    let path = hint.filesystem.clone();
    if repair.sender {
        sender
            .hint_most_recent_common_ancestor(hint.clone())
            .await
            .map_err(|e| e.context("moving the replication cursor"))?;
    }
    if repair.receiver {
        receiver
            .hold_last_received(hint)
            .await
            .map_err(|e| e.context("repairing the last-received hold"))?;
    }
    if let Some(token) = abort {
        receiver
            .clear_resume_token(ClearResumeTokenRequest {
                filesystem: path.clone(),
                token,
            })
            .await
            .map_err(|e| e.context("aborting an unusable partial receive"))?;
    }
    let mut estimates = Vec::with_capacity(steps.len());
    for step in steps {
        // An estimate is informative only: a failed estimate does not fail the filesystem.
        let estimate = sender
            .send_estimate(send_request(&path, &step))
            .await
            .ok()
            .and_then(|e| e.expected_bytes);
        estimates.push(estimate);
    }
    Ok(estimates)
}

fn send_request(path: &FsPath, step: &PlannedStep) -> SendRequest {
    SendRequest {
        filesystem: path.clone(),
        from: step.from.clone(),
        to: step.to.clone(),
        incremental: step.incremental,
        resume_token: step.resume_token.clone(),
        protection: step.protection,
    }
}

/// One step: send, receive, confirm.
async fn run_step(
    sender: Arc<dyn Sender>,
    receiver: Arc<dyn Receiver>,
    path: FsPath,
    step: PlannedStep,
    progress: &Progress,
    fs: usize,
    step_index: usize,
) -> Result<(), EndpointError> {
    let request = send_request(&path, &step);
    let (response, mut stream) = sender.send(request.clone()).await?;
    progress.with_step(fs, step_index, |s| {
        s.resumed = response.resumed;
        if s.bytes_expected.is_none() {
            s.bytes_expected = response.expected_bytes;
        }
    });
    let failure_report = stream.take_failure_report();
    let observed = progress.clone();
    let counted = stream.observe(Arc::new(move |bytes| {
        observed.with_step(fs, step_index, |s| s.bytes_replicated += bytes);
    }));
    let received = receiver
        .receive(
            ReceiveRequest {
                filesystem: path,
                from: step.from.clone(),
                to: step.to.clone(),
                resume_token: step.resume_token.clone(),
                flags: response.flags,
                rollback: step.rollback,
            },
            counted,
        )
        .await;
    if let (Err(e), Some(report)) = (&received, failure_report) {
        // The sender (a source across a connection) learns why, not just that the stream was
        // dropped.
        report.report(&e.message);
    }
    received?;
    sender
        .send_completed(SendCompletedRequest { request })
        .await
        .map_err(|e| e.context("confirming the received step to the sender"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The daemon spawns replications and pruning runs on the multi-threaded runtime.
    #[test]
    fn replicate_and_prune_futures_are_send() {
        fn is_send<T: Send>(_: T) {}
        fn check(s: Arc<dyn Sender>, r: Arc<dyn Receiver>, o: &ReplicationOptions, p: &Progress) {
            is_send(replicate(Arc::clone(&s), r, o, p));
            let endpoint: &dyn crate::endpoint::Endpoint = s.as_ref();
            is_send(crate::prune::prune(
                endpoint,
                crate::prune::PruneSide::Sender,
                &[],
            ));
        }
        let _ = check as fn(_, _, _, _);
    }
}
