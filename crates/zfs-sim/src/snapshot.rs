//! `zfs snapshot` (atomic, several at once, `-r`) and `zfs rollback`.

use std::collections::BTreeSet;

use crate::errors::{Result, SimError};
use crate::format::now;
use crate::names::{self, Expect, Name};
use crate::sim::new_guid;
use crate::state::{Dirs, Kind, PropEntry, Snapshot, State};

/// Usage text of `zfs snapshot`.
pub const USAGE: &str = "usage:\n\tsnapshot [-r] [-o property=value] ... <filesystem|volume>@<snap> ...\n\nFor the property list, run: zfs set|get\n\nFor the delegated permission list, run: zfs allow|unallow\n\nFor further help on a command or topic, run: zfs help [<topic>]";

/// Creates the snapshots `requested` (`fs@snap`, each with descendants when `recursive`) in one
/// transaction group: all or none. `props` are user properties set on each new snapshot.
pub fn snapshot(
    st: &mut State,
    dirs: &Dirs,
    requested: &[String],
    recursive: bool,
    props: &[(String, String)],
) -> Result<()> {
    let mut targets: Vec<(String, String)> = Vec::new();
    for full in requested {
        names::validate(full, Expect::Snapshot, true)
            .map_err(|w| SimError::new(format!("cannot create snapshot '{full}': {w}")))?;
        let Name::Snapshot(fs, snap) = Name::parse(full) else {
            return Err(SimError::usage(USAGE));
        };
        if !st.datasets.contains_key(&fs) {
            return Err(SimError::usage(format!(
                "cannot open '{fs}': dataset does not exist\n{USAGE}"
            )));
        }
        targets.push((fs.clone(), snap.clone()));
        if recursive {
            for c in st.descendants(&fs) {
                targets.push((c, snap.clone()));
            }
        }
    }
    let mut seen = BTreeSet::new();
    for (fs, _) in &targets {
        if !seen.insert(fs.clone()) {
            return Err(SimError::new(
                "cannot create snapshots : multiple snapshots of same fs not allowed\nno snapshots were created",
            ));
        }
    }
    let pools: BTreeSet<&str> = targets
        .iter()
        .map(|(fs, _)| fs.split('/').next().unwrap_or(fs))
        .collect();
    if pools.len() > 1 {
        return Err(SimError::new(
            "cannot create snapshots : all snapshots must be in the same pool\nno snapshots were created",
        ));
    }
    let mut errors = Vec::new();
    for (fs, snap) in &targets {
        if st
            .datasets
            .get(fs)
            .is_some_and(|d| d.snapshot(snap).is_some())
        {
            errors.push(format!(
                "cannot create snapshot '{fs}@{snap}': dataset already exists"
            ));
        }
    }
    if !errors.is_empty() {
        if targets.len() > 1 {
            errors.push("no snapshots were created".into());
        }
        return Err(SimError::new(errors.join("\n")));
    }
    let Some(pool) = pools.into_iter().next().map(str::to_string) else {
        return Ok(());
    };
    let txg = st.next_txg(&pool);
    let t = now();
    for (fs, snap) in &targets {
        let guid = new_guid();
        let referenced = match st.datasets.get(fs) {
            Some(d) if d.kind == Kind::Filesystem => crate::data::freeze(st, dirs, d, guid)?,
            _ => crate::data::BASE_SIZE,
        };
        if let Some(d) = st.datasets.get_mut(fs) {
            d.snapshots.push(Snapshot {
                name: snap.clone(),
                guid,
                createtxg: txg,
                creation: t,
                referenced,
                defer_destroy: false,
                holds: Vec::new(),
                props: props
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            PropEntry {
                                local: Some(v.clone()),
                                received: None,
                                masked: false,
                            },
                        )
                    })
                    .collect(),
            });
            touch_snapshots_changed(d, t);
            crate::data::settle(d);
        }
    }
    Ok(())
}

/// Records the time of the last snapshot change (the `snapshots_changed` property).
pub fn touch_snapshots_changed(d: &mut crate::state::Dataset, t: i64) {
    d.props.insert(
        "%snapshots_changed".into(),
        PropEntry {
            local: Some(t.to_string()),
            received: None,
            masked: false,
        },
    );
}

/// `zfs rollback [-r] fs@snap`: discards changes since the snapshot; with `-r` destroys later
/// snapshots and bookmarks first.
pub fn rollback(st: &mut State, dirs: &Dirs, full: &str, recursive: bool) -> Result<()> {
    let Name::Snapshot(fs, snap) = Name::parse(full) else {
        return Err(SimError::new(format!(
            "cannot open '{full}': operation not applicable to datasets of this type"
        )));
    };
    let d = st.get(&fs).map_err(|_| SimError::no_such_dataset(full))?;
    let s = d
        .snapshot(&snap)
        .ok_or_else(|| SimError::no_such_dataset(full))?
        .clone();
    let later_snaps: Vec<String> = d
        .snapshots
        .iter()
        .filter(|x| x.createtxg > s.createtxg)
        .map(|x| x.name.clone())
        .collect();
    let later_bms: Vec<String> = d
        .bookmarks
        .iter()
        .filter(|b| b.createtxg > s.createtxg)
        .map(|b| b.name.clone())
        .collect();
    if (!later_snaps.is_empty() || !later_bms.is_empty()) && !recursive {
        let mut msg = format!(
            "cannot rollback to '{full}': more recent snapshots or bookmarks exist\nuse '-r' to force deletion of the following snapshots and bookmarks:"
        );
        for n in &later_snaps {
            msg.push_str(&format!("\n{fs}@{n}"));
        }
        for n in &later_bms {
            msg.push_str(&format!("\n{fs}#{n}"));
        }
        return Err(SimError::new(msg));
    }
    for n in &later_snaps {
        if let Some(x) = d.snapshot(n)
            && !x.holds.is_empty()
        {
            return Err(SimError::new(format!(
                "cannot destroy snapshot {fs}@{n}: it's being held. Run 'zfs holds -r {fs}@{n}' to see holders."
            )));
        }
    }
    if let Some(d) = st.datasets.get_mut(&fs) {
        if d.kind == Kind::Filesystem {
            crate::data::schedule_restore(d, s.guid);
        }
        d.bookmarks.retain(|b| !later_bms.contains(&b.name));
        crate::data::settle(d);
        for n in &later_snaps {
            if let Some(x) = d.snapshot(n) {
                crate::destroy::drop_data_unless_bookmarked(dirs, d, x.guid)?;
            }
        }
        d.snapshots.retain(|x| !later_snaps.contains(&x.name));
        if !later_snaps.is_empty() {
            touch_snapshots_changed(d, now());
        }
    }
    Ok(())
}
