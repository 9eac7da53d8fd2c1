//! Configuration errors: every problem found in a configuration file names the file, the line
//! and column, the path of the field (`jobs[2].pruning.keep_sender[1].grid`) and what was found
//! versus what is expected.

use std::fmt;
use std::path::PathBuf;

/// A position in a YAML document (1-based line and column; 0 when unknown, e.g. an empty file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    /// 1-based line number.
    pub line: u64,
    /// 1-based column number.
    pub column: u64,
}

/// A problem at one place of one document, before the file name is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DecodeError {
    pub(crate) pos: Pos,
    pub(crate) path: String,
    pub(crate) problem: String,
}

impl DecodeError {
    pub(crate) fn new(pos: Pos, path: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            pos,
            path: path.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn in_file(self, file: impl Into<PathBuf>) -> ConfigError {
        ConfigError::Invalid(Box::new(Invalid {
            file: file.into(),
            pos: self.pos,
            path: self.path,
            problem: self.problem,
        }))
    }
}

/// A configuration that was read but is not valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// The file the problem is in (the main file or an included one).
    pub file: PathBuf,
    /// Where in that file.
    pub pos: Pos,
    /// The path of the offending field, e.g. `jobs[2].pruning.keep_sender[1].grid`; empty for the
    /// document as a whole.
    pub path: String,
    /// What is wrong: what was found and what is expected.
    pub problem: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: ",
            self.file.display(),
            self.pos.line,
            self.pos.column
        )?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.problem)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No `--config` was given and no file exists at the default locations.
    #[error("no configuration file given and none found at {}", .tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" or "))]
    NotFound {
        /// The default locations that were tried.
        tried: Vec<PathBuf>,
    },
    /// The main configuration file could not be read.
    #[error("{}: cannot read configuration file: {source}", .file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration was read but is invalid.
    #[error("{0}")]
    Invalid(Box<Invalid>),
}

impl ConfigError {
    /// The details when the configuration is invalid (as opposed to unreadable).
    pub fn invalid(&self) -> Option<&Invalid> {
        match self {
            ConfigError::Invalid(i) => Some(i),
            _ => None,
        }
    }
}
