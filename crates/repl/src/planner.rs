//! Planning: from both sides' listings, decide per filesystem what to send.
//!
//! The planner is pure: it takes the versions each side listed and returns a [`FsPlan`]. It never
//! "resolves" a conflict by destroying data: no common ancestor, a diverged receiver and a receiver
//! modified since its last snapshot are reported as [`Conflict`]s (rollback with `recv -F` only when
//! the job explicitly allows it).
//!
//! # Steps
//! Versions are matched by guid. The most recent receiver snapshot whose guid the sender still has
//! (as a snapshot or as a bookmark, e.g. the replication cursor or a zrepl cursor) is the common
//! ancestor; every sender snapshot after it is pending. With backlog batching (the default) the
//! pending snapshots are covered by one `zfs send -I` step (preceded by one `-i` step when the base is
//! a bookmark, since `-I` needs a snapshot as its base); otherwise by one `-i` step per snapshot.
//! Batching is allowed at every protection level: under `guarantee_resumability` the sender holds
//! every snapshot of a batched step, not just its ends, so an interrupted `-I` stream can always be
//! resumed.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::endpoint::{FilesystemInfo, FsPath, FsVersion, Incremental, Protection, VersionKind};

/// What to do when a filesystem has never been replicated (zrepl's
/// `conflict_resolution.initial_replication`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialReplication {
    /// Send only the most recent snapshot.
    #[default]
    MostRecent,
    /// Send the oldest snapshot in full, then every later one.
    All,
    /// Refuse: report a conflict.
    Fail,
}

/// Protection levels for initial (full) and incremental steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProtectionOptions {
    /// For full sends.
    pub initial: Protection,
    /// For incremental sends.
    pub incremental: Protection,
}

/// Planner options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOptions {
    /// Initial replication policy.
    pub initial: InitialReplication,
    /// Protection levels.
    pub protection: ProtectionOptions,
    /// Cover a backlog with one `-I` step (true) or one `-i` step per snapshot (false).
    pub batch_backlog: bool,
    /// Allow rolling the receiver back (`recv -F`) over snapshots it has after the common one.
    pub allow_rollback: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            initial: InitialReplication::MostRecent,
            protection: ProtectionOptions::default(),
            batch_backlog: true,
            allow_rollback: false,
        }
    }
}

/// One planned step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    /// The base (sender version); `None` for a full send.
    pub from: Option<FsVersion>,
    /// The target snapshot.
    pub to: FsVersion,
    /// `-i` or `-I`.
    pub incremental: Incremental,
    /// How many snapshots this step brings to the receiver.
    pub snapshots: usize,
    /// Resume this token.
    pub resume_token: Option<String>,
    /// Protection during the step.
    pub protection: Protection,
    /// Roll the receiver back to `from` first.
    pub rollback: bool,
}

/// Why a filesystem cannot be replicated as things are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Conflict {
    /// Both sides have snapshots but none in common.
    #[error(
        "no common snapshot: the receiver's newest snapshot is @{receiver_newest}, the sender's is @{sender_newest}; \
         zferry will not destroy the receiver's data - rename or destroy the receiver's filesystem to start over"
    )]
    NoCommonAncestor {
        /// The sender's newest snapshot name.
        sender_newest: String,
        /// The receiver's newest snapshot name.
        receiver_newest: String,
    },
    /// The receiver has snapshots after the most recent common one.
    #[error(
        "receiver diverged: it has snapshot(s) {} after the most recent common snapshot {common}, which the sender lacks; \
         nothing was destroyed (destroy them on the receiver by hand to continue)",
        receiver_only.iter().map(|n| format!("@{n}")).collect::<Vec<_>>().join(", ")
    )]
    Diverged {
        /// The common version's name (with `@`/`#`).
        common: String,
        /// Receiver snapshots after it.
        receiver_only: Vec<String>,
    },
    /// The receiver was written to since its most recent snapshot.
    #[error(
        "receiver modified: {written} bytes written since its most recent snapshot @{newest}; \
         nothing was destroyed (roll the receiver back to @{newest} by hand to continue)"
    )]
    ReceiverModified {
        /// Bytes written.
        written: u64,
        /// The receiver's newest snapshot.
        newest: String,
    },
    /// Initial replication would be needed but the policy is `fail`.
    #[error("initial replication needed but conflict_resolution.initial_replication is `fail`")]
    InitialReplicationRefused,
    /// The receiver's filesystem exists, is not a placeholder, and has no snapshots.
    #[error(
        "the receiver's filesystem exists but has no snapshots and is not a placeholder; zferry will not overwrite it"
    )]
    ReceiverNotEmpty,
}

/// The plan for one filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsPlan {
    /// The filesystem (sender namespace).
    pub path: FsPath,
    /// The most recent common version on the sender, if any.
    pub common: Option<FsVersion>,
    /// A receiver resume token that can no longer be used; abort it (`recv -A`) before the steps.
    pub abort_resume: Option<String>,
    /// The receiver does not have this filesystem yet (or only as a placeholder).
    pub initial: bool,
    /// What to do.
    pub outcome: PlanOutcome,
}

/// The decision for one filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum PlanOutcome {
    /// Nothing pending.
    UpToDate,
    /// The sender has no snapshot (placeholders, empty filesystems): nothing to send.
    NothingToSend,
    /// Run these steps in order.
    Steps {
        /// The steps.
        steps: Vec<PlannedStep>,
    },
    /// Cannot proceed.
    Conflict {
        /// Why.
        conflict: Conflict,
    },
}

/// Everything the planner needs to know about one filesystem.
#[derive(Debug, Clone, Copy)]
pub struct FsInput<'a> {
    /// The filesystem, sender namespace.
    pub path: &'a FsPath,
    /// The sender's versions (snapshots and bookmarks), any order.
    pub sender: &'a [FsVersion],
    /// The receiver's filesystem, if it exists.
    pub receiver_fs: Option<&'a FilesystemInfo>,
    /// The receiver's versions, any order.
    pub receiver: &'a [FsVersion],
    /// Ignore sender snapshots with a larger createtxg (snapshots created after the run started).
    pub sender_limit: Option<u64>,
}

fn by_txg(versions: &[FsVersion], kind: VersionKind) -> Vec<&FsVersion> {
    let mut out: Vec<&FsVersion> = versions.iter().filter(|v| v.kind == kind).collect();
    out.sort_by_key(|v| v.createtxg);
    out
}

/// Plans one filesystem.
pub fn plan_filesystem(input: FsInput<'_>, options: &PlanOptions) -> FsPlan {
    let mut plan = FsPlan {
        path: input.path.clone(),
        common: None,
        abort_resume: None,
        initial: false,
        outcome: PlanOutcome::NothingToSend,
    };
    let sender_snaps: Vec<&FsVersion> = by_txg(input.sender, VersionKind::Snapshot)
        .into_iter()
        .filter(|v| input.sender_limit.is_none_or(|limit| v.createtxg <= limit))
        .collect();
    let receiver_snaps = by_txg(input.receiver, VersionKind::Snapshot);
    let sender_by_guid: HashMap<u64, &FsVersion> = {
        // Prefer snapshots over bookmarks of the same guid.
        let mut map: HashMap<u64, &FsVersion> = HashMap::new();
        for v in input.sender {
            let replace = map
                .get(&v.guid)
                .is_none_or(|old| old.kind == VersionKind::Bookmark && v.is_snapshot());
            if replace {
                map.insert(v.guid, v);
            }
        }
        map
    };
    let resume = input.receiver_fs.and_then(|fs| fs.resume.as_ref());
    let placeholder = input.receiver_fs.is_some_and(|fs| fs.is_placeholder);

    if receiver_snaps.is_empty() {
        plan.initial = true;
        if input.receiver_fs.is_some() && !placeholder && resume.is_none() {
            plan.outcome = conflict(Conflict::ReceiverNotEmpty);
            return plan;
        }
        if sender_snaps.is_empty() {
            return plan;
        }
        // A full resume first, if the token still matches a sender snapshot.
        let mut steps = Vec::new();
        let mut base: Option<&FsVersion> = None;
        if let Some(token) = resume {
            match sender_snaps.iter().find(|s| s.guid == token.to_guid) {
                Some(target) if token.from_guid.is_none() => {
                    steps.push(PlannedStep {
                        from: None,
                        to: (*target).clone(),
                        incremental: Incremental::Single,
                        snapshots: 1,
                        resume_token: Some(token.token.clone()),
                        protection: options.protection.initial,
                        rollback: false,
                    });
                    base = Some(target);
                }
                _ => plan.abort_resume = Some(token.token.clone()),
            }
        }
        if base.is_none() {
            let first = match options.initial {
                InitialReplication::Fail => {
                    plan.outcome = conflict(Conflict::InitialReplicationRefused);
                    return plan;
                }
                InitialReplication::MostRecent => sender_snaps[sender_snaps.len() - 1],
                InitialReplication::All => sender_snaps[0],
            };
            steps.push(PlannedStep {
                from: None,
                to: first.clone(),
                incremental: Incremental::Single,
                snapshots: 1,
                resume_token: None,
                protection: options.protection.initial,
                rollback: false,
            });
            base = Some(first);
        }
        if let Some(base) = base {
            let pending: Vec<&FsVersion> = sender_snaps
                .iter()
                .copied()
                .filter(|s| s.createtxg > base.createtxg)
                .collect();
            steps.extend(incremental_steps(base, &pending, options, false));
        }
        plan.outcome = PlanOutcome::Steps { steps };
        return plan;
    }

    // The receiver has snapshots: find the most recent common one.
    let Some((receiver_common, sender_common)) = receiver_snaps
        .iter()
        .rev()
        .find_map(|r| sender_by_guid.get(&r.guid).map(|s| (*r, *s)))
    else {
        plan.outcome = conflict(Conflict::NoCommonAncestor {
            sender_newest: sender_snaps
                .last()
                .map_or_else(|| "(none)".to_owned(), |s| s.name.clone()),
            receiver_newest: receiver_snaps
                .last()
                .map_or_else(String::new, |s| s.name.clone()),
        });
        return plan;
    };
    plan.common = Some(sender_common.clone());
    let receiver_only: Vec<String> = receiver_snaps
        .iter()
        .filter(|r| r.createtxg > receiver_common.createtxg)
        .map(|r| r.name.clone())
        .collect();
    let rollback = !receiver_only.is_empty();
    if rollback && !options.allow_rollback {
        plan.outcome = conflict(Conflict::Diverged {
            common: sender_common.relative_name(),
            receiver_only,
        });
        return plan;
    }
    let pending: Vec<&FsVersion> = sender_snaps
        .iter()
        .copied()
        .filter(|s| s.createtxg > sender_common.createtxg)
        .collect();
    let written = input.receiver_fs.and_then(|fs| fs.written).unwrap_or(0);
    if written > 0 && !pending.is_empty() && !options.allow_rollback && resume.is_none() {
        plan.outcome = conflict(Conflict::ReceiverModified {
            written,
            newest: receiver_snaps
                .last()
                .map_or_else(String::new, |s| s.name.clone()),
        });
        return plan;
    }
    let mut steps = Vec::new();
    let mut base = sender_common;
    let mut rest = pending.as_slice();
    if let Some(token) = resume {
        let usable = token.from_guid == Some(sender_common.guid) && !rollback;
        match pending.iter().position(|s| s.guid == token.to_guid) {
            Some(index) if usable => {
                steps.push(PlannedStep {
                    from: Some(sender_common.clone()),
                    to: pending[index].clone(),
                    incremental: if index == 0 {
                        Incremental::Single
                    } else {
                        Incremental::WithIntermediates
                    },
                    snapshots: index + 1,
                    resume_token: Some(token.token.clone()),
                    protection: options.protection.incremental,
                    rollback: false,
                });
                base = pending[index];
                rest = &pending[index + 1..];
            }
            _ => plan.abort_resume = Some(token.token.clone()),
        }
    }
    if pending.is_empty() && steps.is_empty() {
        plan.outcome = PlanOutcome::UpToDate;
        return plan;
    }
    steps.extend(incremental_steps(base, rest, options, rollback));
    plan.outcome = PlanOutcome::Steps { steps };
    plan
}

fn conflict(conflict: Conflict) -> PlanOutcome {
    PlanOutcome::Conflict { conflict }
}

/// Steps from `base` through `pending` (sorted, all after `base`).
fn incremental_steps(
    base: &FsVersion,
    pending: &[&FsVersion],
    options: &PlanOptions,
    rollback: bool,
) -> Vec<PlannedStep> {
    let protection = options.protection.incremental;
    let step = |from: &FsVersion, to: &FsVersion, incremental, snapshots, rollback| PlannedStep {
        from: Some(from.clone()),
        to: to.clone(),
        incremental,
        snapshots,
        resume_token: None,
        protection,
        rollback,
    };
    let mut steps = Vec::new();
    let Some((first, rest)) = pending.split_first() else {
        return steps;
    };
    if !options.batch_backlog {
        let mut from = base;
        for (i, to) in pending.iter().enumerate() {
            steps.push(step(from, to, Incremental::Single, 1, rollback && i == 0));
            from = to;
        }
        return steps;
    }
    if base.kind == VersionKind::Bookmark || rest.is_empty() {
        // `-I` needs a snapshot as its base.
        steps.push(step(base, first, Incremental::Single, 1, rollback));
        if let Some(last) = rest.last() {
            steps.push(step(
                first,
                last,
                Incremental::WithIntermediates,
                rest.len(),
                false,
            ));
        }
    } else if let Some(last) = rest.last() {
        steps.push(step(
            base,
            last,
            Incremental::WithIntermediates,
            pending.len(),
            rollback,
        ));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::ResumeToken;

    fn snap(name: &str, guid: u64, txg: u64) -> FsVersion {
        FsVersion {
            kind: VersionKind::Snapshot,
            name: name.into(),
            guid,
            createtxg: txg,
            creation: None,
            userrefs: None,
        }
    }
    fn book(name: &str, guid: u64, txg: u64) -> FsVersion {
        FsVersion {
            kind: VersionKind::Bookmark,
            ..snap(name, guid, txg)
        }
    }
    fn fs(path: &str) -> FilesystemInfo {
        FilesystemInfo {
            path: FsPath::new(path).unwrap(),
            is_placeholder: false,
            resume: None,
            encrypted: false,
            written: Some(0),
        }
    }
    fn run(
        sender: &[FsVersion],
        receiver_fs: Option<&FilesystemInfo>,
        receiver: &[FsVersion],
        options: &PlanOptions,
    ) -> FsPlan {
        let path = FsPath::new("p/a").unwrap();
        plan_filesystem(
            FsInput {
                path: &path,
                sender,
                receiver_fs,
                receiver,
                sender_limit: None,
            },
            options,
        )
    }
    fn steps(plan: &FsPlan) -> Vec<(Option<String>, String, Incremental, usize)> {
        match &plan.outcome {
            PlanOutcome::Steps { steps } => steps
                .iter()
                .map(|s| {
                    (
                        s.from.as_ref().map(FsVersion::relative_name),
                        s.to.name.clone(),
                        s.incremental,
                        s.snapshots,
                    )
                })
                .collect(),
            other => panic!("expected steps, got {other:?}"),
        }
    }

    #[test]
    fn initial_most_recent_sends_newest_in_full() {
        let s = [snap("a", 1, 10), snap("b", 2, 20), snap("c", 3, 30)];
        let plan = run(&s, None, &[], &PlanOptions::default());
        assert!(plan.initial);
        assert_eq!(
            steps(&plan),
            vec![(None, "c".into(), Incremental::Single, 1)]
        );
    }

    #[test]
    fn initial_all_sends_oldest_then_backlog() {
        let s = [snap("a", 1, 10), snap("b", 2, 20), snap("c", 3, 30)];
        let options = PlanOptions {
            initial: InitialReplication::All,
            ..PlanOptions::default()
        };
        assert_eq!(
            steps(&run(&s, None, &[], &options)),
            vec![
                (None, "a".into(), Incremental::Single, 1),
                (
                    Some("@a".into()),
                    "c".into(),
                    Incremental::WithIntermediates,
                    2
                )
            ]
        );
    }

    #[test]
    fn initial_fail_is_a_conflict() {
        let options = PlanOptions {
            initial: InitialReplication::Fail,
            ..PlanOptions::default()
        };
        let plan = run(&[snap("a", 1, 10)], None, &[], &options);
        assert_eq!(plan.outcome, conflict(Conflict::InitialReplicationRefused));
    }

    #[test]
    fn nothing_to_send_without_sender_snapshots() {
        let plan = run(&[book("x", 1, 1)], None, &[], &PlanOptions::default());
        assert_eq!(plan.outcome, PlanOutcome::NothingToSend);
    }

    #[test]
    fn incremental_backlog_is_batched_or_per_snapshot() {
        let s: Vec<FsVersion> = (1..=5).map(|i| snap(&format!("s{i}"), i, i * 10)).collect();
        let r = [snap("s2", 2, 7)];
        let plan = run(&s, Some(&fs("p/a")), &r, &PlanOptions::default());
        assert_eq!(plan.common, Some(s[1].clone()));
        assert_eq!(
            steps(&plan),
            vec![(
                Some("@s2".into()),
                "s5".into(),
                Incremental::WithIntermediates,
                3
            )]
        );
        let per = PlanOptions {
            batch_backlog: false,
            ..PlanOptions::default()
        };
        assert_eq!(
            steps(&run(&s, Some(&fs("p/a")), &r, &per)),
            vec![
                (Some("@s2".into()), "s3".into(), Incremental::Single, 1),
                (Some("@s3".into()), "s4".into(), Incremental::Single, 1),
                (Some("@s4".into()), "s5".into(), Incremental::Single, 1),
            ]
        );
    }

    #[test]
    fn bookmark_base_starts_with_a_single_step() {
        let s = [
            book("cursor", 2, 20),
            snap("s3", 3, 30),
            snap("s4", 4, 40),
            snap("s5", 5, 50),
        ];
        let r = [snap("s1", 1, 5), snap("s2", 2, 6)];
        let plan = run(&s, Some(&fs("p/a")), &r, &PlanOptions::default());
        assert_eq!(
            steps(&plan),
            vec![
                (Some("#cursor".into()), "s3".into(), Incremental::Single, 1),
                (
                    Some("@s3".into()),
                    "s5".into(),
                    Incremental::WithIntermediates,
                    2
                )
            ]
        );
    }

    #[test]
    fn up_to_date_when_nothing_pending() {
        let s = [snap("s1", 1, 10)];
        let plan = run(
            &s,
            Some(&fs("p/a")),
            &[snap("s1", 1, 3)],
            &PlanOptions::default(),
        );
        assert_eq!(plan.outcome, PlanOutcome::UpToDate);
        assert_eq!(plan.common, Some(s[0].clone()));
    }

    #[test]
    fn conflicts_are_reported_not_resolved() {
        let s = [snap("s1", 1, 10), snap("s2", 2, 20)];
        let plan = run(
            &s,
            Some(&fs("p/a")),
            &[snap("x", 9, 3)],
            &PlanOptions::default(),
        );
        assert!(matches!(
            plan.outcome,
            PlanOutcome::Conflict {
                conflict: Conflict::NoCommonAncestor { .. }
            }
        ));

        let r = [snap("s1", 1, 3), snap("local", 7, 4)];
        let plan = run(&s, Some(&fs("p/a")), &r, &PlanOptions::default());
        let PlanOutcome::Conflict { conflict: found } = &plan.outcome else {
            panic!("{plan:?}")
        };
        assert_eq!(
            found,
            &Conflict::Diverged {
                common: "@s1".into(),
                receiver_only: vec!["local".into()]
            }
        );
        assert!(found.to_string().contains("@local"), "{found}");

        let mut modified = fs("p/a");
        modified.written = Some(4096);
        let plan = run(
            &s,
            Some(&modified),
            &[snap("s1", 1, 3)],
            &PlanOptions::default(),
        );
        assert!(matches!(
            plan.outcome,
            PlanOutcome::Conflict {
                conflict: Conflict::ReceiverModified { written: 4096, .. }
            }
        ));

        let plan = run(&s, Some(&fs("p/a")), &[], &PlanOptions::default());
        assert_eq!(plan.outcome, conflict(Conflict::ReceiverNotEmpty));
    }

    #[test]
    fn rollback_only_when_allowed() {
        let s = [snap("s1", 1, 10), snap("s2", 2, 20)];
        let r = [snap("s1", 1, 3), snap("local", 7, 4)];
        let options = PlanOptions {
            allow_rollback: true,
            ..PlanOptions::default()
        };
        let plan = run(&s, Some(&fs("p/a")), &r, &options);
        let PlanOutcome::Steps { steps } = &plan.outcome else {
            panic!("{plan:?}")
        };
        assert!(steps[0].rollback);
    }

    #[test]
    fn placeholder_receives_in_full() {
        let mut placeholder = fs("p/a");
        placeholder.is_placeholder = true;
        let plan = run(
            &[snap("s1", 1, 10)],
            Some(&placeholder),
            &[],
            &PlanOptions::default(),
        );
        assert!(plan.initial);
        assert_eq!(
            steps(&plan),
            vec![(None, "s1".into(), Incremental::Single, 1)]
        );
    }

    #[test]
    fn matching_token_resumes_first() {
        let s = [snap("s1", 1, 10), snap("s2", 2, 20), snap("s3", 3, 30)];
        let mut receiver = fs("p/a");
        receiver.resume = Some(ResumeToken {
            token: "1-abc".into(),
            to_guid: 2,
            from_guid: Some(1),
            raw: false,
        });
        let plan = run(
            &s,
            Some(&receiver),
            &[snap("s1", 1, 3)],
            &PlanOptions::default(),
        );
        let PlanOutcome::Steps { steps } = &plan.outcome else {
            panic!("{plan:?}")
        };
        assert_eq!(steps[0].resume_token.as_deref(), Some("1-abc"));
        assert_eq!(steps[0].to.name, "s2");
        assert_eq!(steps[1].from.as_ref().map(|f| f.name.as_str()), Some("s2"));
        assert_eq!(plan.abort_resume, None);

        // Full resume.
        let mut receiver = fs("p/a");
        receiver.resume = Some(ResumeToken {
            token: "1-full".into(),
            to_guid: 1,
            from_guid: None,
            raw: false,
        });
        let plan = run(&s, Some(&receiver), &[], &PlanOptions::default());
        let PlanOutcome::Steps { steps } = &plan.outcome else {
            panic!("{plan:?}")
        };
        assert_eq!(steps[0].resume_token.as_deref(), Some("1-full"));
        assert_eq!(steps[0].to.name, "s1");
        assert_eq!(steps.len(), 2);
    }

    #[test]
    fn vanished_token_target_is_aborted_and_replanned() {
        let s = [snap("s1", 1, 10), snap("s3", 3, 30)];
        let mut receiver = fs("p/a");
        receiver.resume = Some(ResumeToken {
            token: "1-gone".into(),
            to_guid: 2,
            from_guid: Some(1),
            raw: false,
        });
        let plan = run(
            &s,
            Some(&receiver),
            &[snap("s1", 1, 3)],
            &PlanOptions::default(),
        );
        assert_eq!(plan.abort_resume.as_deref(), Some("1-gone"));
        assert_eq!(
            steps(&plan),
            vec![(Some("@s1".into()), "s3".into(), Incremental::Single, 1)]
        );
    }

    #[test]
    fn snapshots_after_the_run_started_are_not_chased() {
        let s = [snap("s1", 1, 10), snap("s2", 2, 20), snap("late", 3, 30)];
        let path = FsPath::new("p/a").unwrap();
        let plan = plan_filesystem(
            FsInput {
                path: &path,
                sender: &s,
                receiver_fs: Some(&fs("p/a")),
                receiver: &[snap("s1", 1, 3)],
                sender_limit: Some(20),
            },
            &PlanOptions::default(),
        );
        assert_eq!(
            steps(&plan),
            vec![(Some("@s1".into()), "s2".into(), Incremental::Single, 1)]
        );
    }
}
