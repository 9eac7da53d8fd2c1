//! `pruning`: which snapshots a job keeps. A snapshot is destroyed only if every rule of the
//! list would destroy it; the rules are `not_replicated`, `last_n`, `grid` and `regex`.
//!
//! Grid grammar (`grid: 1x1h(keep=all) | 24x1h | 35x1d | 6x30d`): entries separated by `|`, each
//! `N x DURATION` optionally followed by `(keep=K)` with `K` a count or `all` (default 1),
//! meaning N consecutive intervals of that length, each keeping the K newest snapshots. Interval
//! lengths must not decrease, except after a run of `keep=all` entries.

use serde::{Serialize, Serializer};
use std::fmt;

use super::decode::{DResult, Fields, Path, fail, list_of, parsed, string, type_tag, unsigned};
use super::duration::{POSITIVE_DURATION_EXPECTED, PositiveDuration};
use super::yaml::Node;

/// A keep rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KeepRule {
    /// Keep snapshots not yet replicated (sender side of push/pull jobs only).
    NotReplicated(KeepNotReplicated),
    /// Keep the newest `count` snapshots (matching `regex`).
    LastN(KeepLastN),
    /// Keep snapshots matching `regex` according to a retention grid.
    Grid(KeepGrid),
    /// Keep snapshots whose name matches `regex` (or does not, with `negate`).
    Regex(KeepRegex),
}

/// `type: not_replicated`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeepNotReplicated {
    /// Also keep the snapshot the replication cursor points at (default `true`).
    pub keep_snapshot_at_cursor: bool,
}

/// `type: last_n`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeepLastN {
    /// How many to keep (at least 1).
    pub count: u32,
    /// Only snapshots matching this regex count (default: all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex: Option<Pattern>,
}

/// `type: grid`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeepGrid {
    /// The retention grid.
    pub grid: GridSpec,
    /// Only snapshots matching this regex are subject to the grid; others are not kept by
    /// this rule.
    pub regex: Pattern,
}

/// `type: regex`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeepRegex {
    /// Snapshot name pattern.
    pub regex: Pattern,
    /// Keep the snapshots that do *not* match (default `false`).
    pub negate: bool,
}

/// A validated regular expression (Rust `regex` syntax, which covers Go's RE2 syntax zrepl uses).
#[derive(Clone, Debug)]
pub struct Pattern(regex::Regex);

impl Pattern {
    /// Compiles `text`.
    pub fn parse(text: &str) -> Result<Self, String> {
        regex::Regex::new(text).map(Self).map_err(|e| {
            e.to_string()
                .lines()
                .last()
                .unwrap_or("invalid")
                .trim()
                .trim_start_matches("error: ")
                .to_owned()
        })
    }

    /// The compiled expression.
    pub fn regex(&self) -> &regex::Regex {
        &self.0
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

/// How many snapshots a grid interval keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GridKeep {
    /// All of them.
    All,
    /// The newest N.
    Count(u32),
}

/// One `N x DURATION(keep=K)` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridEntry {
    /// How many consecutive intervals.
    pub repeat: u32,
    /// Length of each interval.
    pub length: PositiveDuration,
    /// What each interval keeps.
    pub keep: GridKeep,
}

/// A validated retention grid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridSpec {
    entries: Vec<GridEntry>,
}

/// What the grid grammar expects, for messages.
pub const GRID_EXPECTED: &str = "a retention grid like `1x1h(keep=all) | 24x1h | 14x1d`";

impl GridSpec {
    /// Parses and checks the grid grammar (see the module docs).
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('|').collect();
        let total = parts.len();
        let mut entries = Vec::with_capacity(total);
        for (i, part) in parts.iter().enumerate() {
            let entry = parse_entry(part)
                .map_err(|e| format!("entry {} of {total} (`{}`): {e}", i + 1, part.trim()))?;
            entries.push(entry);
        }
        let spec = Self { entries };
        spec.check_monotonic()?;
        Ok(spec)
    }

    fn check_monotonic(&self) -> Result<(), String> {
        let mut last: Option<PositiveDuration> = None;
        for (i, e) in self.entries.iter().enumerate() {
            if let Some(prev) = last
                && e.length < prev
                && !self.entries[..i].iter().all(|p| p.keep == GridKeep::All)
            {
                return Err(format!(
                    "interval lengths must not decrease: entry {} ({}) is shorter than the entry before it ({prev})",
                    i + 1,
                    e.length
                ));
            }
            last = Some(e.length);
        }
        Ok(())
    }

    /// The entries as written (each may stand for several intervals).
    pub fn entries(&self) -> &[GridEntry] {
        &self.entries
    }

    /// The individual intervals, oldest rule last: `(length, keep)` repeated as written.
    pub fn intervals(&self) -> impl Iterator<Item = (PositiveDuration, GridKeep)> + '_ {
        self.entries
            .iter()
            .flat_map(|e| std::iter::repeat_n((e.length, e.keep), e.repeat as usize))
    }
}

fn parse_entry(part: &str) -> Result<GridEntry, String> {
    let s = part.trim();
    let (count, rest) = s
        .split_once('x')
        .ok_or_else(|| "expected `N x DURATION`".to_owned())?;
    let count = count.trim();
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{count}` is not a repetition count"));
    }
    let repeat: u32 = count
        .parse()
        .map_err(|_| format!("`{count}` is too large"))?;
    if repeat == 0 {
        return Err("the repetition count must be at least 1".to_owned());
    }
    let (dur, keep) = match rest.split_once('(') {
        Some((d, k)) => {
            let inner = k
                .trim_end()
                .strip_suffix(')')
                .ok_or_else(|| "missing `)`".to_owned())?;
            (d, Some(inner))
        }
        None => (rest, None),
    };
    let dur = dur.trim();
    if dur.is_empty() {
        return Err("missing the interval length after `x`".to_owned());
    }
    let length = PositiveDuration::parse(dur)
        .map_err(|e| format!("`{dur}` is not {POSITIVE_DURATION_EXPECTED}: {e}"))?;
    let keep = match keep {
        None => GridKeep::Count(1),
        Some(k) => {
            let value = k
                .trim()
                .strip_prefix("keep=")
                .ok_or_else(|| {
                    format!(
                        "unknown parameter `{}`, expected `keep=N` or `keep=all`",
                        k.trim()
                    )
                })?
                .trim();
            if value == "all" {
                GridKeep::All
            } else {
                GridKeep::Count(value.parse().map_err(|_| {
                    format!("`keep={value}`: expected a non-negative count or `all`")
                })?)
            }
        }
    };
    Ok(GridEntry {
        repeat,
        length,
        keep,
    })
}

impl fmt::Display for GridSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{}x{}", e.repeat, e.length)?;
            match e.keep {
                GridKeep::All => f.write_str("(keep=all)")?,
                GridKeep::Count(1) => {}
                GridKeep::Count(n) => write!(f, "(keep={n})")?,
            }
        }
        Ok(())
    }
}

impl Serialize for GridSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn pattern(node: &Node, path: &Path) -> DResult<Pattern> {
    parsed(node, path, "a regular expression", Pattern::parse)
}

fn required_pattern(node: &Node, path: &Path) -> DResult<Pattern> {
    if string(node, path)?.is_empty() {
        return fail(
            node,
            path,
            "found an empty string, expected a regular expression",
        );
    }
    pattern(node, path)
}

/// Where a rule list is used, which decides whether `not_replicated` is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuleSide {
    /// `keep_sender` of a push or pull job.
    Sender,
    /// `keep_receiver`.
    Receiver,
    /// `keep` of a snap job.
    Local,
}

pub(crate) fn decode_rules(node: &Node, path: &Path, side: RuleSide) -> DResult<Vec<KeepRule>> {
    list_of(node, path, true, |n, p| decode_rule(n, p, side))
}

fn decode_rule(node: &Node, path: &Path, side: RuleSide) -> DResult<KeepRule> {
    let ty = type_tag(node, path, &["not_replicated", "last_n", "grid", "regex"])?;
    Ok(match ty.as_str() {
        "not_replicated" => {
            let f = Fields::new(node, path, &["type", "keep_snapshot_at_cursor"])?;
            if side == RuleSide::Local {
                return fail(
                    node,
                    &path.key("type"),
                    "found `not_replicated`, which needs replication: a snap job's `keep` rules can only be `last_n`, `grid` or `regex`",
                );
            }
            KeepRule::NotReplicated(KeepNotReplicated {
                keep_snapshot_at_cursor: f.flag("keep_snapshot_at_cursor", true)?,
            })
        }
        "last_n" => {
            let f = Fields::new(node, path, &["type", "count", "regex"])?;
            let count = f.req("count", |n, p| {
                let c: u32 = unsigned(n, p, "a positive count")?;
                if c == 0 {
                    return fail(n, p, "found `0`, expected a positive count");
                }
                Ok(c)
            })?;
            KeepRule::LastN(KeepLastN {
                count,
                regex: f
                    .opt("regex", pattern)?
                    .filter(|p| !p.regex().as_str().is_empty()),
            })
        }
        "grid" => {
            let f = Fields::new(node, path, &["type", "grid", "regex"])?;
            KeepRule::Grid(KeepGrid {
                grid: f.req("grid", |n, p| parsed(n, p, GRID_EXPECTED, GridSpec::parse))?,
                regex: f.req("regex", required_pattern)?,
            })
        }
        _ => {
            let f = Fields::new(node, path, &["type", "regex", "negate"])?;
            KeepRule::Regex(KeepRegex {
                regex: f.req("regex", required_pattern)?,
                negate: f.flag("negate", false)?,
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zrepl_grid_example() {
        let g = GridSpec::parse("1x1h(keep=all) | 24x1h | 35x1d | 6x30d").expect("valid");
        assert_eq!(g.intervals().count(), 1 + 24 + 35 + 6);
        assert_eq!(g.entries()[0].keep, GridKeep::All);
        assert_eq!(g.entries()[3].length.as_std().as_secs(), 30 * 86_400);
        assert_eq!(g.to_string(), "1x1h(keep=all) | 24x1h | 35x1d | 6x30d");
    }

    #[test]
    fn grid_syntax_errors() {
        for bad in [
            "",
            "1h",
            "0x1h",
            "x1h",
            "1x",
            "1x1h(keep=)",
            "1x1h(foo=1)",
            "1x1h(keep=1",
            "1x1h | | 2x1d",
            "1x0s",
            "-1x1h",
            "1x1h(keep=-2)",
        ] {
            assert!(GridSpec::parse(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn grid_lengths_must_not_decrease_unless_all_before_keep_all() {
        assert!(GridSpec::parse("1x1d | 1x1h").is_err());
        assert!(GridSpec::parse("1x1d(keep=all) | 24x1h | 7x1d").is_ok());
        assert!(GridSpec::parse("1x1h | 1x1h | 2x1d(keep=3)").is_ok());
        let e = GridSpec::parse("24x1h | 1x30m").expect_err("decreasing");
        assert!(e.contains("must not decrease"), "{e}");
    }
}
