//! In-process transport for a push job and a sink job in the same daemon.
//!
//! A sink registers a listener under its `listener_name`; a push job connects by that name and
//! states its own client identity (there is no one to authenticate inside one process). The two
//! ends are joined by an in-memory duplex pipe with large buffers.

use super::{Accepted, BoxStream, Connector, Incoming, Listener};
use crate::error::{Result, RpcError};
use crate::identity::ClientIdentity;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};
use tokio::sync::mpsc;

/// Buffer of each direction of the in-memory pipe.
const PIPE_BUFFER: usize = 4 << 20;

type Registry = HashMap<String, mpsc::Sender<Accepted>>;
static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A registered in-process listener; dropping it unregisters the name.
pub struct LocalServer {
    name: String,
    incoming: mpsc::Receiver<Accepted>,
    /// Our own registration, to unregister only ourselves on drop.
    own: mpsc::Sender<Accepted>,
}

impl LocalServer {
    /// Registers `listener_name`; fails if the name is taken by a live listener.
    pub fn bind(listener_name: &str) -> Result<Self> {
        let mut registry = registry();
        if registry
            .get(listener_name)
            .is_some_and(|tx| !tx.is_closed())
        {
            return Err(RpcError::Config(format!(
                "local listener {listener_name:?} is already registered"
            )));
        }
        let (tx, rx) = mpsc::channel(16);
        registry.insert(listener_name.to_string(), tx.clone());
        Ok(LocalServer {
            name: listener_name.to_string(),
            incoming: rx,
            own: tx,
        })
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let mut registry = registry();
        if registry
            .get(&self.name)
            .is_some_and(|tx| tx.same_channel(&self.own))
        {
            registry.remove(&self.name);
        }
    }
}

#[async_trait::async_trait]
impl Listener for LocalServer {
    async fn accept(&mut self) -> Result<Incoming> {
        let accepted = self.incoming.recv().await.ok_or(RpcError::Closed)?;
        Ok(Incoming::new(None, async move { Ok(accepted) }))
    }

    fn describe(&self) -> String {
        format!("local {:?}", self.name)
    }
}

/// Connects to a [`LocalServer`] by name.
#[derive(Debug, Clone)]
pub struct LocalClient {
    /// The sink's `listener_name`.
    pub listener_name: String,
    /// The identity the push job presents (the sink files its data under it).
    pub client_identity: ClientIdentity,
}

#[async_trait::async_trait]
impl Connector for LocalClient {
    async fn connect(&self) -> Result<BoxStream> {
        // Permanent: local listeners are registered when the daemon sets its jobs up, so one
        // that is missing now (its sink's setup failed) will not appear before a restart, and
        // retrying until the reconnect deadline would only hide that.
        let tx = registry()
            .get(&self.listener_name)
            .cloned()
            .ok_or_else(|| {
                RpcError::Config(format!(
                    "no local listener named {:?} in this daemon (did its sink job's setup fail?)",
                    self.listener_name
                ))
            })?;
        let (ours, theirs) = tokio::io::duplex(PIPE_BUFFER);
        tx.send(Accepted {
            stream: Box::new(theirs),
            identity: self.client_identity.clone(),
            peer: format!("local client {}", self.client_identity),
        })
        .await
        .map_err(|_| RpcError::Io {
            context: "connecting locally",
            kind: std::io::ErrorKind::ConnectionRefused,
            message: format!("local listener {:?} is gone", self.listener_name),
        })?;
        Ok(Box::new(ours))
    }

    fn describe(&self) -> String {
        format!("local {:?}", self.listener_name)
    }
}
