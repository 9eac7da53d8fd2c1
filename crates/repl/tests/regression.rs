//! One test per fixed bug of the replication engine, named after what broke (issue 12's
//! observations are numbered in the comments).

use std::time::Duration;

use regex::Regex;
use zferry_repl::planner::Conflict;
use zferry_repl::prune::{GridInterval, GridKeep, KeepRule, RuleSnapshot, destroy_set};

// Observation 11: the documentation disagreed on which snapshot a grid interval keeps; the code
// (like zrepl) keeps the oldest, which is what the docs now say.
#[test]
fn grid_interval_keeps_its_oldest_snapshot() {
    let snaps: Vec<RuleSnapshot> = [0, 600, 1200, 1800]
        .iter()
        .map(|&t| RuleSnapshot {
            name: format!("zrepl_{t}"),
            creation: 1_700_000_000 + t,
            replicated: true,
            at_cursor: false,
        })
        .collect();
    // One interval of 1h back from the newest (which is always kept) holds the other three:
    // only the oldest of them stays.
    let rules = [KeepRule::Grid {
        intervals: GridInterval::repeat(1, Duration::from_secs(3600), GridKeep::Count(1)),
        regex: Regex::new("^zrepl_").expect("regex"),
    }];
    assert_eq!(destroy_set(&rules, &snaps), [1, 2]);
}

// Observation 12: the divergence errors told the administrator to "allow rollback for this job",
// a setting that does not exist.
#[test]
fn conflict_hints_name_no_setting_that_does_not_exist() {
    let diverged = Conflict::Diverged {
        common: "@s1".into(),
        receiver_only: vec!["local".into()],
    };
    let modified = Conflict::ReceiverModified {
        written: 4096,
        newest: "s1".into(),
    };
    for conflict in [diverged, modified] {
        let text = conflict.to_string();
        assert!(!text.contains("allow rollback"), "{text}");
        assert!(text.contains("by hand"), "{text}");
    }
}
