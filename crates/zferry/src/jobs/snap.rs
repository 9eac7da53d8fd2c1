//! The pruning loop of a snap job: after each snapshot round (and on `zferry signal wakeup`),
//! prune the job's filesystems with `pruning.keep`.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;
use zferry_repl::endpoint::{Endpoint, ListVersionsRequest};
use zferry_repl::prune::{KeepRule, PruneSide, prune};

use super::report::{prune_failure, prune_side_status};
use super::shared::JobShared;
use super::trigger::{RunOutcome, TriggerRx, Wake, notify};
use crate::config::monitor::Monitor;
use crate::config::snapshotting::Snapshotting;
use crate::daemon::metrics::Metrics;
use crate::daemon::status::{JobState, PruneSideStatus, PruneState, PruningStatus};
use crate::monitor::local::prefixes_for;
use crate::monitor::observe::snapshot_ages;

/// A snap job's pruner.
pub struct SnapPruner {
    /// The job's name.
    pub name: String,
    /// The local filesystems (a sender endpoint over the job's filter).
    pub endpoint: Arc<dyn Endpoint>,
    /// `pruning.keep`.
    pub keep: Vec<KeepRule>,
    /// The job's `monitor` limits (for the snapshot prefixes it watches).
    pub monitor: Monitor,
    /// The job's snapshotting (its prefix is watched when `monitor` names none).
    pub snapshotting: Snapshotting,
    /// Status shared with the control server.
    pub shared: Arc<JobShared>,
    /// The daemon's metrics.
    pub metrics: Arc<Metrics>,
}

impl SnapPruner {
    /// Prunes on every wakeup until `shutdown` or every trigger is gone.
    pub async fn run_loop(self, mut trigger: TriggerRx, mut shutdown: watch::Receiver<bool>) {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            () = self.observe_snapshot_ages() => {}
        }
        loop {
            let waiters = tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                wake = trigger.wait(None) => match wake {
                    Wake::Run(waiters) => waiters,
                    Wake::Closed => return,
                },
            };
            let outcome = tokio::select! {
                _ = shutdown.wait_for(|s| *s) => {
                    notify(waiters, &RunOutcome::failed("the daemon is shutting down"));
                    return;
                }
                outcome = self.run_once() => outcome,
            };
            notify(waiters, &outcome);
        }
    }

    /// One pruning run.
    pub async fn run_once(&self) -> RunOutcome {
        self.shared.update(|s| {
            s.state = JobState::Pruning;
            s.pruning = Some(PruningStatus {
                sender: Some(PruneSideStatus {
                    state: PruneState::Running,
                    error: None,
                    filesystems: Vec::new(),
                }),
                receiver: None,
            });
        });
        let started = Instant::now();
        let report = prune(&*self.endpoint, PruneSide::Sender, &self.keep).await;
        self.metrics
            .observe_pruning(&self.name, "local", started.elapsed());
        let status = prune_side_status(&report);
        let warnings: Vec<String> = (report.error.is_none() && report.filesystems.is_empty())
            .then(|| "the `filesystems` filter matches no dataset".to_string())
            .into_iter()
            .collect();
        for w in &warnings {
            tracing::warn!(job = %self.name, subsystem = "pruning", "{w}");
        }
        self.shared.update(|s| {
            s.state = JobState::Idle;
            s.warnings.clone_from(&warnings);
            if let Some(p) = s.pruning.as_mut() {
                p.sender = Some(status);
            }
        });
        self.observe_snapshot_ages().await;
        match prune_failure("filesystems", &report) {
            None => {
                let now = jiff::Timestamp::now();
                self.shared.observe(|o| o.last_success = Some(now));
                RunOutcome::ok().with_warnings(warnings)
            }
            Some(e) => {
                tracing::warn!(job = %self.name, subsystem = "pruning", error = %e, "pruning failed");
                RunOutcome::failed(e).with_warnings(warnings)
            }
        }
    }

    /// Records the newest snapshot per watched prefix and filesystem (status and metrics).
    async fn observe_snapshot_ages(&self) {
        let listing = self
            .endpoint
            .list_versions(ListVersionsRequest {
                filesystems: Vec::new(),
                with_creation: true,
                with_holds: false,
            })
            .await;
        let snapshotting = Some(&self.snapshotting);
        self.shared.observe(|o| match listing {
            Ok(l) => {
                o.snapshots = snapshot_ages(&l, |fs| prefixes_for(&self.monitor, snapshotting, fs));
                o.snapshots_error = None;
            }
            Err(e) => o.snapshots_error = Some(format!("cannot list the filesystems: {e}")),
        });
    }
}
