//! Which datasets a job's `filesystems` filter covers: listing roots for the endpoints and the
//! snapshotter.

use zferry_zfs::{DatasetPath, Zfs};

use crate::config::filesystems::FilesystemsFilter;

/// The datasets below which the filter can match anything (outermost first). A bare `<`
/// pattern covers every pool, so the pools are listed (`zpool list`).
pub async fn filter_roots(
    zfs: &Zfs,
    filter: &FilesystemsFilter,
) -> Result<Vec<DatasetPath>, String> {
    let mut roots = Vec::new();
    for (pattern, include) in filter.patterns() {
        if !include {
            continue;
        }
        let path = pattern.strip_suffix('<').unwrap_or(pattern);
        if path.is_empty() {
            return list_pools(zfs).await;
        }
        roots.push(
            DatasetPath::new(path).map_err(|e| format!("filesystems pattern {pattern:?}: {e}"))?,
        );
    }
    roots.sort();
    roots.dedup();
    Ok(roots)
}

/// `name` as a dataset path, when that dataset exists (commands given a dataset that does not
/// exist must say so rather than list nothing).
pub async fn existing_dataset(zfs: &Zfs, name: &str) -> Result<DatasetPath, String> {
    let path = DatasetPath::new(name).map_err(|e| format!("{name:?}: {e}"))?;
    let found = zfs
        .list_datasets(std::slice::from_ref(&path))
        .await
        .map_err(|e| format!("listing {name}: {e}"))?;
    if found.iter().any(|d| d.path == path) {
        Ok(path)
    } else {
        Err(format!("dataset {name} does not exist"))
    }
}

/// All imported pools.
pub async fn list_pools(zfs: &Zfs) -> Result<Vec<DatasetPath>, String> {
    zfs.list_pools().await.map_err(|e| e.to_string())
}

/// The filesystems (not placeholders) the filter matches, as the snapshotter sees them.
pub async fn matching_filesystems(
    zfs: &Zfs,
    roots: &[DatasetPath],
    filter: &FilesystemsFilter,
) -> Result<Vec<DatasetPath>, String> {
    let matcher = filter.filter();
    let datasets = zfs
        .list_datasets(roots)
        .await
        .map_err(|e| format!("listing filesystems: {e}"))?;
    Ok(datasets
        .into_iter()
        .filter(|d| !d.placeholder && matcher.matches(d.path.as_str()))
        .map(|d| d.path)
        .collect())
}
