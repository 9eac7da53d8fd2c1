//! The simulator's error type: the exact text `zfs`/`zpool` print on stderr and their exit code.

use std::fmt;

/// A failed command: `message` goes to stderr verbatim (a newline is appended), `code` is the
/// exit status (1 for operational failures, 2 for usage errors, like OpenZFS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimError {
    /// Text printed on stderr, without the final newline.
    pub message: String,
    /// Process exit status.
    pub code: u8,
}

impl SimError {
    /// An operational failure (exit status 1).
    pub fn new(message: impl Into<String>) -> SimError {
        SimError {
            message: message.into(),
            code: 1,
        }
    }

    /// A usage error (exit status 2).
    pub fn usage(message: impl Into<String>) -> SimError {
        SimError {
            message: message.into(),
            code: 2,
        }
    }

    /// `cannot open 'NAME': dataset does not exist`.
    pub fn no_such_dataset(name: &str) -> SimError {
        SimError::new(format!("cannot open '{name}': dataset does not exist"))
    }

    /// An I/O failure of the simulator's own state (not a ZFS error).
    pub fn io(what: &str, err: std::io::Error) -> SimError {
        SimError::new(format!("zfs-sim: {what}: {err}"))
    }
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SimError {}

/// Result type of simulator operations.
pub type Result<T> = std::result::Result<T, SimError>;
