//! Pruning: keep rules and the runner that applies them to a sender or receiver.

pub mod rules;
pub mod runner;

pub use rules::{GridInterval, GridKeep, KeepRule, RuleSnapshot, destroy_set};
pub use runner::{FsPruneReport, PruneReport, PruneSide, SkippedSnapshot, prune};
