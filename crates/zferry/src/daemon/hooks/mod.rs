//! Snapshot hooks: programs or database actions run per filesystem before (`pre_snapshot`) and
//! after (`post_snapshot`) the snapshot.
//!
//! Order and failure rules (zrepl's documented semantics, see [`plan`]): pre edges run in
//! configuration order, post edges in reverse. A failing pre edge of a hook with `err_is_fatal`
//! stops the remaining pre edges and the snapshot of that filesystem; post edges then run only
//! for hooks whose pre edge succeeded. A failing non-fatal pre edge is logged, the snapshot is
//! still taken, and that hook's post edge is skipped. Failures never affect other filesystems.

pub mod command;
pub mod mysql;
pub mod mysql_dsn;
pub mod output;
pub mod plan;
pub mod postgres;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use self::output::CapturedOutput;

/// zrepl's default hook timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Which side of the snapshot a hook invocation is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Edge {
    /// Before the snapshot.
    Pre,
    /// After the snapshot.
    Post,
}

impl Edge {
    /// The value of `ZFERRY_HOOKTYPE` for this edge.
    pub fn hook_type(self) -> &'static str {
        match self {
            Edge::Pre => "pre_snapshot",
            Edge::Post => "post_snapshot",
        }
    }
}

/// What a hook invocation is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookEnv {
    /// The filesystem being snapshotted.
    pub filesystem: String,
    /// The snapshot name (after `@`).
    pub snapname: String,
    /// A dry run: hooks should say what they would do, not do it.
    pub dry_run: bool,
}

/// Decides whether a hook applies to a filesystem (the hook's `filesystems` filter).
pub trait DatasetFilter: Send + Sync {
    /// True when the hook should run for `filesystem`.
    fn matches(&self, filesystem: &str) -> bool;
}

impl<F: Fn(&str) -> bool + Send + Sync> DatasetFilter for F {
    fn matches(&self, filesystem: &str) -> bool {
        self(filesystem)
    }
}

/// The settings every hook type shares.
#[derive(Clone)]
pub struct HookSettings {
    /// A failing pre edge prevents the snapshot and later hooks.
    pub err_is_fatal: bool,
    /// How long one invocation may take.
    pub timeout: Duration,
    /// Restricts the hook to some filesystems; `None` means all.
    pub filesystems: Option<Arc<dyn DatasetFilter>>,
}

impl Default for HookSettings {
    fn default() -> Self {
        HookSettings {
            err_is_fatal: false,
            timeout: DEFAULT_TIMEOUT,
            filesystems: None,
        }
    }
}

impl std::fmt::Debug for HookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookSettings")
            .field("err_is_fatal", &self.err_is_fatal)
            .field("timeout", &self.timeout)
            .field("filtered", &self.filesystems.is_some())
            .finish()
    }
}

/// Whatever a hook's pre edge leaves for its post edge (e.g. the database connection holding a
/// lock).
pub type HookState = Option<Box<dyn Any + Send>>;

/// The result of one hook invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookOutcome {
    /// Why the invocation failed; `None` on success.
    pub error: Option<String>,
    /// What the hook printed (command hooks only).
    pub output: Option<CapturedOutput>,
}

impl HookOutcome {
    /// A successful invocation without output.
    pub fn ok() -> HookOutcome {
        HookOutcome::default()
    }

    /// A failed invocation without output.
    pub fn failed(error: impl std::fmt::Display) -> HookOutcome {
        HookOutcome {
            error: Some(error.to_string()),
            output: None,
        }
    }
}

/// A snapshot hook.
#[async_trait::async_trait]
pub trait Hook: Send + Sync {
    /// A short description for logs and status (`command /etc/zferry/hook.sh`).
    fn describe(&self) -> String;
    /// The shared settings.
    fn settings(&self) -> &HookSettings;
    /// Runs one edge. `state` is empty before the pre edge and holds what the pre edge left when
    /// the post edge runs.
    async fn run(&self, edge: Edge, env: &HookEnv, state: &mut HookState) -> HookOutcome;
}

/// True when `hook` applies to `filesystem`.
pub fn hook_matches(hook: &dyn Hook, filesystem: &str) -> bool {
    hook.settings()
        .filesystems
        .as_ref()
        .is_none_or(|filter| filter.matches(filesystem))
}
