//! Transports: how a byte stream between two daemons comes to be, and who is on the other end.
//!
//! Every transport reduces to the same two shapes. On the client side a [`Connector`] yields a
//! connected duplex byte stream. On the server side a [`Listener`] yields incoming connections;
//! each one authenticates (a TLS handshake, an IP lookup, ...) in its own task and then yields the
//! stream together with the peer's [`ClientIdentity`]. The protocol above never sees which
//! transport carried it.
//!
//! The constructor structs here are free of any configuration format: the daemon maps its
//! configuration onto them.

pub mod clientmap;
pub mod local;
pub mod ssh;
pub mod stdinserver;
pub mod tcp;
pub mod tls;

use crate::error::Result;
use crate::identity::ClientIdentity;
use std::future::Future;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncWrite};

/// A connected duplex byte stream.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {
    /// The socket under the stream, when bytes written to the stream reach it unchanged and
    /// unbuffered (plain tcp, unix sockets): the data path may then `splice(2)` a pipe into it.
    fn raw_socket(&self) -> Option<RawSocket<'_>> {
        None
    }
}

/// A socket that carries a [`Stream`]'s bytes as they are.
pub enum RawSocket<'a> {
    /// A tcp connection.
    Tcp(&'a tokio::net::TcpStream),
    /// A unix socket connection.
    Unix(&'a tokio::net::UnixStream),
}

impl Stream for tokio::net::TcpStream {
    fn raw_socket(&self) -> Option<RawSocket<'_>> {
        Some(RawSocket::Tcp(self))
    }
}

impl Stream for tokio::net::UnixStream {
    fn raw_socket(&self) -> Option<RawSocket<'_>> {
        Some(RawSocket::Unix(self))
    }
}

impl Stream for tokio::io::DuplexStream {}
/// Buffered: bytes written may wait in user memory, so no raw socket is offered.
impl<S: Stream> Stream for tokio::io::BufReader<S> {}
impl<S: Stream> Stream for tokio_rustls::client::TlsStream<S> {}
impl<S: Stream> Stream for tokio_rustls::server::TlsStream<S> {}

impl Stream for Box<dyn Stream> {
    fn raw_socket(&self) -> Option<RawSocket<'_>> {
        (**self).raw_socket()
    }
}

/// A boxed [`Stream`], what every transport hands out.
pub type BoxStream = Box<dyn Stream>;

/// An authenticated server-side connection.
pub struct Accepted {
    /// The byte stream.
    pub stream: BoxStream,
    /// Who the peer is, as established by the transport.
    pub identity: ClientIdentity,
    /// A description of the peer for logs (address, certificate name, socket).
    pub peer: String,
}

/// Authenticates an accepted connection; await it in the connection's own task.
pub type Authenticating = Pin<Box<dyn Future<Output = Result<Accepted>> + Send>>;

/// A connection that was accepted but not yet authenticated.
pub struct Incoming {
    /// The client's network address, known before authentication where the transport has one
    /// (tcp, tls): the server's connection limits count connections by it.
    pub address: Option<std::net::IpAddr>,
    /// The authentication.
    pub auth: Authenticating,
}

impl Incoming {
    /// A connection from `address` that `auth` authenticates.
    pub fn new(
        address: Option<std::net::IpAddr>,
        auth: impl Future<Output = Result<Accepted>> + Send + 'static,
    ) -> Incoming {
        Incoming {
            address,
            auth: Box::pin(auth),
        }
    }
}

/// The server side of a transport.
#[async_trait::async_trait]
pub trait Listener: Send {
    /// Waits for the next connection. Errors here concern the listener itself (and are usually
    /// temporary, e.g. out of file descriptors); a refused client shows as an error of the
    /// returned [`Incoming`].
    async fn accept(&mut self) -> Result<Incoming>;

    /// Where the listener listens, for logs.
    fn describe(&self) -> String;
}

/// The client side of a transport.
#[async_trait::async_trait]
pub trait Connector: Send + Sync {
    /// Opens a new authenticated byte stream to the server.
    async fn connect(&self) -> Result<BoxStream>;

    /// Where it connects to, for logs.
    fn describe(&self) -> String;
}

/// A listener chosen at run time (the daemon picks the transport from its configuration).
#[async_trait::async_trait]
impl Listener for Box<dyn Listener> {
    async fn accept(&mut self) -> Result<Incoming> {
        (**self).accept().await
    }

    fn describe(&self) -> String {
        (**self).describe()
    }
}
