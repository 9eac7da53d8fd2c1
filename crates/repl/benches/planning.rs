//! Planning benchmark: list and plan N filesystems x S snapshots on the simulator.
//!
//! `cargo bench -p zferry-repl --bench planning` (N = `ZFERRY_BENCH_FS`, default 10000;
//! S = `ZFERRY_BENCH_SNAPS`, default 100). Reports the planning wall time, the bench process's
//! peak resident memory, and the `zfs` invocations of the planning run by verb, for N and N/10
//! filesystems, so it shows that listing invocations do not grow with the filesystem count.

use std::time::Instant;

use zferry_repl::abstractions::Lane;
use zferry_repl::executor::dry_run;
use zferry_repl::filter::FilesystemFilter;
use zferry_repl::local::{LocalReceiver, LocalSender, RecvOptions, SendOptions};
use zferry_repl::planner::{PlanOptions, PlanOutcome};
use zferry_zfs::{DatasetPath, Zfs, ZfsConfig};
use zferry_zfs_sim::testenv::TestZfs;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident set size of this process in KiB (`VmHWM`).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

async fn scenario(filesystems: usize, snapshots: usize) {
    let t = TestZfs::new();
    let src = t.create_pool("src");
    let dst = t.create_pool("dst");
    let setup = Instant::now();
    t.zfs_ok(&["create", &format!("{src}/data")]);
    for i in 0..filesystems {
        t.zfs_ok(&["create", &format!("{src}/data/fs{i:05}")]);
    }
    for s in 0..snapshots {
        t.zfs_ok(&["snapshot", "-r", &format!("{src}/data@s{s:03}")]);
    }
    eprintln!(
        "setup of {filesystems} filesystems x {snapshots} snapshots: {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    let zfs = Zfs::new(ZfsConfig {
        zfs_bin: t.zfs_bin(),
        zpool_bin: t.zpool_bin(),
        env: t.env(),
    });
    let pattern = format!("{src}/data<");
    let filter = FilesystemFilter::from_map([(pattern.as_str(), true)]).expect("filter");
    let sender = LocalSender::new(
        zfs.clone(),
        vec![DatasetPath::new(src.as_str()).expect("pool")],
        filter,
        Lane::new("push", "bench"),
        SendOptions::default(),
    );
    let receiver = LocalReceiver::new(
        zfs.clone(),
        DatasetPath::new(format!("{dst}/backup")).expect("root"),
        Lane::new("sink", "bench"),
        RecvOptions::default(),
    );
    zfs.stats().reset();
    let rss_before = peak_rss_kib();
    let start = Instant::now();
    let plans = dry_run(&sender, &receiver, &PlanOptions::default())
        .await
        .expect("dry run");
    let elapsed = start.elapsed();
    let steps: usize = plans
        .iter()
        .map(|p| match &p.outcome {
            PlanOutcome::Steps { steps } => steps.len(),
            _ => 0,
        })
        .sum();
    let in_zfs: f64 = zfs
        .stats()
        .snapshot()
        .values()
        .map(|s| s.total_time.as_secs_f64())
        .sum();
    println!(
        "planning {filesystems} fs x {snapshots} snapshots: {:.3} s ({in_zfs:.3} s of it waiting for zfs), {} plans, {steps} steps, peak RSS {} MiB (before planning {} MiB), zfs invocations {} {:?}",
        elapsed.as_secs_f64(),
        plans.len(),
        peak_rss_kib() / 1024,
        rss_before / 1024,
        zfs.stats().total_count(),
        zfs.stats()
            .snapshot()
            .iter()
            .map(|(verb, s)| (verb.clone(), s.count))
            .collect::<Vec<_>>()
    );
}

#[tokio::main]
async fn main() {
    let filesystems = env_usize("ZFERRY_BENCH_FS", 10_000);
    let snapshots = env_usize("ZFERRY_BENCH_SNAPS", 100);
    scenario((filesystems / 10).max(1), snapshots).await;
    scenario(filesystems, snapshots).await;
}
