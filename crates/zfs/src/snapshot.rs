//! Taking snapshots: many datasets at once, atomically per pool.

use std::collections::{BTreeMap, HashMap};

use crate::command::{ARG_BUDGET, CommandLine, chunk_by_size};
use crate::driver::Zfs;
use crate::error::ZfsError;
use crate::name::{DatasetPath, SnapshotName};

impl Zfs {
    /// Takes all `snapshots` with one `zfs snapshot` call per pool (OpenZFS snapshots only
    /// one pool atomically), so all snapshots of a pool share one point in time. A pool's
    /// list is split into several calls when its names exceed the argument budget (~100 KiB)
    /// or when it names one filesystem twice (OpenZFS refuses "multiple snapshots of same
    /// fs" in one call); atomicity then holds per call.
    pub async fn snapshot(&self, snapshots: &[SnapshotName]) -> Result<(), ZfsError> {
        // Per pool, a list of rounds; each round names every filesystem at most once.
        // A filesystem's n-th snapshot goes into round n.
        let mut by_pool: BTreeMap<&str, Vec<Vec<&SnapshotName>>> = BTreeMap::new();
        let mut seen: HashMap<&DatasetPath, usize> = HashMap::new();
        for s in snapshots {
            let rounds = by_pool.entry(s.dataset().pool()).or_default();
            let n = seen.entry(s.dataset()).or_default();
            if *n == rounds.len() {
                rounds.push(Vec::new());
            }
            rounds[*n].push(s);
            *n += 1;
        }
        for round in by_pool.values().flatten() {
            let names: Vec<String> = round.iter().map(ToString::to_string).collect();
            for chunk in chunk_by_size(&names, ARG_BUDGET, String::len) {
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
