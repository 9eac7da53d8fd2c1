//! Shared by the commands that talk to a running daemon: finding its control socket.

use std::path::{Path, PathBuf};

use crate::config::{self, LoadOptions};
use crate::daemon::control::client::ControlClient;

/// The control socket path from the configuration.
pub fn socket_path(config_path: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = config::resolve_path(config_path)?;
    let cfg = config::load_with(&path, LoadOptions { check_certs: false })?;
    Ok(cfg.global.control.sockpath)
}

/// A client for the daemon of this configuration.
pub fn client(config_path: Option<&Path>) -> anyhow::Result<ControlClient> {
    Ok(ControlClient::new(socket_path(config_path)?))
}

/// A current-thread runtime for one client call.
pub fn block_on<F: std::future::Future>(f: F) -> anyhow::Result<F::Output> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f))
}
