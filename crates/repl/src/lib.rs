//! The replication engine: planning, steps, holds and cursors, pruning rules.
//!
//! The engine is written once against the [`endpoint::Sender`] and [`endpoint::Receiver`] traits.

pub mod abstractions;
pub mod endpoint;
pub mod executor;
pub mod filter;
pub mod local;
pub mod planner;
pub mod prune;
pub mod report;
