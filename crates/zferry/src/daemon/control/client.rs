//! A client of the control socket for the CLI: HTTP/1.1 over the unix socket (hyper), one
//! connection per request.

use std::path::{Path, PathBuf};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use tokio::net::UnixStream;

use super::api::{ErrorBody, ResetRequest, VersionInfo, WakeupOutcome, WakeupRequest};
use crate::daemon::status::DaemonStatus;

/// Why a control request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The daemon's socket cannot be reached (daemon not running?).
    #[error("cannot connect to the daemon at {path:?} (is `zferry daemon` running?): {source}")]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("control request failed: {0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built.
    #[error("control request could not be built: {0}")]
    Request(#[from] hyper::http::Error),
    /// The daemon answered with an error.
    #[error("daemon refused ({status}): {message}")]
    Daemon {
        /// The HTTP status.
        status: u16,
        /// The daemon's message.
        message: String,
    },
    /// The answer is not what this client understands.
    #[error("cannot decode the daemon's answer: {0}")]
    Decode(#[from] serde_json::Error),
}

/// A client for one daemon's control socket.
#[derive(Debug, Clone)]
pub struct ControlClient {
    path: PathBuf,
}

impl ControlClient {
    /// A client for the socket at `path`.
    pub fn new(path: impl AsRef<Path>) -> ControlClient {
        ControlClient {
            path: path.as_ref().to_path_buf(),
        }
    }

    async fn request(
        &self,
        method: Method,
        uri: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Bytes, ClientError> {
        let stream =
            UnixStream::connect(&self.path)
                .await
                .map_err(|source| ClientError::Connect {
                    path: self.path.clone(),
                    source,
                })?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let driver = tokio::spawn(connection);
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(hyper::header::HOST, "zferry")
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        driver.abort();
        if status.is_success() {
            return Ok(bytes);
        }
        let message = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|b| b.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
        Err(ClientError::Daemon {
            status: status.as_u16(),
            message,
        })
    }

    async fn get_json<T: DeserializeOwned>(&self, uri: &str) -> Result<T, ClientError> {
        let bytes = self.request(Method::GET, uri, None).await?;
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// `GET /status`.
    pub async fn status(&self) -> Result<DaemonStatus, ClientError> {
        self.get_json("/status").await
    }

    /// `GET /status` as untyped JSON (for `zferry status --mode raw`, which must also work with a
    /// newer daemon's additions).
    pub async fn status_json(&self) -> Result<serde_json::Value, ClientError> {
        self.get_json("/status").await
    }

    /// `GET /version`: the daemon's version.
    pub async fn version(&self) -> Result<VersionInfo, ClientError> {
        self.get_json("/version").await
    }

    /// `POST /signal/wakeup`.
    pub async fn wakeup(&self, job: &str, wait: bool) -> Result<WakeupOutcome, ClientError> {
        let body = serde_json::to_vec(&WakeupRequest {
            job: job.to_string(),
            wait,
        })?;
        let bytes = self
            .request(Method::POST, "/signal/wakeup", Some(body))
            .await?;
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// `POST /signal/reset`.
    pub async fn reset(&self, job: &str) -> Result<(), ClientError> {
        let body = serde_json::to_vec(&ResetRequest {
            job: job.to_string(),
        })?;
        self.request(Method::POST, "/signal/reset", Some(body))
            .await
            .map(|_| ())
    }
}

/// True for HTTP statuses the daemon uses for "no such job".
pub fn is_unknown_job(e: &ClientError) -> bool {
    matches!(e, ClientError::Daemon { status, .. } if *status == StatusCode::NOT_FOUND.as_u16())
}
