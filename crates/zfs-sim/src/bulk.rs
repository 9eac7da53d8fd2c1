//! Bulk set-up for benchmarks: writes a pool with many filesystems and snapshots straight into
//! the state file (creating them one `zfs` call at a time would take minutes). The filesystems
//! are empty and unmounted-by-data (their data directories are created lazily), so the result
//! behaves exactly like one built with `zfs create` + `zfs snapshot -r`.

use std::path::Path;

use crate::errors::{Result, SimError};
use crate::format::now;
use crate::lock::StateLock;
use crate::sim::new_guid;
use crate::state::{Dataset, Dirs, Kind, Pool, Snapshot, State};

/// Adds pool `pool` (altroot inside `dir`) with `filesystems` children `pool/fsN`, each with
/// `snapshots` snapshots `@sN` (one txg per snapshot round, like `zfs snapshot -r`).
pub fn populate(dir: &Path, pool: &str, filesystems: usize, snapshots: usize) -> Result<()> {
    std::fs::create_dir_all(dir.join("tmp")).map_err(|e| SimError::io("create state dir", e))?;
    let dirs = Dirs {
        root: dir.to_path_buf(),
    };
    let _lock = StateLock::exclusive(dir)?;
    let mut st = State::load(dir)?;
    if st.pools.contains_key(pool) {
        return Err(SimError::new(format!(
            "cannot create '{pool}': pool already exists"
        )));
    }
    let t = now();
    st.pools.insert(
        pool.to_string(),
        Pool {
            name: pool.to_string(),
            guid: new_guid(),
            txg: 1,
            altroot: dirs.default_altroot().to_string_lossy().into_owned(),
            creation: t,
        },
    );
    let mut root = Dataset::new(pool, Kind::Filesystem, new_guid(), 1, t);
    root.mounted = true;
    st.datasets.insert(pool.to_string(), root);
    let mut names = Vec::with_capacity(filesystems);
    for i in 0..filesystems {
        let name = format!("{pool}/fs{i}");
        let txg = st.next_txg(pool);
        let mut d = Dataset::new(&name, Kind::Filesystem, new_guid(), txg, t);
        d.mounted = true;
        st.datasets.insert(name.clone(), d);
        names.push(name);
    }
    for s in 0..snapshots {
        let txg = st.next_txg(pool);
        for name in &names {
            if let Some(d) = st.datasets.get_mut(name) {
                d.snapshots.push(Snapshot {
                    name: format!("s{s}"),
                    guid: new_guid(),
                    createtxg: txg,
                    creation: t + s as i64,
                    referenced: crate::data::BASE_SIZE,
                    defer_destroy: false,
                    holds: Vec::new(),
                    props: Default::default(),
                });
            }
        }
    }
    for name in std::iter::once(pool.to_string()).chain(names) {
        if let Some(d) = st.datasets.get(&name) {
            let live = crate::data::live_dir(&st, &dirs, d);
            std::fs::create_dir_all(&live).map_err(|e| SimError::io("create data dir", e))?;
        }
    }
    st.save(dir)
}
