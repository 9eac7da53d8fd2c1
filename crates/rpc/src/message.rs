//! Control messages: the requests an active job sends and the passive side's responses.
//!
//! Payload types are the replication engine's own (`zferry_repl::endpoint`), which validate
//! every dataset path while being decoded, so a request naming `../x` or `a@b` never reaches
//! the dispatcher. One request is answered by one response; `send` and `receive` are followed
//! by a data stream (see docs/protocol.md).

use crate::error::{ErrorClass, RemoteError};
use serde::{Deserialize, Serialize};
use zferry_repl::endpoint::{
    ClearResumeTokenRequest, DestroySnapshotsRequest, DestroySnapshotsResponse, EndpointError,
    ErrorKind, FilesystemInfo, FsPath, FsVersion, HintRequest, ListVersionsRequest,
    ListVersionsResponse, ReceiveRequest, ReceiveResponse, SendCompletedRequest, SendEstimate,
    SendRequest, SendResponse,
};

/// A request from the active side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "op",
    content = "args",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum Request {
    /// Liveness check.
    Ping,
    /// All filesystems of the served namespace.
    ListFilesystems,
    /// Versions of many filesystems.
    ListVersions(ListVersionsRequest),
    /// Destroy snapshots (pruning).
    DestroySnapshots(DestroySnapshotsRequest),
    /// The lane's replication cursor on a filesystem (source only).
    ReplicationCursor(FsPath),
    /// Estimate a send's size (source only).
    SendEstimate(SendRequest),
    /// Start a send; the response is followed by the data stream (source only).
    Send(StreamRequest<SendRequest>),
    /// A send arrived completely (source only).
    SendCompleted(SendCompletedRequest),
    /// The most recent common version: a source moves the lane's cursor to it, a sink its
    /// last-received hold (the per-cycle protection repair).
    Hint(HintRequest),
    /// Receive a stream; after [`Response::ReceiveReady`] the client sends it (sink only).
    Receive(StreamRequest<ReceiveRequest>),
    /// Abort a partial receive (sink only).
    ClearResumeToken(ClearResumeTokenRequest),
}

impl Request {
    /// The operation's name, for logs and errors.
    pub fn op(&self) -> &'static str {
        match self {
            Request::Ping => "ping",
            Request::ListFilesystems => "list_filesystems",
            Request::ListVersions(_) => "list_versions",
            Request::DestroySnapshots(_) => "destroy_snapshots",
            Request::ReplicationCursor(_) => "replication_cursor",
            Request::SendEstimate(_) => "send_estimate",
            Request::Send(_) => "send",
            Request::SendCompleted(_) => "send_completed",
            Request::Hint(_) => "hint",
            Request::Receive(_) => "receive",
            Request::ClearResumeToken(_) => "clear_resume_token",
        }
    }
}

/// A request that moves a data stream, with the stream's options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamRequest<T> {
    /// The endpoint request.
    pub request: T,
    /// Whether the data frames may be zstd-compressed (the producing side decides per stream;
    /// raw and compressed sends are not compressed again).
    #[serde(default)]
    pub compress: bool,
}

/// The passive side's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", content = "value", rename_all = "snake_case")]
pub enum Response {
    /// Answer to ping.
    Pong,
    /// Answer to list filesystems.
    Filesystems(Vec<FilesystemInfo>),
    /// Answer to list versions.
    Versions(ListVersionsResponse),
    /// Answer to destroy snapshots.
    Destroyed(DestroySnapshotsResponse),
    /// Answer to replication cursor.
    Cursor(Option<FsVersion>),
    /// Answer to send estimate.
    Estimate(SendEstimate),
    /// Answer to send; the data stream follows.
    SendStarted(SendResponse),
    /// Answer to receive: send the stream now.
    ReceiveReady,
    /// The stream was received.
    Received(ReceiveResponse),
    /// Success without a value (send completed, hint, clear resume token).
    Done,
    /// The endpoint refused or failed the request.
    Failed(EndpointError),
}

impl Response {
    /// The variant's name, for protocol errors.
    pub fn name(&self) -> &'static str {
        match self {
            Response::Pong => "pong",
            Response::Filesystems(_) => "filesystems",
            Response::Versions(_) => "versions",
            Response::Destroyed(_) => "destroyed",
            Response::Cursor(_) => "cursor",
            Response::Estimate(_) => "estimate",
            Response::SendStarted(_) => "send_started",
            Response::ReceiveReady => "receive_ready",
            Response::Received(_) => "received",
            Response::Done => "done",
            Response::Failed(_) => "failed",
        }
    }
}

/// Decodes a request from JSON (what the server and the fuzz target run on untrusted input).
pub fn decode_request(json: &[u8]) -> Result<Request, RemoteError> {
    serde_json::from_slice(json)
        .map_err(|e| RemoteError::new(ErrorClass::BadRequest, format!("bad request: {e}")))
}

/// An endpoint error as it travels in an error trailer.
pub fn endpoint_to_remote(e: &EndpointError) -> RemoteError {
    let class = match e.kind {
        ErrorKind::Temporary => ErrorClass::Temporary,
        ErrorKind::Permanent => ErrorClass::Permanent,
        ErrorKind::NotFound => ErrorClass::NotFound,
        ErrorKind::AccessDenied => ErrorClass::Denied,
        ErrorKind::Conflict => ErrorClass::Conflict,
    };
    RemoteError::new(class, e.message.clone())
}

/// A remote error as the engine sees it.
pub fn remote_to_endpoint(e: &RemoteError) -> EndpointError {
    let kind = match e.class {
        ErrorClass::Temporary => ErrorKind::Temporary,
        ErrorClass::Permanent | ErrorClass::BadRequest => ErrorKind::Permanent,
        ErrorClass::NotFound => ErrorKind::NotFound,
        ErrorClass::Denied => ErrorKind::AccessDenied,
        ErrorClass::Conflict => ErrorKind::Conflict,
    };
    EndpointError::new(kind, e.message.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_paths_are_validated_while_decoding() {
        let req = Request::ReplicationCursor(FsPath::new("pool/a").expect("valid"));
        let json = serde_json::to_vec(&req).expect("encodes");
        assert_eq!(decode_request(&json).expect("decodes"), req);
        let evil = br#"{"op":"replication_cursor","args":"pool/../etc"}"#;
        assert_eq!(
            decode_request(evil).unwrap_err().class,
            ErrorClass::BadRequest
        );
    }
}
