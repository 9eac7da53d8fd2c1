//! The passive side: accepts connections, authenticates through the transport, checks every
//! request, and dispatches to the local endpoint built for the client's identity.
//!
//! One task per connection, admitted by the connection limits of [`crate::limits`] (per client
//! address, per identity, in total) with short deadlines for authentication and the greeting.
//! Requests on a connection are answered in order. A `send` or `receive` ends the connection
//! after its stream (streams are the expensive part; a fresh connection per step keeps the state
//! machine simple).

use crate::access::{SourceAccess, check_sink_request};
use crate::bandwidth::BandwidthLimiter;
use crate::conn::{ConnOptions, Connection, Inbound};
use crate::error::{ErrorClass, RemoteError, RpcError};
use crate::identity::ClientIdentity;
use crate::limits::{Admission, ConnectionLimits, Ticket};
use crate::message::{Request, Response, StreamRequest, decode_request, endpoint_to_remote};
use crate::stream::{IncomingStream, StreamConfig};
use crate::transport::{Authenticating, Listener};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tracing::Instrument;
use zferry_repl::endpoint::{
    ByteStream, Endpoint, EndpointError, ReceiveRequest, Receiver, SendRequest, Sender,
};

/// Builds the receiver a sink uses for one client (rooted at `root_fs/<identity>`).
pub trait ReceiverFactory: Send + Sync {
    /// The receiver for `identity`.
    fn receiver_for(&self, identity: &ClientIdentity) -> Result<Arc<dyn Receiver>, EndpointError>;
}

impl<F> ReceiverFactory for F
where
    F: Fn(&ClientIdentity) -> Result<Arc<dyn Receiver>, EndpointError> + Send + Sync,
{
    fn receiver_for(&self, identity: &ClientIdentity) -> Result<Arc<dyn Receiver>, EndpointError> {
        self(identity)
    }
}

/// Builds the sender a source uses for one client (its lane is `(source job, identity)`).
pub trait SenderFactory: Send + Sync {
    /// The sender for `identity`.
    fn sender_for(&self, identity: &ClientIdentity) -> Result<Arc<dyn Sender>, EndpointError>;
}

impl<F> SenderFactory for F
where
    F: Fn(&ClientIdentity) -> Result<Arc<dyn Sender>, EndpointError> + Send + Sync,
{
    fn sender_for(&self, identity: &ClientIdentity) -> Result<Arc<dyn Sender>, EndpointError> {
        self(identity)
    }
}

/// What a passive job serves.
#[derive(Clone)]
pub enum Service {
    /// A sink job: receives into a per-client namespace.
    Sink(Arc<dyn ReceiverFactory>),
    /// A source job: sends filesystems of its filter to listed clients.
    Source {
        /// Builds the per-client sender.
        senders: Arc<dyn SenderFactory>,
        /// Who may pull what.
        access: SourceAccess,
    },
}

/// How long a client may take to authenticate (the tls transport's own `handshake_timeout`, 10 s
/// by default, applies too): a connection that has not authenticated by then holds a place in
/// vain.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an authenticated client may take to greet. A client writes its greeting as soon as
/// it is connected, so anything slower is a client that does not mean to.
pub const GREETING_TIMEOUT: Duration = Duration::from_secs(5);

/// Server limits and shared resources.
#[derive(Clone)]
pub struct ServerOptions {
    /// Connection timing and buffers; its handshake timeout bounds the client's greeting.
    pub conn: ConnOptions,
    /// How many connections are open at once, and for whom.
    pub limits: ConnectionLimits,
    /// Bound for a client's authentication (e.g. the TLS handshake).
    pub auth_timeout: Duration,
    /// The job's bandwidth limit for streams it receives or sends.
    pub limiter: Option<BandwidthLimiter>,
    /// After shutdown, how long running connections may finish before they are aborted
    /// (aborting drops their `zfs` children, which kills them).
    pub shutdown_grace: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            conn: ConnOptions {
                handshake_timeout: GREETING_TIMEOUT,
                ..ConnOptions::default()
            },
            limits: ConnectionLimits::default(),
            auth_timeout: AUTH_TIMEOUT,
            limiter: None,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Serves `listener` until `shutdown` completes, then gives running connections
/// [`ServerOptions::shutdown_grace`] to finish and aborts the rest.
pub async fn serve<L, F>(mut listener: L, service: Service, options: ServerOptions, shutdown: F)
where
    L: Listener,
    F: Future<Output = ()>,
{
    let admission = Admission::new(options.limits.clone());
    let where_ = listener.describe();
    let mut refusals = RefusalLog::default();
    let mut running = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while running.try_join_next().is_some() {}
        let incoming = tokio::select! {
            _ = &mut shutdown => break,
            incoming = listener.accept() => incoming,
        };
        match incoming {
            // Refused connections are dropped, which closes them: nothing is spent on them.
            Ok(incoming) => match admission.admit(incoming.address) {
                Ok(ticket) => {
                    let service = service.clone();
                    let options = options.clone();
                    // In the caller's span: the connection's log lines name the serving job.
                    running
                        .spawn(handle(ticket, incoming.auth, service, options).in_current_span());
                }
                Err(refusal) => refusals.note(&where_, &refusal),
            },
            Err(e) => {
                tracing::warn!(listener = %where_, error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    drop(listener);
    let finish = async { while running.join_next().await.is_some() {} };
    if tokio::time::timeout(options.shutdown_grace, finish)
        .await
        .is_err()
    {
        tracing::warn!(
            listener = %where_,
            connections = running.len(),
            "aborting connections still running after the shutdown grace period"
        );
        running.shutdown().await;
    }
}

/// Refusals are logged at most once per [`RefusalLog::EVERY`], with the count of those not logged:
/// a flood of connections must not become a flood of log lines.
#[derive(Default)]
struct RefusalLog {
    last: Option<tokio::time::Instant>,
    unlogged: u64,
}

impl RefusalLog {
    const EVERY: Duration = Duration::from_secs(10);

    fn note(&mut self, listener: &str, refusal: &crate::limits::Refusal) {
        let now = tokio::time::Instant::now();
        if self.last.is_some_and(|last| now - last < Self::EVERY) {
            self.unlogged += 1;
            return;
        }
        tracing::warn!(
            listener,
            reason = %refusal,
            refused_since_last_line = self.unlogged,
            "refused a connection (connection limits)"
        );
        self.last = Some(now);
        self.unlogged = 0;
    }
}

/// Serves one admitted connection until it ends or its place is needed for another client.
async fn handle(ticket: Ticket, auth: Authenticating, service: Service, options: ServerOptions) {
    tokio::select! {
        () = ticket.evicted() => {
            tracing::debug!("closed a waiting connection to make room for another client");
        }
        () = serve_connection(&ticket, auth, &service, &options) => {}
    }
}

async fn serve_connection(
    ticket: &Ticket,
    auth: Authenticating,
    service: &Service,
    options: &ServerOptions,
) {
    let accepted = match tokio::time::timeout(options.auth_timeout, auth).await {
        Ok(Ok(accepted)) => accepted,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "refused a client");
            return;
        }
        Err(_) => {
            tracing::warn!("refused a client: authentication timed out");
            return;
        }
    };
    let identity = accepted.identity;
    let peer = accepted.peer;
    let conn = match Connection::establish(accepted.stream, options.conn.clone()).await {
        Ok(conn) => conn,
        Err(e) => {
            tracing::warn!(%identity, %peer, error = %e, "greeting failed");
            return;
        }
    };
    if let Err(refusal) = ticket.authenticated(&identity) {
        tracing::warn!(%identity, %peer, reason = %refusal, "refused a client (connection limits)");
        let why = RemoteError::new(ErrorClass::Temporary, format!("{refusal}; try again later"));
        let _ = conn.send_error(&why).await;
        return;
    }
    let endpoint = match service {
        Service::Sink(factory) => factory.receiver_for(&identity).map(Role::Sink),
        Service::Source { senders, access } => access
            .admit(&identity)
            .and_then(|()| senders.sender_for(&identity))
            .map(|sender| Role::Source(sender, access.clone())),
    };
    let role = match endpoint {
        Ok(role) => role,
        Err(e) => {
            tracing::warn!(%identity, %peer, error = %e, "refused a client");
            let _ = conn.send_error(&endpoint_to_remote(&e)).await;
            return;
        }
    };
    tracing::debug!(%identity, %peer, "client connected");
    if let Err(e) = serve_requests(conn, ticket, &role, options).await {
        tracing::warn!(%identity, %peer, error = %e, "connection ended with an error");
    }
}

enum Role {
    Sink(Arc<dyn Receiver>),
    Source(Arc<dyn Sender>, SourceAccess),
}

/// Answers requests until the client closes the connection or a stream ends it. Between
/// requests the connection is waiting, and may be closed to make room for another client.
async fn serve_requests(
    mut conn: Connection,
    ticket: &Ticket,
    role: &Role,
    options: &ServerOptions,
) -> Result<(), RpcError> {
    loop {
        ticket.waiting();
        let inbound = conn.recv().await;
        if !ticket.serving() {
            return Ok(());
        }
        let json = match inbound {
            Ok(Inbound::Control(json)) => json,
            Ok(other) => {
                let message = format!("expected a request, got {}", other.describe());
                conn.send_error(&RemoteError::new(ErrorClass::BadRequest, message.clone()))
                    .await?;
                return Err(RpcError::Protocol(message));
            }
            Err(RpcError::Closed) => return Ok(()),
            Err(e) => return Err(e),
        };
        let request = match decode_request(&json) {
            Ok(request) => request,
            Err(e) => {
                conn.send_error(&e).await?;
                return Err(RpcError::Protocol(e.message));
            }
        };
        let op = request.op();
        tracing::debug!(op, "request");
        let checked = match role {
            Role::Sink(_) => check_sink_request(&request),
            Role::Source(_, access) => access.check(&request),
        };
        if let Err(e) = checked {
            tracing::warn!(op, error = %e, "refused a request");
            conn.send_message(&Response::Failed(e)).await?;
            continue;
        }
        match (role, request) {
            (Role::Sink(receiver), Request::Receive(stream_request)) => {
                return receive(conn, receiver.as_ref(), stream_request, options).await;
            }
            (Role::Source(sender, _), Request::Send(stream_request)) => {
                return send(conn, sender.as_ref(), stream_request, options).await;
            }
            (role, request) => {
                let response = answer(role, request).await.unwrap_or_else(Response::Failed);
                conn.send_message(&response).await?;
            }
        }
    }
}

/// Answers a request that moves no stream.
async fn answer(role: &Role, request: Request) -> Result<Response, EndpointError> {
    let endpoint: &dyn Endpoint = match role {
        Role::Sink(r) => r.as_ref(),
        Role::Source(s, _) => s.as_ref(),
    };
    let visible = |fs: &zferry_repl::endpoint::FsPath| match role {
        Role::Source(_, access) => access.check_fs(fs).is_ok(),
        Role::Sink(_) => true,
    };
    Ok(match request {
        Request::Ping => {
            endpoint.ping().await?;
            Response::Pong
        }
        Request::ListFilesystems => {
            let mut list = endpoint.list_filesystems().await?;
            list.retain(|fs| visible(&fs.path));
            Response::Filesystems(list)
        }
        Request::ListVersions(r) => {
            let mut list = endpoint.list_versions(r).await?;
            list.filesystems.retain(|fs| visible(&fs.path));
            Response::Versions(list)
        }
        Request::DestroySnapshots(r) => Response::Destroyed(endpoint.destroy_snapshots(r).await?),
        other => match (role, other) {
            (Role::Sink(r), Request::ClearResumeToken(req)) => {
                r.clear_resume_token(req).await?;
                Response::Done
            }
            (Role::Sink(r), Request::Hint(req)) => {
                r.hold_last_received(req).await?;
                Response::Done
            }
            (Role::Source(s, _), Request::ReplicationCursor(fs)) => {
                Response::Cursor(s.replication_cursor(fs).await?)
            }
            (Role::Source(s, _), Request::SendEstimate(req)) => {
                Response::Estimate(s.send_estimate(req).await?)
            }
            (Role::Source(s, _), Request::SendCompleted(req)) => {
                s.send_completed(req).await?;
                Response::Done
            }
            (Role::Source(s, _), Request::Hint(req)) => {
                s.hint_most_recent_common_ancestor(req).await?;
                Response::Done
            }
            (_, other) => {
                return Err(EndpointError::permanent(format!(
                    "{} is not served here",
                    other.op()
                )));
            }
        },
    })
}

/// A sink receives a stream: ready, stream into the receiver, result; then the connection ends.
async fn receive(
    conn: Connection,
    receiver: &dyn Receiver,
    stream_request: StreamRequest<ReceiveRequest>,
    options: &ServerOptions,
) -> Result<(), RpcError> {
    conn.send_message(&Response::ReceiveReady).await?;
    let config = StreamConfig {
        compress: false,
        limiter: options.limiter.clone(),
    };
    // The connection is lent to the stream and taken back once the receiver is done with it.
    let shared = Arc::new(Mutex::new(conn));
    let stream = IncomingStream::new(shared.clone(), config);
    let result = receiver
        .receive(stream_request.request, ByteStream::new(stream))
        .await;
    let mut conn = match Arc::try_unwrap(shared) {
        Ok(mutex) => mutex.into_inner().unwrap_or_else(PoisonError::into_inner),
        Err(_) => {
            return Err(RpcError::Protocol(
                "the receiver kept the stream after returning".into(),
            ));
        }
    };
    match result {
        Ok(received) => conn.send_message(&Response::Received(received)).await,
        Err(e) => {
            tracing::warn!(error = %e, "receive failed");
            conn.send_error(&endpoint_to_remote(&e)).await?;
            drain(&mut conn).await;
            Ok(())
        }
    }
}

/// A source sends a stream: started, the stream; then the connection ends.
async fn send(
    mut conn: Connection,
    sender: &dyn Sender,
    stream_request: StreamRequest<SendRequest>,
    options: &ServerOptions,
) -> Result<(), RpcError> {
    let (response, mut stream) = match sender.send(stream_request.request).await {
        Ok(started) => started,
        Err(e) => return conn.send_message(&Response::Failed(e)).await,
    };
    let compress =
        stream_request.compress && !response.flags.raw && !response.flags.encrypted_source;
    conn.send_message(&Response::SendStarted(response)).await?;
    let config = StreamConfig {
        compress,
        limiter: options.limiter.clone(),
    };
    let stats = conn.send_byte_stream(&mut stream, &config).await?;
    tracing::debug!(
        bytes = stats.bytes,
        wire_bytes = stats.wire_bytes,
        "stream sent"
    );
    Ok(())
}

/// After an error trailer, reads (and drops) what the client still had in flight, briefly, so
/// closing does not reset the connection before the client has read the error.
async fn drain(conn: &mut Connection) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while conn.recv().await.is_ok() {}
    })
    .await;
}
