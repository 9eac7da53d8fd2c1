//! Helpers shared by the local sender and receiver: error classification, version conversion,
//! lane abstraction lookup, guid-checked destroys.

use std::collections::{BTreeMap, HashMap};

use zferry_zfs::{
    BookmarkName, DatasetPath, HoldTag, ListedVersion, SnapshotName, Version, VersionQuery, Zfs,
    ZfsError, ZfsErrorKind,
};

use crate::abstractions::{AbstractionKind, AbstractionName, Lane};
use crate::endpoint::{DestroyResult, EndpointError, FsVersion, SnapshotRef, VersionKind};

/// Classifies a ZFS error for the engine.
pub(crate) fn zfs_error(e: ZfsError) -> EndpointError {
    let message = e.to_string();
    match e {
        ZfsError::Io { .. } => EndpointError::temporary(message),
        ZfsError::Name(_) => EndpointError::access_denied(message),
        ZfsError::ReceivedGuidMismatch { .. } | ZfsError::BookmarkGuidMismatch { .. } => {
            EndpointError::conflict(message)
        }
        other => match other.kind() {
            ZfsErrorKind::DoesNotExist => EndpointError::not_found(message),
            ZfsErrorKind::Busy | ZfsErrorKind::ResumableReceiveFailed { .. } => {
                EndpointError::temporary(message)
            }
            ZfsErrorKind::IncrementalSourceMismatch => EndpointError::conflict(format!(
                "the receiver's newest snapshot is not the incremental base (diverged?): {message}"
            )),
            ZfsErrorKind::DestinationModified => EndpointError::conflict(format!(
                "receiver modified since its most recent snapshot; nothing was destroyed: {message}"
            )),
            ZfsErrorKind::RecvForceIntoEncrypted => EndpointError::permanent(format!(
                "cannot force-receive into an encrypted filesystem (check recv.placeholder.encryption): {message}"
            )),
            ZfsErrorKind::Permission => EndpointError::access_denied(message),
            _ => EndpointError::permanent(message),
        },
    }
}

/// A listed version as the endpoint reports it.
pub(crate) fn fs_version(listed: &ListedVersion) -> FsVersion {
    let v = &listed.version;
    FsVersion {
        kind: match v.kind {
            zferry_zfs::VersionKind::Snapshot => VersionKind::Snapshot,
            zferry_zfs::VersionKind::Bookmark => VersionKind::Bookmark,
        },
        name: v.name.clone(),
        guid: v.guid,
        createtxg: v.createtxg,
        creation: v.creation,
        userrefs: listed.userrefs,
    }
}

/// The ZFS version for an endpoint version on `dataset`.
pub(crate) fn zfs_version(dataset: &DatasetPath, v: &FsVersion) -> Version {
    Version {
        kind: match v.kind {
            VersionKind::Snapshot => zferry_zfs::VersionKind::Snapshot,
            VersionKind::Bookmark => zferry_zfs::VersionKind::Bookmark,
        },
        dataset: dataset.clone(),
        name: v.name.clone(),
        guid: v.guid,
        createtxg: v.createtxg,
        creation: v.creation,
    }
}

/// Versions of datasets, grouped per dataset.
pub(crate) async fn versions_of(
    zfs: &Zfs,
    datasets: &[DatasetPath],
    recursive: bool,
    detailed: bool,
) -> Result<BTreeMap<DatasetPath, Vec<ListedVersion>>, EndpointError> {
    let listed = zfs
        .list_versions(
            datasets,
            VersionQuery {
                snapshots: true,
                bookmarks: true,
                recursive,
                creation: detailed,
                userrefs: true,
            },
        )
        .await
        .map_err(zfs_error)?;
    let mut map: BTreeMap<DatasetPath, Vec<ListedVersion>> = BTreeMap::new();
    for v in listed {
        map.entry(v.version.dataset.clone()).or_default().push(v);
    }
    Ok(map)
}

/// This lane's abstraction named by a version, if it is one and its guid is genuine.
pub(crate) fn lane_bookmark(v: &ListedVersion, lane: &Lane) -> Option<AbstractionName> {
    if v.version.kind != zferry_zfs::VersionKind::Bookmark {
        return None;
    }
    AbstractionName::parse(&v.version.name)
        .filter(|a| a.lane == lane.key() && a.guid == v.version.guid && a.kind.is_bookmark())
}

/// The newest valid replication cursor of `lane` among `versions`.
pub(crate) fn find_cursor<'a>(
    versions: &'a [ListedVersion],
    lane: &Lane,
) -> Option<&'a ListedVersion> {
    versions
        .iter()
        .filter(|v| {
            lane_bookmark(v, lane).is_some_and(|a| a.kind == AbstractionKind::ReplicationCursor)
        })
        .max_by_key(|v| v.version.createtxg)
}

/// One hold of this lane on a listed snapshot.
pub(crate) struct LaneHold {
    /// The hold's tag.
    pub(crate) tag: HoldTag,
    /// The tag parsed (its guid is the one the name embeds).
    pub(crate) name: AbstractionName,
    /// The held snapshot.
    pub(crate) snapshot: SnapshotName,
    /// The held snapshot's guid.
    pub(crate) guid: u64,
}

/// Holds of `kind` in `lane` on the listed snapshots of any number of datasets, in one
/// `zfs holds` (only snapshots with `userrefs > 0` are asked).
pub(crate) async fn lane_holds_of<'a>(
    zfs: &Zfs,
    versions: impl IntoIterator<Item = &'a ListedVersion> + Clone,
    lane: &Lane,
    kind: AbstractionKind,
) -> Result<Vec<LaneHold>, EndpointError> {
    let guid_of: HashMap<(&DatasetPath, &str), u64> = versions
        .clone()
        .into_iter()
        .filter(|v| v.version.kind == zferry_zfs::VersionKind::Snapshot)
        .map(|v| {
            (
                (&v.version.dataset, v.version.name.as_str()),
                v.version.guid,
            )
        })
        .collect();
    let holds = zfs
        .holds_where_referenced(versions)
        .await
        .map_err(zfs_error)?;
    let mut out = Vec::new();
    for (snapshot, tags) in holds {
        let guid = guid_of
            .get(&(snapshot.dataset(), snapshot.name()))
            .copied()
            .unwrap_or(0);
        for tag in tags {
            let Some(name) = AbstractionName::parse(tag.as_str())
                .filter(|a| a.lane == lane.key() && a.kind == kind)
            else {
                continue;
            };
            out.push(LaneHold {
                tag,
                name,
                snapshot: snapshot.clone(),
                guid,
            });
        }
    }
    Ok(out)
}

/// Holds of `kind` in `lane` on the listed snapshots of one dataset, as tag -> snapshots (for
/// releasing them tag by tag).
pub(crate) async fn lane_holds(
    zfs: &Zfs,
    versions: &[ListedVersion],
    lane: &Lane,
    kind: AbstractionKind,
) -> Result<BTreeMap<HoldTag, Vec<(SnapshotName, u64)>>, EndpointError> {
    let mut out: BTreeMap<HoldTag, Vec<(SnapshotName, u64)>> = BTreeMap::new();
    for h in lane_holds_of(zfs, versions, lane, kind).await? {
        out.entry(h.tag).or_default().push((h.snapshot, h.guid));
    }
    Ok(out)
}

/// A hold tag for an abstraction.
pub(crate) fn hold_tag(name: &AbstractionName, lane: &Lane) -> Result<HoldTag, EndpointError> {
    HoldTag::new(name.render(lane, 0)).map_err(|e| EndpointError::permanent(e.to_string()))
}

/// A bookmark name for an abstraction on `dataset`.
pub(crate) fn bookmark_name(
    dataset: &DatasetPath,
    name: &AbstractionName,
    lane: &Lane,
) -> Result<BookmarkName, EndpointError> {
    dataset
        .bookmark(&name.render(lane, dataset.as_str().len()))
        .map_err(|e| EndpointError::permanent(e.to_string()))
}

/// Destroys snapshots after checking their guids; `resolve` maps an endpoint path to a dataset.
/// Results are in request order; absent snapshots count as destroyed.
pub(crate) async fn destroy_checked(
    zfs: &Zfs,
    snapshots: Vec<SnapshotRef>,
    resolve: impl Fn(&SnapshotRef) -> Result<DatasetPath, EndpointError>,
) -> Result<Vec<DestroyResult>, EndpointError> {
    let mut errors: Vec<Option<EndpointError>> = vec![None; snapshots.len()];
    let mut resolved: Vec<Option<DatasetPath>> = Vec::with_capacity(snapshots.len());
    for (i, s) in snapshots.iter().enumerate() {
        match resolve(s) {
            Ok(ds) => resolved.push(Some(ds)),
            Err(e) => {
                resolved.push(None);
                errors[i] = Some(e);
            }
        }
    }
    let mut datasets: Vec<DatasetPath> = resolved.iter().flatten().cloned().collect();
    datasets.sort();
    datasets.dedup();
    let current = versions_of(zfs, &datasets, false, false).await?;
    let mut targets: Vec<(usize, SnapshotName)> = Vec::new();
    for (i, (s, ds)) in snapshots.iter().zip(&resolved).enumerate() {
        let Some(ds) = ds else { continue };
        let found = current.get(ds).and_then(|vs| {
            vs.iter().find(|v| {
                v.version.kind == zferry_zfs::VersionKind::Snapshot && v.version.name == s.name
            })
        });
        match found {
            None => {} // already gone
            Some(v) if v.version.guid != s.guid => {
                errors[i] = Some(EndpointError::conflict(format!(
                    "{ds}@{} now has guid {}, not {}; not destroyed",
                    s.name, v.version.guid, s.guid
                )));
            }
            Some(_) => match ds.snapshot(&s.name) {
                Ok(name) => targets.push((i, name)),
                Err(e) => errors[i] = Some(EndpointError::access_denied(e.to_string())),
            },
        }
    }
    let names: Vec<SnapshotName> = targets.iter().map(|(_, n)| n.clone()).collect();
    if !names.is_empty() {
        let report = zfs.destroy_snapshots(&names).await.map_err(zfs_error)?;
        for u in report.undestroyed {
            if let Some((i, _)) = targets.iter().find(|(_, n)| *n == u.snapshot) {
                errors[*i] = Some(match u.kind {
                    ZfsErrorKind::Busy => EndpointError::temporary(format!(
                        "{} is held or busy: {}",
                        u.snapshot, u.reason
                    )),
                    _ => EndpointError::permanent(format!("{}: {}", u.snapshot, u.reason)),
                });
            }
        }
    }
    Ok(snapshots
        .into_iter()
        .zip(errors)
        .map(|(snapshot, error)| DestroyResult { snapshot, error })
        .collect())
}
