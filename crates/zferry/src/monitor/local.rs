//! Observing a job from this host's ZFS alone (for `zferry check`, which must work while the
//! daemon is down). Each job type knows what its host holds:
//!
//! - push, source (sending host): per filesystem, the creation time of the lane's replication
//!   cursor (the newest snapshot the receiver confirmed); a source has one lane per admitted
//!   client identity, reported as `<identity>:<filesystem>`;
//! - pull, sink (receiving host): per received filesystem, the creation time of its newest
//!   snapshot (`zfs recv` keeps the sender's creation time); a sink's filesystems are reported as
//!   `<identity>:<filesystem>` for each client directory below `root_fs`;
//! - push, source, snap: the newest snapshot per monitored prefix.
//!
//! A `zfs` failure (ZFS unreadable) becomes the observation's error, which makes the checks
//! UNKNOWN.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use zferry_repl::abstractions::Lane;
use zferry_repl::endpoint::{Endpoint, FsPath, ListVersionsRequest, ListVersionsResponse};
use zferry_repl::local::{LocalReceiver, LocalSender};
use zferry_zfs::{DatasetPath, Zfs};

use super::observe::{cursor_times, has_snapshot, newest_received, snapshot_ages};
use super::{LagKey, Observed};
use crate::config::Job;
use crate::config::filesystems::FilesystemsFilter;
use crate::config::job::RecvOptions;
use crate::config::monitor::Monitor;
use crate::config::snapshotting::Snapshotting;
use crate::config::transport::Serve;
use crate::jobs::datasets::filter_roots;
use crate::jobs::options::recv_options;
use crate::runtime::transport::peer_name;

/// Every filesystem's versions, with creation times.
fn all_versions() -> ListVersionsRequest {
    ListVersionsRequest {
        filesystems: Vec::new(),
        with_creation: true,
        with_holds: false,
    }
}

/// What this host's ZFS tells about `job`.
pub async fn observe(zfs: &Zfs, job: &Job) -> Observed {
    let mut observed = Observed::default();
    match job {
        Job::Push(p) => {
            let lane = Lane::new(p.name.clone(), peer_name(&p.connect));
            sending(zfs, &p.filesystems, &[lane], job, &mut observed).await;
        }
        Job::Source(s) => {
            let lanes: Vec<Lane> = client_identities(&s.serve)
                .into_iter()
                .map(|id| Lane::new(s.name.clone(), id))
                .collect();
            sending(zfs, &s.filesystems, &lanes, job, &mut observed).await;
        }
        Job::Snap(s) => {
            let lane = Lane::new(s.name.clone(), "");
            sending(zfs, &s.filesystems, &[lane], job, &mut observed).await;
            observed.lag = None;
        }
        Job::Pull(p) => {
            let lane = Lane::new(p.name.clone(), peer_name(&p.connect));
            let result = received(zfs, &p.root_fs, lane, &p.recv).await;
            set_lag(&mut observed, result);
        }
        Job::Sink(s) => {
            let result = sink_received(zfs, s).await;
            set_lag(&mut observed, result);
        }
    }
    observed
}

fn set_lag(observed: &mut Observed, result: Result<BTreeMap<LagKey, Option<Timestamp>>, String>) {
    match result {
        Ok(lag) => observed.lag = Some(lag),
        Err(e) => observed.lag_error = Some(e),
    }
}

/// The identities a passive job serves, from its `serve` section (tcp client map values,
/// tls client common names, ssh client identities).
fn client_identities(serve: &Serve) -> Vec<String> {
    let mut ids: Vec<String> = match serve {
        Serve::Tcp(s) => s.clients.values().cloned().collect(),
        Serve::Tls(s) => s.client_cns.clone(),
        Serve::Stdinserver(s) => s.client_identities.clone(),
        Serve::Local(_) => Vec::new(),
    };
    ids.sort();
    ids.dedup();
    ids
}

/// The snapshot prefixes watched on `fs`: the configured ones, else the job's own snapshotting
/// prefix (periodic, cron); none for manual snapshotting without configured prefixes.
pub fn prefixes_for(
    monitor: &Monitor,
    snapshotting: Option<&Snapshotting>,
    fs: &str,
) -> Vec<String> {
    let configured = monitor.snapshots_for(fs);
    if !configured.is_empty() {
        return configured.iter().map(|l| l.prefix.clone()).collect();
    }
    match snapshotting {
        Some(Snapshotting::Periodic(p)) => vec![p.prefix.clone()],
        Some(Snapshotting::Cron(c)) => vec![c.prefix.clone()],
        _ => Vec::new(),
    }
}

/// The snapshotting section of a job that snapshots.
pub fn snapshotting_of(job: &Job) -> Option<&Snapshotting> {
    match job {
        Job::Push(p) => Some(&p.snapshotting),
        Job::Source(s) => Some(&s.snapshotting),
        Job::Snap(s) => Some(&s.snapshotting),
        Job::Pull(_) | Job::Sink(_) => None,
    }
}

/// The lane's filesystems (every one the filter matches, also those without snapshots) and
/// their versions.
async fn list_lane(
    zfs: &Zfs,
    roots: &[DatasetPath],
    filter: &FilesystemsFilter,
    lane: &Lane,
) -> Result<(Vec<FsPath>, ListVersionsResponse), String> {
    let sender = LocalSender::new(
        zfs.clone(),
        roots.to_vec(),
        filter.filter(),
        lane.clone(),
        Default::default(),
    );
    let filesystems = sender
        .list_filesystems()
        .await
        .map_err(|e| e.message)?
        .into_iter()
        .filter(|f| !f.is_placeholder)
        .map(|f| f.path)
        .collect();
    let listing = sender
        .list_versions(all_versions())
        .await
        .map_err(|e| e.message)?;
    Ok((filesystems, listing))
}

/// A sending job: the cursor of each lane, and the snapshot ages.
async fn sending(
    zfs: &Zfs,
    filter: &FilesystemsFilter,
    lanes: &[Lane],
    job: &Job,
    observed: &mut Observed,
) {
    let roots = match filter_roots(zfs, filter).await {
        Ok(r) => r,
        Err(e) => {
            observed.lag_error = Some(e.clone());
            observed.snapshots_error = Some(e);
            return;
        }
    };
    let mut lag = BTreeMap::new();
    let mut first_listing = None;
    for lane in lanes {
        match list_lane(zfs, &roots, filter, lane).await {
            Ok((filesystems, listing)) => {
                let peer =
                    (lanes.len() > 1 || matches!(job, Job::Source(_))).then(|| lane.peer.clone());
                // Filesystems with something to replicate: a snapshot or a cursor.
                let cursors = cursor_times(&listing);
                for f in listing.filesystems.iter().filter(|f| has_snapshot(f)) {
                    if filesystems.contains(&f.path) {
                        let at = cursors.get(f.path.as_str()).copied().flatten();
                        lag.insert((peer.clone(), f.path.to_string()), at);
                    }
                }
                first_listing.get_or_insert(listing);
            }
            Err(e) => {
                observed.lag_error = Some(e.clone());
                observed.snapshots_error = Some(e);
                return;
            }
        }
    }
    if !lanes.is_empty() {
        observed.lag = Some(lag);
    }
    let listing = match first_listing {
        Some(l) => l,
        None => match list_lane(zfs, &roots, filter, &Lane::new(job.name(), "")).await {
            Ok((_, l)) => l,
            Err(e) => {
                observed.snapshots_error = Some(e);
                return;
            }
        },
    };
    let snapshotting = snapshotting_of(job);
    observed.snapshots =
        snapshot_ages(&listing, |fs| prefixes_for(job.monitor(), snapshotting, fs));
}

/// A receiving job below `root`: the newest snapshot of every received filesystem.
async fn received(
    zfs: &Zfs,
    root: &str,
    lane: Lane,
    recv: &RecvOptions,
) -> Result<BTreeMap<LagKey, Option<Timestamp>>, String> {
    let root = DatasetPath::new(root).map_err(|e| format!("root_fs {root:?}: {e}"))?;
    let receiver = LocalReceiver::new(zfs.clone(), root, lane, recv_options(recv)?);
    let placeholders: BTreeSet<FsPath> = receiver
        .list_filesystems()
        .await
        .map_err(|e| e.message)?
        .into_iter()
        .filter(|f| f.is_placeholder)
        .map(|f| f.path)
        .collect();
    let listing = receiver
        .list_versions(all_versions())
        .await
        .map_err(|e| e.message)?;
    Ok(newest_received(&listing, &placeholders)
        .into_iter()
        .map(|(fs, at)| ((None, fs), at))
        .collect())
}

/// A sink: every client directory below `root_fs`, as `<identity>:<filesystem>`.
async fn sink_received(
    zfs: &Zfs,
    sink: &crate::config::job::SinkJob,
) -> Result<BTreeMap<LagKey, Option<Timestamp>>, String> {
    let root = DatasetPath::new(sink.root_fs.as_str())
        .map_err(|e| format!("root_fs {:?}: {e}", sink.root_fs))?;
    let children = zfs
        .list_datasets(std::slice::from_ref(&root))
        .await
        .map_err(|e| e.to_string())?;
    let identities: Vec<String> = children
        .iter()
        .filter_map(|d| {
            let rest = d
                .path
                .as_str()
                .strip_prefix(root.as_str())?
                .strip_prefix('/')?;
            (!rest.contains('/')).then(|| rest.to_string())
        })
        .collect();
    let mut all = BTreeMap::new();
    for identity in identities {
        let lane = Lane::new(sink.name.clone(), identity.clone());
        let client_root = format!("{}/{identity}", sink.root_fs);
        for ((_, fs), at) in received(zfs, &client_root, lane, &sink.recv).await? {
            all.insert((Some(identity.clone()), fs), at);
        }
    }
    Ok(all)
}
