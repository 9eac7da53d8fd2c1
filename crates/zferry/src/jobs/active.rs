//! The run loop of an active job (push, pull): replicate from the sender to the receiver, then
//! prune the sender and the receiver. Pruning runs even when replication failed: the keep rules
//! (`not_replicated`, cursors, holds) protect what has not been replicated.
//!
//! A run starts on a wakeup (the snapshotter after a round, `zferry signal wakeup`) or, for a
//! pull job with an `interval`, when the interval has passed since the last run started. Runs
//! never overlap; wakeups during a run collapse into one more run ([`super::trigger`]). A reset
//! aborts the current run (dropping it kills its `zfs` children) and clears the error state.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::sync::{Notify, watch};
use zferry_repl::endpoint::{Endpoint, FsPath, ListVersionsRequest, Receiver, Sender};
use zferry_repl::executor::{ReplicationOptions, replicate};
use zferry_repl::prune::{KeepRule, PruneReport, PruneSide, prune};
use zferry_repl::report::{Progress, Report};

use super::report::{
    fs_bytes, prune_failure, prune_side_status, replication_failure, replication_status,
};
use super::shared::JobShared;
use super::trigger::{RunOutcome, TriggerRx, Wake, notify};
use crate::config::monitor::Monitor;
use crate::config::snapshotting::Snapshotting;
use crate::daemon::metrics::Metrics;
use crate::daemon::status::{JobState, PruneSideStatus, PruneState, PruningStatus};
use crate::monitor::local::prefixes_for;
use crate::monitor::observe::{lag_from_listings, snapshot_ages};

/// A push or pull job, ready to run.
pub struct ActiveJob {
    /// The job's name.
    pub name: String,
    /// The sending side (local for push, remote for pull).
    pub sender: Arc<dyn Sender>,
    /// The receiving side (remote for push, local for pull).
    pub receiver: Arc<dyn Receiver>,
    /// Engine options.
    pub options: ReplicationOptions,
    /// `pruning.keep_sender`.
    pub keep_sender: Vec<KeepRule>,
    /// `pruning.keep_receiver`.
    pub keep_receiver: Vec<KeepRule>,
    /// Run every so often (pull with an `interval`); `None`: only on wakeups.
    pub interval: Option<Duration>,
    /// Status shared with the control server.
    pub shared: Arc<JobShared>,
    /// The daemon's metrics.
    pub metrics: Arc<Metrics>,
    /// The job's `monitor` limits (for the snapshot prefixes it watches).
    pub monitor: Monitor,
    /// The job's snapshotting, when it snapshots on the sending host (push).
    pub snapshotting: Option<Snapshotting>,
}

impl ActiveJob {
    /// Runs until `shutdown` turns true or every trigger is gone. Meanwhile the lag is observed
    /// once from what both sides hold already, so it is known before the first run; that
    /// observation never delays a run (the receiver may take its connect timeout to answer).
    pub async fn run_loop(
        self,
        trigger: TriggerRx,
        reset: Arc<Notify>,
        shutdown: watch::Receiver<bool>,
    ) {
        let runs = self.runs(trigger, reset, shutdown);
        tokio::pin!(runs);
        let initial = self.observe_freshness(Observation::Initial);
        tokio::pin!(initial);
        let mut observed = false;
        loop {
            tokio::select! {
                () = &mut runs => return,
                () = &mut initial, if !observed => observed = true,
            }
        }
    }

    async fn runs(
        &self,
        mut trigger: TriggerRx,
        reset: Arc<Notify>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut next_due = self.interval.map(|i| tokio::time::Instant::now() + i);
        // A pull job with an interval starts with a run, as zrepl does.
        let mut first = self.interval.is_some();
        loop {
            self.shared.update(|s| {
                s.next_run_at = next_due.and_then(|due| {
                    let left = due.saturating_duration_since(tokio::time::Instant::now());
                    Timestamp::now().checked_add(left).ok()
                });
            });
            let waiters = if first {
                first = false;
                Vec::new()
            } else {
                tokio::select! {
                    _ = shutdown.wait_for(|s| *s) => return,
                    wake = trigger.wait(next_due) => match wake {
                        Wake::Run(waiters) => waiters,
                        Wake::Closed => return,
                    },
                }
            };
            if let Some(interval) = self.interval {
                next_due = Some(tokio::time::Instant::now() + interval);
            }
            let outcome = tokio::select! {
                _ = shutdown.wait_for(|s| *s) => {
                    notify(waiters, &RunOutcome::failed("the daemon is shutting down"));
                    return;
                }
                () = reset.notified() => {
                    const WHY: &str = "the run was aborted by a reset";
                    self.shared.abort_run(WHY);
                    tracing::info!(job = %self.name, "run aborted by reset");
                    RunOutcome::failed(WHY)
                }
                outcome = self.run_once() => outcome,
            };
            notify(waiters, &outcome);
        }
    }

    /// One run: replicate, then prune both sides.
    pub async fn run_once(&self) -> RunOutcome {
        tracing::info!(job = %self.name, subsystem = "replication", "run starts");
        self.shared.update(|s| {
            s.state = JobState::Replicating;
            s.pruning = None;
        });
        let progress = Progress::new();
        self.shared.set_progress(Some(progress.clone()));
        let started = Instant::now();
        let report = replicate(
            Arc::clone(&self.sender),
            Arc::clone(&self.receiver),
            &self.options,
            &progress,
        )
        .await;
        self.metrics
            .observe_replication_state(&self.name, "replicating", started.elapsed());
        self.shared.set_progress(None);
        self.record_replication(&report);
        let mut failures: Vec<String> = replication_failure(&report).into_iter().collect();
        if let Some(f) = failures.first() {
            tracing::warn!(job = %self.name, subsystem = "replication", error = %f, "replication failed");
        }
        let warnings = nothing_replicated_warning(&report)
            .into_iter()
            .collect::<Vec<_>>();
        for w in &warnings {
            tracing::warn!(job = %self.name, subsystem = "replication", "{w}");
        }
        self.shared.update(|s| s.warnings.clone_from(&warnings));

        self.shared.update(|s| {
            s.state = JobState::Pruning;
            s.pruning = Some(PruningStatus {
                sender: Some(pending()),
                receiver: Some(pending()),
            });
        });
        let sender_filesystems: Option<Vec<FsPath>> = match self.sender.list_filesystems().await {
            Ok(list) => Some(list.into_iter().map(|f| f.path).collect()),
            Err(e) => {
                tracing::warn!(job = %self.name, error = %e, "cannot list the sender's filesystems; the receiver is not pruned");
                None
            }
        };
        let sender: &dyn Endpoint = &*self.sender;
        let sender_report = self
            .prune_side("sender", sender, PruneSide::Sender, &self.keep_sender)
            .await;
        failures.extend(prune_failure("sender", &sender_report));
        let receiver: &dyn Endpoint = &*self.receiver;
        let receiver_report = self
            .prune_side(
                "receiver",
                receiver,
                PruneSide::Receiver {
                    sender_filesystems: sender_filesystems.as_deref(),
                },
                &self.keep_receiver,
            )
            .await;
        failures.extend(prune_failure("receiver", &receiver_report));
        self.observe_freshness(Observation::AfterRun).await;

        self.shared.set_state(JobState::Idle);
        if failures.is_empty() {
            let now = Timestamp::now();
            self.metrics.set_last_success(&self.name, now);
            self.shared.observe(|o| o.last_success = Some(now));
            tracing::info!(job = %self.name, "run done");
            RunOutcome::ok().with_warnings(warnings)
        } else {
            RunOutcome::failed(failures.join("; ")).with_warnings(warnings)
        }
    }

    fn record_replication(&self, report: &Report) {
        let status = replication_status(report, Timestamp::now());
        self.shared.update(|s| s.replication = status);
        let mut failed = 0;
        if let Some(last) = report.last_attempt() {
            failed = last
                .filesystems
                .iter()
                .filter(|f| f.state.is_failure())
                .count();
        }
        self.metrics
            .set_filesystem_errors(&self.name, u64::try_from(failed).unwrap_or(u64::MAX));
        for attempt in &report.attempts {
            for fs in &attempt.filesystems {
                let bytes = fs_bytes(fs);
                if bytes > 0 {
                    self.metrics
                        .add_bytes_replicated(&self.name, fs.path.as_str(), bytes);
                }
            }
        }
    }

    async fn prune_side(
        &self,
        side: &str,
        endpoint: &dyn Endpoint,
        which: PruneSide<'_>,
        rules: &[KeepRule],
    ) -> PruneReport {
        self.set_prune(
            side,
            PruneSideStatus {
                state: PruneState::Running,
                error: None,
                filesystems: Vec::new(),
            },
        );
        let started = Instant::now();
        let report = prune(endpoint, which, rules).await;
        self.metrics
            .observe_pruning(&self.name, side, started.elapsed());
        let destroyed: usize = report.filesystems.iter().map(|f| f.destroyed.len()).sum();
        match prune_failure(side, &report) {
            None => {
                tracing::info!(job = %self.name, subsystem = "pruning", side, destroyed, "pruning done");
            }
            Some(error) => {
                tracing::warn!(job = %self.name, subsystem = "pruning", side, destroyed, %error, "pruning failed");
            }
        }
        self.set_prune(side, prune_side_status(&report));
        report
    }

    fn set_prune(&self, side: &str, status: PruneSideStatus) {
        self.shared.update(|s| {
            let p = s.pruning.get_or_insert(PruningStatus {
                sender: None,
                receiver: None,
            });
            if side == "sender" {
                p.sender = Some(status);
            } else {
                p.receiver = Some(status);
            }
        });
    }

    /// Lists both sides with creation times and records, per filesystem the job replicates, the
    /// newest sender snapshot present on the receiver (status and metrics), and on a sending host
    /// the newest snapshot per watched prefix. A side that cannot be listed keeps the previous
    /// observation, so the lag keeps growing while replication is failing.
    async fn observe_freshness(&self, when: Observation) {
        let all = || ListVersionsRequest {
            filesystems: Vec::new(),
            with_creation: true,
            with_holds: false,
        };
        let sender = match self.sender.list_versions(all()).await {
            Ok(l) => l,
            Err(e) => return self.lag_unobservable(format!("cannot list the sender: {e}")),
        };
        if let Some(snapshotting) = &self.snapshotting {
            let ages = snapshot_ages(&sender, |fs| {
                prefixes_for(&self.monitor, Some(snapshotting), fs)
            });
            self.shared.observe(|o| o.snapshots = ages);
        }
        let receiver = match self.receiver.list_versions(all()).await {
            Ok(l) => l,
            Err(e) => return self.lag_unobservable(format!("cannot list the receiver: {e}")),
        };
        let replicated: Vec<FsPath> = match self.sender.list_filesystems().await {
            Ok(list) => list
                .into_iter()
                .filter(|f| !f.is_placeholder)
                .map(|f| f.path)
                .collect(),
            Err(e) => return self.lag_unobservable(format!("cannot list the sender: {e}")),
        };
        let lag = lag_from_listings(&replicated, &sender, &receiver);
        let mut stale = false;
        self.shared.observe(|o| {
            // A run may have observed meanwhile; the initial listing is older then.
            stale = when == Observation::Initial && o.lag.is_some();
            if !stale {
                o.lag = Some(
                    lag.iter()
                        .map(|(fs, at)| ((None, fs.clone()), *at))
                        .collect(),
                );
                o.lag_error = None;
            }
        });
        if !stale {
            self.metrics.set_replicated_newest(&self.name, &lag);
        }
    }

    /// Records why the lag cannot be observed, unless an earlier observation stands.
    fn lag_unobservable(&self, why: String) {
        tracing::debug!(job = %self.name, error = %why, "lag not observed");
        self.shared.observe(|o| {
            if o.lag.is_none() {
                o.lag_error = Some(why);
            }
        });
    }
}

/// The warning for an attempt that found no filesystem to replicate at all: almost always a
/// `filesystems` filter (push) or a source's filter (pull) that matches no dataset.
fn nothing_replicated_warning(report: &Report) -> Option<String> {
    let attempt = report.last_attempt()?;
    (attempt.error.is_none() && attempt.filesystems.is_empty()).then(|| {
        "the sender has no filesystem to replicate: its `filesystems` filter matches no dataset"
            .to_string()
    })
}

/// When the freshness is observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Observation {
    /// At the job's start, concurrently with its first run.
    Initial,
    /// At the end of a run.
    AfterRun,
}

fn pending() -> PruneSideStatus {
    PruneSideStatus {
        state: PruneState::Pending,
        error: None,
        filesystems: Vec::new(),
    }
}
