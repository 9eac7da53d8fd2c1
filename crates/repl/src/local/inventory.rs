//! Listing and releasing abstractions (zferry's and zrepl's) on local ZFS, for
//! `zferry zfs-abstraction list|release-stale|release-all`.
//!
//! One version listing (with `userrefs`) covers all roots; holds are read only where `userrefs`
//! says there are some.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zferry_zfs::{BookmarkName, DatasetPath, HoldTag, SnapshotName, VersionKind, Zfs};

use super::common::{versions_of, zfs_error};
use crate::abstractions::{AbstractionKind, AbstractionName, LaneKey, ZreplAbstraction};
use crate::endpoint::EndpointError;

/// Whose abstraction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "owner")]
pub enum Owner {
    /// zferry's, of a lane.
    Zferry {
        /// Which abstraction.
        kind: AbstractionKind,
        /// The lane key in its name.
        lane: LaneKey,
    },
    /// zrepl's.
    Zrepl {
        /// What it is.
        abstraction: ZreplAbstraction,
    },
}

/// One abstraction found on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The filesystem.
    pub dataset: String,
    /// Bookmark name (after `#`) or hold tag.
    pub name: String,
    /// For holds: the held snapshot's name (after `@`).
    pub snapshot: Option<String>,
    /// The guid of the bookmark or held snapshot.
    pub guid: u64,
    /// Who owns it and what it is.
    pub owner: Owner,
    /// The guid in the name matches the object it is on (always true for zrepl's names without guid).
    pub genuine: bool,
    /// Superseded: a cursor or last-received hold older than its lane's newest on this dataset,
    /// or any tentative cursor or step hold (those only live while a step runs).
    pub stale: bool,
}

/// Lists every zferry and zrepl abstraction below `roots`.
pub async fn list_abstractions(
    zfs: &Zfs,
    roots: &[DatasetPath],
) -> Result<Vec<Entry>, EndpointError> {
    let versions = versions_of(zfs, roots, true, false).await?;
    // One `zfs holds` for every held snapshot below the roots, then sorted out per dataset.
    let mut holds_by_dataset: BTreeMap<DatasetPath, Vec<(SnapshotName, Vec<HoldTag>)>> =
        BTreeMap::new();
    for (snapshot, tags) in zfs
        .holds_where_referenced(versions.values().flatten())
        .await
        .map_err(zfs_error)?
    {
        holds_by_dataset
            .entry(snapshot.dataset().clone())
            .or_default()
            .push((snapshot, tags));
    }
    let mut entries = Vec::new();
    for (dataset, listed) in &versions {
        let mut guid_of = BTreeMap::new();
        for v in listed {
            let name = &v.version.name;
            match v.version.kind {
                VersionKind::Snapshot => {
                    guid_of.insert(name.clone(), v.version.guid);
                }
                VersionKind::Bookmark => {
                    if let Some(a) = AbstractionName::parse(name).filter(|a| a.kind.is_bookmark()) {
                        entries.push(Entry {
                            dataset: dataset.to_string(),
                            name: name.clone(),
                            snapshot: None,
                            guid: v.version.guid,
                            genuine: a.guid == v.version.guid,
                            owner: Owner::Zferry {
                                kind: a.kind,
                                lane: a.lane,
                            },
                            stale: false,
                        });
                    } else if let Some(z) = ZreplAbstraction::parse_bookmark(name) {
                        let genuine = match &z {
                            ZreplAbstraction::Cursor { guid, .. } => *guid == v.version.guid,
                            _ => true,
                        };
                        entries.push(Entry {
                            dataset: dataset.to_string(),
                            name: name.clone(),
                            snapshot: None,
                            guid: v.version.guid,
                            genuine,
                            owner: Owner::Zrepl { abstraction: z },
                            stale: false,
                        });
                    }
                }
            }
        }
        for (snapshot, tags) in holds_by_dataset.remove(dataset).unwrap_or_default() {
            let guid = guid_of.get(snapshot.name()).copied().unwrap_or(0);
            for tag in tags {
                let owner = if let Some(a) = AbstractionName::parse(tag.as_str()) {
                    Owner::Zferry {
                        kind: a.kind,
                        lane: a.lane,
                    }
                } else if let Some(z) = ZreplAbstraction::parse_hold(tag.as_str()) {
                    Owner::Zrepl { abstraction: z }
                } else {
                    continue;
                };
                let genuine = match &owner {
                    // A step hold names its step's target; the others name the held snapshot.
                    Owner::Zferry {
                        kind: AbstractionKind::StepHold,
                        ..
                    } => true,
                    Owner::Zferry { .. } => {
                        AbstractionName::parse(tag.as_str()).is_some_and(|a| a.guid == guid)
                    }
                    Owner::Zrepl { .. } => true,
                };
                entries.push(Entry {
                    dataset: dataset.to_string(),
                    name: tag.as_str().to_owned(),
                    snapshot: Some(snapshot.name().to_owned()),
                    guid,
                    owner,
                    genuine,
                    stale: false,
                });
            }
        }
    }
    mark_stale(&mut entries, &versions);
    Ok(entries)
}

/// Marks superseded zferry abstractions.
fn mark_stale(
    entries: &mut [Entry],
    versions: &BTreeMap<DatasetPath, Vec<zferry_zfs::ListedVersion>>,
) {
    let txg = |dataset: &str, guid: u64| {
        versions
            .iter()
            .find(|(d, _)| d.as_str() == dataset)
            .and_then(|(_, vs)| vs.iter().find(|v| v.version.guid == guid))
            .map_or(0, |v| v.version.createtxg)
    };
    let mut newest: BTreeMap<(String, AbstractionKind, LaneKey), u64> = BTreeMap::new();
    for e in entries.iter() {
        if let Owner::Zferry { kind, lane } = e.owner
            && e.genuine
        {
            let t = txg(&e.dataset, e.guid);
            let slot = newest.entry((e.dataset.clone(), kind, lane)).or_insert(t);
            *slot = (*slot).max(t);
        }
    }
    for e in entries.iter_mut() {
        if let Owner::Zferry { kind, lane } = e.owner
            && e.genuine
        {
            e.stale = match kind {
                AbstractionKind::TentativeCursor | AbstractionKind::StepHold => true,
                AbstractionKind::ReplicationCursor | AbstractionKind::LastReceivedHold => newest
                    .get(&(e.dataset.clone(), kind, lane))
                    .is_some_and(|n| txg(&e.dataset, e.guid) < *n),
            };
        }
    }
}

/// Releases (holds) or destroys (bookmarks) the given entries.
pub async fn release(zfs: &Zfs, entries: &[Entry]) -> Result<(), EndpointError> {
    let invalid = |e: zferry_zfs::NameError| EndpointError::permanent(e.to_string());
    let mut holds: BTreeMap<String, Vec<SnapshotName>> = BTreeMap::new();
    for e in entries {
        let dataset = DatasetPath::new(e.dataset.as_str()).map_err(invalid)?;
        match &e.snapshot {
            Some(snapshot) => holds
                .entry(e.name.clone())
                .or_default()
                .push(dataset.snapshot(snapshot).map_err(invalid)?),
            None => {
                let bookmark: BookmarkName = dataset.bookmark(&e.name).map_err(invalid)?;
                zfs.destroy_bookmark(&bookmark).await.map_err(zfs_error)?;
            }
        }
    }
    for (tag, snapshots) in holds {
        let tag = HoldTag::new(tag).map_err(invalid)?;
        zfs.release(&tag, &snapshots).await.map_err(zfs_error)?;
    }
    Ok(())
}
