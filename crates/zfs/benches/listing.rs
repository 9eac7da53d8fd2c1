//! Listing benchmark: 1,000 filesystems x 100 snapshots in the simulator, listed through the
//! driver (one `zfs list` per listing) and, as the baseline measured in the same run, naively
//! with one `zfs list` per filesystem. Prints invocation counts, wall times and the ratio.
//!
//! `cargo bench -p zferry-zfs --bench listing`; scale with `ZFERRY_BENCH_FS` and
//! `ZFERRY_BENCH_SNAPS` (defaults 1000 and 100). Uses the simulator unless
//! `ZFERRY_TEST_ZFS=real`.

use std::time::{Duration, Instant};

use zferry_zfs::{CreateOptions, DatasetPath, VersionQuery, Zfs, ZfsConfig};
use zferry_zfs_sim::testenv::TestZfs;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `f` and returns its result, the wall time, and the `zfs` invocations it made.
async fn measure<T, F: Future<Output = T>>(zfs: &Zfs, f: F) -> (T, Duration, u64) {
    zfs.stats().reset();
    let start = Instant::now();
    let out = f.await;
    (out, start.elapsed(), zfs.stats().total_count())
}

async fn run() {
    let filesystems = env_usize("ZFERRY_BENCH_FS", 1000);
    let snapshots = env_usize("ZFERRY_BENCH_SNAPS", 100);
    let t = TestZfs::new();
    let pool = t.create_pool("bench");
    let zfs = Zfs::new(ZfsConfig {
        zfs_bin: t.zfs_bin(),
        zpool_bin: t.zpool_bin(),
        env: t.env(),
    });
    let root = DatasetPath::new(format!("{pool}/bench")).expect("valid root");
    let setup = Instant::now();
    let opts = CreateOptions {
        parents: true,
        ..CreateOptions::default()
    };
    let mut fss = Vec::with_capacity(filesystems);
    for i in 0..filesystems {
        let fs = root.join(&format!("fs{i:04}")).expect("valid name");
        zfs.create(&fs, &opts).await.expect("create");
        fss.push(fs);
    }
    for s in 0..snapshots {
        let round: Vec<_> = fss
            .iter()
            .map(|fs| fs.snapshot(&format!("zferry_{s:03}")).expect("valid"))
            .collect();
        zfs.snapshot(&round).await.expect("snapshot");
    }
    println!(
        "setup: {filesystems} filesystems x {snapshots} snapshots in {:.1?} ({} zfs calls)",
        setup.elapsed(),
        zfs.stats().total_count()
    );

    let (datasets, t_ds, n_ds) =
        measure(&zfs, zfs.list_datasets(std::slice::from_ref(&root))).await;
    let datasets = datasets.expect("list datasets");
    assert_eq!(datasets.len(), filesystems + 1);
    let query = VersionQuery::default();
    let (versions, t_v, n_v) =
        measure(&zfs, zfs.list_versions(std::slice::from_ref(&root), query)).await;
    let versions = versions.expect("list versions");
    assert_eq!(versions.len(), filesystems * snapshots);

    let flat = VersionQuery {
        recursive: false,
        ..query
    };
    let naive = async {
        let mut total = 0;
        for fs in &fss {
            total += zfs
                .list_versions(std::slice::from_ref(fs), flat)
                .await
                .expect("list")
                .len();
        }
        total
    };
    let (naive_total, t_naive, n_naive) = measure(&zfs, naive).await;
    assert_eq!(naive_total, filesystems * snapshots);

    println!("list datasets (one recursive call): {n_ds} zfs call(s), {t_ds:.2?}");
    println!(
        "list versions (one recursive call): {n_v} zfs call(s), {t_v:.2?}, {} versions",
        versions.len()
    );
    println!("baseline, one call per filesystem:  {n_naive} zfs calls, {t_naive:.2?}");
    println!(
        "ratio baseline/batched: {:.1}x wall time, {}x invocations",
        t_naive.as_secs_f64() / t_v.as_secs_f64(),
        n_naive / n_v.max(1)
    );
    assert_eq!((n_ds, n_v), (1, 1), "a listing must be one zfs call");
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing else we need.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run());
}
