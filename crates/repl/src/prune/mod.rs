//! Pruning: keep rules and the runner that applies them to a sender or receiver.

pub mod rules;
