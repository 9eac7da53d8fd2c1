//! `zferry status`: the live terminal UI, one text rendering (`--mode dump`) or the raw status
//! JSON (`--mode raw`), optionally of some jobs only (`--job`). The exit code is 2 when a shown
//! job's last run failed or one of its monitored limits is critical, so scripts and cron mails
//! notice a failing job without parsing the text.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::check::last_run_failure;
use super::control::{block_on, client};
use crate::cli::{StatusArgs, StatusMode};
use crate::daemon::status::DaemonStatus;
use crate::daemon::status_ui::{JobSelection, Mode, render_once, run_interactive};
use crate::monitor::Level;

/// The exit code of a shown job that failed or is critical.
pub const FAILING_EXIT_CODE: u8 = 2;

/// Shows the daemon's status; returns the exit code.
pub fn run(config_path: Option<&Path>, args: &StatusArgs) -> anyhow::Result<u8> {
    let client = client(config_path)?;
    let jobs = JobSelection(args.job.clone());
    let shown = block_on(async {
        match args.mode {
            StatusMode::Interactive => {
                Ok(run_interactive(&client, Duration::from_millis(args.refresh_ms), &jobs).await?)
            }
            StatusMode::Dump | StatusMode::Raw => {
                let mode = if args.mode == StatusMode::Raw {
                    Mode::Raw
                } else {
                    Mode::Dump
                };
                let (text, status) = render_once(&client, mode, &jobs).await?;
                std::io::stdout().lock().write_all(text.as_bytes())?;
                Ok::<_, anyhow::Error>(status)
            }
        }
    })??;
    Ok(exit_code(&shown))
}

/// 2 when a job of `status` failed its last run or is critical, else 0.
pub fn exit_code(status: &DaemonStatus) -> u8 {
    let failing = status.jobs.values().any(|job| {
        last_run_failure(job).is_some()
            || job.monitor.as_ref().is_some_and(|m| m.level == Level::Crit)
    });
    if failing { FAILING_EXIT_CODE } else { 0 }
}
