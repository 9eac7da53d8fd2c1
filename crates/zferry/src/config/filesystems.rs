//! The `filesystems` filter of jobs and hooks: a mapping from dataset patterns to `true`/`false`
//! (semantics and pattern rules in [`zferry_repl::filter`]).

use serde::Serialize;
use std::collections::BTreeMap;

use super::decode::{DResult, Path, boolean, fail, string_map};
use super::yaml::{Kind, Node};
use zferry_repl::filter::FilesystemFilter;

/// A validated `filesystems` mapping, kept as written (pattern → include).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FilesystemsFilter(BTreeMap<String, bool>);

impl FilesystemsFilter {
    /// `{"<": true}`: every dataset.
    pub fn all() -> Self {
        Self([("<".to_owned(), true)].into_iter().collect())
    }

    /// Validates patterns and builds the filter.
    pub fn new(patterns: BTreeMap<String, bool>) -> Result<Self, String> {
        FilesystemFilter::from_map(patterns.iter().map(|(k, v)| (k.as_str(), *v)))
            .map_err(|e| e.to_string())?;
        Ok(Self(patterns))
    }

    /// The patterns as written.
    pub fn patterns(&self) -> &BTreeMap<String, bool> {
        &self.0
    }

    /// The matcher.
    pub fn filter(&self) -> FilesystemFilter {
        // The patterns were validated in `new`; an invalid one cannot occur here.
        FilesystemFilter::from_map(self.0.iter().map(|(k, v)| (k.as_str(), *v))).unwrap_or_default()
    }
}

pub(crate) fn decode_filesystems(node: &Node, path: &Path) -> DResult<FilesystemsFilter> {
    let map = string_map(node, path, |key, value, p| {
        let pattern = match &key.kind {
            Kind::Scalar { text, .. } => text.clone(),
            _ => String::new(),
        };
        if let Err(e) = FilesystemFilter::from_map([(pattern.as_str(), true)]) {
            return fail(
                key,
                p,
                format!(
                    "found `{pattern}`, expected a dataset pattern like `pool/data` or `pool/data<`: {}",
                    e.reason
                ),
            );
        }
        boolean(value, p)
    })?;
    if map.is_empty() {
        return fail(
            node,
            path,
            "found an empty mapping, expected at least one pattern (e.g. `\"pool<\": true`)",
        );
    }
    Ok(FilesystemsFilter(map))
}
