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

    /// Loads the state under the shared lock (for read-only commands). A restore that a killed
    /// invocation left unfinished is completed first (see [`crate::data::RESTORE_PENDING`]), so
    /// no reader ever sees half-restored live data.
    pub fn read(&self) -> Result<(StateLock, State)> {
        loop {
            let lock = StateLock::shared(&self.dirs.root)?;
            let st = State::load(&self.dirs.root)?;
            if !crate::data::restores_pending(&st) {
                return Ok((lock, st));
            }
            drop(lock);
            self.mutate(|_, _| Ok(()))?;
        }
    }

    /// Runs `f` on the state under the exclusive lock; on success relocates data directories
    /// whose place changed and saves the state, then carries out the live-data restores the
    /// change scheduled. On error nothing is saved. Restores left unfinished by a killed
    /// invocation are completed before `f` runs.
    pub fn mutate<T>(&self, f: impl FnOnce(&mut State, &Dirs) -> Result<T>) -> Result<T> {
        let _lock = StateLock::exclusive(&self.dirs.root)?;
        let mut old = State::load(&self.dirs.root)?;
        self.complete_restores(&mut old)?;
        let mut st = old.clone();
        let out = f(&mut st, &self.dirs)?;
        if st != old {
            crate::data::relocate(&old, &st, &self.dirs)?;
            st.save(&self.dirs.root)?;
            self.complete_restores(&mut st)?;
        }
        Ok(out)
    }

    /// Completes the scheduled restores of `st` (the saved state) and saves it again.
    fn complete_restores(&self, st: &mut State) -> Result<()> {
        if crate::data::complete_restores(st, &self.dirs)? {
            st.save(&self.dirs.root)?;
        }
        Ok(())
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
