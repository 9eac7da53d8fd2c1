//! `zferry signal wakeup JOB [--wait]` and `zferry signal reset JOB`.

use std::path::Path;

use crate::cli::SignalCommand;

use super::control::{block_on, client};

/// Sends the signal; with `--wait`, fails when the run failed.
pub fn run(config_path: Option<&Path>, command: &SignalCommand) -> anyhow::Result<()> {
    let client = client(config_path)?;
    block_on(async {
        match command {
            SignalCommand::Wakeup { job, wait } => {
                let outcome = client.wakeup(job, *wait).await?;
                for warning in &outcome.warnings {
                    eprintln!("zferry: warning: job {job:?}: {warning}");
                }
                if outcome.succeeded == Some(false) {
                    anyhow::bail!(
                        "the run of job {job:?} failed: {}",
                        outcome.error.as_deref().unwrap_or("unknown error")
                    );
                }
                Ok(())
            }
            SignalCommand::Reset { job } => Ok(client.reset(job).await?),
        }
    })?
}
