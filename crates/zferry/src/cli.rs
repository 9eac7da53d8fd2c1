//! The command line: one clap definition for all subcommands, and the dispatch from a parsed
//! command line to the code that runs it (in [`crate::commands`]).
//!
//! To add a subcommand: add a variant to [`Command`] with its argument struct, a module under
//! `commands/`, and a match arm in [`run`]. [`run`] returns the exit code of a command that has
//! one of its own (`check`: the monitoring-plugins codes; `status`: 2 when a shown job failed or
//! is critical); `main.rs` prints an error and gives 1.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

use crate::commands;
use crate::config::duration::PositiveDuration;

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

    /// Run the daemon in the foreground: every configured job, the control socket and the
    /// metrics endpoints, until SIGTERM or SIGINT.
    Daemon,

    /// Show what the daemon's jobs are doing. Exits with 2 when a shown job's last run failed
    /// or one of its monitored limits is critical.
    Status(StatusArgs),

    /// A Nagios/Icinga plugin: replication lag, snapshot ages and failures against the jobs'
    /// `monitor` limits. Exit code 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Lag and snapshot
    /// ages are read from this host's ZFS, so they work while the daemon is down.
    Check(CheckArgs),

    /// Wake up or reset a job of the running daemon.
    Signal {
        /// The signal.
        #[command(subcommand)]
        command: SignalCommand,
    },

    /// Demonstrate zferry end to end: a push job replicating to a sink on simulated pools (no
    /// ZFS or root needed), with snapshots, pruning, status and a file-by-file check.
    Demo(DemoArgs),

    /// Manage this daemon's TLS identity for pinned `tls` partners.
    Identity {
        /// What to do.
        #[command(subcommand)]
        command: IdentityCommand,
    },

    /// Relay an ssh session to the local daemon (the forced command of `ssh+stdinserver`
    /// clients' keys).
    Stdinserver {
        /// The client identity this key stands for.
        identity: String,
    },

    /// Check a job's filesystem filter, placeholders or a resume token.
    Test {
        /// What to check.
        #[command(subcommand)]
        command: TestCommand,
    },

    /// List or release zferry's (and zrepl's) bookmarks and holds.
    ZfsAbstraction {
        /// What to do.
        #[command(subcommand)]
        command: ZfsAbstractionCommand,
    },

    /// zrepl's name for `zfs-abstraction list`: list zferry's (and zrepl's) bookmarks and holds.
    Holds {
        /// What to do.
        #[command(subcommand)]
        command: HoldsCommand,
    },

    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the version of this program and of the running daemon.
    Version {
        /// Only this program's version (do not ask the daemon).
        #[arg(long)]
        client: bool,
    },
}

/// `zferry holds` subcommands (zrepl's names).
#[derive(Debug, Subcommand)]
pub enum HoldsCommand {
    /// The same as `zfs-abstraction list`.
    List {
        /// Which ones.
        #[command(flatten)]
        filter: AbstractionFilter,
    },
}

/// Arguments of `zferry demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Use real ZFS (from PATH) instead of the simulator; needs --source and --target.
    #[arg(long)]
    pub real: bool,

    /// With --real: the pool (or dataset) the demo creates `zferry-demo` below and replicates from.
    #[arg(long, value_name = "POOL", requires = "real")]
    pub source: Option<String>,

    /// With --real: the pool (or dataset) the replica goes below.
    #[arg(long, value_name = "POOL", requires = "real")]
    pub target: Option<String>,

    /// Snapshot-and-replicate rounds.
    #[arg(long, default_value_t = 4)]
    pub rounds: u32,

    /// Keep the temporary directory (and with --real the datasets) afterwards.
    #[arg(long)]
    pub keep: bool,
}

/// `zferry test` subcommands.
#[derive(Debug, Subcommand)]
pub enum TestCommand {
    /// Which datasets a job's `filesystems` filter includes.
    ///
    /// Prints one line per dataset in zrepl's words and columns, so scripts written for `zrepl
    /// test filesystems` keep working: `ACCEPT` or `REJECT`, a tab, the dataset, a tab.
    Filesystems {
        /// The job.
        #[arg(long)]
        job: String,
        /// Every dataset of every pool.
        #[arg(long, conflicts_with = "input")]
        all: bool,
        /// One dataset name (need not exist).
        #[arg(long)]
        input: Option<String>,
    },
    /// Whether datasets are zferry/zrepl placeholders.
    Placeholder {
        /// Every dataset of every pool.
        #[arg(long, conflicts_with = "dataset")]
        all: bool,
        /// One dataset.
        #[arg(long)]
        dataset: Option<String>,
    },
    /// Decode a `receive_resume_token` natively, on either host (no `zfs` call).
    Decoderesumetoken {
        /// The token.
        #[arg(long)]
        token: String,
    },
}

/// `zferry zfs-abstraction` subcommands.
#[derive(Debug, Subcommand)]
pub enum ZfsAbstractionCommand {
    /// List matching abstractions.
    List {
        /// Which ones.
        #[command(flatten)]
        filter: AbstractionFilter,
    },
    /// Release matching abstractions whose embedded guid does not match their object.
    ReleaseStale {
        /// Which ones.
        #[command(flatten)]
        filter: AbstractionFilter,
        /// Only print what would be released.
        #[arg(long)]
        dry_run: bool,
    },
    /// Release every matching abstraction (for removed jobs, or after migrating from zrepl).
    ReleaseAll {
        /// Which ones.
        #[command(flatten)]
        filter: AbstractionFilter,
        /// Only print what would be released.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Filters of `zferry zfs-abstraction`.
#[derive(Debug, Args)]
pub struct AbstractionFilter {
    /// Only this dataset and below (default: every pool).
    #[arg(long)]
    pub fs: Option<String>,
    /// Only this job (zferry's name label `job` or `job.peer`, or zrepl's job).
    #[arg(long)]
    pub job: Option<String>,
    /// Only this lane key (16 hex digits).
    #[arg(long)]
    pub lane: Option<String>,
    /// Only these types (repeatable).
    #[arg(long, value_enum)]
    pub r#type: Vec<AbstractionType>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Abstraction types for `--type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AbstractionType {
    /// Replication cursor bookmarks.
    Cursor,
    /// Tentative cursor bookmarks.
    Tentative,
    /// Step holds.
    Step,
    /// Last-received holds.
    LastReceived,
    /// zrepl's cursors and holds.
    Zrepl,
}

/// Default directory of the daemon's TLS identity.
pub const DEFAULT_IDENTITY_DIR: &str = "/var/lib/zferry/identity";

/// `zferry identity` subcommands.
#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Create a key and a self-signed certificate named NAME (the identity partners see).
    Init {
        /// The name (a valid ZFS name component).
        name: String,
        /// Where the identity files are kept.
        #[arg(long, default_value = DEFAULT_IDENTITY_DIR)]
        dir: PathBuf,
    },
    /// Print the certificate (to give to partners) and its fingerprint.
    Show {
        /// Where the identity files are kept.
        #[arg(long, default_value = DEFAULT_IDENTITY_DIR)]
        dir: PathBuf,
    },
    /// Replace key and certificate under the same name (partners must pin the new certificate).
    Renew {
        /// Where the identity files are kept.
        #[arg(long, default_value = DEFAULT_IDENTITY_DIR)]
        dir: PathBuf,
    },
}

/// Arguments of `zferry check`. Without `--lag`, `--snapshots` or `--failures`, all three
/// are checked.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Only this job (repeatable; default: every job of the configuration).
    #[arg(long)]
    pub job: Vec<String>,
    /// Check the replication lag per filesystem (from local ZFS).
    #[arg(long)]
    pub lag: bool,
    /// Check the age of the newest snapshot per prefix and filesystem (from local ZFS).
    #[arg(long)]
    pub snapshots: bool,
    /// Check that the last run succeeded and the time since the last success (asks the daemon;
    /// UNKNOWN when it does not answer).
    #[arg(long)]
    pub failures: bool,
    /// Warning limit for lag and snapshot ages, instead of the configured ones (e.g. `15m`).
    #[arg(short, long, value_parser = PositiveDuration::parse)]
    pub warning: Option<PositiveDuration>,
    /// Critical limit for lag and snapshot ages, instead of the configured ones (e.g. `1h`).
    #[arg(short, long, value_parser = PositiveDuration::parse)]
    pub critical: Option<PositiveDuration>,
    /// Print one line per check after the summary.
    #[arg(short, long)]
    pub verbose: bool,
}

/// Arguments of `zferry status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// How to show the status.
    #[arg(long, value_enum, default_value_t = StatusMode::Interactive)]
    pub mode: StatusMode,

    /// Refresh interval of the interactive view, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub refresh_ms: u64,

    /// Only this job (repeatable; default: every job).
    #[arg(long)]
    pub job: Vec<String>,
}

/// Output modes of `zferry status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StatusMode {
    /// A live terminal UI (quit with q).
    Interactive,
    /// One plain-text rendering.
    Dump,
    /// The status JSON as the daemon returns it.
    Raw,
}

/// `zferry signal` subcommands.
#[derive(Debug, Subcommand)]
pub enum SignalCommand {
    /// Start a run of JOB now (or one more after the current run).
    Wakeup {
        /// The job.
        job: String,
        /// Wait until that run has finished; exit with 1 if it failed.
        #[arg(long)]
        wait: bool,
    },
    /// Abort JOB's current run; its report stays in the status, marked as aborted.
    Reset {
        /// The job.
        job: String,
    },
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

/// An error with its causes, each once: `a: b: c`. Many errors already show their cause in their
/// own text (`cannot connect to …: No such file or directory`); such a cause is not repeated.
pub fn error_text(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Runs a parsed command line and returns its exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let done = match cli.command {
        Command::Status(args) => return commands::status::run(cli.config.as_deref(), &args),
        Command::Check(args) => return Ok(commands::check::run(cli.config.as_deref(), &args)),
        Command::Configcheck(args) => commands::configcheck::run(cli.config.as_deref(), &args),
        Command::Daemon => commands::daemon::run(cli.config.as_deref()),
        Command::Signal { command } => commands::signal::run(cli.config.as_deref(), &command),
        Command::Demo(args) => commands::demo::run(&args),
        Command::Identity { command } => commands::identity::run(&command),
        Command::Stdinserver { identity } => {
            commands::stdinserver::run(cli.config.as_deref(), &identity)
        }
        Command::Test { command } => commands::test::run(cli.config.as_deref(), &command),
        Command::ZfsAbstraction { command } => commands::zfs_abstraction::run(&command),
        Command::Holds {
            command: HoldsCommand::List { filter },
        } => commands::zfs_abstraction::run(&ZfsAbstractionCommand::List { filter }),
        Command::Completions { shell } => commands::completions::run(shell),
        Command::Version { client } => commands::version::run(cli.config.as_deref(), client),
    };
    done.map(|()| 0)
}
