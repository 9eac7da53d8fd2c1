//! The command line: one clap definition for all subcommands, and the dispatch from a parsed
//! command line to the code that runs it (in [`crate::commands`]).
//!
//! To add a subcommand: add a variant to [`Command`] with its argument struct, a module under
//! `commands/`, and a match arm in [`run`]. Exit codes are decided in `main.rs` only: `Ok` is 0,
//! any error is printed and gives 1.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

use crate::commands;

/// zferry: ZFS replication and snapshot management (zrepl-compatible configuration).
#[derive(Debug, Parser)]
#[command(name = "zferry", version, about, propagate_version = true)]
pub struct Cli {
    /// Configuration file (default: /etc/zferry/zferry.yml, then /usr/local/etc/zferry/zferry.yml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the configuration: silent with exit code 0 when it is valid, otherwise print the
    /// problem (file, line, column, field, found and expected) and exit with 1.
    Configcheck(ConfigcheckArgs),
}

/// Arguments of `zferry configcheck`.
#[derive(Debug, Args)]
pub struct ConfigcheckArgs {
    /// Print the parsed configuration with all defaults filled in.
    #[arg(long, value_enum)]
    pub format: Option<DumpFormat>,

    /// What to print with `--format`.
    #[arg(long, value_enum, default_value_t = What::All)]
    pub what: What,

    /// Do not check that TLS certificate, key and CA files exist and contain PEM data.
    #[arg(long)]
    pub skip_cert_check: bool,
}

/// Output formats of `configcheck --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DumpFormat {
    /// Rust debug notation, indented.
    Pretty,
    /// YAML that `zferry` reads back as the same configuration.
    Yaml,
    /// JSON.
    Json,
}

/// Parts of the configuration `configcheck --format` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum What {
    /// Everything (the same as `config`: jobs and logging are part of the configuration).
    All,
    /// The whole configuration.
    Config,
    /// Only the jobs.
    Jobs,
    /// Only the logging outlets.
    Logging,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Configcheck(args) => commands::configcheck::run(cli.config.as_deref(), &args),
    }
}
