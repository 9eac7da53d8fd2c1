//! `zferry`: the ZFS replication and snapshot-management daemon and its command-line tools.
//!
//! This file only decides the exit code: 0 on success, 1 (with the error on stderr) otherwise.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Invoked through a `zfs`/`zpool` symlink (see `zferry demo`): act as the simulator.
    if let Some(code) = zferry::demo::run_as_simulator() {
        return code;
    }
    let cli = zferry::cli::Cli::parse();
    match zferry::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zferry: {e:#}");
            ExitCode::FAILURE
        }
    }
}
