//! Filesystem filters: which datasets a job works on.
//!
//! A filter is a mapping from patterns to `true` (include) or `false` (exclude), with zrepl's
//! semantics:
//!
//! * a pattern is a dataset path (`tank/foo`) that matches exactly that dataset, or a dataset
//!   path followed by `<` (`tank/foo<`) that matches the dataset and its whole subtree; a lone
//!   `<` matches every dataset;
//! * for a dataset, an exact pattern wins over every subtree pattern; otherwise the subtree
//!   pattern with the longest path (most components) wins;
//! * a dataset that no pattern matches is excluded.
//!
//! Patterns are validated: at most one `<` and only at the end, no characters ZFS forbids in
//! names (`@ # | < > *` and tab), no empty components, no trailing `/`.

use std::fmt;

/// One validated pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    /// The dataset path components (empty for the lone `<`).
    components: Vec<String>,
    /// Whether the pattern ended in `<`.
    subtree: bool,
    /// Include (`true`) or exclude (`false`).
    include: bool,
}

/// A rejected filter pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidPattern {
    /// The pattern as written.
    pub pattern: String,
    /// Why it was rejected.
    pub reason: String,
}

impl fmt::Display for InvalidPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid filter pattern `{}`: {}",
            self.pattern, self.reason
        )
    }
}

impl std::error::Error for InvalidPattern {}

/// A validated filesystem filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilesystemFilter {
    entries: Vec<Entry>,
}

/// Characters that may not appear in a pattern's dataset path.
const FORBIDDEN: &[char] = &['@', '#', '|', '\t', '<', '>', '*'];

fn parse_pattern(pattern: &str, include: bool) -> Result<Entry, InvalidPattern> {
    let invalid = |reason: &str| InvalidPattern {
        pattern: pattern.to_owned(),
        reason: reason.to_owned(),
    };
    let (path, subtree) = match pattern.strip_suffix('<') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    if path.contains('<') {
        return Err(invalid(
            "only one `<`, at the end of the pattern, is allowed",
        ));
    }
    if let Some(c) = path.chars().find(|c| FORBIDDEN.contains(c)) {
        return Err(invalid(&format!(
            "contains `{}`, which is not allowed in dataset names",
            c.escape_default()
        )));
    }
    if path.is_empty() {
        if subtree {
            return Ok(Entry {
                components: Vec::new(),
                subtree,
                include,
            });
        }
        return Err(invalid("empty pattern (use `<` to match every dataset)"));
    }
    if path.ends_with('/') {
        return Err(invalid("must not end with `/`"));
    }
    let components: Vec<String> = path.split('/').map(str::to_owned).collect();
    if components.iter().any(String::is_empty) {
        return Err(invalid(
            "must not contain empty components (`//` or a leading `/`)",
        ));
    }
    Ok(Entry {
        components,
        subtree,
        include,
    })
}

impl FilesystemFilter {
    /// Builds a filter from `(pattern, include)` pairs, such as the `filesystems` mapping of a
    /// job. Every pattern is validated; the first invalid one is returned as the error.
    pub fn from_map<'a, I>(map: I) -> Result<Self, InvalidPattern>
    where
        I: IntoIterator<Item = (&'a str, bool)>,
    {
        let entries = map
            .into_iter()
            .map(|(pattern, include)| parse_pattern(pattern, include))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { entries })
    }

    /// Whether `dataset` (a filesystem or volume name such as `tank/foo/bar`) passes the filter.
    pub fn matches(&self, dataset: &str) -> bool {
        let components: Vec<&str> = dataset.split('/').collect();
        let mut exact: Option<bool> = None;
        let mut best: Option<(usize, bool)> = None;
        for e in &self.entries {
            if e.subtree {
                let is_prefix = e.components.len() <= components.len()
                    && e.components.iter().zip(&components).all(|(a, b)| a == b);
                if is_prefix && best.is_none_or(|(len, _)| e.components.len() > len) {
                    best = Some((e.components.len(), e.include));
                }
            } else if e.components.len() == components.len()
                && e.components.iter().zip(&components).all(|(a, b)| a == b)
            {
                exact = Some(e.include);
            }
        }
        exact.or(best.map(|(_, include)| include)).unwrap_or(false)
    }

    /// Whether the filter has no patterns (then it matches nothing).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(pairs: &[(&str, bool)]) -> FilesystemFilter {
        FilesystemFilter::from_map(pairs.iter().copied()).expect("valid filter")
    }

    #[test]
    fn zrepl_documented_example() {
        let f = filter(&[
            ("tank<", true),
            ("tank/foo<", false),
            ("tank/foo/bar", true),
        ]);
        let cases = [
            ("tank", true),
            ("tank/a", true),
            ("tank/a/b", true),
            ("tank/foo", false),
            ("tank/foo/baz", false),
            ("tank/foo/bar", true),
            ("tank/foo/bar/child", false),
            ("tankx", false),
            ("other", false),
        ];
        for (ds, want) in cases {
            assert_eq!(f.matches(ds), want, "{ds}");
        }
    }

    #[test]
    fn exact_beats_subtree_on_the_same_path() {
        let f = filter(&[("tank/x<", true), ("tank/x", false)]);
        assert!(!f.matches("tank/x"));
        assert!(f.matches("tank/x/y"));
    }

    #[test]
    fn longest_subtree_prefix_wins_by_components() {
        let f = filter(&[("<", true), ("tank/var<", false), ("tank/var/log<", true)]);
        assert!(f.matches("pool"));
        assert!(!f.matches("tank/var/tmp"));
        assert!(f.matches("tank/var/log/x"));
        // "tank/variable" is not inside "tank/var": prefixes are compared by component.
        assert!(f.matches("tank/variable"));
    }

    #[test]
    fn unmatched_datasets_are_excluded() {
        let f = filter(&[("tank/a", true)]);
        assert!(f.matches("tank/a"));
        assert!(!f.matches("tank"));
        assert!(!f.matches("tank/a/b"));
        assert!(!FilesystemFilter::default().matches("tank"));
    }

    #[test]
    fn invalid_patterns_are_rejected() {
        for bad in [
            "tank<<",
            "ta<nk",
            "tank/<",
            "tank@snap",
            "tank/",
            "/tank",
            "a//b",
            "",
            "x*",
        ] {
            assert!(
                FilesystemFilter::from_map([(bad, true)]).is_err(),
                "{bad:?} must be rejected"
            );
        }
        let e = FilesystemFilter::from_map([("tank<<", true)]).expect_err("invalid");
        assert_eq!(e.pattern, "tank<<");
    }
}
