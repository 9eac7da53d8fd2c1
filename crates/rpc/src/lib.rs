//! The wire protocol and transports of zferry (tcp, tls with pinned identities, ssh+stdinserver,
//! local).
//!
//! Layers, bottom up:
//! - [`transport`]: byte streams between daemons, each yielding the peer's [`ClientIdentity`];
//! - [`handshake`] and [`frame`]: the greeting and the frames on the wire (see docs/protocol.md);
//! - [`conn`]: a framed connection with heartbeats, idle timeouts and bounded buffers;
//! - [`stream`]: data streams (zfs send output) over a connection, with optional zstd compression
//!   and a shared [`bandwidth`] limit.

pub mod access;
pub mod bandwidth;
pub mod certs;
pub mod client;
pub mod conn;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod identity;
pub mod message;
pub mod pool;
pub mod server;
pub mod stream;
pub mod transport;

pub use conn::{ConnOptions, Connection, Inbound};
pub use error::{ErrorClass, RemoteError, Result, RpcError};
pub use identity::ClientIdentity;
