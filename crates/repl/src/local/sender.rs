//! [`LocalSender`]: the sending side over local ZFS.
//!
//! Namespace: the sender exposes dataset names unchanged, restricted to its filesystem filter.
//!
//! Abstractions it manages for its lane:
//! - step holds `zferry_S_<to guid>_<lane>` on every snapshot a step sends (its `from` if a snapshot,
//!   its `to`, and with `-I` everything between) under `guarantee_resumability`; one tag per step, so
//!   one batched `zfs hold`;
//! - a tentative cursor bookmark `zferry_T_<from guid>_<lane>` on `from` under `guarantee_incremental`;
//! - the replication cursor bookmark `zferry_C_<guid>_<lane>`, moved on `send_completed` and on a hint:
//!   the new cursor is created first, then older cursors, tentative cursors and stale step holds of
//!   this lane on that filesystem are removed (a step hold is stale once its target is not newer
//!   than the cursor, see [`crate::protection`]).
//!
//! Encryption policy (zrepl's `send.encrypted`): when set, only encrypted filesystems are sent, and
//! always raw (`-w`); an unencrypted filesystem is refused. `send.raw` sends raw regardless.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use tokio::io::{AsyncRead, ReadBuf};
use zferry_zfs::{
    DatasetPath, HoldTag, ListedVersion, PropertyName, SendFlags, SendFrom, SendStream,
    SnapshotName, Zfs, ZfsError,
};

use super::common::{
    bookmark_name, destroy_checked, find_cursor, fs_version, hold_tag, lane_bookmark,
    lane_holds_of, versions_of, zfs_error, zfs_version,
};
use crate::abstractions::{AbstractionKind, AbstractionName, Lane};
use crate::endpoint::{
    ByteStream, DestroySnapshotsRequest, DestroySnapshotsResponse, Endpoint, EndpointError,
    FilesystemInfo, FilesystemVersions, FsPath, FsVersion, HintRequest, Incremental,
    ListVersionsRequest, ListVersionsResponse, Protection, SendCompletedRequest, SendEstimate,
    SendRequest, SendResponse, Sender, StreamFlags, VersionKind,
};
use crate::filter::FilesystemFilter;
use crate::protection::step_hold_is_stale;

/// Send options (zrepl's `send` section).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// `send.encrypted`: only send encrypted filesystems, raw.
    pub encrypted: bool,
    /// `send.raw`: `-w`.
    pub raw: bool,
    /// `send.send_properties`: `-p`.
    pub properties: bool,
    /// `send.backup_properties`: `-b`.
    pub backup_properties: bool,
    /// `send.large_blocks`: `-L`.
    pub large_blocks: bool,
    /// `send.compressed`: `-c`.
    pub compressed: bool,
    /// `send.embedded_data`: `-e`.
    pub embedded_data: bool,
}

impl SendOptions {
    fn flags(&self) -> SendFlags {
        SendFlags {
            raw: self.encrypted || self.raw,
            properties: self.properties,
            backup: self.backup_properties,
            large_blocks: self.large_blocks,
            compressed: self.compressed,
            embedded: self.embedded_data,
        }
    }
}

/// The sending side over local ZFS.
pub struct LocalSender {
    zfs: Zfs,
    roots: Vec<DatasetPath>,
    filter: FilesystemFilter,
    lane: Lane,
    options: SendOptions,
}

impl LocalSender {
    /// A sender listing below `roots`, offering the datasets `filter` matches, for `lane`.
    pub fn new(
        zfs: Zfs,
        roots: Vec<DatasetPath>,
        filter: FilesystemFilter,
        lane: Lane,
        options: SendOptions,
    ) -> Self {
        Self {
            zfs,
            roots,
            filter,
            lane,
            options,
        }
    }

    /// The lane this sender serves.
    pub fn lane(&self) -> &Lane {
        &self.lane
    }

    fn dataset(&self, path: &FsPath) -> Result<DatasetPath, EndpointError> {
        if !self.filter.matches(path.as_str()) {
            return Err(EndpointError::access_denied(format!(
                "filesystem {path} is not offered by this sender"
            )));
        }
        DatasetPath::new(path.as_str()).map_err(|e| EndpointError::access_denied(e.to_string()))
    }

    async fn versions(&self, ds: &DatasetPath) -> Result<Vec<ListedVersion>, EndpointError> {
        Ok(
            versions_of(&self.zfs, std::slice::from_ref(ds), false, false)
                .await?
                .remove(ds)
                .unwrap_or_default(),
        )
    }

    async fn is_encrypted(&self, ds: &DatasetPath) -> Result<bool, EndpointError> {
        let prop =
            PropertyName::new("encryption").map_err(|e| EndpointError::permanent(e.to_string()))?;
        let value = self
            .zfs
            .get_property(ds.as_str(), &prop)
            .await
            .map_err(zfs_error)?;
        Ok(value.is_some_and(|v| v != "off"))
    }

    /// Checks the request against the filesystem and policy; returns the zfs request and flags.
    async fn prepare(
        &self,
        request: &SendRequest,
    ) -> Result<
        (
            DatasetPath,
            Vec<ListedVersion>,
            zferry_zfs::SendRequest,
            StreamFlags,
        ),
        EndpointError,
    > {
        let ds = self.dataset(&request.filesystem)?;
        request.to.validate()?;
        let versions = self.versions(&ds).await?;
        let exists = |v: &FsVersion| {
            versions.iter().any(|l| {
                l.version.name == v.name && l.version.guid == v.guid && fs_version(l).kind == v.kind
            })
        };
        if request.to.kind != VersionKind::Snapshot || !exists(&request.to) {
            return Err(EndpointError::not_found(format!(
                "{} (guid {}) no longer exists on the sender",
                request.to.full_name(ds.as_str()),
                request.to.guid
            )));
        }
        if let Some(from) = &request.from {
            from.validate()?;
            if !exists(from) {
                return Err(EndpointError::not_found(format!(
                    "incremental base {} (guid {}) no longer exists on the sender",
                    from.full_name(ds.as_str()),
                    from.guid
                )));
            }
            if from.kind == VersionKind::Bookmark
                && request.incremental == Incremental::WithIntermediates
            {
                return Err(EndpointError::permanent(
                    "`zfs send -I` needs a snapshot as its base",
                ));
            }
        }
        let encrypted = self.is_encrypted(&ds).await?;
        if self.options.encrypted && !encrypted {
            return Err(EndpointError::access_denied(format!(
                "send.encrypted is set but {ds} is not encrypted; refusing to send it"
            )));
        }
        let flags = self.options.flags();
        let stream_flags = StreamFlags {
            raw: flags.raw,
            encrypted_source: encrypted,
            properties: flags.properties || flags.backup,
        };
        let zfs_request = match &request.resume_token {
            Some(token) => {
                self.check_token(&ds, request, token, flags.raw).await?;
                zferry_zfs::SendRequest::Resume {
                    token: token.clone(),
                }
            }
            None => {
                let to = ds
                    .snapshot(&request.to.name)
                    .map_err(|e| EndpointError::access_denied(e.to_string()))?;
                let from = match &request.from {
                    None => None,
                    Some(f) if f.kind == VersionKind::Snapshot => Some(SendFrom::Snapshot(
                        ds.snapshot(&f.name)
                            .map_err(|e| EndpointError::access_denied(e.to_string()))?,
                    )),
                    Some(f) => Some(SendFrom::Bookmark(
                        ds.bookmark(&f.name)
                            .map_err(|e| EndpointError::access_denied(e.to_string()))?,
                    )),
                };
                zferry_zfs::SendRequest::Snapshot {
                    to,
                    from,
                    intermediates: request.incremental == Incremental::WithIntermediates,
                    flags,
                }
            }
        };
        Ok((ds, versions, zfs_request, stream_flags))
    }

    /// Refuses a token that does not describe exactly this step.
    async fn check_token(
        &self,
        ds: &DatasetPath,
        request: &SendRequest,
        token: &str,
        raw: bool,
    ) -> Result<(), EndpointError> {
        let decoded = zferry_zfs::decode_resume_token(token)
            .map_err(|e| EndpointError::not_found(format!("resume token cannot be used: {e}")))?;
        let token_fs = decoded
            .to_name
            .split_once('@')
            .map_or(decoded.to_name.as_str(), |(fs, _)| fs);
        let problems = [
            (
                token_fs != ds.as_str(),
                format!("it is for {token_fs}, not {ds}"),
            ),
            (
                decoded.to_guid != request.to.guid,
                format!(
                    "it targets guid {}, not {}",
                    decoded.to_guid, request.to.guid
                ),
            ),
            (
                decoded.from_guid != request.from.as_ref().map(|f| f.guid),
                format!(
                    "its base is guid {:?}, not {:?}",
                    decoded.from_guid,
                    request.from.as_ref().map(|f| f.guid)
                ),
            ),
            (
                decoded.raw != raw,
                format!(
                    "its raw flag is {}, the send policy says {raw}",
                    decoded.raw
                ),
            ),
        ];
        match problems.into_iter().find(|(bad, _)| *bad) {
            Some((_, why)) => Err(EndpointError::conflict(format!(
                "resume token refused: {why}"
            ))),
            None => Ok(()),
        }
    }

    /// Step protection before the stream starts.
    async fn protect(
        &self,
        ds: &DatasetPath,
        versions: &[ListedVersion],
        request: &SendRequest,
    ) -> Result<(), EndpointError> {
        match request.protection {
            Protection::GuaranteeNothing => Ok(()),
            Protection::GuaranteeIncremental => {
                let Some(from) = request.from.as_ref().filter(|f| f.is_snapshot()) else {
                    return Ok(());
                };
                let name =
                    AbstractionName::new(AbstractionKind::TentativeCursor, from.guid, &self.lane);
                let bookmark = bookmark_name(ds, &name, &self.lane)?;
                self.zfs
                    .bookmark(&zfs_version(ds, from), &bookmark)
                    .await
                    .map_err(zfs_error)
            }
            Protection::GuaranteeResumability => {
                let low = request
                    .from
                    .as_ref()
                    .map_or(request.to.createtxg, |f| f.createtxg);
                let snapshots: Vec<_> = versions
                    .iter()
                    .filter(|v| v.version.kind == zferry_zfs::VersionKind::Snapshot)
                    .filter(|v| {
                        let txg = v.version.createtxg;
                        let is_end = v.version.guid == request.to.guid
                            || request
                                .from
                                .as_ref()
                                .is_some_and(|f| f.guid == v.version.guid);
                        is_end
                            || (request.incremental == Incremental::WithIntermediates
                                && txg > low
                                && txg < request.to.createtxg)
                    })
                    .filter_map(|v| ds.snapshot(&v.version.name).ok())
                    .collect();
                let name =
                    AbstractionName::new(AbstractionKind::StepHold, request.to.guid, &self.lane);
                self.zfs
                    .hold(&hold_tag(&name, &self.lane)?, &snapshots)
                    .await
                    .map_err(zfs_error)
            }
        }
    }

    /// Makes `version` this lane's cursor, then removes older cursors, tentative cursors and the
    /// stale step holds of this lane on `ds` (create before release). A step hold whose target is
    /// still newer than the cursor stays: it protects a step the receiver may resume.
    async fn move_cursor(
        &self,
        ds: &DatasetPath,
        version: &FsVersion,
    ) -> Result<(), EndpointError> {
        let versions = self.versions(ds).await?;
        let name =
            AbstractionName::new(AbstractionKind::ReplicationCursor, version.guid, &self.lane);
        let already = versions
            .iter()
            .any(|v| lane_bookmark(v, &self.lane).is_some_and(|a| a == name));
        if !already {
            let bookmark = bookmark_name(ds, &name, &self.lane)?;
            self.zfs
                .bookmark(&zfs_version(ds, version), &bookmark)
                .await
                .map_err(|e| zfs_error(e).context("creating the replication cursor"))?;
        }
        for v in &versions {
            let Some(a) = lane_bookmark(v, &self.lane) else {
                continue;
            };
            let stale = match a.kind {
                AbstractionKind::ReplicationCursor => a.guid != version.guid,
                AbstractionKind::TentativeCursor => true,
                _ => false,
            };
            if stale {
                let bookmark = ds
                    .bookmark(&v.version.name)
                    .map_err(|e| EndpointError::permanent(e.to_string()))?;
                self.zfs
                    .destroy_bookmark(&bookmark)
                    .await
                    .map_err(zfs_error)?;
            }
        }
        let snapshots: Vec<FsVersion> = versions.iter().map(fs_version).collect();
        let holds = lane_holds_of(&self.zfs, &versions, &self.lane, AbstractionKind::StepHold);
        let mut stale: BTreeMap<HoldTag, Vec<SnapshotName>> = BTreeMap::new();
        for h in holds.await? {
            if step_hold_is_stale(h.name.guid, &snapshots, version) {
                stale.entry(h.tag).or_default().push(h.snapshot);
            }
        }
        for (tag, names) in stale {
            self.zfs.release(&tag, &names).await.map_err(zfs_error)?;
        }
        Ok(())
    }
}

#[async_trait]
impl Endpoint for LocalSender {
    async fn list_filesystems(&self) -> Result<Vec<FilesystemInfo>, EndpointError> {
        let datasets = self
            .zfs
            .list_datasets(&self.roots)
            .await
            .map_err(zfs_error)?;
        let mut out = Vec::new();
        for d in datasets {
            if !self.filter.matches(d.path.as_str()) {
                continue;
            }
            out.push(FilesystemInfo {
                path: FsPath::new(d.path.as_str())?,
                is_placeholder: d.placeholder,
                resume: None,
                encrypted: d.is_encrypted(),
                written: None,
            });
        }
        Ok(out)
    }

    async fn list_versions(
        &self,
        request: ListVersionsRequest,
    ) -> Result<ListVersionsResponse, EndpointError> {
        let (datasets, recursive) = if request.filesystems.is_empty() {
            (self.roots.clone(), true)
        } else {
            let mut ds = Vec::new();
            for p in &request.filesystems {
                ds.push(self.dataset(p)?);
            }
            (ds, false)
        };
        let mut map = versions_of(&self.zfs, &datasets, recursive, request.with_creation).await?;
        map.retain(|ds, _| self.filter.matches(ds.as_str()));
        let mut step_holds: HashMap<DatasetPath, Vec<u64>> = HashMap::new();
        if request.with_holds {
            let kind = AbstractionKind::StepHold;
            for h in lane_holds_of(&self.zfs, map.values().flatten(), &self.lane, kind).await? {
                let targets = step_holds.entry(h.snapshot.dataset().clone()).or_default();
                if !targets.contains(&h.name.guid) {
                    targets.push(h.name.guid);
                }
            }
        }
        let mut filesystems = Vec::with_capacity(map.len());
        for (ds, versions) in map {
            filesystems.push(FilesystemVersions {
                path: FsPath::new(ds.as_str())?,
                cursor: find_cursor(&versions, &self.lane).map(fs_version),
                versions: versions.iter().map(fs_version).collect(),
                last_received: Vec::new(),
                step_holds: step_holds.remove(&ds).unwrap_or_default(),
            });
        }
        Ok(ListVersionsResponse { filesystems })
    }

    async fn destroy_snapshots(
        &self,
        request: DestroySnapshotsRequest,
    ) -> Result<DestroySnapshotsResponse, EndpointError> {
        let results = destroy_checked(&self.zfs, request.snapshots, |s| {
            self.dataset(&s.filesystem)
        })
        .await?;
        Ok(DestroySnapshotsResponse { results })
    }

    async fn ping(&self) -> Result<(), EndpointError> {
        Ok(())
    }
}

#[async_trait]
impl Sender for LocalSender {
    async fn send_estimate(&self, request: SendRequest) -> Result<SendEstimate, EndpointError> {
        let (_, _, zfs_request, _) = self.prepare(&request).await?;
        let estimate = self
            .zfs
            .estimate_send(&zfs_request)
            .await
            .map_err(zfs_error)?;
        Ok(SendEstimate {
            expected_bytes: Some(estimate.total_bytes),
        })
    }

    async fn send(
        &self,
        request: SendRequest,
    ) -> Result<(SendResponse, ByteStream), EndpointError> {
        let (ds, versions, zfs_request, flags) = self.prepare(&request).await?;
        self.protect(&ds, &versions, &request).await?;
        let stream = self.zfs.send(&zfs_request).await.map_err(zfs_error)?;
        let pipe = stream.pipe();
        let mut stream = ByteStream::new(SendReader::new(stream));
        if let Some(pipe) = pipe {
            stream = stream.with_pipe(pipe);
        }
        Ok((
            SendResponse {
                resumed: request.resume_token.is_some(),
                flags,
                expected_bytes: None,
            },
            stream,
        ))
    }

    async fn send_completed(&self, request: SendCompletedRequest) -> Result<(), EndpointError> {
        let ds = self.dataset(&request.request.filesystem)?;
        self.move_cursor(&ds, &request.request.to).await
    }

    async fn replication_cursor(
        &self,
        filesystem: FsPath,
    ) -> Result<Option<FsVersion>, EndpointError> {
        let ds = self.dataset(&filesystem)?;
        let versions = self.versions(&ds).await?;
        Ok(find_cursor(&versions, &self.lane).map(fs_version))
    }

    async fn hint_most_recent_common_ancestor(
        &self,
        request: HintRequest,
    ) -> Result<(), EndpointError> {
        let ds = self.dataset(&request.filesystem)?;
        match &request.version {
            Some(version) => self.move_cursor(&ds, version).await,
            None => Ok(()),
        }
    }
}

type WaitFuture = Pin<Box<dyn Future<Output = Result<(), ZfsError>> + Send>>;

/// A send stream that, at its end, waits for `zfs send` and turns a failure into a read error,
/// so a receiver never mistakes a failed send for a complete stream.
struct SendReader {
    stream: Option<SendStream>,
    waiting: Option<WaitFuture>,
}

impl SendReader {
    fn new(stream: SendStream) -> Self {
        Self {
            stream: Some(stream),
            waiting: None,
        }
    }
}

impl AsyncRead for SendReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(stream) = self.stream.as_mut() {
            let before = buf.filled().len();
            match Pin::new(stream).poll_read(cx, buf) {
                Poll::Ready(Ok(())) if buf.filled().len() == before => {
                    // End of stream: find out how `zfs send` ended.
                    if let Some(stream) = self.stream.take() {
                        self.waiting = Some(Box::pin(stream.wait()));
                    }
                }
                other => return other,
            }
        }
        match self.waiting.as_mut() {
            Some(wait) => match wait.as_mut().poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(result) => {
                    self.waiting = None;
                    Poll::Ready(result.map_err(|e| std::io::Error::other(e.to_string())))
                }
            },
            None => Poll::Ready(Ok(())),
        }
    }
}
