//! Command-line front ends of the simulator's `zfs` and `zpool` programs.

pub mod getopt;
pub mod zfs;
pub mod zpool;

use std::io::Write;
use std::process::ExitCode;

use crate::errors::SimError;

/// Prints `err` to stderr and turns it into the exit code.
pub fn fail(err: &SimError) -> ExitCode {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{}", err.message);
    ExitCode::from(err.code)
}

/// Runs a command body, mapping its outcome to an exit code.
pub fn finish(r: crate::errors::Result<u8>) -> ExitCode {
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(&e),
    }
}
