//! Destroying snapshots (comma-batched, tolerant of absence, per-snapshot failure report),
//! bookmarks and datasets.
//!
//! OpenZFS destroys a comma list atomically: if one snapshot cannot go (held, has clones),
//! none of the batch is destroyed and each refusal is printed as
//! `cannot destroy snapshot NAME: REASON` (or `cannot destroy 'NAME': REASON`). The driver
//! therefore records the refused ones and repeats the call with the rest. Names that do not
//! exist are ignored by ZFS itself. A comma list longer than the kernel's per-argument limit
//! fails to exec with E2BIG; the list is then halved until it fits.

use std::collections::BTreeMap;

use crate::command::CommandLine;
use crate::driver::Zfs;
use crate::error::{ZfsError, ZfsErrorKind};
use crate::name::{BookmarkName, DatasetPath, SnapshotName};

/// Linux `E2BIG`: argument list too long.
const E2BIG: i32 = 7;

/// A snapshot that could not be destroyed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undestroyed {
    /// The snapshot.
    pub snapshot: SnapshotName,
    /// The class of the refusal (e.g. [`ZfsErrorKind::Busy`] for held snapshots).
    pub kind: ZfsErrorKind,
    /// ZFS's reason text.
    pub reason: String,
}

/// The outcome of [`Zfs::destroy_snapshots`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestroyReport {
    /// Snapshots that are still there, with the reason.
    pub undestroyed: Vec<Undestroyed>,
}

impl DestroyReport {
    /// True when everything asked for is gone.
    pub fn is_complete(&self) -> bool {
        self.undestroyed.is_empty()
    }
}

/// Outcome of one `zfs destroy ds@a,b,c` attempt.
enum Attempt {
    Done,
    TooLong,
    Refused(Vec<(String, String)>),
}

/// Parses `cannot destroy snapshot NAME: REASON` / `cannot destroy 'NAME': REASON` lines.
fn refusals(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter_map(|l| {
            if let Some(rest) = l.strip_prefix("cannot destroy snapshot ") {
                let (name, reason) = rest.split_once(": ")?;
                Some((name.to_owned(), reason.to_owned()))
            } else {
                let rest = l.strip_prefix("cannot destroy '")?;
                let (name, reason) = rest.split_once("': ")?;
                Some((name.to_owned(), reason.to_owned()))
            }
        })
        .collect()
}

impl Zfs {
    /// Destroys `snapshots`: one comma-batched `zfs destroy` per filesystem, halved on E2BIG.
    /// Missing snapshots and filesystems count as destroyed. Snapshots ZFS refuses to destroy
    /// are reported (the rest of their batch is still destroyed); other failures are errors.
    pub async fn destroy_snapshots(
        &self,
        snapshots: &[SnapshotName],
    ) -> Result<DestroyReport, ZfsError> {
        let mut by_dataset: BTreeMap<&DatasetPath, Vec<&str>> = BTreeMap::new();
        for s in snapshots {
            by_dataset.entry(s.dataset()).or_default().push(s.name());
        }
        let mut report = DestroyReport::default();
        for (dataset, names) in by_dataset {
            let mut stack: Vec<Vec<&str>> = vec![names];
            while let Some(mut batch) = stack.pop() {
                batch.sort_unstable();
                batch.dedup();
                match self.destroy_batch(dataset, &batch).await? {
                    Attempt::Done => {}
                    Attempt::TooLong => {
                        let right = batch.split_off(batch.len() / 2);
                        stack.push(right);
                        stack.push(batch);
                    }
                    Attempt::Refused(refused) => {
                        let mut rest = batch.clone();
                        for (full, reason) in refused {
                            let snapshot = SnapshotName::parse(&full)?;
                            rest.retain(|n| *n != snapshot.name());
                            report.undestroyed.push(Undestroyed {
                                snapshot,
                                kind: ZfsErrorKind::classify(&reason),
                                reason,
                            });
                        }
                        if !rest.is_empty() {
                            stack.push(rest);
                        }
                    }
                }
            }
        }
        Ok(report)
    }

    async fn destroy_batch(
        &self,
        dataset: &DatasetPath,
        names: &[&str],
    ) -> Result<Attempt, ZfsError> {
        let line = CommandLine::zfs([
            "destroy".to_owned(),
            format!("{dataset}@{}", names.join(",")),
        ]);
        let out = match self.runner.output(&line).await {
            Ok(out) => out,
            Err(ZfsError::Io { source, .. })
                if source.raw_os_error() == Some(E2BIG) && names.len() > 1 =>
            {
                return Ok(Attempt::TooLong);
            }
            Err(e) => return Err(e),
        };
        if out.success() {
            return Ok(Attempt::Done);
        }
        let refused = refusals(&out.stderr);
        // Refusals must name snapshots of this batch, else the retry loop could not progress.
        let ours = refused.iter().all(|(full, _)| {
            SnapshotName::parse(full)
                .is_ok_and(|s| s.dataset() == dataset && names.contains(&s.name()))
        });
        if !refused.is_empty() && ours {
            return Ok(Attempt::Refused(refused));
        }
        let err = ZfsError::command_failed(line.display(), out.status, out.stderr);
        if err.kind() == ZfsErrorKind::DoesNotExist {
            return Ok(Attempt::Done);
        }
        Err(err)
    }

    /// Destroys a bookmark; a missing bookmark counts as success.
    pub async fn destroy_bookmark(&self, bookmark: &BookmarkName) -> Result<(), ZfsError> {
        let line = CommandLine::zfs(["destroy".to_owned(), bookmark.to_string()]);
        ignore_missing(self.runner.run(&line).await)
    }

    /// Destroys a filesystem or volume (with `-r`: its children and snapshots too);
    /// a missing dataset counts as success.
    pub async fn destroy_dataset(
        &self,
        dataset: &DatasetPath,
        recursive: bool,
    ) -> Result<(), ZfsError> {
        let mut line = CommandLine::zfs(["destroy"]);
        if recursive {
            line.arg("-r");
        }
        line.arg(dataset.as_str());
        ignore_missing(self.runner.run(&line).await)
    }
}

fn ignore_missing(result: Result<String, ZfsError>) -> Result<(), ZfsError> {
    match result {
        Err(e) if e.kind() != ZfsErrorKind::DoesNotExist => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ZfsConfig;

    #[tokio::test]
    async fn halves_a_comma_list_that_exceeds_the_argument_limit() {
        // `true` accepts anything; the kernel refuses to exec the first ~200 KiB argument.
        let zfs = Zfs::new(ZfsConfig {
            zfs_bin: "true".into(),
            ..ZfsConfig::default()
        });
        let ds = DatasetPath::new("pool/fs").expect("valid");
        let snaps: Vec<SnapshotName> = (0..1000)
            .map(|n| {
                ds.snapshot(&format!("{n:04}{}", "x".repeat(196)))
                    .expect("valid")
            })
            .collect();
        let report = zfs.destroy_snapshots(&snaps).await.expect("destroy");
        assert!(report.is_complete());
        let calls = zfs.stats().count("zfs destroy");
        assert!((3..=7).contains(&calls), "{calls} calls");
    }

    #[test]
    fn parses_both_refusal_forms() {
        let text = "cannot destroy snapshot p/c@d2: it's being held. Run 'zfs holds -r p/c@d2' to see holders.\n\
            cannot destroy 'p/c@x': snapshot has dependent clones\n\
            use '-R' to destroy the following datasets:\np/clone1\n";
        let r = refusals(text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].0, "p/c@d2");
        assert!(r[0].1.starts_with("it's being held"));
        assert_eq!(
            r[1],
            (
                "p/c@x".to_owned(),
                "snapshot has dependent clones".to_owned()
            )
        );
    }
}
