//! One invocation's view of the simulated world: the state directory, locking, loading and
//! saving state, and moving data directories after changes.

use std::path::PathBuf;

use crate::errors::{Result, SimError};
use crate::lock::StateLock;
use crate::state::{Dirs, State};

/// Name of the environment variable naming the state directory.
pub const SIM_DIR_ENV: &str = "ZFS_SIM_DIR";

/// The simulated world of this invocation.
pub struct Sim {
    /// Paths of the state directory.
    pub dirs: Dirs,
}

impl Sim {
    /// Opens the world named by `ZFS_SIM_DIR`; refuses to run without it.
    pub fn from_env(program: &str) -> Result<Sim> {
        let Some(dir) = std::env::var_os(SIM_DIR_ENV).filter(|d| !d.is_empty()) else {
            return Err(SimError::new(format!(
                "{program} (zferry simulator): the environment variable {SIM_DIR_ENV} must name the \
                 simulator's state directory; refusing to run without it"
            )));
        };
        let root = PathBuf::from(dir);
        std::fs::create_dir_all(root.join("tmp"))
            .map_err(|e| SimError::io("create state directory", e))?;
        Ok(Sim {
            dirs: Dirs { root },
        })
    }

    /// Loads the state under the shared lock (for read-only commands).
    pub fn read(&self) -> Result<(StateLock, State)> {
        let lock = StateLock::shared(&self.dirs.root)?;
        let st = State::load(&self.dirs.root)?;
        Ok((lock, st))
    }

    /// Runs `f` on the state under the exclusive lock; on success relocates data directories
    /// whose place changed and saves the state. On error nothing is saved.
    pub fn mutate<T>(&self, f: impl FnOnce(&mut State, &Dirs) -> Result<T>) -> Result<T> {
        let _lock = StateLock::exclusive(&self.dirs.root)?;
        let old = State::load(&self.dirs.root)?;
        let mut st = old.clone();
        let out = f(&mut st, &self.dirs)?;
        if st != old {
            crate::data::relocate(&old, &st, &self.dirs)?;
            st.save(&self.dirs.root)?;
        }
        Ok(out)
    }
}

/// A fresh random 64-bit guid (never 0).
pub fn new_guid() -> u64 {
    loop {
        let g: u64 = rand::random();
        if g != 0 {
            return g;
        }
    }
}
