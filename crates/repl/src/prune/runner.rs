//! Applying keep rules to one side of a replication.
//!
//! Regardless of the rules, a snapshot is never destroyed when
//! - some lane's replication cursor (a `zferry_C_*` bookmark with a genuine guid) points at it, or a
//!   tentative cursor does (an incremental base in use), or
//! - it carries any user hold (`userrefs > 0`: step holds, last-received holds of any lane, users'
//!   own holds).
//!
//! Such snapshots are reported as skipped with the reason. A receiver-side run never prunes a
//! placeholder and skips filesystems the sender does not have. Destroys are batched into one
//! request per run.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::rules::{KeepRule, RuleSnapshot, destroy_set};
use crate::abstractions::{AbstractionKind, AbstractionName};
use crate::endpoint::{
    DestroySnapshotsRequest, Endpoint, EndpointError, FsPath, FsVersion, ListVersionsRequest,
    SnapshotRef, VersionKind,
};

/// Which side is pruned.
#[derive(Debug, Clone, Copy)]
pub enum PruneSide<'a> {
    /// The sender: `not_replicated` is judged against this lane's cursor.
    Sender,
    /// The receiver: only filesystems the sender lists are pruned (placeholders never).
    Receiver {
        /// The sender's filesystems; `None` when the sender could not be asked (then the
        /// receiver is not pruned at all).
        sender_filesystems: Option<&'a [FsPath]>,
    },
}

/// The outcome of a pruning run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneReport {
    /// Per filesystem.
    pub filesystems: Vec<FsPruneReport>,
    /// An error that stopped the whole run.
    pub error: Option<String>,
}

/// Pruning of one filesystem.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsPruneReport {
    /// The filesystem.
    pub path: Option<FsPath>,
    /// Snapshots the filesystem had before pruning.
    #[serde(default)]
    pub snapshots: usize,
    /// Snapshots destroyed.
    pub destroyed: Vec<String>,
    /// Snapshots the rules would destroy but that were kept, with why.
    pub skipped: Vec<SkippedSnapshot>,
    /// Snapshots that could not be destroyed.
    pub errors: Vec<SkippedSnapshot>,
}

/// A snapshot not destroyed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedSnapshot {
    /// The snapshot name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// Prunes one side with `rules`.
pub async fn prune(
    endpoint: &dyn Endpoint,
    side: PruneSide<'_>,
    rules: &[KeepRule],
) -> PruneReport {
    match prune_inner(endpoint, side, rules).await {
        Ok(report) => report,
        Err(e) => PruneReport {
            filesystems: Vec::new(),
            error: Some(e.to_string()),
        },
    }
}

async fn prune_inner(
    endpoint: &dyn Endpoint,
    side: PruneSide<'_>,
    rules: &[KeepRule],
) -> Result<PruneReport, EndpointError> {
    let filesystems = endpoint.list_filesystems().await?;
    let eligible: HashSet<FsPath> = match side {
        PruneSide::Sender => filesystems.iter().map(|f| f.path.clone()).collect(),
        PruneSide::Receiver {
            sender_filesystems: None,
        } => {
            return Err(EndpointError::temporary(
                "the sender's filesystems are unknown; the receiver is not pruned",
            ));
        }
        PruneSide::Receiver {
            sender_filesystems: Some(sender),
        } => {
            let sender: HashSet<&FsPath> = sender.iter().collect();
            filesystems
                .iter()
                .filter(|f| !f.is_placeholder && sender.contains(&f.path))
                .map(|f| f.path.clone())
                .collect()
        }
    };
    let listing = endpoint
        .list_versions(ListVersionsRequest {
            filesystems: Vec::new(),
            with_creation: true,
            with_holds: false,
        })
        .await?;
    let mut report = PruneReport::default();
    let mut to_destroy: Vec<SnapshotRef> = Vec::new();
    let mut index: HashMap<(FsPath, String), usize> = HashMap::new();
    for fs in listing.filesystems {
        if !eligible.contains(&fs.path) {
            continue;
        }
        let protected = protected_guids(&fs.versions);
        let cursor = fs.cursor.as_ref();
        let mut snaps: Vec<&FsVersion> = fs.versions.iter().filter(|v| v.is_snapshot()).collect();
        snaps.sort_by_key(|v| v.createtxg);
        let rule_snaps: Vec<RuleSnapshot> = snaps
            .iter()
            .map(|v| RuleSnapshot {
                name: v.name.clone(),
                creation: v.creation.unwrap_or(0),
                replicated: match side {
                    PruneSide::Sender => cursor.is_some_and(|c| v.createtxg <= c.createtxg),
                    PruneSide::Receiver { .. } => true,
                },
                at_cursor: cursor.is_some_and(|c| c.guid == v.guid),
            })
            .collect();
        let mut fs_report = FsPruneReport {
            path: Some(fs.path.clone()),
            snapshots: snaps.len(),
            ..FsPruneReport::default()
        };
        for i in destroy_set(rules, &rule_snaps) {
            let v = snaps[i];
            let reason = if let Some(kind) = protected.get(&v.guid) {
                Some(format!("{kind} points at it"))
            } else if v.userrefs.unwrap_or(0) > 0 {
                Some(format!("{} user hold(s)", v.userrefs.unwrap_or(0)))
            } else {
                None
            };
            match reason {
                Some(reason) => fs_report.skipped.push(SkippedSnapshot {
                    name: v.name.clone(),
                    reason,
                }),
                None => {
                    index.insert((fs.path.clone(), v.name.clone()), report.filesystems.len());
                    to_destroy.push(SnapshotRef {
                        filesystem: fs.path.clone(),
                        name: v.name.clone(),
                        guid: v.guid,
                    });
                }
            }
        }
        report.filesystems.push(fs_report);
    }
    if !to_destroy.is_empty() {
        let response = endpoint
            .destroy_snapshots(DestroySnapshotsRequest {
                snapshots: to_destroy,
            })
            .await?;
        for result in response.results {
            let key = (
                result.snapshot.filesystem.clone(),
                result.snapshot.name.clone(),
            );
            let Some(&i) = index.get(&key) else { continue };
            let fs = &mut report.filesystems[i];
            match result.error {
                None => fs.destroyed.push(result.snapshot.name),
                Some(e) => fs.errors.push(SkippedSnapshot {
                    name: result.snapshot.name,
                    reason: e.message,
                }),
            }
        }
    }
    Ok(report)
}

/// Guids some lane's (tentative) replication cursor points at, with a description.
fn protected_guids(versions: &[FsVersion]) -> HashMap<u64, &'static str> {
    versions
        .iter()
        .filter(|v| v.kind == VersionKind::Bookmark)
        .filter_map(|v| {
            let a = AbstractionName::parse(&v.name).filter(|a| a.guid == v.guid)?;
            let what = match a.kind {
                AbstractionKind::ReplicationCursor => "a replication cursor",
                AbstractionKind::TentativeCursor => "a tentative replication cursor",
                _ => return None,
            };
            Some((v.guid, what))
        })
        .collect()
}
