//! `zferry zfs-abstraction list | release-stale | release-all`: the bookmarks and holds zferry
//! (and zrepl, for migration) keeps on datasets.
//!
//! Filters: `--fs` (a dataset and everything below it; default every pool), `--job` (matches the
//! informational label of zferry names, `job` or `job.peer`, and zrepl's job suffix), `--lane`
//! (the 16-hex-digit lane key of zferry names), `--type`. `release-stale` releases only
//! abstractions whose embedded guid is not the guid of the snapshot they sit on or name (renamed
//! or tampered with, ignored by the engine anyway); `release-all` releases every matching one, so
//! run it for jobs that no longer exist or after migrating from zrepl. `--dry-run` prints what
//! would be released.

use anyhow::Context;
use serde::Serialize;
use zferry_repl::abstractions::{AbstractionKind, AbstractionName, ZreplAbstraction};
use zferry_zfs::{
    BookmarkName, DatasetPath, HoldTag, SnapshotName, VersionKind, VersionQuery, Zfs,
};

use crate::cli::{AbstractionFilter, AbstractionType, ZfsAbstractionCommand};
use crate::jobs::datasets::{existing_dataset, list_pools};

/// One abstraction found on disk.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    /// `replication_cursor`, `tentative_cursor`, `step_hold`, `last_received_hold`,
    /// `zrepl_cursor`, `zrepl_step_hold` or `zrepl_last_received_hold`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The dataset.
    pub dataset: String,
    /// A bookmark's full name or a held snapshot's full name.
    pub object: String,
    /// The hold tag (holds only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The lane key (zferry names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    /// The label (zferry: `job.peer`) or zrepl job name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// The embedded guid does not match the object's guid.
    pub stale: bool,
}

impl Found {
    fn type_of(&self) -> AbstractionType {
        match self.kind {
            "replication_cursor" => AbstractionType::Cursor,
            "tentative_cursor" => AbstractionType::Tentative,
            "step_hold" => AbstractionType::Step,
            "last_received_hold" => AbstractionType::LastReceived,
            _ => AbstractionType::Zrepl,
        }
    }
}

fn zferry_kind(kind: AbstractionKind) -> &'static str {
    match kind {
        AbstractionKind::ReplicationCursor => "replication_cursor",
        AbstractionKind::TentativeCursor => "tentative_cursor",
        AbstractionKind::StepHold => "step_hold",
        AbstractionKind::LastReceivedHold => "last_received_hold",
    }
}

/// The label after `zferry_<T>_<guid>_<lane>_`, if any.
fn label(name: &str) -> Option<String> {
    name.splitn(5, '_').nth(4).map(str::to_owned)
}

fn classify(
    name: &str,
    actual_guid: u64,
) -> Option<(&'static str, Option<String>, Option<String>, bool)> {
    if let Some(a) = AbstractionName::parse(name) {
        return Some((
            zferry_kind(a.kind),
            Some(a.lane.to_string()),
            label(name),
            a.guid != actual_guid,
        ));
    }
    let z =
        ZreplAbstraction::parse_bookmark(name).or_else(|| ZreplAbstraction::parse_hold(name))?;
    Some(match z {
        ZreplAbstraction::Cursor { guid, job } => {
            ("zrepl_cursor", None, Some(job), guid != actual_guid)
        }
        ZreplAbstraction::LegacyCursor => ("zrepl_cursor", None, None, false),
        ZreplAbstraction::StepHold { job } => ("zrepl_step_hold", None, Some(job), false),
        ZreplAbstraction::LastReceivedHold { job } => {
            ("zrepl_last_received_hold", None, Some(job), false)
        }
    })
}

/// Lists the abstractions below `roots`.
pub async fn find(zfs: &Zfs, roots: &[DatasetPath]) -> anyhow::Result<Vec<Found>> {
    let versions = zfs
        .list_versions(
            roots,
            VersionQuery {
                userrefs: true,
                ..VersionQuery::default()
            },
        )
        .await?;
    let mut found = Vec::new();
    for v in &versions {
        if v.version.kind == VersionKind::Bookmark
            && let Some((kind, lane, job, stale)) = classify(&v.version.name, v.version.guid)
        {
            found.push(Found {
                kind,
                dataset: v.version.dataset.to_string(),
                object: v.version.full_name(),
                tag: None,
                lane,
                job,
                stale,
            });
        }
    }
    let holds = zfs.holds_where_referenced(&versions).await?;
    for (snapshot, tags) in holds {
        let guid = versions
            .iter()
            .find(|v| {
                v.version.kind == VersionKind::Snapshot
                    && v.version.full_name() == snapshot.full_name()
            })
            .map(|v| v.version.guid)
            .unwrap_or(0);
        for tag in tags {
            if let Some((kind, lane, job, stale)) = classify(tag.as_str(), guid) {
                found.push(Found {
                    kind,
                    dataset: snapshot.dataset().to_string(),
                    object: snapshot.full_name(),
                    tag: Some(tag.as_str().to_owned()),
                    lane,
                    job,
                    stale,
                });
            }
        }
    }
    Ok(found)
}

fn matches(f: &Found, filter: &AbstractionFilter) -> bool {
    let job_ok = filter.job.as_ref().is_none_or(|j| {
        f.job
            .as_ref()
            .is_some_and(|l| l == j || l.starts_with(&format!("{j}.")))
    });
    let lane_ok = filter
        .lane
        .as_ref()
        .is_none_or(|l| f.lane.as_ref() == Some(l));
    let type_ok = filter.r#type.is_empty() || filter.r#type.contains(&f.type_of());
    job_ok && lane_ok && type_ok
}

async fn release(zfs: &Zfs, f: &Found) -> anyhow::Result<()> {
    match &f.tag {
        None => zfs
            .destroy_bookmark(&BookmarkName::parse(&f.object)?)
            .await
            .with_context(|| format!("destroying {}", f.object)),
        Some(tag) => zfs
            .release(
                &HoldTag::new(tag.clone())?,
                &[SnapshotName::parse(&f.object)?],
            )
            .await
            .with_context(|| format!("releasing {tag} on {}", f.object)),
    }
}

fn print(found: &[Found], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(found)?);
        return Ok(());
    }
    for f in found {
        println!(
            "{:<24} {}{}{}{}",
            f.kind,
            f.object,
            f.tag
                .as_ref()
                .map(|t| format!("  hold {t}"))
                .unwrap_or_default(),
            f.job
                .as_ref()
                .map(|j| format!("  job {j}"))
                .unwrap_or_default(),
            if f.stale { "  STALE" } else { "" }
        );
    }
    Ok(())
}

/// Runs the subcommand.
pub fn run(command: &ZfsAbstractionCommand) -> anyhow::Result<()> {
    let zfs = Zfs::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (filter, mode) = match command {
            ZfsAbstractionCommand::List { filter } => (filter, None),
            ZfsAbstractionCommand::ReleaseStale { filter, dry_run } => {
                (filter, Some((true, *dry_run)))
            }
            ZfsAbstractionCommand::ReleaseAll { filter, dry_run } => {
                (filter, Some((false, *dry_run)))
            }
        };
        let roots = match &filter.fs {
            Some(fs) => vec![
                existing_dataset(&zfs, fs)
                    .await
                    .map_err(anyhow::Error::msg)?,
            ],
            None => list_pools(&zfs).await.map_err(anyhow::Error::msg)?,
        };
        let found: Vec<Found> = find(&zfs, &roots)
            .await?
            .into_iter()
            .filter(|f| matches(f, filter))
            .filter(|f| !matches!(mode, Some((true, _))) || f.stale)
            .collect();
        let Some((_, dry_run)) = mode else {
            return print(&found, filter.json);
        };
        for f in &found {
            if dry_run {
                println!(
                    "would release {} {}{}",
                    f.kind,
                    f.object,
                    f.tag
                        .as_ref()
                        .map(|t| format!(" ({t})"))
                        .unwrap_or_default()
                );
            } else {
                release(&zfs, f).await?;
                println!(
                    "released {} {}{}",
                    f.kind,
                    f.object,
                    f.tag
                        .as_ref()
                        .map(|t| format!(" ({t})"))
                        .unwrap_or_default()
                );
            }
        }
        Ok(())
    })
}
