//! Snapshotting: names (`prefix + timestamp`), when to snapshot (`periodic`, `cron`, `manual`),
//! and how a round's snapshots are grouped into `zfs snapshot` invocations.

pub mod batch;
pub mod go_layout;
pub mod naming;
pub mod round;
pub mod schedule;
