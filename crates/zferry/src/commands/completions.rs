//! `zferry completions SHELL`: shell completion script on stdout.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Prints the completion script for `shell`.
pub fn run(shell: Shell) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "zferry", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(())
}
