//! The job runtime: what each job type does while the daemon runs.
//!
//! - push: its snapshotter snapshots, each round wakes the [`active::ActiveJob`], which
//!   replicates to the sink through the rpc client and then prunes sender and receiver;
//! - sink: serves the rpc server with a `LocalReceiver` rooted at `root_fs/<client identity>`;
//! - pull: every `interval` (or only on wakeups with `manual`) replicates from the source, then
//!   prunes both sides;
//! - source: serves a `LocalSender` over the job's filter, its lane keyed by job and client
//!   identity (so many pullers never share cursors or holds), and snapshots;
//! - snap: snapshots, and prunes after each round ([`snap::SnapPruner`]).
//!
//! Each job publishes its status through a [`shared::JobShared`]; wakeups go through a
//! [`trigger::Trigger`]. The daemon supervisor ([`crate::runtime`]) builds jobs from the
//! configuration and starts their tasks.

pub mod active;
pub mod datasets;
pub mod options;
pub mod passive;
pub mod report;
pub mod shared;
pub mod snap;
pub mod snapshotter;
pub mod trigger;

use std::sync::Arc;

use tokio::sync::Notify;

use shared::JobShared;
use trigger::Trigger;

/// What the control server holds of a running job.
#[derive(Debug, Clone)]
pub struct JobHandle {
    /// The job's name.
    pub name: String,
    /// `push`, `sink`, ... (for messages).
    pub type_name: &'static str,
    /// Its status.
    pub shared: Arc<JobShared>,
    /// Wakes it up (jobs that run: push, pull, snap).
    pub trigger: Option<Trigger>,
    /// Aborts its current run (push, pull).
    pub reset: Option<Arc<Notify>>,
}
