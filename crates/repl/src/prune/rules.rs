//! Keep rules, evaluated as zrepl does.
//!
//! Each rule names the snapshots it would destroy; a snapshot is destroyed only if **every** rule
//! would destroy it, and an empty rule list destroys nothing. Snapshots a rule's regex does not
//! match are "not kept by this rule" (so another rule must keep them).
//!
//! The configuration module maps the YAML onto these typed rules; nothing here parses YAML.

use std::collections::HashSet;
use std::time::Duration;

use regex::Regex;

/// A snapshot as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSnapshot {
    /// The short name (after `@`).
    pub name: String,
    /// Creation time, Unix seconds.
    pub creation: i64,
    /// Whether it has been replicated (at or before the sender's replication cursor).
    pub replicated: bool,
    /// Whether it is the snapshot the replication cursor points at.
    pub at_cursor: bool,
}

/// How many snapshots a grid interval keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GridKeep {
    /// `keep=all`.
    All,
    /// `keep=N` (default 1): the N oldest snapshots within the interval.
    Count(usize),
}

/// One interval of a grid (already expanded: `24x1h` is 24 intervals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridInterval {
    /// Length of the interval.
    pub length: Duration,
    /// How many snapshots it keeps.
    pub keep: GridKeep,
}

impl GridInterval {
    /// `count` consecutive intervals of `length` (the `NxD(keep=K)` grammar element).
    pub fn repeat(count: usize, length: Duration, keep: GridKeep) -> Vec<GridInterval> {
        vec![GridInterval { length, keep }; count]
    }
}

/// A keep rule.
#[derive(Debug, Clone)]
pub enum KeepRule {
    /// `grid`: fit matching snapshots into consecutive intervals going back from the newest
    /// matching snapshot; keep `keep` of the oldest per interval; destroy what is older than the grid.
    Grid {
        /// The intervals, newest first.
        intervals: Vec<GridInterval>,
        /// Only snapshots matching this regex are considered (others are not kept by this rule).
        regex: Regex,
    },
    /// `last_n`: keep the `count` newest snapshots matching `regex` (all snapshots if `None`).
    LastN {
        /// How many to keep.
        count: usize,
        /// Restrict to matching snapshots.
        regex: Option<Regex>,
    },
    /// `regex`: keep snapshots matching (or, negated, not matching) the regex.
    Regex {
        /// The pattern.
        regex: Regex,
        /// Keep the non-matching ones instead.
        negate: bool,
    },
    /// `not_replicated`: keep snapshots not yet replicated (sender side).
    NotReplicated {
        /// Also keep the snapshot the replication cursor points at.
        keep_snapshot_at_cursor: bool,
    },
}

impl KeepRule {
    /// Indices of the snapshots this rule would destroy.
    pub fn destroys(&self, snaps: &[RuleSnapshot]) -> HashSet<usize> {
        match self {
            KeepRule::Grid { intervals, regex } => grid_destroys(intervals, regex, snaps),
            KeepRule::LastN { count, regex } => last_n_destroys(*count, regex.as_ref(), snaps),
            KeepRule::Regex { regex, negate } => (0..snaps.len())
                .filter(|&i| regex.is_match(&snaps[i].name) == *negate)
                .collect(),
            KeepRule::NotReplicated {
                keep_snapshot_at_cursor,
            } => (0..snaps.len())
                .filter(|&i| {
                    snaps[i].replicated && !(*keep_snapshot_at_cursor && snaps[i].at_cursor)
                })
                .collect(),
        }
    }
}

/// Indices of the snapshots every rule destroys (none when `rules` is empty), ascending.
pub fn destroy_set(rules: &[KeepRule], snaps: &[RuleSnapshot]) -> Vec<usize> {
    let Some((first, rest)) = rules.split_first() else {
        return Vec::new();
    };
    let mut set = first.destroys(snaps);
    for rule in rest {
        let other = rule.destroys(snaps);
        set.retain(|i| other.contains(i));
    }
    let mut out: Vec<usize> = set.into_iter().collect();
    out.sort_unstable();
    out
}

fn last_n_destroys(count: usize, regex: Option<&Regex>, snaps: &[RuleSnapshot]) -> HashSet<usize> {
    // zrepl: when the count exceeds the number of snapshots, the rule destroys nothing.
    if count > snaps.len() {
        return HashSet::new();
    }
    let (mut matching, not_matching): (Vec<usize>, Vec<usize>) =
        (0..snaps.len()).partition(|&i| regex.is_none_or(|re| re.is_match(&snaps[i].name)));
    // Youngest first; equal times by name descending.
    matching.sort_by(|&a, &b| {
        snaps[b]
            .creation
            .cmp(&snaps[a].creation)
            .then_with(|| snaps[b].name.cmp(&snaps[a].name))
    });
    not_matching
        .into_iter()
        .chain(matching.into_iter().skip(count))
        .collect()
}

fn grid_destroys(
    intervals: &[GridInterval],
    regex: &Regex,
    snaps: &[RuleSnapshot],
) -> HashSet<usize> {
    let (matching, not_matching): (Vec<usize>, Vec<usize>) =
        (0..snaps.len()).partition(|&i| regex.is_match(&snaps[i].name));
    let mut destroy: HashSet<usize> = not_matching.into_iter().collect();
    let Some(now) = matching.iter().map(|&i| snaps[i].creation).max() else {
        return destroy;
    };
    let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    let grid_start = intervals
        .iter()
        .fold(now, |t, interval| t.saturating_sub(secs(interval.length)));
    let mut buckets: Vec<Vec<usize>> = vec![Vec::new(); intervals.len()];
    for &i in &matching {
        let date = snaps[i].creation;
        if date >= now {
            continue; // the newest (and anything newer) is always kept
        }
        if date < grid_start {
            destroy.insert(i);
            continue;
        }
        let mut end = now;
        for (b, interval) in intervals.iter().enumerate() {
            let start = end.saturating_sub(secs(interval.length));
            if date >= start && date < end {
                buckets[b].push(i);
                break;
            }
            end = start;
        }
    }
    for (bucket, interval) in buckets.iter_mut().zip(intervals) {
        bucket.sort_by_key(|&i| snaps[i].creation); // oldest first
        let keep = match interval.keep {
            GridKeep::All => bucket.len(),
            GridKeep::Count(n) => n.min(bucket.len()),
        };
        destroy.extend(bucket.iter().skip(keep));
    }
    destroy
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;
    const D: i64 = 24 * H;

    fn snaps(spec: &[(&str, i64)]) -> Vec<RuleSnapshot> {
        spec.iter()
            .map(|(name, creation)| RuleSnapshot {
                name: (*name).into(),
                creation: *creation,
                replicated: false,
                at_cursor: false,
            })
            .collect()
    }

    fn kept(rules: &[KeepRule], snaps: &[RuleSnapshot]) -> Vec<String> {
        let destroy = destroy_set(rules, snaps);
        (0..snaps.len())
            .filter(|i| !destroy.contains(i))
            .map(|i| snaps[i].name.clone())
            .collect()
    }

    fn re(s: &str) -> Regex {
        Regex::new(s).unwrap()
    }

    /// zrepl's example `1x1h(keep=all) | 24x1h | 35x1d | 6x30d`.
    fn zrepl_grid() -> KeepRule {
        let hour = Duration::from_secs(3600);
        let day = hour * 24;
        let mut intervals = GridInterval::repeat(1, hour, GridKeep::All);
        intervals.extend(GridInterval::repeat(24, hour, GridKeep::Count(1)));
        intervals.extend(GridInterval::repeat(35, day, GridKeep::Count(1)));
        intervals.extend(GridInterval::repeat(6, day * 30, GridKeep::Count(1)));
        KeepRule::Grid {
            intervals,
            regex: re("^zrepl_"),
        }
    }

    #[test]
    fn empty_rule_list_destroys_nothing() {
        let s = snaps(&[("a", 1), ("b", 2)]);
        assert!(destroy_set(&[], &s).is_empty());
    }

    #[test]
    fn grid_zrepl_example_table() {
        let now = 1_000 * D;
        // (name, age in seconds, kept?)
        let table: &[(&str, i64, bool)] = &[
            ("zrepl_newest", 0, true),
            ("zrepl_10m", 600, true),              // first hour: keep=all
            ("zrepl_50m", 3000, true),             // first hour: keep=all
            ("zrepl_1h30", H + 1800, true),        // hour interval (1h, 2h]: the oldest is kept
            ("zrepl_1h10", H + 600, false),        // same interval, younger
            ("zrepl_5h", 5 * H, true),             // alone in its hour interval
            ("zrepl_25h30", 25 * H + 1800, false), // day interval (25h, 49h], younger
            ("zrepl_30h", 30 * H, true),           // same day interval, the oldest
            ("zrepl_40d", 40 * D, false),          // 30-day interval (25h+35d, 25h+65d], younger
            ("zrepl_41d", 41 * D, true),           // same 30-day interval, the oldest
            ("zrepl_250d", 250 * D, false),        // older than the whole grid (25h + 215d)
            ("manual", 3 * D, false),              // regex does not match: not kept by this rule
        ];
        let s: Vec<RuleSnapshot> = table
            .iter()
            .map(|(name, age, _)| RuleSnapshot {
                name: (*name).into(),
                creation: now - age,
                replicated: false,
                at_cursor: false,
            })
            .collect();
        let destroy = destroy_set(&[zrepl_grid()], &s);
        for (i, (name, _, expect_kept)) in table.iter().enumerate() {
            assert_eq!(!destroy.contains(&i), *expect_kept, "{name}");
        }
    }

    #[test]
    fn grid_boundaries_are_half_open() {
        let hour = Duration::from_secs(3600);
        let rule = KeepRule::Grid {
            intervals: GridInterval::repeat(2, hour, GridKeep::Count(1)),
            regex: re(".*"),
        };
        let now = 10 * H;
        // Intervals are [start, end): exactly one hour old is the start of the first interval
        // (and its oldest entry), exactly two hours old the start of the second.
        let s = snaps(&[
            ("n", now),
            ("a", now - H),
            ("b", now - H + 1),
            ("c", now - 2 * H),
            ("d", now - 2 * H - 1),
        ]);
        assert_eq!(kept(&[rule], &s), vec!["n", "a", "c"]);
    }

    #[test]
    fn last_n_table() {
        let s = snaps(&[("a_1", 1), ("b_2", 2), ("a_3", 3), ("a_4", 4), ("b_5", 5)]);
        let cases: &[(usize, Option<&str>, &[&str])] = &[
            (2, None, &["a_4", "b_5"]),
            (5, None, &["a_1", "b_2", "a_3", "a_4", "b_5"]),
            (6, None, &["a_1", "b_2", "a_3", "a_4", "b_5"]), // count > total: destroys nothing (zrepl)
            (2, Some("^a_"), &["a_3", "a_4"]),
            (1, Some("^b_"), &["b_5"]),
            (1, Some("^zzz"), &[]),
        ];
        for (count, regex, expect) in cases {
            let rule = KeepRule::LastN {
                count: *count,
                regex: regex.map(re),
            };
            assert_eq!(kept(&[rule], &s), *expect, "count {count} regex {regex:?}");
        }
    }

    #[test]
    fn last_n_ties_break_by_name_descending() {
        let s = snaps(&[("a", 5), ("b", 5), ("c", 5)]);
        let rule = KeepRule::LastN {
            count: 2,
            regex: None,
        };
        assert_eq!(kept(&[rule], &s), vec!["b", "c"]);
    }

    #[test]
    fn regex_table() {
        let s = snaps(&[("zrepl_1", 1), ("manual", 2), ("zrepl_2", 3)]);
        let cases: &[(&str, bool, &[&str])] = &[
            ("^zrepl_", false, &["zrepl_1", "zrepl_2"]),
            ("^zrepl_", true, &["manual"]),
            ("^nomatch", false, &[]),
            ("^nomatch", true, &["zrepl_1", "manual", "zrepl_2"]),
        ];
        for (pattern, negate, expect) in cases {
            let rule = KeepRule::Regex {
                regex: re(pattern),
                negate: *negate,
            };
            assert_eq!(kept(&[rule], &s), *expect, "{pattern} negate={negate}");
        }
    }

    #[test]
    fn not_replicated_table() {
        let mut s = snaps(&[("s1", 1), ("s2", 2), ("s3", 3), ("s4", 4)]);
        for snap in &mut s[..3] {
            snap.replicated = true;
        }
        s[2].at_cursor = true;
        let rule = |keep_snapshot_at_cursor| KeepRule::NotReplicated {
            keep_snapshot_at_cursor,
        };
        assert_eq!(kept(&[rule(false)], &s), vec!["s4"]);
        assert_eq!(kept(&[rule(true)], &s), vec!["s3", "s4"]);
    }

    #[test]
    fn combination_keeps_what_any_rule_keeps() {
        let mut s = snaps(&[
            ("zrepl_1", 1),
            ("zrepl_2", 2),
            ("manual", 3),
            ("zrepl_3", 4),
        ]);
        for snap in &mut s {
            snap.replicated = true;
        }
        s[3].replicated = false;
        let rules = [
            KeepRule::NotReplicated {
                keep_snapshot_at_cursor: false,
            },
            KeepRule::LastN {
                count: 1,
                regex: Some(re("^zrepl_")),
            },
            KeepRule::Regex {
                regex: re("^zrepl_"),
                negate: true,
            },
        ];
        assert_eq!(kept(&rules, &s), vec!["manual", "zrepl_3"]);
    }
}
