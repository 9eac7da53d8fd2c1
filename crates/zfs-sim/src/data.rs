//! File data of filesystems and snapshots.
//!
//! A filesystem's data lives in a real directory: its mountpoint while mounted, else
//! `$ZFS_SIM_DIR/store/<guid>`. A snapshot freezes a copy in `$ZFS_SIM_DIR/snaps/<guid>`
//! (absent when empty, so a million empty snapshots cost nothing). Directories of mounted
//! descendants nested inside a data directory are not part of it.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::errors::{Result, SimError};
use crate::props::Reader;
use crate::state::{Dataset, Dirs, Kind, State};

/// Bytes `referenced` reports for an empty filesystem.
pub const BASE_SIZE: u64 = 24576;
/// Simulated pool capacity (for `available`).
pub const POOL_SIZE: u64 = 100 << 30;

/// One entry of a data tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A directory.
    Dir,
    /// A regular file with its mode bits.
    File(u32),
    /// A symbolic link with its target.
    Symlink(PathBuf),
}

/// Lists `dir` recursively (relative paths, sorted), skipping the `exclude`d absolute paths.
/// A missing directory is empty.
pub fn walk(dir: &Path, exclude: &[PathBuf]) -> io::Result<BTreeMap<PathBuf, Entry>> {
    let mut out = BTreeMap::new();
    if dir.is_dir() {
        let exclude: HashSet<&Path> = exclude.iter().map(PathBuf::as_path).collect();
        walk_into(dir, Path::new(""), &exclude, &mut out)?;
    }
    Ok(out)
}

fn walk_into(
    root: &Path,
    rel: &Path,
    exclude: &HashSet<&Path>,
    out: &mut BTreeMap<PathBuf, Entry>,
) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for e in fs::read_dir(root.join(rel))? {
        let e = e?;
        let child = rel.join(e.file_name());
        let abs = root.join(&child);
        if rel.as_os_str().is_empty() && e.file_name() == ".zfs" {
            continue;
        }
        if exclude.contains(abs.as_path()) {
            continue;
        }
        let ft = e.file_type()?;
        if ft.is_dir() {
            out.insert(child.clone(), Entry::Dir);
            walk_into(root, &child, exclude, out)?;
        } else if ft.is_symlink() {
            out.insert(child, Entry::Symlink(fs::read_link(&abs)?));
        } else if ft.is_file() {
            let mode = e.metadata()?.permissions().mode() & 0o7777;
            out.insert(child, Entry::File(mode));
        }
    }
    Ok(())
}

/// Bytes the regular files under `dir` occupy (each rounded up to 512-byte sectors).
pub fn tree_size(dir: &Path) -> u64 {
    tree_size_excluding(dir, &[])
}

/// [`tree_size`], skipping `exclude`d absolute paths (nested mounts).
pub fn tree_size_excluding(dir: &Path, exclude: &[PathBuf]) -> u64 {
    let Ok(entries) = walk(dir, exclude) else {
        return 0;
    };
    entries
        .iter()
        .filter(|(_, e)| matches!(e, Entry::File(_)))
        .filter_map(|(p, _)| fs::metadata(dir.join(p)).ok())
        .map(|m| m.len().div_ceil(512) * 512)
        .sum()
}

/// True when the trees under `a` and `b` differ in names, kinds or file contents.
pub fn differs(a: &Path, b: &Path) -> bool {
    differs_excluding(a, &[], b)
}

/// [`differs`], skipping `exclude`d absolute paths under `a`.
pub fn differs_excluding(a: &Path, exclude: &[PathBuf], b: &Path) -> bool {
    let (Ok(ea), Ok(eb)) = (walk(a, exclude), walk(b, &[])) else {
        return true;
    };
    if ea.len() != eb.len() {
        return true;
    }
    for ((pa, xa), (pb, xb)) in ea.iter().zip(eb.iter()) {
        if pa != pb {
            return true;
        }
        match (xa, xb) {
            (Entry::File(_), Entry::File(_)) => {
                if !same_file_content(&a.join(pa), &b.join(pb)) {
                    return true;
                }
            }
            (x, y) if x == y => {}
            _ => return true,
        }
    }
    false
}

fn same_file_content(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(ma), Ok(mb)) if ma.len() != mb.len() => return false,
        (Ok(_), Ok(_)) => {}
        _ => return false,
    }
    matches!((read_quietly(a), read_quietly(b)), (Ok(x), Ok(y)) if x == y)
}

/// Reads a file without updating its access time where the system allows it (`O_NOATIME`), so
/// the simulator's own comparisons never look like a user reading the data
/// (see [`read_since_settled`]).
pub fn read_quietly(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let noatime = rustix::fs::OFlags::NOATIME.bits() as i32;
    let mut f = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(noatime)
        .open(path)
    {
        Ok(f) => f,
        Err(_) => fs::File::open(path)?,
    };
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Copies the tree under `src` into `dst` (created), skipping `exclude`d absolute paths.
/// A missing `src` copies nothing.
pub fn copy_tree(src: &Path, dst: &Path, exclude: &[PathBuf]) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(dst)?;
    for (rel, e) in walk(src, exclude)? {
        let to = dst.join(&rel);
        match e {
            Entry::Dir => fs::create_dir_all(&to)?,
            Entry::File(mode) => {
                fs::copy(src.join(&rel), &to)?;
                fs::set_permissions(&to, fs::Permissions::from_mode(mode))?;
            }
            Entry::Symlink(target) => std::os::unix::fs::symlink(target, &to)?,
        }
    }
    Ok(())
}

/// Removes everything under `dir` except the `exclude`d absolute paths (and their parents).
pub fn clear_dir(dir: &Path, exclude: &[PathBuf]) -> io::Result<()> {
    if !dir.is_dir() {
        return fs::create_dir_all(dir);
    }
    for e in fs::read_dir(dir)? {
        let p = e?.path();
        if exclude.contains(&p) {
            continue;
        }
        if exclude.iter().any(|x| x.starts_with(&p)) {
            clear_dir(&p, exclude)?;
            continue;
        }
        if p.is_dir() && !p.is_symlink() {
            fs::remove_dir_all(&p)?;
        } else {
            fs::remove_file(&p)?;
        }
    }
    Ok(())
}

/// Removes a directory tree if present.
pub fn remove_tree(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Data directories of mounted descendants of `d` (excluded from `d`'s own data).
pub fn nested_mounts(st: &State, dirs: &Dirs, d: &Dataset) -> Vec<PathBuf> {
    let r = Reader {
        st,
        dirs,
        parsable: true,
    };
    st.descendants(&d.name)
        .iter()
        .filter_map(|n| st.datasets.get(n))
        .filter(|c| c.mounted)
        .map(|c| r.data_dir(c))
        .collect()
}

/// The live data directory of `d`.
pub fn live_dir(st: &State, dirs: &Dirs, d: &Dataset) -> PathBuf {
    Reader {
        st,
        dirs,
        parsable: true,
    }
    .data_dir(d)
}

/// Freezes `d`'s current data as snapshot `guid`; returns the bytes referenced.
pub fn freeze(st: &State, dirs: &Dirs, d: &Dataset, guid: u64) -> Result<u64> {
    let dst = dirs.snapdata(d.guid, guid);
    let live = live_dir(st, dirs, d);
    let exclude = nested_mounts(st, dirs, d);
    let entries = walk(&live, &exclude).map_err(|e| SimError::io("read data", e))?;
    if entries.is_empty() {
        return Ok(BASE_SIZE);
    }
    copy_tree(&live, &dst, &exclude).map_err(|e| SimError::io("freeze snapshot data", e))?;
    Ok(BASE_SIZE + tree_size(&dst))
}

/// Hidden property holding the time (ns since the epoch) of the dataset's last consistent
/// point: its newest snapshot, a receive or a rollback.
pub const SETTLED: &str = "%settled";

/// Hidden property recording that files were read (see [`read_since_settled`]) before the
/// filesystem was unmounted: the change stays until the next consistent point.
pub const READ_MARK: &str = "%read";

/// Whether `d` changed through reads since its last consistent point (mounted now, or before an
/// unmount).
pub fn changed_by_reads(st: &State, dirs: &Dirs, d: &Dataset) -> bool {
    d.props.contains_key(READ_MARK) || read_since_settled(st, dirs, d)
}

/// Before unmounting `d`: keeps the fact that its files were read (see [`READ_MARK`]).
pub fn remember_reads(st: &mut State, dirs: &Dirs, name: &str) {
    let read = st
        .datasets
        .get(name)
        .is_some_and(|d| read_since_settled(st, dirs, d));
    if read && let Some(d) = st.datasets.get_mut(name) {
        d.props.insert(
            READ_MARK.to_string(),
            crate::state::PropEntry {
                local: Some("1".into()),
                received: None,
                masked: false,
            },
        );
    }
}

/// Records now as `d`'s last consistent point (see [`SETTLED`]).
pub fn settle(d: &mut Dataset) {
    d.props.remove(READ_MARK);
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.as_nanos())
        .unwrap_or(0);
    d.props.insert(
        SETTLED.to_string(),
        crate::state::PropEntry {
            local: Some(ns.to_string()),
            received: None,
            masked: false,
        },
    );
}

/// Whether files of mounted `d` were read since its last consistent point while `atime` is on
/// and `readonly` off: on OpenZFS the access-time updates are changes, so a following
/// incremental receive without `-F` is refused ("has been modified"). Detected through the
/// host's access times (a first read after a write always updates them, even with relatime).
pub fn read_since_settled(st: &State, dirs: &Dirs, d: &Dataset) -> bool {
    if !d.mounted || d.kind != Kind::Filesystem {
        return false;
    }
    let r = Reader {
        st,
        dirs,
        parsable: true,
    };
    let on = |p: &'static str| {
        r.get(&crate::props::Obj::Fs(d), &crate::props::Prop::Native(p))
            .is_some_and(|v| v.value == "on")
    };
    if !on("atime") || on("readonly") {
        return false;
    }
    let Some(since) = d
        .props
        .get(SETTLED)
        .and_then(|e| e.local.as_ref())
        .and_then(|v| v.parse::<u128>().ok())
    else {
        return false;
    };
    let live = live_dir(st, dirs, d);
    let exclude = nested_mounts(st, dirs, d);
    let Ok(entries) = walk(&live, &exclude) else {
        return false;
    };
    let ns = |t: std::io::Result<std::time::SystemTime>| {
        t.ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    };
    entries
        .iter()
        .filter(|(_, e)| matches!(e, Entry::File(_)))
        .filter_map(|(p, _)| fs::metadata(live.join(p)).ok())
        .any(|m| {
            let (a, w) = (ns(m.accessed()), ns(m.modified()));
            a > since && a > w
        })
}

/// Hidden property naming (by guid) the snapshot whose data is to replace the live data of its
/// dataset: the commit of a receive or a rollback.
///
/// On OpenZFS such a commit is atomic: the live dataset is either the old one or the new one,
/// and a killed `zfs recv` never leaves it written to (the partial state lives in a hidden
/// `%recv` clone). Copying files cannot be atomic, so the commit records the restore in the
/// same state change that adds the snapshot (saved atomically), and the copy is made after the
/// state is saved ([`crate::sim::Sim::mutate`]). A process killed during the copy leaves the
/// property behind, and the next invocation redoes the copy (clearing first, so it is
/// idempotent) before it looks at any data. Earlier, the copy ran before the state was saved,
/// and a `zfs recv` killed inside it left the old snapshot newest with half its live data
/// replaced: `written` above 0, and every later incremental receive refused as "modified".
pub const RESTORE_PENDING: &str = "%restore";

/// Records that `d`'s live data is to become the data of its snapshot `guid` (see
/// [`RESTORE_PENDING`]).
pub fn schedule_restore(d: &mut Dataset, guid: u64) {
    d.props.insert(
        RESTORE_PENDING.to_string(),
        crate::state::PropEntry {
            local: Some(guid.to_string()),
            received: None,
            masked: false,
        },
    );
}

/// Whether some dataset's live data still waits for a scheduled restore.
pub fn restores_pending(st: &State) -> bool {
    st.datasets
        .values()
        .any(|d| d.props.contains_key(RESTORE_PENDING))
}

/// Carries out every scheduled restore and clears its mark; true when there was any (the
/// caller then saves the state). Call under the exclusive lock, with the state as saved.
pub fn complete_restores(st: &mut State, dirs: &Dirs) -> Result<bool> {
    let pending: Vec<(String, Option<u64>)> = st
        .datasets
        .values()
        .filter_map(|d| {
            let entry = d.props.get(RESTORE_PENDING)?;
            let guid = entry.local.as_ref().and_then(|g| g.parse().ok());
            Some((d.name.clone(), guid))
        })
        .collect();
    for (name, guid) in &pending {
        let d = st.get(name)?;
        if let Some(guid) = guid {
            replace_live(st, dirs, d, &dirs.snapdata(d.guid, *guid))?;
        }
        if let Some(d) = st.datasets.get_mut(name) {
            d.props.remove(RESTORE_PENDING);
        }
    }
    Ok(!pending.is_empty())
}

/// Replaces `d`'s live data with the contents of `src` (a snapshot's frozen data).
fn replace_live(st: &State, dirs: &Dirs, d: &Dataset, src: &Path) -> Result<()> {
    let live = live_dir(st, dirs, d);
    let exclude = nested_mounts(st, dirs, d);
    clear_dir(&live, &exclude).map_err(|e| SimError::io("clear data", e))?;
    copy_tree(src, &live, &[]).map_err(|e| SimError::io("restore data", e))
}

/// Recreates the tree `src` at `dst` with hard links for files (snapshot data is never modified
/// in place, only replaced, so sharing files is safe). A missing `src` yields an empty `dst`.
pub fn link_tree(src: &Path, dst: &Path) -> io::Result<()> {
    fs::create_dir_all(dst)?;
    for (rel, e) in walk(src, &[])? {
        let to = dst.join(&rel);
        match e {
            Entry::Dir => fs::create_dir_all(&to)?,
            Entry::File(_) => fs::hard_link(src.join(&rel), &to)?,
            Entry::Symlink(target) => std::os::unix::fs::symlink(target, &to)?,
        }
    }
    Ok(())
}

/// Whether `d` would be mounted automatically in state `st`.
pub fn mountable(st: &State, d: &Dataset) -> bool {
    if d.kind != Kind::Filesystem || d.inconsistent {
        return false;
    }
    let r = Reader {
        st,
        dirs: &Dirs {
            root: PathBuf::new(),
        },
        parsable: true,
    };
    let canmount = d
        .props
        .get("canmount")
        .and_then(|e| e.local.as_ref().or(e.received.as_ref()))
        .map(String::as_str)
        .unwrap_or("on");
    let mp = r.mountpoint(d).value;
    canmount == "on" && mp.starts_with('/') && crate::crypto::key_available(st, d)
}

/// Moves data directories so that every filesystem's data is where state `new` says it is,
/// given it was where `old` said. Creates directories for new filesystems.
pub fn relocate(old: &State, new: &State, dirs: &Dirs) -> Result<()> {
    let ro = Reader {
        st: old,
        dirs,
        parsable: true,
    };
    let rn = Reader {
        st: new,
        dirs,
        parsable: true,
    };
    let mut moves = Vec::new();
    for d in new.datasets.values().filter(|d| d.kind == Kind::Filesystem) {
        let to = rn.data_dir(d);
        match old.datasets.get(&d.name).filter(|o| o.guid == d.guid) {
            Some(o) => {
                let from = ro.data_dir(o);
                if from != to {
                    moves.push((d.guid, from, to));
                }
            }
            None => {
                // A dataset renamed keeps its guid: find it by guid.
                let prev = old.datasets.values().find(|o| o.guid == d.guid);
                match prev {
                    Some(o) => {
                        let from = ro.data_dir(o);
                        if from != to {
                            moves.push((d.guid, from, to));
                        }
                    }
                    None => {
                        fs::create_dir_all(&to).map_err(|e| SimError::io("create data dir", e))?
                    }
                }
            }
        }
    }
    if moves.is_empty() {
        return Ok(());
    }
    // Mounted filesystems whose directory sits inside a moving one stay where they are: move
    // them out of the way first and back afterwards.
    for d in new
        .datasets
        .values()
        .filter(|d| d.mounted && d.kind == Kind::Filesystem)
    {
        let here = rn.data_dir(d);
        let moving = moves
            .iter()
            .any(|(g, from, _)| *g != d.guid && here.starts_with(from) && here != *from);
        if moving && !moves.iter().any(|(g, _, _)| *g == d.guid) {
            moves.push((d.guid, here.clone(), here));
        }
    }
    let staging = dirs.tmp().join("staging");
    fs::create_dir_all(&staging).map_err(|e| SimError::io("create staging", e))?;
    moves.sort_by_key(|(_, from, _)| std::cmp::Reverse(from.components().count()));
    let mut empty = Vec::new();
    for (guid, from, _) in &moves {
        let st = staging.join(format!("{guid:016x}"));
        let is_empty = fs::read_dir(from)
            .map(|mut r| r.next().is_none())
            .unwrap_or(true);
        if is_empty {
            // Nothing to carry: whatever is at the destination already is the data.
            let _ = fs::remove_dir(from);
            empty.push(*guid);
        } else {
            fs::rename(from, &st).map_err(|e| SimError::io("move data dir", e))?;
        }
    }
    moves.sort_by_key(|(_, _, to)| to.components().count());
    for (guid, _, to) in &moves {
        let st = staging.join(format!("{guid:016x}"));
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(|e| SimError::io("create mountpoint", e))?;
        }
        if empty.contains(guid) {
            fs::create_dir_all(to).map_err(|e| SimError::io("create data dir", e))?;
            continue;
        }
        if to.is_dir() {
            // An empty mountpoint directory left behind is replaced; data is never overwritten.
            if fs::remove_dir(to).is_err() {
                fs::remove_dir_all(&st).ok();
                return Err(SimError::new(format!(
                    "cannot mount '{}': directory is not empty",
                    to.display()
                )));
            }
        }
        fs::rename(&st, to).map_err(|e| SimError::io("move data dir", e))?;
    }
    // Empty again (this runs under the exclusive lock): leave no scratch behind.
    let _ = fs::remove_dir(&staging);
    Ok(())
}
