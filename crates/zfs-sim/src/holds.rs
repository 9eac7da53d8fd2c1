//! User holds: `zfs hold`, `zfs release`, `zfs holds`.

use crate::errors::{Result, SimError};
use crate::format::now;
use crate::names::Name;
use crate::state::{Dirs, State};

/// Resolves `fs@snap` (and with `recursive`, the same snapshot of every descendant).
fn targets(st: &State, full: &str, recursive: bool, errpfx: &str) -> Result<Vec<(String, String)>> {
    let Name::Snapshot(fs, snap) = Name::parse(full) else {
        return Err(SimError::new(format!(
            "{errpfx} '{full}': operation not applicable to datasets of this type"
        )));
    };
    if !st.datasets.contains_key(&fs) {
        return Err(SimError::no_such_dataset(&fs));
    }
    let mut out = Vec::new();
    if st
        .datasets
        .get(&fs)
        .is_some_and(|d| d.snapshot(&snap).is_some())
    {
        out.push((fs.clone(), snap.clone()));
    } else if !recursive {
        return Err(SimError::new(format!(
            "{errpfx} '{full}': dataset does not exist"
        )));
    }
    if recursive {
        for c in st.descendants(&fs) {
            if st
                .datasets
                .get(&c)
                .is_some_and(|d| d.snapshot(&snap).is_some())
            {
                out.push((c, snap.clone()));
            }
        }
    }
    Ok(out)
}

/// `zfs hold [-r] tag snap...`: each argument on its own (like the `zfs` command, which
/// issues one hold request per argument); returns the error messages of failed arguments.
pub fn hold(st: &mut State, tag: &str, snaps: &[String], recursive: bool) -> Vec<String> {
    const PFX: &str = "cannot hold snapshot";
    let mut errors = Vec::new();
    if tag.is_empty() || tag.len() > 255 {
        errors.push(format!("{PFX}: tag name too long or empty"));
        return errors;
    }
    let t = now();
    'args: for full in snaps {
        let ts = match targets(st, full, recursive, PFX) {
            Ok(ts) => ts,
            Err(e) => {
                errors.push(e.message);
                continue;
            }
        };
        for (fs, snap) in &ts {
            let s = st.datasets.get(fs).and_then(|d| d.snapshot(snap));
            if s.is_some_and(|s| s.holds.iter().any(|(x, _)| x == tag)) {
                errors.push(format!(
                    "{PFX} '{fs}@{snap}': tag already exists on this dataset"
                ));
                continue 'args;
            }
        }
        for (fs, snap) in ts {
            if let Some(s) = st.datasets.get_mut(&fs).and_then(|d| d.snapshot_mut(&snap)) {
                s.holds.push((tag.to_string(), t));
            }
        }
    }
    errors
}

/// `zfs release [-r] tag snap...`, each argument on its own; a deferred-destroy snapshot losing
/// its last hold is destroyed. Returns the error messages of failed arguments.
pub fn release(
    st: &mut State,
    dirs: &Dirs,
    tag: &str,
    snaps: &[String],
    recursive: bool,
) -> Result<Vec<String>> {
    const PFX: &str = "cannot release hold from snapshot";
    let mut errors = Vec::new();
    'args: for full in snaps {
        let ts = match targets(st, full, recursive, PFX) {
            Ok(ts) => ts,
            Err(e) => {
                errors.push(e.message);
                continue;
            }
        };
        for (fs, snap) in &ts {
            let s = st.datasets.get(fs).and_then(|d| d.snapshot(snap));
            if !s.is_some_and(|s| s.holds.iter().any(|(x, _)| x == tag)) {
                errors.push(format!("{PFX} '{fs}@{snap}': no such tag on this dataset"));
                continue 'args;
            }
        }
        for (fs, snap) in ts {
            let mut destroy = false;
            if let Some(s) = st.datasets.get_mut(&fs).and_then(|d| d.snapshot_mut(&snap)) {
                s.holds.retain(|(x, _)| x != tag);
                destroy = s.holds.is_empty() && s.defer_destroy;
            }
            if destroy {
                crate::destroy::remove_snapshot(st, dirs, &fs, &snap)?;
            }
        }
    }
    Ok(errors)
}

/// One row of `zfs holds`: snapshot name, tag, time.
pub type HoldRow = (String, String, i64);

/// `zfs holds [-r] snap...`: each snapshot once, in `zfs list` order (dataset name, then
/// creation); missing snapshots yield printed errors.
pub fn holds(st: &State, snaps: &[String], recursive: bool) -> (Vec<HoldRow>, bool) {
    let mut found: Vec<(String, String)> = Vec::new();
    let mut failed = false;
    for full in snaps {
        match targets(st, full, recursive, "cannot open") {
            Ok(ts) => found.extend(ts),
            Err(_) => {
                eprintln!("cannot open '{full}': dataset does not exist");
                failed = true;
            }
        }
    }
    let txg = |fs: &str, snap: &str| {
        st.datasets
            .get(fs)
            .and_then(|d| d.snapshot(snap))
            .map(|s| s.createtxg)
            .unwrap_or(0)
    };
    found.sort_by(|a, b| {
        a.0.as_bytes()
            .cmp(b.0.as_bytes())
            .then_with(|| txg(&a.0, &a.1).cmp(&txg(&b.0, &b.1)))
    });
    found.dedup();
    let mut rows = Vec::new();
    for (fs, snap) in found {
        if let Some(s) = st.datasets.get(&fs).and_then(|d| d.snapshot(&snap)) {
            for (tag, t) in &s.holds {
                rows.push((format!("{fs}@{snap}"), tag.clone(), *t));
            }
        }
    }
    (rows, failed)
}
