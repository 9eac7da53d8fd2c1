//! Shared by the client commands: reading the configuration, finding the daemon's control
//! socket, running one call.

use std::path::{Path, PathBuf};

use crate::config::{self, LoadOptions};
use crate::daemon::control::client::ControlClient;

/// The configuration as the client commands read it: found like the daemon finds it, without
/// checking certificate files (a command may run where they are not readable).
pub fn load_config(config_path: Option<&Path>) -> anyhow::Result<config::Config> {
    let path = config::resolve_path(config_path)?;
    Ok(config::load_with(
        &path,
        LoadOptions { check_certs: false },
    )?)
}

/// The control socket path from the configuration.
pub fn socket_path(config_path: Option<&Path>) -> anyhow::Result<PathBuf> {
    Ok(load_config(config_path)?.global.control.sockpath)
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
