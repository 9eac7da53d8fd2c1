//! Versions: the snapshots and bookmarks of a filesystem, identified by guid.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::name::{BookmarkName, DatasetPath, NameError, SnapshotName};

/// Whether a version is a snapshot or a bookmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionKind {
    /// `dataset@name`: holds data, can be sent from and to.
    Snapshot,
    /// `dataset#name`: keeps guid and createtxg only; can be the base of an incremental send.
    Bookmark,
}

impl VersionKind {
    /// The delimiter between dataset and version name: `@` or `#`.
    pub fn delimiter(self) -> char {
        match self {
            VersionKind::Snapshot => '@',
            VersionKind::Bookmark => '#',
        }
    }

    /// The value of the `type` property ZFS prints for this kind.
    pub fn zfs_type(self) -> &'static str {
        match self {
            VersionKind::Snapshot => "snapshot",
            VersionKind::Bookmark => "bookmark",
        }
    }
}

impl fmt::Display for VersionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.zfs_type())
    }
}

/// One snapshot or bookmark as listed by ZFS.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Version {
    /// Snapshot or bookmark.
    pub kind: VersionKind,
    /// The filesystem or volume it belongs to.
    pub dataset: DatasetPath,
    /// The part after `@` or `#`.
    pub name: String,
    /// ZFS guid; equal guids on two sides mean the same snapshot (a bookmark keeps its
    /// snapshot's guid).
    pub guid: u64,
    /// Transaction group in which the snapshot was taken; orders versions within a pool.
    pub createtxg: u64,
    /// Creation time in Unix seconds, when it was asked for.
    pub creation: Option<i64>,
}

impl Version {
    /// The full name, `dataset@name` or `dataset#name`.
    pub fn full_name(&self) -> String {
        format!("{}{}{}", self.dataset, self.kind.delimiter(), self.name)
    }

    /// The typed snapshot name, for snapshots.
    pub fn snapshot_name(&self) -> Option<Result<SnapshotName, NameError>> {
        (self.kind == VersionKind::Snapshot)
            .then(|| SnapshotName::new(self.dataset.clone(), &self.name))
    }

    /// The typed bookmark name, for bookmarks.
    pub fn bookmark_name(&self) -> Option<Result<BookmarkName, NameError>> {
        (self.kind == VersionKind::Bookmark)
            .then(|| BookmarkName::new(self.dataset.clone(), &self.name))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(kind: VersionKind) -> Version {
        Version {
            kind,
            dataset: DatasetPath::new("pool/a b").expect("valid"),
            name: "s1".into(),
            guid: 42,
            createtxg: 7,
            creation: None,
        }
    }

    #[test]
    fn full_names_use_the_kind_delimiter() {
        assert_eq!(version(VersionKind::Snapshot).full_name(), "pool/a b@s1");
        assert_eq!(version(VersionKind::Bookmark).full_name(), "pool/a b#s1");
        let snap = version(VersionKind::Snapshot).snapshot_name();
        assert_eq!(
            snap.expect("snapshot").expect("valid").to_string(),
            "pool/a b@s1"
        );
        assert!(version(VersionKind::Snapshot).bookmark_name().is_none());
    }

    #[test]
    fn serde_round_trip() {
        let v = version(VersionKind::Bookmark);
        let json = serde_json::to_string(&v).expect("ser");
        assert!(json.contains("\"kind\":\"bookmark\""), "{json}");
        assert_eq!(serde_json::from_str::<Version>(&json).expect("de"), v);
    }
}
