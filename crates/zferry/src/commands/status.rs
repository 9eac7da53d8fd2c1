//! `zferry status`: the live terminal UI, one text rendering (`--mode dump`) or the raw status
//! JSON (`--mode raw`).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::cli::{StatusArgs, StatusMode};
use crate::daemon::status_ui::{Mode, render_once, run_interactive};

use super::control::{block_on, client};

/// Shows the daemon's status.
pub fn run(config_path: Option<&Path>, args: &StatusArgs) -> anyhow::Result<()> {
    let client = client(config_path)?;
    block_on(async {
        match args.mode {
            StatusMode::Interactive => {
                run_interactive(&client, Duration::from_millis(args.refresh_ms)).await?;
            }
            StatusMode::Dump | StatusMode::Raw => {
                let mode = if args.mode == StatusMode::Raw {
                    Mode::Raw
                } else {
                    Mode::Dump
                };
                let text = render_once(&client, mode).await?;
                std::io::stdout().lock().write_all(text.as_bytes())?;
            }
        }
        Ok(())
    })?
}
