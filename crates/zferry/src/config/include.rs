//! `include`: more files with jobs. Each entry is a file ending in `.yml` or a directory whose
//! `*.yml` files (not recursive, in name order) are included; relative paths resolve against the
//! directory of the main configuration file. Included files may only contain `jobs`; an
//! included file with `include` is an error.

use std::path::{Path as FsPath, PathBuf};

use super::decode::{DResult, Fields, Path, fail, list_of, non_empty};
use super::yaml::Node;

/// An include entry resolved to the files it names, in order.
pub(crate) fn resolve(node: &Node, path: &Path, base_dir: &FsPath) -> DResult<Vec<PathBuf>> {
    let entries = list_of(node, path, false, |n, p| {
        Ok((n.clone(), p.clone(), non_empty(n, p)?))
    })?;
    let mut files = Vec::new();
    for (n, p, entry) in entries {
        let full = normalize(&base_dir.join(&entry));
        let meta = match std::fs::metadata(&full) {
            Ok(m) => m,
            Err(e) => return fail(&n, &p, format!("cannot include `{}`: {e}", full.display())),
        };
        if meta.is_dir() {
            let listing = std::fs::read_dir(&full).or_else(|e| {
                fail(
                    &n,
                    &p,
                    format!("cannot list directory `{}`: {e}", full.display()),
                )
            })?;
            let mut found: Vec<PathBuf> = listing
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|x| x == "yml") && f.is_file())
                .collect();
            found.sort();
            files.extend(found);
        } else if meta.is_file() {
            if full.extension().is_none_or(|x| x != "yml") {
                return fail(
                    &n,
                    &p,
                    format!("found `{entry}`, expected a file ending in `.yml` or a directory"),
                );
            }
            files.push(full);
        } else {
            return fail(
                &n,
                &p,
                format!("found `{entry}`, expected a regular file or a directory"),
            );
        }
    }
    Ok(files)
}

/// Drops `.` components so messages show `dir/file.yml`, not `dir/./file.yml`.
fn normalize(path: &FsPath) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// Checks the top level of an included file: only `jobs`, no nested `include`.
pub(crate) fn check_included_top_level(root: &Node) -> DResult<Option<(&Node, Path)>> {
    let f = Fields::new(root, &Path::default(), &["jobs", "include"]).map_err(|mut e| {
        e.problem
            .push_str(" (an included file may only contain `jobs`)");
        e
    })?;
    if let Some((n, p)) = f.get("include") {
        return fail(
            n,
            &p,
            "included configuration files must not include other files",
        );
    }
    Ok(f.get("jobs"))
}
