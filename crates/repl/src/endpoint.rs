//! The two sides of a replication: the [`Sender`] and [`Receiver`] traits.
//!
//! The replication engine ([`crate::replicate`]) is written once against these traits. `crates/repl`
//! implements them over local ZFS (`LocalSender`, `LocalReceiver`); `crates/rpc` implements them
//! remotely (its client) and dispatches to the local implementations (its server). Every request and
//! response type here is serde-serialisable because it crosses the wire.
//!
//! # Namespaces
//! Filesystem paths in requests and responses are [`FsPath`]s **relative to the endpoint's namespace**:
//! - a sender exposes the dataset names it is allowed to send, unchanged (`pool/data/home`);
//! - a receiver exposes the datasets below its root (`root_fs`), with the root stripped: the sender's
//!   `pool/data/home` is received into `<root_fs>/pool/data/home` and listed back as `pool/data/home`.
//!   A sink serving several clients uses `<root_fs>/<client identity>` as the root of each client's
//!   receiver; that mapping is done by whoever constructs the receiver (the rpc server), never trusted
//!   from the request.
//!
//! An [`FsPath`] is validated on construction and on deserialisation (non-empty components of legal
//! ZFS characters, no `.`/`..`, no `@`/`#`, bounded length), so an rpc server can join it under a root
//! without any risk of escaping that root.
//!
//! # Lanes
//! Requests do not name the replication lane. Each endpoint is constructed with the lane it serves
//! (for example a source's rpc server builds its sender with `(source job, client identity)`), so a peer
//! can never act on another lane's holds or cursors.
//!
//! # Which side may ask what
//! The two sides are two hosts that share nothing: each runs `zfs` only on its own datasets, and
//! everything it knows of the other side arrives through these traits (over rpc when remote).
//! Audited operation by operation:
//!
//! | operation | runs `zfs` on | about |
//! | --- | --- | --- |
//! | `list_filesystems`, `list_versions` | the endpoint's host | its own datasets, snapshots, bookmarks, holds |
//! | `send_estimate`, `send`, `send_completed`, `replication_cursor`, `hint_most_recent_common_ancestor` | the sender's host | the sender's snapshots, step holds and cursor bookmarks |
//! | `receive`, `clear_resume_token`, `destroy_snapshots` (receiver) | the receiver's host | its own datasets, last-received holds, `receive -A` |
//! | `destroy_snapshots` (sender, pruning) | the sender's host | its own snapshots |
//!
//! The one piece of data that names the *other* side's datasets is a `receive_resume_token`: it lives
//! on the receiver but names the sender's snapshot. Both sides decode it natively
//! ([`zferry_zfs::decode_resume_token`], no `zfs` call): the receiver to report what it was receiving
//! ([`ResumeToken`]), the sender to check the token against the step before `zfs send -t`, the only
//! command that hands a token to ZFS. `zfs send -nvt` would fail on the receiver, where the sending
//! dataset does not exist. The planner and executor run on whichever host drives the job and never
//! call `zfs` themselves.

use std::fmt;

pub use crate::bytestream::ByteStream;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Maximum length of a full dataset name in OpenZFS (`ZFS_MAX_DATASET_NAME_LEN - 1`).
pub const MAX_DATASET_NAME_LEN: usize = 255;

/// A dataset path relative to an endpoint's namespace: `/`-separated components, at least one.
///
/// Components follow OpenZFS's name rules: ASCII letters and digits, `_`, `-`, `:`, `.` and space;
/// not empty, not `.` or `..`. The whole path is at most [`MAX_DATASET_NAME_LEN`] bytes.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FsPath(String);

/// Why a string is not a valid [`FsPath`] or version name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path or name is empty.
    #[error("name is empty")]
    Empty,
    /// The path or name is longer than ZFS allows.
    #[error("name {name:?} is longer than {max} bytes")]
    TooLong {
        /// The offending name.
        name: String,
        /// The maximum length.
        max: usize,
    },
    /// A component is empty (leading, trailing or double `/`).
    #[error("name {0:?} has an empty component")]
    EmptyComponent(String),
    /// A component is `.` or `..`.
    #[error("name {0:?} has a `.` or `..` component")]
    DotComponent(String),
    /// A character outside ZFS's allowed set.
    #[error("name {name:?} contains the character {ch:?}, which ZFS does not allow")]
    BadChar {
        /// The offending name.
        name: String,
        /// The offending character.
        ch: char,
    },
}

/// Whether `c` may appear in a ZFS name component.
pub fn is_zfs_component_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.' | ' ')
}

/// Checks one name component (a dataset path component, or a snapshot/bookmark name).
pub fn check_component(name: &str) -> Result<(), PathError> {
    if name.is_empty() {
        return Err(PathError::EmptyComponent(name.to_owned()));
    }
    if name == "." || name == ".." {
        return Err(PathError::DotComponent(name.to_owned()));
    }
    if name.len() > MAX_DATASET_NAME_LEN {
        return Err(PathError::TooLong {
            name: name.to_owned(),
            max: MAX_DATASET_NAME_LEN,
        });
    }
    match name.chars().find(|c| !is_zfs_component_char(*c)) {
        Some(ch) => Err(PathError::BadChar {
            name: name.to_owned(),
            ch,
        }),
        None => Ok(()),
    }
}

impl FsPath {
    /// Parses and validates a relative dataset path.
    pub fn new(path: impl Into<String>) -> Result<Self, PathError> {
        let path = path.into();
        if path.is_empty() {
            return Err(PathError::Empty);
        }
        if path.len() > MAX_DATASET_NAME_LEN {
            return Err(PathError::TooLong {
                name: path,
                max: MAX_DATASET_NAME_LEN,
            });
        }
        for component in path.split('/') {
            match check_component(component) {
                Ok(()) => {}
                Err(PathError::EmptyComponent(_)) => return Err(PathError::EmptyComponent(path)),
                Err(PathError::DotComponent(_)) => return Err(PathError::DotComponent(path)),
                Err(PathError::BadChar { ch, .. }) => {
                    return Err(PathError::BadChar { name: path, ch });
                }
                Err(other) => return Err(other),
            }
        }
        Ok(Self(path))
    }

    /// The path as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path's components, outermost first.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The number of components.
    pub fn depth(&self) -> usize {
        self.components().count()
    }

    /// The parent path, `None` for a single-component path.
    pub fn parent(&self) -> Option<FsPath> {
        self.0
            .rsplit_once('/')
            .map(|(parent, _)| Self(parent.to_owned()))
    }

    /// All strict ancestors, outermost first (`a`, `a/b` for `a/b/c`).
    pub fn ancestors(&self) -> Vec<FsPath> {
        let mut out = Vec::new();
        let mut current = self.parent();
        while let Some(p) = current {
            current = p.parent();
            out.push(p);
        }
        out.reverse();
        out
    }

    /// `self/child`, validated.
    pub fn join(&self, child: &FsPath) -> Result<FsPath, PathError> {
        Self::new(format!("{}/{}", self.0, child.0))
    }

    /// Whether `self` equals `other` or lies below it.
    pub fn is_within(&self, other: &FsPath) -> bool {
        self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'/'))
    }

    /// `self` with the leading `root` removed; `None` when `self` is not strictly below `root`.
    pub fn strip_root(&self, root: &FsPath) -> Option<FsPath> {
        if self.0.len() > root.0.len() && self.is_within(root) {
            Some(Self(self.0[root.0.len() + 1..].to_owned()))
        } else {
            None
        }
    }
}

impl TryFrom<String> for FsPath {
    type Error = PathError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<FsPath> for String {
    fn from(value: FsPath) -> Self {
        value.0
    }
}

impl fmt::Display for FsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for FsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Whether a version is a snapshot or a bookmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionKind {
    /// `fs@name`.
    Snapshot,
    /// `fs#name`.
    Bookmark,
}

/// A snapshot or bookmark of a filesystem, identified by its guid (names may be reused).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FsVersion {
    /// Snapshot or bookmark.
    pub kind: VersionKind,
    /// The short name, after `@` or `#`.
    pub name: String,
    /// The ZFS guid; equal guids on both sides mean the same snapshot.
    pub guid: u64,
    /// The creation transaction group; orders versions of one filesystem.
    pub createtxg: u64,
    /// Creation time in Unix seconds, when the listing asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation: Option<i64>,
    /// Number of user holds on a snapshot, when listed (`userrefs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userrefs: Option<u64>,
}

impl FsVersion {
    /// `@name` or `#name`.
    pub fn relative_name(&self) -> String {
        match self.kind {
            VersionKind::Snapshot => format!("@{}", self.name),
            VersionKind::Bookmark => format!("#{}", self.name),
        }
    }

    /// `fs@name` or `fs#name` for a filesystem name.
    pub fn full_name(&self, fs: &str) -> String {
        format!("{fs}{}", self.relative_name())
    }

    /// Whether this is a snapshot.
    pub fn is_snapshot(&self) -> bool {
        self.kind == VersionKind::Snapshot
    }

    /// Checks the name component (for servers validating requests).
    pub fn validate(&self) -> Result<(), PathError> {
        check_component(&self.name)
    }
}

/// One filesystem (or volume) as an endpoint lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesystemInfo {
    /// The path in the endpoint's namespace.
    pub path: FsPath,
    /// Marked as a zferry/zrepl placeholder (exists only to hold children).
    pub is_placeholder: bool,
    /// An interrupted resumable receive (`receive_resume_token`), decoded by the receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ResumeToken>,
    /// Whether the dataset is encrypted (`encryption` is not `off`).
    #[serde(default)]
    pub encrypted: bool,
    /// Bytes written since the most recent snapshot (`written`), when known; non-zero means modified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<u64>,
}

/// A `receive_resume_token` and what the receiver decoded from it. The sender decodes the token
/// again itself before resuming, so it never trusts these fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeToken {
    /// The opaque token for `zfs send -t`.
    pub token: String,
    /// Guid of the snapshot being received.
    pub to_guid: u64,
    /// Guid of the incremental base; `None` for a full stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_guid: Option<u64>,
    /// The stream is raw (`-w`).
    #[serde(default)]
    pub raw: bool,
}

/// List the versions of many filesystems in one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListVersionsRequest {
    /// The filesystems; an empty list means every filesystem of the endpoint.
    pub filesystems: Vec<FsPath>,
    /// Also list `creation` times (pruning needs them; planning does not, and they leave ZFS's
    /// fast listing path).
    #[serde(default)]
    pub with_creation: bool,
    /// Also report this lane's holds ([`FilesystemVersions::last_received`],
    /// [`FilesystemVersions::step_holds`]), so the engine can check every cycle that protection
    /// is in place; costs one `zfs holds` for the snapshots that carry any hold.
    #[serde(default)]
    pub with_holds: bool,
}

/// The versions of one filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesystemVersions {
    /// The filesystem.
    pub path: FsPath,
    /// Its snapshots and bookmarks, ordered by createtxg (snapshots before bookmarks of equal txg).
    pub versions: Vec<FsVersion>,
    /// On a sender: this lane's valid replication cursor among `versions`, if any (so the engine
    /// needs no extra call to know whether the cursor must move).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<FsVersion>,
    /// On a receiver asked [`ListVersionsRequest::with_holds`]: the guids of the snapshots that
    /// carry this lane's last-received hold (0 for a hold whose name does not match its
    /// snapshot's guid, which is always stale).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub last_received: Vec<u64>,
    /// On a sender asked [`ListVersionsRequest::with_holds`]: the target guids named by this
    /// lane's step holds (one per step that left holds behind).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_holds: Vec<u64>,
}

/// Answer to [`ListVersionsRequest`]; filesystems that do not exist are absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListVersionsResponse {
    /// One entry per existing requested filesystem.
    pub filesystems: Vec<FilesystemVersions>,
}

/// One snapshot to destroy, checked by guid before destruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRef {
    /// The filesystem.
    pub filesystem: FsPath,
    /// The snapshot's short name.
    pub name: String,
    /// Its guid; a snapshot whose guid differs is not destroyed.
    pub guid: u64,
}

/// Destroy snapshots (batched; each gets its own result).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestroySnapshotsRequest {
    /// The snapshots.
    pub snapshots: Vec<SnapshotRef>,
}

/// Result for one snapshot of a [`DestroySnapshotsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestroyResult {
    /// The snapshot.
    pub snapshot: SnapshotRef,
    /// `None` when destroyed (or already absent), the reason otherwise.
    pub error: Option<EndpointError>,
}

/// Answer to [`DestroySnapshotsRequest`], in request order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestroySnapshotsResponse {
    /// One result per requested snapshot.
    pub results: Vec<DestroyResult>,
}

/// Which guarantees a step keeps while it runs (zrepl's `replication.protection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protection {
    /// Step holds on `from` and `to` during the step, so an interrupted step can always be resumed.
    #[default]
    GuaranteeResumability,
    /// A tentative cursor bookmark on `from`, so the incremental base survives but resumption may not.
    GuaranteeIncremental,
    /// No abstraction during the step.
    GuaranteeNothing,
}

/// Incremental send mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Incremental {
    /// `zfs send -i from to`: only `to`.
    Single,
    /// `zfs send -I from to`: `to` and every snapshot between (backlog batching).
    WithIntermediates,
}

/// A send (and the matching receive's identity): what to send from which base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequest {
    /// The filesystem, in the sender's namespace.
    pub filesystem: FsPath,
    /// The incremental base (a snapshot or a bookmark); `None` for a full send.
    pub from: Option<FsVersion>,
    /// The target snapshot.
    pub to: FsVersion,
    /// `-i` or `-I`; ignored for a full send.
    pub incremental: Incremental,
    /// Resume an interrupted receive with this token instead of starting afresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_token: Option<String>,
    /// The step's protection (decides which step holds / tentative cursors the sender creates).
    pub protection: Protection,
}

/// What the sender tells the receiver about a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamFlags {
    /// A raw (`-w`) stream of encrypted data.
    pub raw: bool,
    /// The source filesystem is encrypted.
    pub encrypted_source: bool,
    /// The stream carries properties (`-p` / `-b`).
    pub properties: bool,
}

/// Answer to a send dry-run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SendEstimate {
    /// Expected stream size in bytes, when ZFS could estimate it.
    pub expected_bytes: Option<u64>,
}

/// Answer to a send, accompanying the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResponse {
    /// Whether the stream resumes a token (`zfs send -t`).
    pub resumed: bool,
    /// Stream properties the receiver checks against its policy.
    pub flags: StreamFlags,
    /// Expected size in bytes, if the sender estimated it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_bytes: Option<u64>,
}

/// The receiver acknowledged a send: move the cursor, release step holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendCompletedRequest {
    /// The original send request.
    pub request: SendRequest,
}

/// The most recent common version of a filesystem, told to the sender so it can keep its
/// abstractions (cursor, holds) right even when no step runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HintRequest {
    /// The filesystem, in the sender's namespace.
    pub filesystem: FsPath,
    /// The most recent common version; `None` when there is none.
    pub version: Option<FsVersion>,
    /// The protection in force.
    pub protection: Protection,
}

/// Ask a receiver to take a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiveRequest {
    /// The filesystem, in the receiver's namespace (the sender's path).
    pub filesystem: FsPath,
    /// The incremental base, as on the sender (the receiver checks it has this guid).
    pub from: Option<FsVersion>,
    /// The target snapshot, as on the sender.
    pub to: FsVersion,
    /// The stream resumes this token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_token: Option<String>,
    /// Stream properties from [`SendResponse::flags`].
    pub flags: StreamFlags,
    /// Roll the target back to `from` first (`recv -F`); only with an explicit job option.
    #[serde(default)]
    pub rollback: bool,
}

/// Answer to a receive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiveResponse {
    /// The received snapshot as it now exists on the receiver.
    pub received: FsVersion,
}

/// Abort a partially received stream (`zfs recv -A`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearResumeTokenRequest {
    /// The filesystem, in the receiver's namespace.
    pub filesystem: FsPath,
    /// The token the caller saw; the receiver aborts only if the current token is this one.
    pub token: String,
}

/// The class of an [`EndpointError`]; it decides retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// May succeed later (network, timeout, busy): retry with backoff.
    Temporary,
    /// Will not succeed by retrying.
    Permanent,
    /// A filesystem or version does not exist.
    NotFound,
    /// The request is outside what this peer may do (namespace, filter, identity, policy).
    AccessDenied,
    /// The state on disk conflicts with the request (diverged, modified, token mismatch).
    Conflict,
}

/// A typed, serialisable endpoint error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct EndpointError {
    /// The class.
    pub kind: ErrorKind,
    /// Human-readable description.
    pub message: String,
}

impl EndpointError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
    /// A temporary error.
    pub fn temporary(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Temporary, message)
    }
    /// A permanent error.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Permanent, message)
    }
    /// A not-found error.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    /// An access-denied error.
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::AccessDenied, message)
    }
    /// A conflict error.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    /// Whether retrying may help.
    pub fn is_temporary(&self) -> bool {
        self.kind == ErrorKind::Temporary
    }
    /// The same error with `context: ` prefixed to its message.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl From<PathError> for EndpointError {
    fn from(value: PathError) -> Self {
        Self::access_denied(value.to_string())
    }
}

/// What both sides answer.
#[async_trait]
pub trait Endpoint: Send + Sync {
    /// All filesystems of the endpoint's namespace, in one call.
    async fn list_filesystems(&self) -> Result<Vec<FilesystemInfo>, EndpointError>;

    /// The versions of many filesystems, in one call.
    async fn list_versions(
        &self,
        request: ListVersionsRequest,
    ) -> Result<ListVersionsResponse, EndpointError>;

    /// Destroys snapshots (batched; per-snapshot results; absent snapshots count as destroyed).
    async fn destroy_snapshots(
        &self,
        request: DestroySnapshotsRequest,
    ) -> Result<DestroySnapshotsResponse, EndpointError>;

    /// Checks the endpoint is reachable and answering.
    async fn ping(&self) -> Result<(), EndpointError>;
}

/// The sending side of a replication.
#[async_trait]
pub trait Sender: Endpoint {
    /// Estimates the stream size of a send (`zfs send -nvP`).
    async fn send_estimate(&self, request: SendRequest) -> Result<SendEstimate, EndpointError>;

    /// Starts a send: creates the step's protection, then hands over the stream.
    async fn send(&self, request: SendRequest)
    -> Result<(SendResponse, ByteStream), EndpointError>;

    /// The receiver has the step's target: move the lane's cursor to it, release the step's holds.
    async fn send_completed(&self, request: SendCompletedRequest) -> Result<(), EndpointError>;

    /// This lane's replication cursor on a filesystem, if there is a valid one.
    async fn replication_cursor(
        &self,
        filesystem: FsPath,
    ) -> Result<Option<FsVersion>, EndpointError>;

    /// Tells the sender the most recent common version (so it can set the cursor and release stale
    /// abstractions of this lane even when nothing is sent).
    async fn hint_most_recent_common_ancestor(
        &self,
        request: HintRequest,
    ) -> Result<(), EndpointError>;
}

/// The receiving side of a replication.
#[async_trait]
pub trait Receiver: Endpoint {
    /// Receives a stream into the filesystem (creating placeholder parents as needed), then moves the
    /// lane's last-received hold to the received snapshot.
    async fn receive(
        &self,
        request: ReceiveRequest,
        stream: ByteStream,
    ) -> Result<ReceiveResponse, EndpointError>;

    /// Places this lane's last-received hold on the snapshot with `request.version`'s guid and
    /// releases the lane's last-received holds elsewhere on that filesystem (idempotent). The
    /// engine calls it when a cycle finds the hold missing or misplaced, e.g. after a receive
    /// whose connection broke after `zfs receive` had committed.
    async fn hold_last_received(&self, request: HintRequest) -> Result<(), EndpointError>;

    /// Aborts a partial receive whose token can no longer be resumed (`zfs recv -A`).
    async fn clear_resume_token(
        &self,
        request: ClearResumeTokenRequest,
    ) -> Result<(), EndpointError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fs_path_validation() {
        assert!(FsPath::new("pool/a b/c:d.e_f-g").is_ok());
        for bad in [
            "", "/a", "a/", "a//b", "a/../b", ".", "a/.", "a@b", "a#b", "a\nb", "a%b",
        ] {
            assert!(FsPath::new(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(FsPath::new("a".repeat(256)).is_err());
        let json = serde_json::to_string(&FsPath::new("a/b").unwrap()).unwrap();
        assert_eq!(json, "\"a/b\"");
        assert!(serde_json::from_str::<FsPath>("\"a/../b\"").is_err());
    }

    #[test]
    fn fs_path_relations() {
        let p = FsPath::new("a/b/c").unwrap();
        let a = FsPath::new("a").unwrap();
        assert_eq!(p.parent(), Some(FsPath::new("a/b").unwrap()));
        assert_eq!(p.ancestors(), vec![a.clone(), FsPath::new("a/b").unwrap()]);
        assert!(p.is_within(&a));
        assert!(!FsPath::new("ab/c").unwrap().is_within(&a));
        assert_eq!(p.strip_root(&a), Some(FsPath::new("b/c").unwrap()));
        assert_eq!(a.strip_root(&a), None);
        assert_eq!(p.depth(), 3);
    }

    #[test]
    fn error_roundtrip() {
        let e = EndpointError::temporary("connection reset");
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"kind":"temporary","message":"connection reset"}"#);
        assert_eq!(serde_json::from_str::<EndpointError>(&json).unwrap(), e);
    }
}
