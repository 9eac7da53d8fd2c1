//! `zferry`: the ZFS replication and snapshot-management daemon and its command-line tools.
//!
//! This file only decides the exit code: the command's own (0 on success; `check` and `status`
//! have others, see [`zferry::cli`]), 1 with the error on stderr when the command failed.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Invoked through a `zfs`/`zpool` symlink (see `zferry demo`): act as the simulator.
    if let Some(code) = zferry::demo::run_as_simulator() {
        return code;
    }
    let outcome = match zferry::commands::dist_assets::requested() {
        Some(dir) => zferry::commands::dist_assets::run(&dir).map(|()| 0),
        None => zferry::cli::run(zferry::cli::Cli::parse()),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("zferry: {}", zferry::cli::error_text(&e));
            ExitCode::FAILURE
        }
    }
}
