//! The active side: [`RemoteEndpoint`] implements the engine's `Sender` and `Receiver` traits
//! over a transport, so push and pull run the same replication code as local replication.
//!
//! Requests without a stream reuse idle connections; `send` and `receive` each take a fresh
//! connection that ends with the stream.

use crate::bandwidth::BandwidthLimiter;
use crate::conn::{ConnOptions, Connection};
use crate::error::RpcError;
use crate::message::{Request, Response, StreamRequest, remote_to_endpoint};
use crate::stream::StreamConfig;
use crate::transport::Connector;
use async_trait::async_trait;
use std::sync::{Arc, Mutex, PoisonError};
use zferry_repl::endpoint::{
    ByteStream, ClearResumeTokenRequest, DestroySnapshotsRequest, DestroySnapshotsResponse,
    Endpoint, EndpointError, FilesystemInfo, FsPath, FsVersion, HintRequest, ListVersionsRequest,
    ListVersionsResponse, ReceiveRequest, ReceiveResponse, Receiver, SendCompletedRequest,
    SendEstimate, SendRequest, SendResponse, Sender,
};

/// Client-side choices of an active job.
#[derive(Clone, Default)]
pub struct ClientOptions {
    /// Connection timing and buffers.
    pub conn: ConnOptions,
    /// Ask for zstd-compressed streams (skipped for raw or encrypted streams).
    pub compress: bool,
    /// The job's bandwidth limit, shared by all its streams.
    pub limiter: Option<BandwidthLimiter>,
}

/// A remote sink or source, reached through a [`Connector`].
pub struct RemoteEndpoint {
    connector: Arc<dyn Connector>,
    options: ClientOptions,
    idle: Mutex<Vec<Connection>>,
}

/// A remote source, as the engine's [`Sender`].
pub type RemoteSender = RemoteEndpoint;
/// A remote sink, as the engine's [`Receiver`].
pub type RemoteReceiver = RemoteEndpoint;

/// Idle connections kept for reuse.
const MAX_IDLE: usize = 4;

impl RemoteEndpoint {
    /// An endpoint that connects through `connector` when it first needs to.
    pub fn new(connector: Arc<dyn Connector>, options: ClientOptions) -> Self {
        RemoteEndpoint {
            connector,
            options,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Opens a new connection (transport, then greeting).
    pub async fn connect(&self) -> Result<Connection, RpcError> {
        let stream = self.connector.connect().await?;
        Connection::establish(stream, self.options.conn.clone()).await
    }

    /// [`Self::connect`] for an endpoint call: the error names the peer (`tcp host:port`), so
    /// "connection refused" says who refused.
    async fn open(&self) -> Result<Connection, EndpointError> {
        self.connect().await.map_err(|e| {
            to_endpoint(e).context(format!("connecting to {}", self.connector.describe()))
        })
    }

    fn take_idle(&self) -> Option<Connection> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    fn put_idle(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// One request, one response. A reused connection that turns out dead is replaced once.
    async fn call(&self, request: &Request) -> Result<Response, EndpointError> {
        if let Some(mut conn) = self.take_idle() {
            match exchange(&mut conn, request).await {
                Ok(response) => {
                    self.put_idle(conn);
                    return Ok(response);
                }
                Err(e) if !e.is_temporary() => return Err(to_endpoint(e)),
                Err(e) => tracing::debug!(error = %e, "idle connection was dead; reconnecting"),
            }
        }
        let mut conn = self.open().await?;
        let response = exchange(&mut conn, request).await.map_err(to_endpoint)?;
        self.put_idle(conn);
        Ok(response)
    }

    fn stream_config(&self, compress: bool) -> StreamConfig {
        StreamConfig {
            compress,
            limiter: self.options.limiter.clone(),
        }
    }
}

async fn exchange(conn: &mut Connection, request: &Request) -> Result<Response, RpcError> {
    conn.send_message(request).await?;
    conn.recv_message().await
}

/// An rpc failure as the engine sees it (temporary failures are retried by the engine).
pub fn to_endpoint(e: RpcError) -> EndpointError {
    match e {
        RpcError::Remote(remote) => remote_to_endpoint(&remote),
        RpcError::Denied(message) => EndpointError::access_denied(message),
        other if other.is_temporary() => EndpointError::temporary(other.to_string()),
        other => EndpointError::permanent(other.to_string()),
    }
}

fn unexpected(response: &Response) -> EndpointError {
    EndpointError::permanent(format!("unexpected response {:?}", response.name()))
}

/// Unpacks the expected response variant; `Failed` becomes the endpoint's error.
macro_rules! expect {
    ($response:expr, $pattern:pat => $value:expr) => {
        match $response {
            $pattern => Ok($value),
            Response::Failed(e) => Err(e),
            other => Err(unexpected(&other)),
        }
    };
}

#[async_trait]
impl Endpoint for RemoteEndpoint {
    async fn list_filesystems(&self) -> Result<Vec<FilesystemInfo>, EndpointError> {
        expect!(self.call(&Request::ListFilesystems).await?, Response::Filesystems(v) => v)
    }

    async fn list_versions(
        &self,
        request: ListVersionsRequest,
    ) -> Result<ListVersionsResponse, EndpointError> {
        expect!(self.call(&Request::ListVersions(request)).await?, Response::Versions(v) => v)
    }

    async fn destroy_snapshots(
        &self,
        request: DestroySnapshotsRequest,
    ) -> Result<DestroySnapshotsResponse, EndpointError> {
        expect!(self.call(&Request::DestroySnapshots(request)).await?, Response::Destroyed(v) => v)
    }

    async fn ping(&self) -> Result<(), EndpointError> {
        expect!(self.call(&Request::Ping).await?, Response::Pong => ())
    }
}

#[async_trait]
impl Sender for RemoteEndpoint {
    async fn send_estimate(&self, request: SendRequest) -> Result<SendEstimate, EndpointError> {
        expect!(self.call(&Request::SendEstimate(request)).await?, Response::Estimate(v) => v)
    }

    async fn send(
        &self,
        request: SendRequest,
    ) -> Result<(SendResponse, ByteStream), EndpointError> {
        let mut conn = self.open().await?;
        let request = Request::Send(StreamRequest {
            request,
            compress: self.options.compress,
        });
        let response = exchange(&mut conn, &request).await.map_err(to_endpoint)?;
        let started = expect!(response, Response::SendStarted(v) => v)?;
        Ok((started, conn.into_byte_stream(self.stream_config(false))))
    }

    async fn send_completed(&self, request: SendCompletedRequest) -> Result<(), EndpointError> {
        expect!(self.call(&Request::SendCompleted(request)).await?, Response::Done => ())
    }

    async fn replication_cursor(
        &self,
        filesystem: FsPath,
    ) -> Result<Option<FsVersion>, EndpointError> {
        expect!(self.call(&Request::ReplicationCursor(filesystem)).await?, Response::Cursor(v) => v)
    }

    async fn hint_most_recent_common_ancestor(
        &self,
        request: HintRequest,
    ) -> Result<(), EndpointError> {
        expect!(self.call(&Request::Hint(request)).await?, Response::Done => ())
    }
}

#[async_trait]
impl Receiver for RemoteEndpoint {
    async fn receive(
        &self,
        request: ReceiveRequest,
        mut stream: ByteStream,
    ) -> Result<ReceiveResponse, EndpointError> {
        let compress =
            self.options.compress && !request.flags.raw && !request.flags.encrypted_source;
        let mut conn = self.open().await?;
        let request = Request::Receive(StreamRequest { request, compress });
        let response = exchange(&mut conn, &request).await.map_err(to_endpoint)?;
        expect!(response, Response::ReceiveReady => ())?;
        conn.send_byte_stream(&mut stream, &self.stream_config(compress))
            .await
            .map_err(to_endpoint)?;
        let response = conn.recv_message().await.map_err(to_endpoint)?;
        expect!(response, Response::Received(v) => v)
    }

    async fn hold_last_received(&self, request: HintRequest) -> Result<(), EndpointError> {
        expect!(self.call(&Request::Hint(request)).await?, Response::Done => ())
    }

    async fn clear_resume_token(
        &self,
        request: ClearResumeTokenRequest,
    ) -> Result<(), EndpointError> {
        expect!(self.call(&Request::ClearResumeToken(request)).await?, Response::Done => ())
    }
}
