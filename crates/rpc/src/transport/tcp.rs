//! Plain tcp: the client's address is its identity, through a [`ClientMap`].
//!
//! No encryption and no authentication beyond the source address: meant for trusted networks
//! (zrepl's `tcp` transport).

use super::clientmap::{ClientAddr, ClientMap};
use super::{Accepted, BoxStream, Connector, Incoming, Listener};
use crate::conn::{ConnOptions, refuse};
use crate::error::{Result, RpcError};
use std::net::SocketAddr;
use std::time::Duration;

/// A tcp listener that maps client addresses to identities.
pub struct TcpServer {
    listener: tokio::net::TcpListener,
    clients: ClientMap,
}

impl TcpServer {
    /// Binds `listen` (`host:port`; port 0 picks a free port).
    pub async fn bind(listen: &str, clients: ClientMap) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| RpcError::io("binding the tcp listener", e))?;
        Ok(TcpServer { listener, clients })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener
            .local_addr()
            .map_err(|e| RpcError::io("reading the listener address", e))
    }

    /// Accepts one raw tcp connection (shared with the tls listener).
    pub(crate) async fn accept_tcp(
        listener: &tokio::net::TcpListener,
    ) -> Result<(tokio::net::TcpStream, SocketAddr)> {
        let (stream, addr) = listener
            .accept()
            .await
            .map_err(|e| RpcError::io("accepting a tcp connection", e))?;
        // Large frames are written whole; disabling Nagle only speeds up small control replies.
        let _ = stream.set_nodelay(true);
        Ok((stream, addr))
    }
}

#[async_trait::async_trait]
impl Listener for TcpServer {
    async fn accept(&mut self) -> Result<Incoming> {
        let (stream, addr) = Self::accept_tcp(&self.listener).await?;
        let identity = self.clients.lookup(&client_addr(&stream, addr));
        Ok(Incoming::new(Some(addr.ip()), async move {
            match identity {
                Ok(identity) => Ok(Accepted {
                    stream: Box::new(stream) as BoxStream,
                    identity,
                    peer: addr.to_string(),
                }),
                Err(e) => {
                    // Plain tcp has no way to say no; tell the client in protocol terms.
                    refuse(stream, &ConnOptions::default(), &e).await;
                    Err(e)
                }
            }
        }))
    }

    fn describe(&self) -> String {
        match self.listener.local_addr() {
            Ok(addr) => format!("tcp {addr}"),
            Err(_) => "tcp".into(),
        }
    }
}

/// The address and zone of a connected client.
fn client_addr(stream: &tokio::net::TcpStream, addr: SocketAddr) -> ClientAddr {
    let zone = match addr {
        SocketAddr::V6(v6) if v6.scope_id() != 0 => {
            rustix::net::netdevice::index_to_name(stream, v6.scope_id()).ok()
        }
        _ => None,
    };
    ClientAddr {
        ip: addr.ip(),
        zone,
    }
}

/// Connects to a tcp server.
#[derive(Debug, Clone)]
pub struct TcpClient {
    /// `host:port` of the server.
    pub address: String,
    /// Bound for establishing the connection.
    pub dial_timeout: Duration,
}

impl TcpClient {
    /// Opens a raw tcp connection (shared with the tls connector).
    pub(crate) async fn dial(&self) -> Result<tokio::net::TcpStream> {
        let stream = tokio::time::timeout(
            self.dial_timeout,
            tokio::net::TcpStream::connect(&self.address),
        )
        .await
        .map_err(|_| RpcError::Timeout {
            what: "connecting over tcp",
            after: self.dial_timeout,
        })?
        .map_err(|e| RpcError::io("connecting over tcp", e))?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }
}

#[async_trait::async_trait]
impl Connector for TcpClient {
    async fn connect(&self) -> Result<BoxStream> {
        Ok(Box::new(self.dial().await?))
    }

    fn describe(&self) -> String {
        format!("tcp {}", self.address)
    }
}
