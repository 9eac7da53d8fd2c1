//! The pruning loop of a snap job: after each snapshot round (and on `zferry signal wakeup`),
//! prune the job's filesystems with `pruning.keep`.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;
use zferry_repl::endpoint::Endpoint;
use zferry_repl::prune::{KeepRule, PruneSide, prune};

use super::report::{prune_failure, prune_side_status};
use super::shared::JobShared;
use super::trigger::{RunOutcome, TriggerRx, Wake, notify};
use crate::daemon::metrics::Metrics;
use crate::daemon::status::{JobState, PruneSideStatus, PruneState, PruningStatus};

/// A snap job's pruner.
pub struct SnapPruner {
    /// The job's name.
    pub name: String,
    /// The local filesystems (a sender endpoint over the job's filter).
    pub endpoint: Arc<dyn Endpoint>,
    /// `pruning.keep`.
    pub keep: Vec<KeepRule>,
    /// Status shared with the control server.
    pub shared: Arc<JobShared>,
    /// The daemon's metrics.
    pub metrics: Arc<Metrics>,
}

impl SnapPruner {
    /// Prunes on every wakeup until `shutdown` or every trigger is gone.
    pub async fn run_loop(self, mut trigger: TriggerRx, mut shutdown: watch::Receiver<bool>) {
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
        self.shared.update(|s| {
            s.state = JobState::Idle;
            if let Some(p) = s.pruning.as_mut() {
                p.sender = Some(status);
            }
        });
        match prune_failure("filesystems", &report) {
            None => RunOutcome::ok(),
            Some(e) => {
                tracing::warn!(job = %self.name, subsystem = "pruning", error = %e, "pruning failed");
                RunOutcome::failed(e)
            }
        }
    }
}
