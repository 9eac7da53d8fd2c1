//! Taking snapshots: many datasets at once, atomically per pool.

use std::collections::BTreeMap;

use crate::command::{ARG_BUDGET, CommandLine, chunk_by_size};
use crate::driver::Zfs;
use crate::error::ZfsError;
use crate::name::SnapshotName;

impl Zfs {
    /// Takes all `snapshots` with one `zfs snapshot` call per pool (OpenZFS snapshots only
    /// one pool atomically), so all snapshots of a pool share one point in time. A pool's
    /// list is split into several calls only when its names exceed the argument budget
    /// (~100 KiB); atomicity then holds per call.
    pub async fn snapshot(&self, snapshots: &[SnapshotName]) -> Result<(), ZfsError> {
        let mut by_pool: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for s in snapshots {
            by_pool
                .entry(s.dataset().pool())
                .or_default()
                .push(s.to_string());
        }
        for names in by_pool.values() {
            for chunk in chunk_by_size(names, ARG_BUDGET, String::len) {
                let mut line = CommandLine::zfs(["snapshot"]);
                for n in &chunk {
                    line.arg(n);
                }
                self.runner.run(&line).await?;
            }
        }
        Ok(())
    }
}
