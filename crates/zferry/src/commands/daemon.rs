//! `zferry daemon`: load the configuration, install the logging outlets and run every job until
//! SIGTERM or SIGINT.

use std::path::Path;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

use crate::config;
use crate::daemon::logging;
use crate::runtime::{self, DaemonOptions, logging::outlets};

/// Runs the daemon in the foreground.
pub fn run(config_path: Option<&Path>) -> anyhow::Result<()> {
    let path = config::resolve_path(config_path)?;
    let cfg = config::load(&path)?;
    logging::install(&outlets(&cfg.global.logging)).context("setting up logging")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
        };
        runtime::run(cfg, DaemonOptions::default(), shutdown)
            .await
            .map_err(anyhow::Error::from)
    })
}
