//! Serialises concurrent invocations: a lock file in the state directory, shared for read-only
//! commands and exclusive for commands that change state.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::errors::{Result, SimError};

/// A held lock on the state directory; released when dropped (the file is closed).
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Takes the shared (read) lock, waiting for writers to finish.
    pub fn shared(dir: &Path) -> Result<StateLock> {
        let file = open(dir)?;
        file.lock_shared()
            .map_err(|e| SimError::io("lock state (shared)", e))?;
        Ok(StateLock { _file: file })
    }

    /// Takes the exclusive (write) lock, waiting for every other holder to finish.
    pub fn exclusive(dir: &Path) -> Result<StateLock> {
        let file = open(dir)?;
        file.lock().map_err(|e| SimError::io("lock state", e))?;
        Ok(StateLock { _file: file })
    }
}

fn open(dir: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .read(true)
        .open(dir.join("lock"))
        .map_err(|e| SimError::io("open lock file", e))
}
