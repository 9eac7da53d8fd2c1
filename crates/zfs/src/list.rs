//! Listing filesystems/volumes and their versions, each in one `zfs list -H -p` call.
//!
//! Roots that do not exist are not an error: they simply contribute nothing (a receiver's
//! root is often created later). Roots nested in other roots are dropped before the call so
//! nothing is listed twice.

use std::collections::HashSet;

use crate::command::{ARG_BUDGET, CommandLine, chunk_by_size};
use crate::driver::Zfs;
use crate::error::ZfsError;
use crate::name::{DatasetPath, PropertyName};
use crate::props::PropertySource;
use crate::version::{Version, VersionKind};

/// zferry's placeholder marker property (value `on`).
pub const PLACEHOLDER_PROPERTY: &str = "zferry:placeholder";
/// zrepl's placeholder marker property, recognised for migration.
pub const ZREPL_PLACEHOLDER_PROPERTY: &str = "zrepl:placeholder";

/// What a dataset's placeholder markers say, by zferry's and zrepl's rules together.
///
/// User properties inherit, so a filesystem zrepl received below one of its placeholders shows
/// `zrepl:placeholder=on` too; zrepl counts only a value set locally. zferry marks every
/// filesystem it receives `zferry:placeholder=off` locally, so its own marker decides whenever
/// it is set (inherited or not); otherwise zrepl's decides, and only where `zrepl_local` (its
/// source is `local`). A zrepl replica below a zrepl placeholder is therefore a real
/// filesystem, as it was for zrepl: it is pruned, and never overwritten by a full receive.
pub fn is_placeholder(zferry: Option<&str>, zrepl: Option<&str>, zrepl_local: bool) -> bool {
    match zferry {
        Some(value) => value == "on",
        None => zrepl == Some("on") && zrepl_local,
    }
}

/// Filesystem or volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetType {
    /// A filesystem.
    Filesystem,
    /// A volume (zvol).
    Volume,
}

/// Whether an encryption key is loaded (`keystatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Key loaded.
    Available,
    /// Key not loaded: the dataset is locked.
    Unavailable,
}

/// One filesystem or volume with the properties replication needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetInfo {
    /// Its name.
    pub path: DatasetPath,
    /// Filesystem or volume.
    pub kind: DatasetType,
    /// A placeholder by [`is_placeholder`]'s rule.
    pub placeholder: bool,
    /// The resume token of an interrupted `recv -s`, if any.
    pub receive_resume_token: Option<String>,
    /// The `encryption` property (`off`, `aes-256-gcm`, ...), if this ZFS knows it.
    pub encryption: Option<String>,
    /// The encryption root, for encrypted datasets.
    pub encryption_root: Option<DatasetPath>,
    /// Key status, for encrypted datasets.
    pub key_status: Option<KeyStatus>,
    /// `snapshots_changed` (Unix seconds) where this ZFS provides it.
    pub snapshots_changed: Option<i64>,
    /// `written`: bytes written since the most recent snapshot (all referenced bytes when there
    /// is none). Real ZFS counts only synced transaction groups, so a change of the last few
    /// seconds may not show yet.
    pub written: Option<u64>,
}

impl DatasetInfo {
    /// True when the dataset is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.encryption.as_deref().is_some_and(|e| e != "off")
    }
}

/// What [`Zfs::list_versions`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionQuery {
    /// Include snapshots.
    pub snapshots: bool,
    /// Include bookmarks.
    pub bookmarks: bool,
    /// Recurse below the given filesystems (else only their own versions).
    pub recursive: bool,
    /// Also read `creation` (slower: leaves the fast path).
    pub creation: bool,
    /// Also read `userrefs` (hold counts; snapshots only).
    pub userrefs: bool,
}

impl Default for VersionQuery {
    fn default() -> Self {
        VersionQuery {
            snapshots: true,
            bookmarks: true,
            recursive: true,
            creation: false,
            userrefs: false,
        }
    }
}

/// A version with the optional properties a [`VersionQuery`] asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedVersion {
    /// The version.
    pub version: Version,
    /// Number of holds (snapshots, when asked; `None` for bookmarks).
    pub userrefs: Option<u64>,
}

/// Drops roots that lie below other roots, and duplicates.
fn outermost(roots: &[DatasetPath]) -> Vec<DatasetPath> {
    let mut sorted: Vec<DatasetPath> = roots.to_vec();
    sorted.sort();
    sorted.dedup();
    let mut kept: Vec<DatasetPath> = Vec::new();
    for r in sorted {
        if !kept.iter().any(|k| r.is_descendant_of(k)) {
            kept.push(r);
        }
    }
    kept
}

/// True when every stderr line says that some dataset does not exist.
fn only_missing_datasets(stderr: &str) -> bool {
    let mut lines = stderr.lines().filter(|l| !l.trim().is_empty()).peekable();
    lines.peek().is_some() && lines.all(|l| l.ends_with("dataset does not exist"))
}

fn parse_error(line: &CommandLine, detail: String) -> ZfsError {
    ZfsError::Parse {
        command: line.display(),
        detail,
    }
}

/// `-` is ZFS's "no value".
fn opt(value: &str) -> Option<&str> {
    (value != "-" && !value.is_empty()).then_some(value)
}

fn parse_num<T: std::str::FromStr>(line: &CommandLine, what: &str, v: &str) -> Result<T, ZfsError> {
    v.parse()
        .map_err(|_| parse_error(line, format!("{what} {v:?} is not a number")))
}

impl Zfs {
    /// Lists all filesystems and volumes at and below `roots` in one `zfs list` call.
    pub async fn list_datasets(&self, roots: &[DatasetPath]) -> Result<Vec<DatasetInfo>, ZfsError> {
        let roots = outermost(roots);
        if roots.is_empty() {
            return Ok(Vec::new());
        }
        let wanted = [
            "name",
            "type",
            PLACEHOLDER_PROPERTY,
            ZREPL_PLACEHOLDER_PROPERTY,
            "receive_resume_token",
            "encryption",
            "encryptionroot",
            "keystatus",
            "snapshots_changed",
            "written",
        ];
        let build = |props: &str| {
            let mut line = CommandLine::zfs([
                "list",
                "-H",
                "-p",
                "-r",
                "-t",
                "filesystem,volume",
                "-o",
                props,
            ]);
            for r in &roots {
                line.arg(r.as_str());
            }
            line
        };
        let (out, props) = self.run_with_props(&wanted, build).await?;
        let line = build(&props.join(","));
        if !out.success() && !only_missing_datasets(&out.stderr) {
            return Err(ZfsError::command_failed(
                line.display(),
                out.status,
                out.stderr,
            ));
        }
        let mut result = Vec::new();
        let mut zrepl_candidates = Vec::new();
        for row in out.stdout.lines() {
            let fields: Vec<&str> = row.split('\t').collect();
            if fields.len() != props.len() {
                return Err(parse_error(
                    &line,
                    format!("row {row:?} has {} fields", fields.len()),
                ));
            }
            let get = |name: &str| {
                props
                    .iter()
                    .position(|p| p == name)
                    .and_then(|i| opt(fields[i]))
            };
            let path = DatasetPath::new(fields[0])?;
            let kind = match get("type") {
                Some("filesystem") => DatasetType::Filesystem,
                Some("volume") => DatasetType::Volume,
                other => return Err(parse_error(&line, format!("unexpected type {other:?}"))),
            };
            let key_status = match get("keystatus") {
                Some("available") => Some(KeyStatus::Available),
                Some("unavailable") => Some(KeyStatus::Unavailable),
                _ => None,
            };
            let snapshots_changed = get("snapshots_changed")
                .map(|v| parse_num(&line, "snapshots_changed", v))
                .transpose()?;
            let written = get("written")
                .map(|v| parse_num(&line, "written", v))
                .transpose()?;
            let zrepl_on = get(ZREPL_PLACEHOLDER_PROPERTY) == Some("on");
            if zrepl_on && get(PLACEHOLDER_PROPERTY).is_none() {
                zrepl_candidates.push(path.clone());
            }
            result.push(DatasetInfo {
                path,
                kind,
                // zrepl's marker counted as local for now: `zfs list` does not show sources;
                // settled below.
                placeholder: is_placeholder(
                    get(PLACEHOLDER_PROPERTY),
                    get(ZREPL_PLACEHOLDER_PROPERTY),
                    true,
                ),
                receive_resume_token: get("receive_resume_token").map(str::to_owned),
                encryption: get("encryption").map(str::to_owned),
                encryption_root: get("encryptionroot").map(DatasetPath::new).transpose()?,
                key_status,
                snapshots_changed,
                written,
            });
        }
        self.settle_zrepl_placeholders(&mut result, &zrepl_candidates)
            .await?;
        Ok(result)
    }

    /// For the datasets that only zrepl's marker calls placeholders, asks where the marker
    /// comes from (one batched `zfs get`, needed only on pools zrepl has received into) and
    /// keeps those where it is set locally.
    async fn settle_zrepl_placeholders(
        &self,
        datasets: &mut [DatasetInfo],
        candidates: &[DatasetPath],
    ) -> Result<(), ZfsError> {
        if candidates.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = candidates.iter().map(DatasetPath::as_str).collect();
        let marker = PropertyName::new(ZREPL_PLACEHOLDER_PROPERTY)?;
        let local: HashSet<String> = self
            .get_properties(&names, std::slice::from_ref(&marker))
            .await?
            .into_iter()
            .filter(|v| v.source == PropertySource::Local)
            .map(|v| v.name)
            .collect();
        for d in datasets.iter_mut() {
            if candidates.contains(&d.path) {
                d.placeholder = local.contains(d.path.as_str());
            }
        }
        Ok(())
    }

    /// Lists the snapshots and/or bookmarks of `filesystems` (recursively when asked) with the
    /// fast-path properties `name,guid,createtxg` (plus `creation`/`userrefs` when asked), in
    /// one `zfs list` call per [`ARG_BUDGET`] of names. Sorted by dataset, then createtxg.
    pub async fn list_versions(
        &self,
        filesystems: &[DatasetPath],
        query: VersionQuery,
    ) -> Result<Vec<ListedVersion>, ZfsError> {
        let roots = if query.recursive {
            outermost(filesystems)
        } else {
            let mut v = filesystems.to_vec();
            v.sort();
            v.dedup();
            v
        };
        let types = match (query.snapshots, query.bookmarks) {
            (true, true) => "snapshot,bookmark",
            (true, false) => "snapshot",
            (false, true) => "bookmark",
            (false, false) => return Ok(Vec::new()),
        };
        let mut props = vec!["name", "guid", "createtxg"];
        if query.creation {
            props.push("creation");
        }
        if query.userrefs {
            props.push("userrefs");
        }
        let mut result = Vec::new();
        for chunk in chunk_by_size(&roots, ARG_BUDGET, |r| r.as_str().len()) {
            let mut line =
                CommandLine::zfs(["list", "-H", "-p", "-t", types, "-o", &props.join(",")]);
            if query.recursive {
                line.arg("-r");
            } else {
                line.arg("-d").arg("1");
            }
            for r in &chunk {
                line.arg(r.as_str());
            }
            let out = self.runner.output(&line).await?;
            if !out.success() && !only_missing_datasets(&out.stderr) {
                return Err(ZfsError::command_failed(
                    line.display(),
                    out.status,
                    out.stderr,
                ));
            }
            for row in out.stdout.lines() {
                result.push(parse_version_row(&line, row, &props)?);
            }
        }
        // Overlapping arguments cannot list a version twice after `outermost`, but a
        // non-recursive query may name the same dataset twice; dedup defensively.
        let mut seen = HashSet::new();
        result.retain(|v| seen.insert((v.version.kind, v.version.full_name())));
        result.sort_by(|a, b| {
            (
                &a.version.dataset,
                a.version.createtxg,
                a.version.kind,
                &a.version.name,
            )
                .cmp(&(
                    &b.version.dataset,
                    b.version.createtxg,
                    b.version.kind,
                    &b.version.name,
                ))
        });
        Ok(result)
    }
}

/// Parses one `name guid createtxg [creation] [userrefs]` row.
fn parse_version_row(
    line: &CommandLine,
    row: &str,
    props: &[&str],
) -> Result<ListedVersion, ZfsError> {
    let fields: Vec<&str> = row.split('\t').collect();
    if fields.len() != props.len() {
        return Err(parse_error(
            line,
            format!("row {row:?} has {} fields", fields.len()),
        ));
    }
    let full = fields[0];
    let (kind, at) = match (full.find('@'), full.find('#')) {
        (Some(i), None) => (VersionKind::Snapshot, i),
        (None, Some(i)) => (VersionKind::Bookmark, i),
        _ => {
            return Err(parse_error(
                line,
                format!("{full:?} is not a snapshot or bookmark"),
            ));
        }
    };
    let dataset = DatasetPath::new(&full[..at])?;
    let name = full[at + 1..].to_owned();
    let field = |p: &str| props.iter().position(|x| *x == p).map(|i| fields[i]);
    let guid = parse_num(line, "guid", field("guid").unwrap_or_default())?;
    let createtxg = parse_num(line, "createtxg", field("createtxg").unwrap_or_default())?;
    let creation = field("creation")
        .and_then(opt)
        .map(|v| parse_num(line, "creation", v))
        .transpose()?;
    let userrefs = field("userrefs")
        .and_then(opt)
        .map(|v| parse_num(line, "userrefs", v))
        .transpose()?;
    Ok(ListedVersion {
        version: Version {
            kind,
            dataset,
            name,
            guid,
            createtxg,
            creation,
        },
        userrefs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(s: &str) -> DatasetPath {
        DatasetPath::new(s).expect("valid")
    }

    #[test]
    fn nested_roots_are_listed_once() {
        let roots = [ds("p/a/b"), ds("p/a"), ds("p/ab"), ds("p/a")];
        assert_eq!(outermost(&roots), vec![ds("p/a"), ds("p/ab")]);
    }

    #[test]
    fn parses_version_rows() {
        let line = CommandLine::zfs(["list"]);
        let props = ["name", "guid", "createtxg", "userrefs"];
        let v = parse_version_row(&line, "p/a b@s 1\t6060274766588005886\t111\t2", &props)
            .expect("parses");
        assert_eq!(v.version.kind, VersionKind::Snapshot);
        assert_eq!(v.version.dataset, ds("p/a b"));
        assert_eq!(v.version.name, "s 1");
        assert_eq!(v.version.guid, 6060274766588005886);
        assert_eq!(v.userrefs, Some(2));
        let b = parse_version_row(&line, "p/c#b1\t1\t111\t-", &props).expect("parses");
        assert_eq!(b.version.kind, VersionKind::Bookmark);
        assert_eq!(b.userrefs, None);
        assert!(parse_version_row(&line, "p/c\t1\t111\t-", &props).is_err());
        assert!(parse_version_row(&line, "p/c@x\tnotanumber\t111\t-", &props).is_err());
    }

    #[test]
    fn recognises_missing_dataset_errors() {
        assert!(only_missing_datasets(
            "cannot open 'p/x': dataset does not exist\n"
        ));
        assert!(!only_missing_datasets("permission denied\n"));
        assert!(!only_missing_datasets(""));
    }
}
