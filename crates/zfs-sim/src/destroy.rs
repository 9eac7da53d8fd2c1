//! `zfs destroy` of filesystems (`-r`), snapshots (comma lists, `%` ranges, `-d` deferred,
//! all-or-nothing per command like `lzc_destroy_snaps`) and bookmarks.

use crate::errors::{Result, SimError};
use crate::format::now;
use crate::names::Name;
use crate::state::{Dirs, State};

/// Outcome of a destroy that prints to stdout (`-v`/`-n`).
#[derive(Debug, Default)]
pub struct Report {
    /// Names that were (or, with `-n`, would be) destroyed.
    pub destroyed: Vec<String>,
}

/// Options of `zfs destroy`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DestroyOpts {
    /// `-r`: descendants too.
    pub recursive: bool,
    /// `-d`: defer destruction of held snapshots.
    pub defer: bool,
    /// `-n`: dry run.
    pub dry_run: bool,
}

/// `zfs destroy TARGET`.
pub fn destroy(st: &mut State, dirs: &Dirs, target: &str, o: DestroyOpts) -> Result<Report> {
    match Name::parse(target) {
        Name::Bookmark(fs, b) => {
            let exists = st
                .datasets
                .get(&fs)
                .is_some_and(|d| d.bookmark(&b).is_some());
            if !exists {
                if !st.datasets.contains_key(&fs) {
                    return Err(SimError::no_such_dataset(&fs));
                }
                return Err(SimError::new(format!(
                    "bookmark '{target}' does not exist."
                )));
            }
            if !o.dry_run
                && let Some(d) = st.datasets.get_mut(&fs)
            {
                let guid = d.bookmark(&b).map(|x| x.guid).unwrap_or(0);
                d.bookmarks.retain(|x| x.name != b);
                if d.snapshots.iter().all(|s| s.guid != guid) {
                    drop_data_unless_bookmarked(dirs, d, guid)?;
                }
            }
            Ok(Report {
                destroyed: vec![target.to_string()],
            })
        }
        Name::Snapshot(fs, spec) => destroy_snapshots(st, dirs, &fs, &spec, o),
        Name::Dataset(fs) => destroy_dataset(st, dirs, &fs, o),
    }
}

/// Expands `a,b,c%e` of dataset `fs` into existing snapshot names.
fn expand(st: &State, fs: &str, spec: &str) -> Vec<String> {
    let Some(d) = st.datasets.get(fs) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for part in spec.split(',') {
        if let Some((a, b)) = part.split_once('%') {
            let start = if a.is_empty() {
                d.snapshots.iter().map(|s| s.createtxg).min()
            } else {
                d.snapshot(a).map(|s| s.createtxg)
            };
            let end = if b.is_empty() {
                d.snapshots.iter().map(|s| s.createtxg).max()
            } else {
                d.snapshot(b).map(|s| s.createtxg)
            };
            if let (Some(lo), Some(hi)) = (start, end) {
                out.extend(
                    d.snapshots
                        .iter()
                        .filter(|s| s.createtxg >= lo && s.createtxg <= hi)
                        .map(|s| s.name.clone()),
                );
            }
        } else if d.snapshot(part).is_some() {
            out.push(part.to_string());
        }
    }
    out.dedup();
    out
}

fn destroy_snapshots(
    st: &mut State,
    dirs: &Dirs,
    fs: &str,
    spec: &str,
    o: DestroyOpts,
) -> Result<Report> {
    if !st.datasets.contains_key(fs) {
        return Err(SimError::no_such_dataset(fs));
    }
    let mut victims: Vec<(String, String)> = expand(st, fs, spec)
        .into_iter()
        .map(|s| (fs.to_string(), s))
        .collect();
    if o.recursive {
        for c in st.descendants(fs) {
            for s in expand(st, &c, spec) {
                victims.push((c.clone(), s));
            }
        }
    }
    if victims.is_empty() {
        return Err(SimError::new(
            "could not find any snapshots to destroy; check snapshot names.",
        ));
    }
    let mut errors = Vec::new();
    for (f, s) in &victims {
        let held = st
            .datasets
            .get(f)
            .and_then(|d| d.snapshot(s))
            .is_some_and(|x| !x.holds.is_empty());
        if held && !o.defer {
            errors.push(format!(
                "cannot destroy snapshot {f}@{s}: it's being held. Run 'zfs holds -r {f}@{s}' to see holders."
            ));
        }
    }
    if !errors.is_empty() {
        return Err(SimError::new(errors.join("\n")));
    }
    let report = Report {
        destroyed: victims.iter().map(|(f, s)| format!("{f}@{s}")).collect(),
    };
    if o.dry_run {
        return Ok(report);
    }
    for (f, s) in victims {
        let held = st
            .datasets
            .get(&f)
            .and_then(|d| d.snapshot(&s))
            .is_some_and(|x| !x.holds.is_empty());
        if held {
            if let Some(x) = st.datasets.get_mut(&f).and_then(|d| d.snapshot_mut(&s)) {
                x.defer_destroy = true;
            }
        } else {
            remove_snapshot(st, dirs, &f, &s)?;
        }
    }
    Ok(report)
}

/// Removes snapshot `fs@snap` and its frozen data.
pub fn remove_snapshot(st: &mut State, dirs: &Dirs, fs: &str, snap: &str) -> Result<()> {
    if let Some(d) = st.datasets.get_mut(fs) {
        if let Some(x) = d.snapshot(snap) {
            drop_data_unless_bookmarked(dirs, d, x.guid)?;
        }
        d.snapshots.retain(|x| x.name != snap);
        crate::snapshot::touch_snapshots_changed(d, now());
    }
    Ok(())
}

fn destroy_dataset(st: &mut State, dirs: &Dirs, fs: &str, o: DestroyOpts) -> Result<Report> {
    let d = st.get(fs)?;
    if !fs.contains('/') && !o.recursive {
        return Err(SimError::new(format!(
            "cannot destroy '{fs}': operation does not apply to pools\nuse 'zfs destroy -r {fs}' to destroy all datasets in the pool\nuse 'zpool destroy {fs}' to destroy the pool itself"
        )));
    }
    let descendants = st.descendants(fs);
    if !o.recursive && (!descendants.is_empty() || !d.snapshots.is_empty()) {
        let what = if d.kind == crate::state::Kind::Volume {
            "volume"
        } else {
            "filesystem"
        };
        let mut msg = format!(
            "cannot destroy '{fs}': {what} has children\nuse '-r' to destroy the following datasets:"
        );
        for c in descendants.iter().rev() {
            if let Some(cd) = st.datasets.get(c) {
                for s in &cd.snapshots {
                    msg.push_str(&format!("\n{c}@{}", s.name));
                }
            }
            msg.push_str(&format!("\n{c}"));
        }
        for s in &d.snapshots {
            msg.push_str(&format!("\n{fs}@{}", s.name));
        }
        return Err(SimError::new(msg));
    }
    let mut all: Vec<String> = descendants;
    all.reverse();
    if fs.contains('/') {
        all.push(fs.to_string());
    }
    for n in &all {
        if let Some(x) = st.datasets.get(n)
            && let Some(s) = x.snapshots.iter().find(|s| !s.holds.is_empty())
        {
            return Err(SimError::new(format!(
                "cannot destroy snapshot {n}@{}: it's being held. Run 'zfs holds -r {n}@{}' to see holders.",
                s.name, s.name
            )));
        }
    }
    let mut report = Report::default();
    for n in &all {
        if let Some(x) = st.datasets.get(n) {
            report
                .destroyed
                .extend(x.snapshots.iter().map(|s| format!("{n}@{}", s.name)));
            report.destroyed.push(n.clone());
        }
    }
    if o.dry_run {
        return Ok(report);
    }
    if !fs.contains('/') {
        // `zfs destroy -r pool`: the root stays; its snapshots and bookmarks go.
        let root_snaps: Vec<String> = st
            .get(fs)?
            .snapshots
            .iter()
            .map(|s| s.name.clone())
            .collect();
        for s in root_snaps {
            remove_snapshot(st, dirs, fs, &s)?;
        }
    }
    for n in &all {
        remove_dataset(st, dirs, n)?;
    }
    Ok(report)
}

/// Removes dataset `name` (no descendants) with all its data.
pub fn remove_dataset(st: &mut State, dirs: &Dirs, name: &str) -> Result<()> {
    let Some(d) = st.datasets.get(name) else {
        return Ok(());
    };
    let live = crate::data::live_dir(st, dirs, d);
    let exclude = crate::data::nested_mounts(st, dirs, d);
    let io = |e| SimError::io("remove data", e);
    if exclude.is_empty() {
        crate::data::remove_tree(&live).map_err(io)?;
    } else {
        crate::data::clear_dir(&live, &exclude).map_err(io)?;
    }
    for g in d
        .snapshots
        .iter()
        .map(|s| s.guid)
        .chain(d.bookmarks.iter().map(|b| b.guid))
    {
        crate::data::remove_tree(&dirs.snapdata(d.guid, g)).map_err(io)?;
    }
    crate::data::remove_tree(&dirs.partial(d.guid)).map_err(io)?;
    st.datasets.remove(name);
    Ok(())
}

/// Removes the frozen data of version `guid` of `d`, unless a bookmark still refers to it.
pub fn drop_data_unless_bookmarked(
    dirs: &Dirs,
    d: &crate::state::Dataset,
    guid: u64,
) -> Result<()> {
    if d.bookmarks.iter().any(|b| b.guid == guid) {
        return Ok(());
    }
    crate::data::remove_tree(&dirs.snapdata(d.guid, guid))
        .map_err(|e| SimError::io("remove snapshot data", e))
}
