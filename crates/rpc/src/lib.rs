//! The wire protocol and transports of zferry (tcp, tls with pinned identities, ssh+stdinserver,
//! local).
//!
//! Layers, bottom up:
//! - [`transport`]: byte streams between daemons, each yielding the peer's [`ClientIdentity`];
//! - [`handshake`] and [`frame`]: the greeting and the frames on the wire (see docs/protocol.md);
//! - [`conn`]: a framed connection with heartbeats, idle timeouts and bounded buffers;
//! - [`stream`]: data streams (zfs send output) over a connection, with optional zstd compression
//!   and a shared [`bandwidth`] limit;
//! - [`message`], [`access`], [`server`] and [`client`]: requests, their checks, the passive
//!   side's dispatcher and the active side's [`client::RemoteEndpoint`] (the engine's `Sender` and
//!   `Receiver`, remotely); [`limits`]: the passive side's connection limits, so that a few
//!   clients cannot exhaust a server.
//!
//! # What the daemon calls
//! - Passive jobs: build a listener ([`transport::tcp::TcpServer::bind`],
//!   [`transport::tls::TlsServer::bind`], [`transport::stdinserver::StdinserverServer::bind`],
//!   [`transport::local::LocalServer::bind`]; `Box<dyn Listener>` works too) and run
//!   [`server::serve`] with a [`server::Service`]: a sink's factory builds a receiver rooted at
//!   `root_fs/<identity>` per client, a source's builds a sender for the lane
//!   `(job, identity)` and its [`access::SourceAccess`] lists clients and the filter.
//! - Active jobs: build a connector ([`transport::tcp::TcpClient`],
//!   [`transport::tls::TlsClient::new`], [`transport::ssh::SshClient::new`],
//!   [`transport::local::LocalClient`]) and wrap it in [`client::RemoteEndpoint::new`].
//! - `zferry identity init|show|renew`: [`certs::init`], [`certs::show`], [`certs::renew`].
//! - `zferry stdinserver IDENTITY`: [`transport::stdinserver::stdinserver_relay`].

pub mod access;
pub mod bandwidth;
pub mod certs;
pub mod client;
pub mod conn;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod identity;
pub mod limits;
pub mod message;
pub mod pool;
pub mod server;
mod splice;
pub mod stream;
pub mod transport;

pub use conn::{ConnOptions, Connection, Inbound};
pub use error::{ErrorClass, RemoteError, Result, RpcError};
pub use identity::ClientIdentity;
