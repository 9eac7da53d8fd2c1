//! Observations from endpoint listings: the newest snapshot both sides share, the newest
//! snapshot per prefix, the newest received snapshot, the cursor.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use zferry_repl::endpoint::{FilesystemVersions, FsPath, FsVersion, ListVersionsResponse};

fn timestamp(version: &FsVersion) -> Option<Timestamp> {
    version
        .creation
        .and_then(|c| Timestamp::from_second(c).ok())
}

/// The creation time of the newest version (by createtxg) among `versions`.
fn newest<'v>(versions: impl Iterator<Item = &'v FsVersion>) -> Option<Timestamp> {
    versions.max_by_key(|v| v.createtxg).and_then(timestamp)
}

/// Per replicated filesystem (`replicated`, sender-side names): the creation time of the newest
/// sender version whose guid is a snapshot on the receiver. A sender bookmark counts (the sender
/// may have pruned the snapshot after replicating it; its cursor bookmark keeps guid and
/// creation). Only the job's filesystems appear, so a dataset the job does not replicate never
/// gets a lag, and only those with a snapshot on the sender (one without has nothing to
/// replicate, so no lag). `sender` must be listed with creation times.
pub fn lag_from_listings(
    replicated: &[FsPath],
    sender: &ListVersionsResponse,
    receiver: &ListVersionsResponse,
) -> BTreeMap<String, Option<Timestamp>> {
    let on_receiver: BTreeMap<&FsPath, BTreeSet<u64>> = receiver
        .filesystems
        .iter()
        .map(|f| {
            let guids = f
                .versions
                .iter()
                .filter(|v| v.is_snapshot())
                .map(|v| v.guid);
            (&f.path, guids.collect())
        })
        .collect();
    let on_sender: BTreeMap<&FsPath, &FilesystemVersions> =
        sender.filesystems.iter().map(|f| (&f.path, f)).collect();
    replicated
        .iter()
        .filter(|fs| on_sender.get(fs).is_some_and(|s| has_snapshot(s)))
        .map(|fs| {
            let shared = match (on_sender.get(fs), on_receiver.get(fs)) {
                (Some(s), Some(guids)) => {
                    newest(s.versions.iter().filter(|v| guids.contains(&v.guid)))
                }
                _ => None,
            };
            (fs.to_string(), shared)
        })
        .collect()
}

/// Whether a sender filesystem has a snapshot (or a cursor: its snapshot may be pruned).
pub fn has_snapshot(f: &FilesystemVersions) -> bool {
    f.cursor.is_some() || f.versions.iter().any(FsVersion::is_snapshot)
}

/// Per filesystem of a receiver listing: the creation time of its newest snapshot (`zfs recv`
/// keeps the sender's creation time). Filesystems in `skip` (placeholders) are left out.
pub fn newest_received(
    receiver: &ListVersionsResponse,
    skip: &BTreeSet<FsPath>,
) -> BTreeMap<String, Option<Timestamp>> {
    receiver
        .filesystems
        .iter()
        .filter(|f| !skip.contains(&f.path))
        .map(|f| {
            let snaps = f.versions.iter().filter(|v| v.is_snapshot());
            (f.path.to_string(), newest(snaps))
        })
        .collect()
}

/// Per filesystem of a sender listing: the creation time of its lane's replication cursor.
pub fn cursor_times(sender: &ListVersionsResponse) -> BTreeMap<String, Option<Timestamp>> {
    sender
        .filesystems
        .iter()
        .map(|f| (f.path.to_string(), f.cursor.as_ref().and_then(timestamp)))
        .collect()
}

/// Per filesystem and prefix (`prefixes` gives the prefixes of a filesystem): the creation time
/// of the newest snapshot whose name starts with the prefix.
pub fn snapshot_ages(
    listing: &ListVersionsResponse,
    prefixes: impl Fn(&str) -> Vec<String>,
) -> BTreeMap<String, BTreeMap<String, Option<Timestamp>>> {
    listing
        .filesystems
        .iter()
        .filter_map(|f| {
            let fs = f.path.to_string();
            let wanted = prefixes(&fs);
            if wanted.is_empty() {
                return None;
            }
            let per_prefix = wanted
                .into_iter()
                .map(|p| {
                    let snaps = f
                        .versions
                        .iter()
                        .filter(|v| v.is_snapshot() && v.name.starts_with(&p));
                    let at = newest(snaps);
                    (p, at)
                })
                .collect();
            Some((fs, per_prefix))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zferry_repl::endpoint::VersionKind;

    fn v(kind: VersionKind, name: &str, guid: u64, txg: u64) -> FsVersion {
        FsVersion {
            kind,
            name: name.into(),
            guid,
            createtxg: txg,
            creation: Some(1_700_000_000 + i64::try_from(txg).expect("txg")),
            userrefs: None,
        }
    }

    fn listing(fs: &str, versions: Vec<FsVersion>) -> ListVersionsResponse {
        ListVersionsResponse {
            filesystems: vec![FilesystemVersions {
                path: FsPath::new(fs).expect("path"),
                versions,
                cursor: None,
                last_received: Vec::new(),
                step_holds: Vec::new(),
            }],
        }
    }

    #[test]
    fn lag_counts_from_the_newest_snapshot_the_receiver_has_by_guid() {
        use VersionKind::{Bookmark, Snapshot};
        let sender = listing(
            "p/a",
            vec![
                v(Bookmark, "zferry_C", 2, 20),
                v(Snapshot, "s3", 3, 30),
                v(Snapshot, "s4", 4, 40),
            ],
        );
        // The receiver has s1, s2 (pruned on the sender, its cursor remains) and a snapshot of
        // its own that happens to be newer.
        let receiver = listing(
            "p/a",
            vec![
                v(Snapshot, "s1", 1, 5),
                v(Snapshot, "s2", 2, 6),
                v(Snapshot, "own", 9, 99),
            ],
        );
        let fs = |s: &str| FsPath::new(s).expect("path");
        let mut sender = sender;
        sender.filesystems.push(FilesystemVersions {
            path: fs("p/b"),
            versions: vec![v(Snapshot, "b1", 7, 70)],
            cursor: None,
            last_received: Vec::new(),
            step_holds: Vec::new(),
        });
        sender.filesystems.push(FilesystemVersions {
            path: fs("p/empty"),
            versions: Vec::new(),
            cursor: None,
            last_received: Vec::new(),
            step_holds: Vec::new(),
        });
        let lag = lag_from_listings(&[fs("p/a"), fs("p/b"), fs("p/empty")], &sender, &receiver);
        assert_eq!(
            lag["p/a"].map(|t| t.as_second()),
            Some(1_700_000_020),
            "the creation of guid 2 on the sender"
        );
        assert_eq!(lag["p/b"], None, "nothing in common yet");
        assert_eq!(
            lag.len(),
            2,
            "a filesystem without snapshots has no lag: {lag:?}"
        );
    }

    #[test]
    fn snapshot_ages_per_prefix() {
        use VersionKind::Snapshot;
        let l = listing(
            "p/a",
            vec![
                v(Snapshot, "hourly_1", 1, 1),
                v(Snapshot, "daily_1", 2, 2),
                v(Snapshot, "hourly_2", 3, 3),
            ],
        );
        let ages = snapshot_ages(&l, |_| vec!["hourly_".into(), "weekly_".into()]);
        assert_eq!(
            ages["p/a"]["hourly_"].map(|t| t.as_second()),
            Some(1_700_000_003)
        );
        assert_eq!(ages["p/a"]["weekly_"], None);
    }
}
