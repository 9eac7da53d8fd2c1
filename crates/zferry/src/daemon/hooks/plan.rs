//! Running the hooks of one filesystem around its snapshot, as two phases: [`HookPlan::run_pre`]
//! before the round's `zfs snapshot`, [`HookPlan::run_post`] after it.
//!
//! zrepl's documentation says that after a fatal pre-edge failure "only post-edges corresponding
//! to previous successful pre-edges" run; its code at the time of writing returned without running
//! any post edge in that case, which leaves e.g. a MySQL read lock held until the connection
//! drops. zferry follows the documentation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::output::CapturedOutput;
use super::{Edge, Hook, HookEnv, HookOutcome, HookState, hook_matches};

/// Where one step (one edge of one hook) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Not run yet.
    Pending,
    /// Ran successfully.
    Ok,
    /// Ran and failed.
    Err,
    /// Not run because an earlier fatal pre edge failed.
    SkippedDueToFatalErr,
    /// A post edge not run because its own pre edge failed.
    SkippedDueToPreErr,
}

/// The report of one step, for logs and status.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StepReport {
    /// The hook's description.
    pub hook: String,
    /// Which edge.
    pub edge: Edge,
    /// Where it stands.
    pub status: StepStatus,
    /// Whether a failure of this step is fatal (pre edges of `err_is_fatal` hooks).
    pub fatal: bool,
    /// How long it ran.
    pub duration_ms: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
    /// What it printed.
    pub output: Option<CapturedOutput>,
}

struct Step {
    hook: Arc<dyn Hook>,
    state: HookState,
    pre: StepReport,
    post: StepReport,
}

/// The hooks of one filesystem for one snapshot.
pub struct HookPlan {
    env: HookEnv,
    steps: Vec<Step>,
    /// Index of the hook whose fatal pre edge failed.
    fatal_at: Option<usize>,
}

impl HookPlan {
    /// The plan for `env.filesystem`: those of `hooks` (in configuration order) whose filter
    /// matches it.
    pub fn new(hooks: &[Arc<dyn Hook>], env: HookEnv) -> HookPlan {
        let steps = hooks
            .iter()
            .filter(|hook| hook_matches(hook.as_ref(), &env.filesystem))
            .map(|hook| {
                let report = |edge| StepReport {
                    hook: hook.describe(),
                    edge,
                    status: StepStatus::Pending,
                    fatal: edge == Edge::Pre && hook.settings().err_is_fatal,
                    duration_ms: None,
                    error: None,
                    output: None,
                };
                Step {
                    hook: Arc::clone(hook),
                    state: None,
                    pre: report(Edge::Pre),
                    post: report(Edge::Post),
                }
            })
            .collect();
        HookPlan {
            env,
            steps,
            fatal_at: None,
        }
    }

    /// Runs the pre edges in order. Returns whether the snapshot should be taken.
    pub async fn run_pre(&mut self) -> bool {
        for index in 0..self.steps.len() {
            let step = &mut self.steps[index];
            let (outcome, took) = run_step(step, Edge::Pre, &self.env).await;
            let failed = outcome.error.is_some();
            record(&mut step.pre, outcome, took);
            if failed {
                tracing::error!(
                    filesystem = %self.env.filesystem,
                    hook = %step.pre.hook,
                    error = step.pre.error.as_deref().unwrap_or_default(),
                    "pre-snapshot hook failed"
                );
                if step.hook.settings().err_is_fatal {
                    self.fatal_at = Some(index);
                    break;
                }
            }
        }
        if let Some(fatal) = self.fatal_at {
            self.steps[fatal].post.status = StepStatus::SkippedDueToFatalErr;
            for step in &mut self.steps[fatal + 1..] {
                step.pre.status = StepStatus::SkippedDueToFatalErr;
                step.post.status = StepStatus::SkippedDueToFatalErr;
            }
            tracing::error!(
                filesystem = %self.env.filesystem,
                "fatal pre-snapshot hook failure: no snapshot of this filesystem"
            );
            return false;
        }
        true
    }

    /// Runs the post edges in reverse order, for hooks whose pre edge succeeded. A failing post
    /// edge does not stop the others.
    pub async fn run_post(&mut self) {
        let ran = self.fatal_at.unwrap_or(self.steps.len());
        for step in self.steps[..ran].iter_mut().rev() {
            if step.pre.status != StepStatus::Ok {
                step.post.status = StepStatus::SkippedDueToPreErr;
                continue;
            }
            let (outcome, took) = run_step(step, Edge::Post, &self.env).await;
            if let Some(error) = &outcome.error {
                tracing::error!(
                    filesystem = %self.env.filesystem,
                    hook = %step.post.hook,
                    error = %error,
                    "post-snapshot hook failed"
                );
            }
            record(&mut step.post, outcome, took);
        }
    }

    /// The steps in execution order: pre edges, then post edges reversed.
    pub fn report(&self) -> Vec<StepReport> {
        let pre = self.steps.iter().map(|s| s.pre.clone());
        let post = self.steps.iter().rev().map(|s| s.post.clone());
        pre.chain(post).collect()
    }

    /// True when any step failed.
    pub fn had_error(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.pre.status == StepStatus::Err || s.post.status == StepStatus::Err)
    }
}

async fn run_step(step: &mut Step, edge: Edge, env: &HookEnv) -> (HookOutcome, Duration) {
    let started = Instant::now();
    let outcome = step.hook.run(edge, env, &mut step.state).await;
    (outcome, started.elapsed())
}

fn record(report: &mut StepReport, outcome: HookOutcome, took: Duration) {
    report.status = if outcome.error.is_some() {
        StepStatus::Err
    } else {
        StepStatus::Ok
    };
    report.duration_ms = Some(millis(took));
    report.error = outcome.error;
    report.output = outcome.output;
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::super::HookSettings;
    use super::*;

    /// A hook that records its invocations and fails where told.
    struct Fake {
        name: &'static str,
        settings: HookSettings,
        fail_pre: bool,
        log: Arc<Mutex<Vec<String>>>,
    }

    #[async_trait::async_trait]
    impl Hook for Fake {
        fn describe(&self) -> String {
            self.name.to_string()
        }
        fn settings(&self) -> &HookSettings {
            &self.settings
        }
        async fn run(&self, edge: Edge, env: &HookEnv, _state: &mut HookState) -> HookOutcome {
            self.log.lock().expect("lock").push(format!(
                "{}:{}:{}",
                self.name,
                edge.hook_type(),
                env.filesystem
            ));
            if edge == Edge::Pre && self.fail_pre {
                HookOutcome::failed("boom")
            } else {
                HookOutcome::ok()
            }
        }
    }

    fn fake(
        name: &'static str,
        fatal: bool,
        fail_pre: bool,
        log: &Arc<Mutex<Vec<String>>>,
    ) -> Arc<dyn Hook> {
        Arc::new(Fake {
            name,
            settings: HookSettings {
                err_is_fatal: fatal,
                ..HookSettings::default()
            },
            fail_pre,
            log: Arc::clone(log),
        })
    }

    fn env(fs: &str) -> HookEnv {
        HookEnv {
            filesystem: fs.into(),
            snapname: "s".into(),
            dry_run: false,
        }
    }

    fn statuses(plan: &HookPlan) -> Vec<(String, Edge, StepStatus)> {
        plan.report()
            .into_iter()
            .map(|r| (r.hook, r.edge, r.status))
            .collect()
    }

    #[tokio::test]
    async fn pre_in_order_post_in_reverse() {
        let log = Arc::default();
        let hooks = [fake("a", false, false, &log), fake("b", false, false, &log)];
        let mut plan = HookPlan::new(&hooks, env("tank/x"));
        assert!(plan.run_pre().await);
        plan.run_post().await;
        assert_eq!(
            *log.lock().expect("lock"),
            [
                "a:pre_snapshot:tank/x",
                "b:pre_snapshot:tank/x",
                "b:post_snapshot:tank/x",
                "a:post_snapshot:tank/x"
            ]
        );
        assert!(!plan.had_error());
    }

    #[tokio::test]
    async fn fatal_pre_failure_stops_snapshot_and_unwinds_successful_hooks() {
        let log = Arc::default();
        let hooks = [
            fake("ok", false, false, &log),
            fake("soft", false, true, &log),
            fake("hard", true, true, &log),
            fake("later", false, false, &log),
        ];
        let mut plan = HookPlan::new(&hooks, env("tank/x"));
        assert!(!plan.run_pre().await, "no snapshot after a fatal failure");
        plan.run_post().await;
        assert_eq!(
            *log.lock().expect("lock"),
            [
                "ok:pre_snapshot:tank/x",
                "soft:pre_snapshot:tank/x",
                "hard:pre_snapshot:tank/x",
                "ok:post_snapshot:tank/x"
            ]
        );
        use Edge::*;
        use StepStatus::*;
        assert_eq!(
            statuses(&plan),
            [
                ("ok".into(), Pre, Ok),
                ("soft".into(), Pre, Err),
                ("hard".into(), Pre, Err),
                ("later".into(), Pre, SkippedDueToFatalErr),
                ("later".into(), Post, SkippedDueToFatalErr),
                ("hard".into(), Post, SkippedDueToFatalErr),
                ("soft".into(), Post, SkippedDueToPreErr),
                ("ok".into(), Post, Ok),
            ]
        );
        assert!(plan.had_error());
    }

    #[tokio::test]
    async fn non_fatal_failure_keeps_snapshot_and_skips_own_post() {
        let log = Arc::default();
        let hooks = [
            fake("soft", false, true, &log),
            fake("b", false, false, &log),
        ];
        let mut plan = HookPlan::new(&hooks, env("tank/x"));
        assert!(plan.run_pre().await);
        plan.run_post().await;
        assert_eq!(
            *log.lock().expect("lock"),
            [
                "soft:pre_snapshot:tank/x",
                "b:pre_snapshot:tank/x",
                "b:post_snapshot:tank/x"
            ]
        );
    }

    #[tokio::test]
    async fn filters_select_hooks_per_filesystem() {
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let only_db: Arc<dyn Hook> = Arc::new(Fake {
            name: "db",
            settings: HookSettings {
                filesystems: Some(Arc::new(|fs: &str| fs == "tank/db")),
                ..HookSettings::default()
            },
            fail_pre: false,
            log: Arc::clone(&log),
        });
        let hooks = [only_db];
        let mut other = HookPlan::new(&hooks, env("tank/other"));
        assert!(other.run_pre().await);
        assert!(other.report().is_empty());
        let mut db = HookPlan::new(&hooks, env("tank/db"));
        assert!(db.run_pre().await);
        assert_eq!(*log.lock().expect("lock"), ["db:pre_snapshot:tank/db"]);
    }
}
