//! The error type of the rpc layer and its classification into temporary and permanent failures.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Everything that can go wrong on a connection, in a transport or in a request.
///
/// The type is `Clone` because a connection's first failure is recorded once and handed to every
/// party waiting on that connection (the application, the reader task and the writer task).
#[derive(Debug, Clone, thiserror::Error)]
pub enum RpcError {
    /// An I/O error on the underlying byte stream (kind kept for classification).
    #[error("{context}: {message}")]
    Io {
        /// What we were doing.
        context: &'static str,
        /// The kind of the original `std::io::Error`.
        kind: std::io::ErrorKind,
        /// The original error's text.
        message: String,
    },
    /// The peer speaks another protocol version.
    #[error("protocol version mismatch: we speak version {ours}, the peer speaks version {peer}")]
    VersionMismatch {
        /// Our protocol version.
        ours: u32,
        /// The peer's protocol version.
        peer: u32,
    },
    /// The peer did not greet with the zferry magic.
    #[error("the peer is not a zferry endpoint (bad greeting)")]
    NotZferry,
    /// A frame header announced more bytes than the frame kind allows.
    #[error("frame of kind {kind} announces {len} bytes, the maximum is {max}")]
    FrameTooLarge {
        /// The frame kind's name.
        kind: &'static str,
        /// The announced length.
        len: u64,
        /// The limit for that kind.
        max: u64,
    },
    /// A frame header carried an unknown kind byte.
    #[error("unknown frame kind 0x{0:02x}")]
    UnknownFrameKind(u8),
    /// The byte stream ended in the middle of a frame or a stream.
    #[error("connection closed in the middle of {0}")]
    Truncated(&'static str),
    /// The connection was closed cleanly while we still expected something.
    #[error("connection closed by the peer")]
    Closed,
    /// A wait exceeded its bound.
    #[error("timed out after {:.1}s: {what}", .after.as_secs_f64())]
    Timeout {
        /// What we were waiting for.
        what: &'static str,
        /// How long we waited.
        after: Duration,
    },
    /// The peer violated the protocol (unexpected frame, undecodable message, ...).
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The peer reported an error (its own words, typed).
    #[error("peer reported: {0}")]
    Remote(RemoteError),
    /// Authentication or authorisation failed.
    #[error("access denied: {0}")]
    Denied(String),
    /// TLS or certificate handling failed.
    #[error("tls: {0}")]
    Tls(String),
    /// A transport or identity was configured wrongly.
    #[error("configuration: {0}")]
    Config(String),
    /// The local side of a data stream failed (e.g. `zfs send` died); the peer was told.
    #[error("local stream failed: {0}")]
    LocalStream(String),
}

impl RpcError {
    /// Wraps an I/O error with what we were doing.
    ///
    /// A TLS alert by which the peer refused our certificate (it arrives on the first read
    /// after the handshake) becomes [`RpcError::Denied`]: retrying cannot help.
    pub fn io(context: &'static str, err: std::io::Error) -> Self {
        if let Some(alert) = refusal_alert(&err) {
            return RpcError::Denied(format!(
                "the peer refused our tls certificate ({context}: alert {alert:?})"
            ));
        }
        RpcError::Io {
            context,
            kind: err.kind(),
            message: err.to_string(),
        }
    }

    /// Whether retrying later (on a new connection) may succeed: network failures and timeouts.
    /// Version mismatches, denials, protocol violations and permanent remote errors are not.
    pub fn is_temporary(&self) -> bool {
        match self {
            RpcError::Io { .. } | RpcError::Truncated(_) | RpcError::Closed => true,
            RpcError::Timeout { .. } => true,
            RpcError::Remote(e) => e.class == ErrorClass::Temporary,
            _ => false,
        }
    }

    /// The error as it travels to the peer.
    pub fn to_remote(&self) -> RemoteError {
        match self {
            RpcError::Remote(e) => e.clone(),
            RpcError::Denied(m) => RemoteError::new(ErrorClass::Denied, m.clone()),
            other => RemoteError::new(
                if other.is_temporary() {
                    ErrorClass::Temporary
                } else {
                    ErrorClass::Permanent
                },
                other.to_string(),
            ),
        }
    }
}

/// The alert of a peer that refused our certificate or identity, if `err` carries one.
fn refusal_alert(err: &std::io::Error) -> Option<rustls::AlertDescription> {
    use rustls::AlertDescription as A;
    match err.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(
            alert @ (A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::CertificateRequired
            | A::UnknownCA
            | A::AccessDenied),
        ) => Some(*alert),
        _ => None,
    }
}

/// How the receiver of an error should treat it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Retrying later may succeed.
    Temporary,
    /// Retrying will fail the same way.
    Permanent,
    /// The peer refused the request for lack of permission.
    Denied,
    /// The request was malformed.
    BadRequest,
    /// A filesystem or version does not exist.
    NotFound,
    /// The state on disk conflicts with the request.
    Conflict,
}

/// An error as it travels on the wire: a class and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct RemoteError {
    /// How to treat it.
    pub class: ErrorClass,
    /// What went wrong, in the peer's words.
    pub message: String,
}

impl RemoteError {
    /// Builds a remote error.
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        RemoteError {
            class,
            message: message.into(),
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = RpcError> = std::result::Result<T, E>;
