//! Access control of the passive side: what a client may ask, checked before dispatching.
//!
//! Paths are already validated while requests are decoded ([`FsPath`] refuses empty, absolute,
//! `.`/`..`, `@`/`#` and characters ZFS does not allow). Here we add what decoding cannot know:
//! version names and resume tokens are checked too, a source refuses identities it does not
//! list and filesystems outside its filter, and a sink refuses requests that make no sense for
//! it. A sink's namespace confinement itself comes from the receiver it builds per identity,
//! rooted at `root_fs/<identity>`: a validated relative path cannot leave that root.

use crate::identity::ClientIdentity;
use crate::message::Request;
use std::collections::BTreeSet;
use std::sync::Arc;
use zferry_repl::endpoint::{EndpointError, FsPath, FsVersion, check_component};

/// Longest resume token accepted (OpenZFS tokens are a few hundred bytes).
const MAX_RESUME_TOKEN: usize = 64 << 10;

/// Decides whether a source may send a filesystem (the job's `filesystems` filter).
pub type FilesystemPredicate = Arc<dyn Fn(&FsPath) -> bool + Send + Sync>;

/// A source job's rules.
#[derive(Clone)]
pub struct SourceAccess {
    /// Identities allowed to pull; `None` admits every authenticated identity.
    pub clients: Option<BTreeSet<ClientIdentity>>,
    /// The filesystems the source exposes.
    pub filter: FilesystemPredicate,
}

impl SourceAccess {
    /// Refuses identities that are not listed.
    pub fn admit(&self, identity: &ClientIdentity) -> Result<(), EndpointError> {
        match &self.clients {
            Some(allowed) if !allowed.contains(identity) => Err(EndpointError::access_denied(
                format!("client identity {identity:?} is not allowed to pull from this source"),
            )),
            _ => Ok(()),
        }
    }

    /// Refuses a filesystem outside the filter.
    pub fn check_fs(&self, fs: &FsPath) -> Result<(), EndpointError> {
        if (self.filter)(fs) {
            Ok(())
        } else {
            Err(EndpointError::access_denied(format!(
                "filesystem {fs} is not served by this source"
            )))
        }
    }

    /// Checks every filesystem a request names and that it is a source request.
    pub fn check(&self, request: &Request) -> Result<(), EndpointError> {
        check_names(request)?;
        for fs in filesystems_of(request) {
            self.check_fs(fs)?;
        }
        match request {
            Request::Receive(_) | Request::ClearResumeToken(_) => Err(EndpointError::permanent(
                format!("{} is not served by a source job", request.op()),
            )),
            _ => Ok(()),
        }
    }
}

/// A sink job's request check (names, and that it is a sink request).
pub fn check_sink_request(request: &Request) -> Result<(), EndpointError> {
    check_names(request)?;
    match request {
        Request::Ping
        | Request::ListFilesystems
        | Request::ListVersions(_)
        | Request::DestroySnapshots(_)
        | Request::Receive(_)
        | Request::Hint(_)
        | Request::ClearResumeToken(_) => Ok(()),
        _ => Err(EndpointError::permanent(format!(
            "{} is not served by a sink job",
            request.op()
        ))),
    }
}

/// The filesystems a request names.
pub fn filesystems_of(request: &Request) -> Vec<&FsPath> {
    match request {
        Request::Ping | Request::ListFilesystems => Vec::new(),
        Request::ListVersions(r) => r.filesystems.iter().collect(),
        Request::DestroySnapshots(r) => r.snapshots.iter().map(|s| &s.filesystem).collect(),
        Request::ReplicationCursor(fs) => vec![fs],
        Request::SendEstimate(r) => vec![&r.filesystem],
        Request::Send(r) => vec![&r.request.filesystem],
        Request::SendCompleted(r) => vec![&r.request.filesystem],
        Request::Hint(r) => vec![&r.filesystem],
        Request::Receive(r) => vec![&r.request.filesystem],
        Request::ClearResumeToken(r) => vec![&r.filesystem],
    }
}

/// Checks snapshot/bookmark names and resume tokens a request carries.
fn check_names(request: &Request) -> Result<(), EndpointError> {
    let versions: Vec<&FsVersion> = match request {
        Request::SendEstimate(r) => r.from.iter().chain([&r.to]).collect(),
        Request::Send(r) => r.request.from.iter().chain([&r.request.to]).collect(),
        Request::SendCompleted(r) => r.request.from.iter().chain([&r.request.to]).collect(),
        Request::Receive(r) => r.request.from.iter().chain([&r.request.to]).collect(),
        Request::Hint(r) => r.version.iter().collect(),
        _ => Vec::new(),
    };
    for v in versions {
        v.validate()?;
    }
    if let Request::DestroySnapshots(r) = request {
        for s in &r.snapshots {
            check_component(&s.name)?;
        }
    }
    let tokens: Vec<&String> = match request {
        Request::SendEstimate(r) => r.resume_token.iter().collect(),
        Request::Send(r) => r.request.resume_token.iter().collect(),
        Request::Receive(r) => r.request.resume_token.iter().collect(),
        Request::ClearResumeToken(r) => vec![&r.token],
        _ => Vec::new(),
    };
    for token in tokens {
        check_token(token)?;
    }
    Ok(())
}

/// A resume token is opaque to us but must look like one: hex digits and dashes, bounded.
fn check_token(token: &str) -> Result<(), EndpointError> {
    if token.is_empty()
        || token.len() > MAX_RESUME_TOKEN
        || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(EndpointError::access_denied(
            "resume token is not a ZFS resume token",
        ));
    }
    Ok(())
}
