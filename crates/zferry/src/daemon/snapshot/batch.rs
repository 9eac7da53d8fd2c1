//! Grouping a round's snapshots into `zfs snapshot` invocations.
//!
//! `zfs snapshot a@n b@n ...` creates all named snapshots atomically, but only within one pool,
//! so a round issues one invocation per pool. The kernel limits the size of a command line
//! (`ARG_MAX`, shared with the environment), so very large pools are split into several
//! invocations, each staying below a byte budget; atomicity then holds per invocation only.

use std::collections::BTreeMap;

/// A conservative default budget for the arguments of one invocation: well below Linux's usual
/// 2 MiB `ARG_MAX`, leaving room for a large environment.
pub const DEFAULT_ARG_BUDGET: usize = 512 * 1024;

/// Bytes an argument costs on the command line: its text, the terminating NUL, and the pointer
/// in `argv`.
fn arg_cost(arg: &str) -> usize {
    arg.len() + 1 + std::mem::size_of::<usize>()
}

/// One planned `zfs snapshot` invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInvocation {
    /// The pool all snapshots of this invocation belong to.
    pub pool: String,
    /// The full snapshot names (`fs@name`), in filesystem order.
    pub snapshots: Vec<String>,
}

impl SnapshotInvocation {
    /// The arguments after the `zfs` program name: `snapshot fs@name ...`.
    pub fn args(&self) -> Vec<String> {
        std::iter::once("snapshot".to_string())
            .chain(self.snapshots.iter().cloned())
            .collect()
    }
}

/// Plans the invocations that snapshot every filesystem in `filesystems` with `snapname`: one per
/// pool, split so that the arguments of each (including `zfs snapshot`) stay within `arg_budget`
/// bytes. A single snapshot larger than the budget still gets an invocation of its own. Pools and
/// filesystems come out sorted, duplicates removed.
pub fn plan_snapshot_invocations(
    filesystems: &[String],
    snapname: &str,
    arg_budget: usize,
) -> Vec<SnapshotInvocation> {
    let mut per_pool: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for fs in filesystems {
        let pool = fs.split('/').next().unwrap_or(fs);
        per_pool.entry(pool).or_default().push(fs);
    }
    let fixed = arg_cost("zfs") + arg_cost("snapshot");
    let mut plan = Vec::new();
    for (pool, mut members) in per_pool {
        members.sort_unstable();
        members.dedup();
        let mut current = SnapshotInvocation {
            pool: pool.to_string(),
            snapshots: Vec::new(),
        };
        let mut used = fixed;
        for fs in members {
            let snapshot = format!("{fs}@{snapname}");
            let cost = arg_cost(&snapshot);
            if !current.snapshots.is_empty() && used + cost > arg_budget {
                let full = std::mem::replace(
                    &mut current,
                    SnapshotInvocation {
                        pool: pool.to_string(),
                        snapshots: Vec::new(),
                    },
                );
                plan.push(full);
                used = fixed;
            }
            used += cost;
            current.snapshots.push(snapshot);
        }
        if !current.snapshots.is_empty() {
            plan.push(current);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_invocation_per_pool() {
        let plan = plan_snapshot_invocations(
            &names(&["tank/b", "backup/x", "tank", "tank/a", "tank/a"]),
            "zrepl_1",
            DEFAULT_ARG_BUDGET,
        );
        assert_eq!(
            plan,
            vec![
                SnapshotInvocation {
                    pool: "backup".into(),
                    snapshots: names(&["backup/x@zrepl_1"])
                },
                SnapshotInvocation {
                    pool: "tank".into(),
                    snapshots: names(&["tank@zrepl_1", "tank/a@zrepl_1", "tank/b@zrepl_1"])
                },
            ]
        );
        assert_eq!(
            plan[1].args(),
            names(&[
                "snapshot",
                "tank@zrepl_1",
                "tank/a@zrepl_1",
                "tank/b@zrepl_1"
            ])
        );
    }

    #[test]
    fn large_pools_are_chunked_below_the_budget() {
        let filesystems: Vec<String> = (0..1000).map(|i| format!("tank/fs{i:04}")).collect();
        let budget = 4096;
        let plan = plan_snapshot_invocations(&filesystems, "snap", budget);
        assert!(plan.len() > 1);
        let mut seen = 0;
        for invocation in &plan {
            let cost: usize = std::iter::once("zfs".to_string())
                .chain(invocation.args())
                .map(|a| arg_cost(&a))
                .sum();
            assert!(cost <= budget, "invocation costs {cost} > {budget}");
            seen += invocation.snapshots.len();
        }
        assert_eq!(seen, 1000, "every filesystem is snapshotted exactly once");
    }

    #[test]
    fn oversized_single_snapshot_gets_its_own_invocation() {
        let long = format!("tank/{}", "x".repeat(300));
        let plan = plan_snapshot_invocations(&[long.clone(), "tank/a".into()], "s", 100);
        assert_eq!(plan.len(), 2);
        assert_eq!(plan[1].snapshots, vec![format!("{long}@s")]);
    }
}
