//! `zferry version`: this program's version and, when a daemon answers on the control socket,
//! the daemon's.

use std::path::Path;

use crate::daemon::control::api::VersionInfo;

use super::control::{block_on, client};

/// Prints the versions.
pub fn run(config_path: Option<&Path>, client_only: bool) -> anyhow::Result<()> {
    let me = VersionInfo::current();
    println!("client: zferry {} {}/{}", me.version, me.os, me.arch);
    if client_only {
        return Ok(());
    }
    let client = client(config_path)?;
    match block_on(client.version())? {
        Ok(d) => println!("daemon: zferry {} {}/{}", d.version, d.os, d.arch),
        Err(e) => anyhow::bail!("daemon: not reachable ({e})"),
    }
    Ok(())
}
