//! The replication engine: planning, steps, holds and cursors, pruning rules.
//!
//! The engine is written once against the [`endpoint::Sender`] and [`endpoint::Receiver`] traits;
//! push and pull jobs share every line of it.
//!
//! - [`bytestream`]: [`bytestream::ByteStream`], a send stream that may offer its pipe for `splice`.
//! - [`endpoint`]: the traits and their serialisable request/response/error types (remoted by
//!   `crates/rpc`).
//! - [`abstractions`]: lane-keyed names of cursors and holds (format documented there and in
//!   `docs/abstractions.md`), zrepl recognition.
//! - [`planner`]: pure per-filesystem planning (common ancestor by guid, conflicts, batching, resume).
//! - [`executor`]: [`executor::replicate`], the entry point: attempts, retries, scheduling, report.
//! - [`report`]: the serialisable [`report::Report`] and its live [`report::Progress`] view.
//! - [`protection`]: the per-cycle check and repair of cursors and holds, and what a sink does
//!   with `zfs receive` when its connection breaks.
//! - [`prune`]: keep rules and the pruning runner.
//! - [`local`]: [`local::LocalSender`] and [`local::LocalReceiver`] over `zferry_zfs`, and the
//!   abstraction inventory for `zfs-abstraction` commands.
//! - [`filter`]: the filesystem filter (zrepl's `filesystems` semantics).

pub mod abstractions;
pub mod bytestream;
pub mod endpoint;
pub mod executor;
pub mod filter;
pub mod local;
pub mod planner;
pub mod protection;
pub mod prune;
pub mod report;
