//! `zferry stdinserver IDENTITY`: the forced command of an `ssh+stdinserver` client's key. It
//! relays the ssh session's stdin/stdout to the local daemon's socket for IDENTITY (below
//! `global.serve.stdinserver.sockdir`).

use std::path::Path;

use anyhow::Context;
use zferry_rpc::ClientIdentity;
use zferry_rpc::transport::stdinserver::stdinserver_relay;

/// Relays until either side closes.
pub fn run(config_path: Option<&Path>, identity: &str) -> anyhow::Result<()> {
    let cfg = super::control::load_config(config_path)?;
    let identity = ClientIdentity::new(identity.to_string())?;
    let sockdir = cfg.global.serve.stdinserver.sockdir;
    super::control::block_on(stdinserver_relay(&sockdir, &identity))?
        .with_context(|| format!("relaying for {identity} via {}", sockdir.display()))
}
