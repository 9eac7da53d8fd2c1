//! Command-line front ends of the simulator's `zfs` and `zpool` programs.

pub mod getopt;
pub mod zfs;
pub mod zpool;

use std::io::Write;
use std::process::ExitCode;

use crate::errors::SimError;
use crate::journal;

/// Prints `err` to stderr and returns its exit code.
pub fn fail(err: &SimError) -> u8 {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{}", err.message);
    err.code
}

/// Runs a program's body between its start and end lines in the [`journal`], mapping its
/// outcome to the exit code.
pub fn journaled(body: impl FnOnce() -> crate::errors::Result<u8>) -> ExitCode {
    journal::started();
    let code = body().unwrap_or_else(|e| fail(&e));
    journal::finished(code);
    ExitCode::from(code)
}
