//! `zfs bookmark`: from a snapshot or a copy of another bookmark. A bookmark keeps the guid,
//! createtxg and creation time of its snapshot after the snapshot is gone.

use crate::errors::{Result, SimError};
use crate::names::{self, Expect, Name};
use crate::state::{Bookmark, State};

/// Usage text of `zfs bookmark`.
pub const USAGE: &str = "usage:\n\tbookmark <snapshot|bookmark> <newbookmark>\n\nFor the property list, run: zfs set|get\n\nFor the delegated permission list, run: zfs allow|unallow\n\nFor further help on a command or topic, run: zfs help [<topic>]";

/// `zfs bookmark SOURCE NEW` (NEW may be `#name`, relative to the source's dataset).
pub fn bookmark(st: &mut State, source: &str, new: &str) -> Result<()> {
    let (src_fs, guid, createtxg, creation) = match Name::parse(source) {
        Name::Snapshot(fs, s) => {
            let snap = st
                .datasets
                .get(&fs)
                .and_then(|d| d.snapshot(&s))
                .ok_or_else(|| {
                    SimError::usage(format!(
                        "cannot open '{source}': dataset does not exist\n{USAGE}"
                    ))
                })?;
            (fs, snap.guid, snap.createtxg, snap.creation)
        }
        Name::Bookmark(fs, b) => {
            let bm = st
                .datasets
                .get(&fs)
                .and_then(|d| d.bookmark(&b))
                .ok_or_else(|| {
                    SimError::usage(format!(
                        "cannot open '{source}': dataset does not exist\n{USAGE}"
                    ))
                })?;
            (fs, bm.guid, bm.createtxg, bm.creation)
        }
        Name::Dataset(_) => {
            return Err(SimError::usage(format!(
                "Error: Source argument must be a snapshot or bookmark\n{USAGE}"
            )));
        }
    };
    let full_new = if let Some(short) = new.strip_prefix('#') {
        format!("{src_fs}#{short}")
    } else {
        new.to_string()
    };
    names::validate(&full_new, Expect::Bookmark, true)
        .map_err(|w| SimError::new(format!("cannot create bookmark '{full_new}': {w}")))?;
    let Name::Bookmark(new_fs, new_name) = Name::parse(&full_new) else {
        return Err(SimError::usage(USAGE));
    };
    if new_fs != src_fs {
        return Err(SimError::new(format!(
            "cannot create bookmark '{full_new}': source is not an ancestor of the new bookmark's dataset"
        )));
    }
    let d = st
        .datasets
        .get_mut(&new_fs)
        .ok_or_else(|| SimError::no_such_dataset(&new_fs))?;
    if d.bookmark(&new_name).is_some() {
        return Err(SimError::new(format!(
            "cannot create bookmark '{full_new}': bookmark exists"
        )));
    }
    d.bookmarks.push(Bookmark {
        name: new_name,
        guid,
        createtxg,
        creation,
    });
    Ok(())
}
