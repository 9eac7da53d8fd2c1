//! The replication engine: planning, steps, holds and cursors, pruning rules.
