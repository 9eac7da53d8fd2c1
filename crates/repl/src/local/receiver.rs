//! [`LocalReceiver`]: the receiving side over local ZFS.
//!
//! Namespace: everything lives below the receiver's root (`root_fs`, or `root_fs/<identity>` for a
//! sink serving several clients); paths are reported with the root stripped.
//!
//! On receive it
//! - creates missing parents as placeholders (`mountpoint=none`, `zferry:placeholder=on`); their
//!   encryption follows `recv.placeholder.encryption`: `inherit` lets them inherit from their parent,
//!   `off` creates them with `encryption=off`, and `unspecified` (zrepl's default) refuses to create
//!   a placeholder below an encrypted parent, asking the administrator to choose;
//! - converts a placeholder without snapshots into a real filesystem by receiving the full stream
//!   with `-F`, then clears the placeholder marker and the placeholder's `mountpoint=none`;
//! - always receives with `-s` (resumable) and `-u`, applies `recv.properties.override` (`-o`)
//!   and `recv.properties.inherit` (`-x`), uses `-F` only to convert a placeholder or when the
//!   request asks for an explicitly allowed rollback (then first `zfs rollback -r` to the base);
//! - verifies the received snapshot's guid, then moves this lane's last-received hold
//!   `zferry_R_<guid>_<lane>` to it (new hold first, then the older ones are released).

use std::collections::HashMap;

use async_trait::async_trait;
use tokio::io::{AsyncWriteExt, BufReader};
use zferry_zfs::{
    CreateOptions, DatasetPath, ExpectedSnapshot, ListedVersion, PropertyName, PropertySource,
    ReceiveOptions, Zfs, ZfsErrorKind,
};

use super::common::{
    destroy_checked, fs_version, hold_tag, lane_holds, lane_holds_of, versions_of, zfs_error,
};
use crate::abstractions::{AbstractionKind, AbstractionName, Lane};
use crate::endpoint::{
    ByteStream, ClearResumeTokenRequest, DestroySnapshotsRequest, DestroySnapshotsResponse,
    Endpoint, EndpointError, FilesystemInfo, FilesystemVersions, FsPath, HintRequest,
    ListVersionsRequest, ListVersionsResponse, ReceiveRequest, ReceiveResponse, Receiver,
    ResumeToken, VersionKind,
};

/// zrepl's `recv.placeholder.encryption`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PlaceholderEncryption {
    /// Refuse to create a placeholder below an encrypted parent.
    #[default]
    Unspecified,
    /// Placeholders inherit encryption from their parent.
    Inherit,
    /// Placeholders are created with `encryption=off`.
    Off,
}

/// Receive options (zrepl's `recv` section).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecvOptions {
    /// Placeholder encryption policy.
    pub placeholder_encryption: PlaceholderEncryption,
    /// `recv.properties.override`: set on every received filesystem (`-o`).
    pub properties_override: Vec<(PropertyName, String)>,
    /// `recv.properties.inherit`: ignore these stream properties (`-x`).
    pub properties_inherit: Vec<PropertyName>,
}

/// The receiving side over local ZFS.
pub struct LocalReceiver {
    zfs: Zfs,
    root: DatasetPath,
    lane: Lane,
    options: RecvOptions,
}

/// What the receiver knows about a target before receiving.
struct TargetState {
    exists: bool,
    placeholder: bool,
    token: Option<String>,
}

fn prop(name: &str) -> Result<PropertyName, EndpointError> {
    PropertyName::new(name).map_err(|e| EndpointError::permanent(e.to_string()))
}

impl LocalReceiver {
    /// A receiver storing everything below `root`, for `lane`.
    pub fn new(zfs: Zfs, root: DatasetPath, lane: Lane, options: RecvOptions) -> Self {
        Self {
            zfs,
            root,
            lane,
            options,
        }
    }

    /// The receiver's root.
    pub fn root(&self) -> &DatasetPath {
        &self.root
    }

    fn target(&self, path: &FsPath) -> Result<DatasetPath, EndpointError> {
        self.root
            .join(path.as_str())
            .map_err(|e| EndpointError::access_denied(e.to_string()))
    }

    fn relative(&self, ds: &DatasetPath) -> Option<FsPath> {
        ds.strip_prefix(&self.root)
            .filter(|rest| !rest.is_empty())
            .and_then(|rest| FsPath::new(rest).ok())
    }

    async fn target_state(&self, target: &DatasetPath) -> Result<TargetState, EndpointError> {
        let props = [
            prop(zferry_zfs::list::PLACEHOLDER_PROPERTY)?,
            prop(zferry_zfs::list::ZREPL_PLACEHOLDER_PROPERTY)?,
            prop("receive_resume_token")?,
        ];
        match self.zfs.get_properties(&[target.as_str()], &props).await {
            Ok(values) => {
                let get = |name: &str| {
                    values
                        .iter()
                        .find(|v| v.property == name)
                        .and_then(|v| v.value.clone())
                        .filter(|v| v != "-")
                };
                let zrepl_local = values.iter().any(|v| {
                    v.property == zferry_zfs::list::ZREPL_PLACEHOLDER_PROPERTY
                        && v.source == PropertySource::Local
                });
                Ok(TargetState {
                    exists: true,
                    placeholder: zferry_zfs::list::is_placeholder(
                        get(zferry_zfs::list::PLACEHOLDER_PROPERTY).as_deref(),
                        get(zferry_zfs::list::ZREPL_PLACEHOLDER_PROPERTY).as_deref(),
                        zrepl_local,
                    ),
                    token: get("receive_resume_token"),
                })
            }
            Err(e) if e.kind() == ZfsErrorKind::DoesNotExist => Ok(TargetState {
                exists: false,
                placeholder: false,
                token: None,
            }),
            Err(e) => Err(zfs_error(e)),
        }
    }

    /// Whether `ds` exists and is encrypted (`None`: it does not exist).
    async fn encryption_of(&self, ds: &DatasetPath) -> Result<Option<bool>, EndpointError> {
        match self
            .zfs
            .get_property(ds.as_str(), &prop("encryption")?)
            .await
        {
            Ok(value) => Ok(Some(value.is_some_and(|v| v != "off"))),
            Err(e) if e.kind() == ZfsErrorKind::DoesNotExist => Ok(None),
            Err(e) => Err(zfs_error(e)),
        }
    }

    /// Creates every missing ancestor of `target` as a placeholder.
    async fn ensure_parents(&self, target: &DatasetPath) -> Result<(), EndpointError> {
        let mut chain = Vec::new();
        let mut current = target.parent();
        while let Some(p) = current {
            current = p.parent();
            chain.push(p);
        }
        chain.reverse(); // outermost first
        let mut parent_encrypted = false;
        let mut missing = Vec::new();
        for ds in chain {
            if missing.is_empty() {
                match self.encryption_of(&ds).await? {
                    Some(encrypted) => {
                        parent_encrypted = encrypted;
                        continue;
                    }
                    None => missing.push(ds),
                }
            } else {
                missing.push(ds);
            }
        }
        for ds in missing {
            let encryption_off = match self.options.placeholder_encryption {
                PlaceholderEncryption::Unspecified if parent_encrypted => {
                    return Err(EndpointError::permanent(format!(
                        "placeholder {ds} would be created below an encrypted parent; set \
                         recv.placeholder.encryption to `inherit` or `off` to choose"
                    )));
                }
                PlaceholderEncryption::Off => true,
                _ => false,
            };
            let options = CreateOptions {
                parents: false,
                placeholder: true,
                encryption_off,
                properties: Vec::new(),
            };
            match self.zfs.create(&ds, &options).await {
                Ok(()) => {}
                Err(e) if e.kind() == ZfsErrorKind::Exists => {}
                Err(e) => return Err(zfs_error(e).context(format!("creating placeholder {ds}"))),
            }
            parent_encrypted = parent_encrypted && !encryption_off;
        }
        Ok(())
    }

    /// Moves this lane's last-received hold to `snapshot` (guid `guid`) of `target`; returns the
    /// target's versions as listed after placing the new hold.
    async fn move_last_received(
        &self,
        target: &DatasetPath,
        snapshot: &str,
        guid: u64,
    ) -> Result<Vec<ListedVersion>, EndpointError> {
        let name = AbstractionName::new(AbstractionKind::LastReceivedHold, guid, &self.lane);
        let tag = hold_tag(&name, &self.lane)?;
        let snap = target
            .snapshot(snapshot)
            .map_err(|e| EndpointError::permanent(e.to_string()))?;
        self.zfs
            .hold(&tag, std::slice::from_ref(&snap))
            .await
            .map_err(|e| zfs_error(e).context("placing the last-received hold"))?;
        let versions = self.versions(target).await?;
        let holds = lane_holds(
            &self.zfs,
            &versions,
            &self.lane,
            AbstractionKind::LastReceivedHold,
        )
        .await?;
        for (old_tag, snapshots) in holds {
            let stale: Vec<_> = snapshots
                .into_iter()
                .filter(|(s, g)| !(old_tag == tag && *g == guid && s == &snap))
                .map(|(s, _)| s)
                .collect();
            if !stale.is_empty() {
                self.zfs
                    .release(&old_tag, &stale)
                    .await
                    .map_err(zfs_error)?;
            }
        }
        Ok(versions)
    }

    /// A freshly received filesystem inherits `zferry:placeholder=on` from a placeholder parent;
    /// mark it as real locally. A converted placeholder also loses its `mountpoint=none`.
    async fn mark_not_placeholder(
        &self,
        target: &DatasetPath,
        converted: bool,
    ) -> Result<(), EndpointError> {
        self.zfs
            .set_properties(
                target.as_str(),
                &[(
                    prop(zferry_zfs::list::PLACEHOLDER_PROPERTY)?,
                    "off".to_owned(),
                )],
            )
            .await
            .map_err(|e| zfs_error(e).context("marking the received filesystem as real"))?;
        let mountpoint_overridden = self
            .options
            .properties_override
            .iter()
            .any(|(p, _)| p.as_str() == "mountpoint");
        if converted && !mountpoint_overridden {
            self.zfs
                .inherit_property(target.as_str(), &prop("mountpoint")?, false)
                .await
                .map_err(|e| zfs_error(e).context("converting the placeholder"))?;
        }
        Ok(())
    }

    async fn versions(&self, ds: &DatasetPath) -> Result<Vec<ListedVersion>, EndpointError> {
        Ok(
            versions_of(&self.zfs, std::slice::from_ref(ds), false, false)
                .await?
                .remove(ds)
                .unwrap_or_default(),
        )
    }
}

/// What the receiver reports about its interrupted receive. Decoded natively: this host cannot
/// ask `zfs send -nvt`, which only works where the sending dataset exists.
fn describe_token(token: &str) -> ResumeToken {
    match zferry_zfs::decode_resume_token(token) {
        Ok(t) => ResumeToken {
            token: token.to_owned(),
            to_guid: t.to_guid,
            from_guid: t.from_guid,
            raw: t.raw,
        },
        // An undecodable token matches no step, so the planner aborts it.
        Err(_) => ResumeToken {
            token: token.to_owned(),
            to_guid: 0,
            from_guid: None,
            raw: false,
        },
    }
}

#[async_trait]
impl Endpoint for LocalReceiver {
    async fn list_filesystems(&self) -> Result<Vec<FilesystemInfo>, EndpointError> {
        let datasets = self
            .zfs
            .list_datasets(std::slice::from_ref(&self.root))
            .await
            .map_err(zfs_error)?;
        let mut out = Vec::new();
        for d in datasets {
            let Some(path) = self.relative(&d.path) else {
                continue;
            };
            let resume = d.receive_resume_token.as_deref().map(describe_token);
            out.push(FilesystemInfo {
                path,
                is_placeholder: d.placeholder,
                resume,
                encrypted: d.is_encrypted(),
                written: d.written,
            });
        }
        Ok(out)
    }

    async fn list_versions(
        &self,
        request: ListVersionsRequest,
    ) -> Result<ListVersionsResponse, EndpointError> {
        let (datasets, recursive) = if request.filesystems.is_empty() {
            (vec![self.root.clone()], true)
        } else {
            let mut ds = Vec::new();
            for p in &request.filesystems {
                ds.push(self.target(p)?);
            }
            (ds, false)
        };
        let map = versions_of(&self.zfs, &datasets, recursive, request.with_creation).await?;
        let mut held: HashMap<DatasetPath, Vec<u64>> = HashMap::new();
        if request.with_holds {
            let kind = AbstractionKind::LastReceivedHold;
            for h in lane_holds_of(&self.zfs, map.values().flatten(), &self.lane, kind).await? {
                if h.name.guid == h.guid {
                    held.entry(h.snapshot.dataset().clone())
                        .or_default()
                        .push(h.guid);
                }
            }
        }
        let filesystems = map
            .into_iter()
            .filter_map(|(ds, versions)| {
                Some(FilesystemVersions {
                    path: self.relative(&ds)?,
                    versions: versions.iter().map(fs_version).collect(),
                    cursor: None,
                    last_received: held.remove(&ds).unwrap_or_default(),
                    step_holds: Vec::new(),
                })
            })
            .collect();
        Ok(ListVersionsResponse { filesystems })
    }

    async fn destroy_snapshots(
        &self,
        request: DestroySnapshotsRequest,
    ) -> Result<DestroySnapshotsResponse, EndpointError> {
        let results =
            destroy_checked(&self.zfs, request.snapshots, |s| self.target(&s.filesystem)).await?;
        Ok(DestroySnapshotsResponse { results })
    }

    async fn ping(&self) -> Result<(), EndpointError> {
        Ok(())
    }
}

#[async_trait]
impl Receiver for LocalReceiver {
    async fn receive(
        &self,
        request: ReceiveRequest,
        stream: ByteStream,
    ) -> Result<ReceiveResponse, EndpointError> {
        request.to.validate()?;
        if request.to.kind != VersionKind::Snapshot {
            return Err(EndpointError::permanent("only snapshots can be received"));
        }
        let target = self.target(&request.filesystem)?;
        let state = self.target_state(&target).await?;
        let existing = if state.exists {
            self.versions(&target).await?
        } else {
            Vec::new()
        };
        let has_snapshots = existing
            .iter()
            .any(|v| v.version.kind == zferry_zfs::VersionKind::Snapshot);
        if let Some(token) = &request.resume_token
            && state.token.as_deref() != Some(token.as_str())
        {
            return Err(EndpointError::conflict(format!(
                "{target} has no partial receive with this resume token"
            )));
        }
        let mut force = false;
        match &request.from {
            None if state.exists && state.placeholder && !has_snapshots => force = true,
            None if state.exists && request.resume_token.is_none() => {
                return Err(EndpointError::conflict(format!(
                    "{target} already exists and is not an empty placeholder; a full stream cannot be received into it"
                )));
            }
            None => {
                if !state.exists {
                    self.ensure_parents(&target).await?;
                }
            }
            Some(from) => {
                let base = existing.iter().find(|v| {
                    v.version.kind == zferry_zfs::VersionKind::Snapshot
                        && v.version.guid == from.guid
                });
                let Some(base) = base else {
                    return Err(EndpointError::conflict(format!(
                        "{target} does not have the incremental base (guid {})",
                        from.guid
                    )));
                };
                if request.rollback {
                    let snapshot = target
                        .snapshot(&base.version.name)
                        .map_err(|e| EndpointError::permanent(e.to_string()))?;
                    self.zfs.rollback(&snapshot, true).await.map_err(|e| {
                        zfs_error(e).context("rolling back (rollback allowed for this job)")
                    })?;
                    force = true;
                }
            }
        }
        let options = ReceiveOptions {
            resumable: true,
            no_mount: true,
            force,
            exclude: self.options.properties_inherit.clone(),
            set: self.options.properties_override.clone(),
        };
        // Received into the filesystem (not `fs@name`): `-I` packages carry several snapshots,
        // each keeping the sender's name.
        let mut recv = self
            .zfs
            .receive(&target, None, &options)
            .await
            .map_err(zfs_error)?;
        let expected = ExpectedSnapshot {
            snapshot: target
                .snapshot(&request.to.name)
                .map_err(|e| EndpointError::permanent(e.to_string()))?,
            guid: request.to.guid,
        };
        let mut input = BufReader::with_capacity(zferry_zfs::PIPE_SIZE, stream);
        let copied = tokio::io::copy_buf(&mut input, &mut recv).await;
        if let Err(copy_error) = copied {
            let _ = recv.flush().await;
            // Close the input (never kill): ZFS judges what arrived. A complete stream commits
            // and is protected below like any other; an incomplete one keeps a resume token.
            // See `crate::protection`.
            if let Err(e) = recv.finish(Some(&expected)).await {
                return Err(EndpointError::temporary(format!(
                    "stream into {target} interrupted: {copy_error}; {}",
                    zfs_error(e).message
                )));
            }
            tracing::warn!(
                snapshot = %expected.snapshot,
                error = %copy_error,
                "the stream's connection broke after zfs receive had it whole; keeping the received snapshot"
            );
        } else {
            recv.finish(Some(&expected)).await.map_err(zfs_error)?;
        }
        if request.from.is_none() {
            self.mark_not_placeholder(&target, force).await?;
        }
        let versions = self
            .move_last_received(&target, &request.to.name, request.to.guid)
            .await?;
        let received = versions
            .iter()
            .find(|v| {
                v.version.guid == request.to.guid
                    && v.version.kind == zferry_zfs::VersionKind::Snapshot
            })
            .map(fs_version)
            .ok_or_else(|| {
                EndpointError::not_found(format!("{} vanished after receive", expected.snapshot))
            })?;
        Ok(ReceiveResponse { received })
    }

    async fn hold_last_received(&self, request: HintRequest) -> Result<(), EndpointError> {
        let Some(common) = request.version else {
            return Ok(());
        };
        let target = self.target(&request.filesystem)?;
        let versions = self.versions(&target).await?;
        let snapshot = versions
            .iter()
            .find(|v| {
                v.version.kind == zferry_zfs::VersionKind::Snapshot && v.version.guid == common.guid
            })
            .ok_or_else(|| {
                EndpointError::not_found(format!(
                    "{target} has no snapshot with guid {} to hold",
                    common.guid
                ))
            })?;
        tracing::info!(
            snapshot = %format!("{target}@{}", snapshot.version.name),
            "repairing the last-received hold"
        );
        self.move_last_received(&target, &snapshot.version.name, common.guid)
            .await
            .map(drop)
    }

    async fn clear_resume_token(
        &self,
        request: ClearResumeTokenRequest,
    ) -> Result<(), EndpointError> {
        let target = self.target(&request.filesystem)?;
        let state = self.target_state(&target).await?;
        match state.token {
            None => Ok(()),
            Some(t) if t == request.token => self
                .zfs
                .abort_resumable_receive(&target)
                .await
                .map_err(zfs_error),
            Some(_) => Err(EndpointError::conflict(format!(
                "{target} has a different partial receive than the one to abort"
            ))),
        }
    }
}
