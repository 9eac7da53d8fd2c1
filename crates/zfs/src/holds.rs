//! User holds: idempotent, batched hold/release, and listing where `userrefs > 0`.

use std::collections::BTreeMap;

use crate::command::{ARG_BUDGET, CommandLine, chunk_by_size};
use crate::driver::Zfs;
use crate::error::ZfsError;
use crate::list::ListedVersion;
use crate::name::{HoldTag, SnapshotName};

/// A hold as `zfs holds -H -p` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The held snapshot.
    pub snapshot: SnapshotName,
    /// The hold's tag.
    pub tag: HoldTag,
    /// When the hold was placed (Unix seconds).
    pub timestamp: i64,
}

/// True when every stderr line ends with one of the `benign` endings.
fn only_benign(stderr: &str, benign: &[&str]) -> bool {
    let mut lines = stderr.lines().filter(|l| !l.trim().is_empty()).peekable();
    lines.peek().is_some() && lines.all(|l| benign.iter().any(|b| l.trim_end().ends_with(b)))
}

impl Zfs {
    /// Places hold `tag` on every snapshot (batched). A snapshot that already carries the tag
    /// counts as success; OpenZFS holds the others of a batch even when one fails.
    pub async fn hold(&self, tag: &HoldTag, snapshots: &[SnapshotName]) -> Result<(), ZfsError> {
        self.hold_or_release(
            "hold",
            tag,
            snapshots,
            &["tag already exists on this dataset"],
        )
        .await
    }

    /// Releases hold `tag` from every snapshot (batched). A missing tag or a missing snapshot
    /// counts as success.
    pub async fn release(&self, tag: &HoldTag, snapshots: &[SnapshotName]) -> Result<(), ZfsError> {
        self.hold_or_release(
            "release",
            tag,
            snapshots,
            &["no such tag on this dataset", "dataset does not exist"],
        )
        .await
    }

    async fn hold_or_release(
        &self,
        verb: &str,
        tag: &HoldTag,
        snapshots: &[SnapshotName],
        benign: &[&str],
    ) -> Result<(), ZfsError> {
        let names: Vec<String> = snapshots.iter().map(ToString::to_string).collect();
        for chunk in chunk_by_size(&names, ARG_BUDGET, String::len) {
            let mut line = CommandLine::zfs([verb, tag.as_str()]);
            for n in &chunk {
                line.arg(n);
            }
            let out = self.runner.output(&line).await?;
            if !out.success() && !only_benign(&out.stderr, benign) {
                return Err(ZfsError::command_failed(
                    line.display(),
                    out.status,
                    out.stderr,
                ));
            }
        }
        Ok(())
    }

    /// Lists the holds of `snapshots` (batched `zfs holds -H -p`).
    pub async fn list_holds(&self, snapshots: &[SnapshotName]) -> Result<Vec<Hold>, ZfsError> {
        let names: Vec<String> = snapshots.iter().map(ToString::to_string).collect();
        let mut holds = Vec::new();
        for chunk in chunk_by_size(&names, ARG_BUDGET, String::len) {
            let mut line = CommandLine::zfs(["holds", "-H", "-p"]);
            for n in &chunk {
                line.arg(n);
            }
            let stdout = self.runner.run(&line).await?;
            for row in stdout.lines() {
                holds.push(parse_hold(&line, row)?);
            }
        }
        Ok(holds)
    }

    /// Lists holds only of those listed snapshots whose `userrefs` is above zero (list versions
    /// with [`crate::VersionQuery::userrefs`] set), so unheld snapshots cost nothing. Returns
    /// the tags per snapshot.
    pub async fn holds_where_referenced<'a>(
        &self,
        versions: impl IntoIterator<Item = &'a ListedVersion>,
    ) -> Result<BTreeMap<SnapshotName, Vec<HoldTag>>, ZfsError> {
        let mut held = Vec::new();
        for v in versions
            .into_iter()
            .filter(|v| v.userrefs.is_some_and(|n| n > 0))
        {
            if let Some(name) = v.version.snapshot_name() {
                held.push(name?);
            }
        }
        let mut map: BTreeMap<SnapshotName, Vec<HoldTag>> = BTreeMap::new();
        if held.is_empty() {
            return Ok(map);
        }
        for h in self.list_holds(&held).await? {
            map.entry(h.snapshot).or_default().push(h.tag);
        }
        Ok(map)
    }
}

/// Parses `snapshot<TAB>tag<TAB>timestamp`.
fn parse_hold(line: &CommandLine, row: &str) -> Result<Hold, ZfsError> {
    let bad = || ZfsError::Parse {
        command: line.display(),
        detail: format!("unexpected holds row {row:?}"),
    };
    let (snapshot, rest) = row.split_once('\t').ok_or_else(bad)?;
    let (tag, timestamp) = rest.rsplit_once('\t').ok_or_else(bad)?;
    Ok(Hold {
        snapshot: SnapshotName::parse(snapshot)?,
        tag: HoldTag::new(tag)?,
        timestamp: timestamp.parse().map_err(|_| bad())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_holds_rows() {
        let line = CommandLine::zfs(["holds"]);
        let h = parse_hold(&line, "p/a b@s1\tmy tag\t1795304257").expect("parses");
        assert_eq!(h.snapshot.to_string(), "p/a b@s1");
        assert_eq!(h.tag.as_str(), "my tag");
        assert_eq!(h.timestamp, 1795304257);
        assert!(parse_hold(&line, "p/a@s1\tt\tSat Nov 21").is_err());
    }

    #[test]
    fn benign_only_when_every_line_is() {
        let exists = "cannot hold snapshot 'p/a@s': tag already exists on this dataset\n";
        assert!(only_benign(exists, &["tag already exists on this dataset"]));
        let mixed = format!("{exists}cannot hold snapshot 'p/a@t': dataset does not exist\n");
        assert!(!only_benign(
            &mixed,
            &["tag already exists on this dataset"]
        ));
        assert!(!only_benign("", &["x"]));
    }
}
