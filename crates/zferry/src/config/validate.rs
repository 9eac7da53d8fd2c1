//! Checks across jobs and files: unique job names (also across included files) and receiving
//! jobs whose `root_fs` would overlap.

use std::path::PathBuf;

use super::error::{ConfigError, DecodeError, Pos};
use super::job::Job;

/// A job together with where it was defined.
pub(crate) struct Placed {
    pub(crate) job: Job,
    pub(crate) file: PathBuf,
    /// `jobs[i]` within its file.
    pub(crate) path: String,
    pub(crate) name_pos: Pos,
    pub(crate) root_fs_pos: Pos,
}

fn at(p: &Placed, pos: Pos, field: &str, problem: String) -> ConfigError {
    DecodeError::new(pos, format!("{}.{field}", p.path), problem).in_file(&p.file)
}

fn location(p: &Placed, pos: Pos) -> String {
    format!("{}:{}:{}", p.file.display(), pos.line, pos.column)
}

pub(crate) fn check(jobs: &[Placed]) -> Result<(), ConfigError> {
    for (i, later) in jobs.iter().enumerate() {
        if let Some(first) = jobs[..i].iter().find(|j| j.job.name() == later.job.name()) {
            return Err(at(
                later,
                later.name_pos,
                "name",
                format!(
                    "duplicate job name `{}`, expected a name not used by another job (first used at {})",
                    later.job.name(),
                    location(first, first.name_pos)
                ),
            ));
        }
    }
    for (i, later) in jobs.iter().enumerate() {
        let Some(root) = later.job.root_fs() else {
            continue;
        };
        for first in &jobs[..i] {
            let Some(other) = first.job.root_fs() else {
                continue;
            };
            let overlaps = root == other
                || root.starts_with(&format!("{other}/"))
                || other.starts_with(&format!("{root}/"));
            if overlaps {
                return Err(at(
                    later,
                    later.root_fs_pos,
                    "root_fs",
                    format!(
                        "found `{root}`, which overlaps `{other}` of job `{}` ({}); receiving jobs need separate root filesystems",
                        first.job.name(),
                        location(first, first.root_fs_pos)
                    ),
                ));
            }
        }
    }
    Ok(())
}
