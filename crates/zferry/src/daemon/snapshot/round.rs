//! One snapshotting round: pre hooks per filesystem, then the snapshots of all filesystems that
//! may be snapshotted, sharing one name, one `zfs snapshot` per pool (see [`super::batch`]), then
//! post hooks per filesystem in reverse.
//!
//! zrepl snapshots filesystem by filesystem, each with its own timestamp; zferry snapshots a round
//! atomically per pool so that all filesystems of a pool share one consistent point in time. Hooks
//! keep their per-filesystem semantics: all pre edges run before the pool's snapshot, all post
//! edges after it (a MySQL lock is therefore held across the snapshot of every filesystem).

use std::sync::Arc;

use super::batch::{SnapshotInvocation, plan_snapshot_invocations};
use crate::daemon::hooks::plan::{HookPlan, StepReport};
use crate::daemon::hooks::{Hook, HookEnv};

/// Creates the snapshots of one invocation (the daemon backs this with `zferry_zfs`).
#[async_trait::async_trait]
pub trait SnapshotCreator: Send + Sync {
    /// Runs `zfs snapshot` for all of `invocation.snapshots` at once.
    async fn create(&self, invocation: &SnapshotInvocation) -> Result<(), String>;
}

/// What happened to one filesystem in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsSnapState {
    /// The snapshot was created (hooks may still have reported non-fatal errors).
    Done,
    /// A fatal pre hook failed: no snapshot.
    SkippedByHook,
    /// `zfs snapshot` failed.
    Error,
}

/// The report of one filesystem in a round.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FsRoundReport {
    /// The filesystem.
    pub filesystem: String,
    /// The outcome.
    pub state: FsSnapState,
    /// Error of `zfs snapshot`, if any.
    pub error: Option<String>,
    /// The hook steps in execution order.
    pub hooks: Vec<StepReport>,
}

/// The report of a round.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoundReport {
    /// The snapshot name shared by all filesystems.
    pub snapname: String,
    /// Per filesystem, sorted by name.
    pub filesystems: Vec<FsRoundReport>,
}

impl RoundReport {
    /// True when every filesystem was snapshotted and no hook failed.
    pub fn ok(&self) -> bool {
        self.filesystems.iter().all(|fs| {
            fs.state == FsSnapState::Done
                && fs
                    .hooks
                    .iter()
                    .all(|h| h.status != crate::daemon::hooks::plan::StepStatus::Err)
        })
    }
}

/// The parameters of a round.
pub struct Round<'a> {
    /// The filesystems to snapshot.
    pub filesystems: &'a [String],
    /// The snapshot name (after `@`).
    pub snapname: &'a str,
    /// The configured hooks, in configuration order.
    pub hooks: &'a [Arc<dyn Hook>],
    /// Dry run: hooks are told so and no snapshot is created.
    pub dry_run: bool,
    /// Byte budget per `zfs snapshot` command line.
    pub arg_budget: usize,
}

/// Runs a round (see the module docs).
pub async fn run_round(round: Round<'_>, creator: &dyn SnapshotCreator) -> RoundReport {
    let mut filesystems = round.filesystems.to_vec();
    filesystems.sort_unstable();
    filesystems.dedup();

    let mut plans = Vec::with_capacity(filesystems.len());
    let mut to_snapshot = Vec::new();
    for fs in &filesystems {
        let mut plan = HookPlan::new(
            round.hooks,
            HookEnv {
                filesystem: fs.clone(),
                snapname: round.snapname.to_string(),
                dry_run: round.dry_run,
            },
        );
        let take = plan.run_pre().await;
        if take {
            to_snapshot.push(fs.clone());
        }
        plans.push((take, plan));
    }

    let mut failures: Vec<(String, String)> = Vec::new();
    for invocation in plan_snapshot_invocations(&to_snapshot, round.snapname, round.arg_budget) {
        if round.dry_run {
            tracing::info!(args = ?invocation.args(), "dry run: would snapshot");
            continue;
        }
        if let Err(error) = creator.create(&invocation).await {
            tracing::error!(pool = %invocation.pool, %error, "zfs snapshot failed");
            for snapshot in &invocation.snapshots {
                let fs = snapshot.split('@').next().unwrap_or(snapshot);
                failures.push((fs.to_string(), error.clone()));
            }
        }
    }

    for (_, plan) in plans.iter_mut().rev() {
        plan.run_post().await;
    }

    let reports = filesystems
        .into_iter()
        .zip(plans)
        .map(|(filesystem, (taken, plan))| {
            let error = failures
                .iter()
                .find(|(fs, _)| *fs == filesystem)
                .map(|(_, e)| e.clone());
            let state = match (taken, &error) {
                (false, _) => FsSnapState::SkippedByHook,
                (true, Some(_)) => FsSnapState::Error,
                (true, None) => FsSnapState::Done,
            };
            FsRoundReport {
                filesystem,
                state,
                error,
                hooks: plan.report(),
            }
        })
        .collect();
    RoundReport {
        snapname: round.snapname.to_string(),
        filesystems: reports,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::daemon::hooks::{Edge, HookOutcome, HookSettings, HookState};
    use crate::daemon::snapshot::batch::DEFAULT_ARG_BUDGET;

    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<Vec<String>>>,
        fail_pool: Option<&'static str>,
    }

    #[async_trait::async_trait]
    impl SnapshotCreator for Recorder {
        async fn create(&self, invocation: &SnapshotInvocation) -> Result<(), String> {
            self.calls.lock().expect("lock").push(invocation.args());
            if self.fail_pool == Some(invocation.pool.as_str()) {
                return Err("out of space".into());
            }
            Ok(())
        }
    }

    struct FailOn(&'static str);

    #[async_trait::async_trait]
    impl Hook for FailOn {
        fn describe(&self) -> String {
            format!("fail on {}", self.0)
        }
        fn settings(&self) -> &HookSettings {
            static FATAL: std::sync::OnceLock<HookSettings> = std::sync::OnceLock::new();
            FATAL.get_or_init(|| HookSettings {
                err_is_fatal: true,
                ..HookSettings::default()
            })
        }
        async fn run(&self, edge: Edge, env: &HookEnv, _: &mut HookState) -> HookOutcome {
            if edge == Edge::Pre && env.filesystem == self.0 {
                HookOutcome::failed("refused")
            } else {
                HookOutcome::ok()
            }
        }
    }

    fn fss(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn one_atomic_snapshot_per_pool_skipping_fatally_hooked_filesystems() {
        let creator = Recorder::default();
        let hooks: Vec<Arc<dyn Hook>> = vec![Arc::new(FailOn("tank/db"))];
        let filesystems = fss(&["tank/a", "tank/db", "backup/b", "tank/c"]);
        let report = run_round(
            Round {
                filesystems: &filesystems,
                snapname: "zrepl_1",
                hooks: &hooks,
                dry_run: false,
                arg_budget: DEFAULT_ARG_BUDGET,
            },
            &creator,
        )
        .await;
        assert_eq!(
            *creator.calls.lock().expect("lock"),
            vec![
                fss(&["snapshot", "backup/b@zrepl_1"]),
                fss(&["snapshot", "tank/a@zrepl_1", "tank/c@zrepl_1"]),
            ]
        );
        let states: Vec<_> = report
            .filesystems
            .iter()
            .map(|f| (f.filesystem.as_str(), f.state))
            .collect();
        assert_eq!(
            states,
            [
                ("backup/b", FsSnapState::Done),
                ("tank/a", FsSnapState::Done),
                ("tank/c", FsSnapState::Done),
                ("tank/db", FsSnapState::SkippedByHook),
            ]
        );
        assert!(!report.ok());
    }

    #[tokio::test]
    async fn failed_zfs_snapshot_marks_the_pool_and_dry_run_creates_nothing() {
        let creator = Recorder {
            fail_pool: Some("tank"),
            ..Recorder::default()
        };
        let filesystems = fss(&["tank/a", "backup/b"]);
        let round = |dry_run| Round {
            filesystems: &filesystems,
            snapname: "s",
            hooks: &[],
            dry_run,
            arg_budget: DEFAULT_ARG_BUDGET,
        };
        let report = run_round(round(false), &creator).await;
        assert_eq!(report.filesystems[0].state, FsSnapState::Done);
        assert_eq!(report.filesystems[1].state, FsSnapState::Error);
        assert_eq!(report.filesystems[1].error.as_deref(), Some("out of space"));

        let dry = Recorder::default();
        let report = run_round(round(true), &dry).await;
        assert!(dry.calls.lock().expect("lock").is_empty());
        assert!(report.ok());
    }
}
