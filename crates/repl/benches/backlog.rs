//! Backlog benchmark: replicate a backlog of N snapshots (default 1000, `ZFERRY_BENCH_BACKLOG`)
//! on the simulator with backlog batching (`zfs send -I`, one step) and with one `-i` step per
//! snapshot, in the same run, and report the ratio.
//!
//! `cargo bench -p zferry-repl --bench backlog`

use std::sync::Arc;
use std::time::{Duration, Instant};

use zferry_repl::abstractions::Lane;
use zferry_repl::endpoint::{Receiver, Sender};
use zferry_repl::executor::{ReplicationOptions, replicate};
use zferry_repl::filter::FilesystemFilter;
use zferry_repl::local::{LocalReceiver, LocalSender, RecvOptions, SendOptions};
use zferry_repl::planner::PlanOptions;
use zferry_repl::report::Progress;
use zferry_zfs::{DatasetPath, Zfs, ZfsConfig};
use zferry_zfs_sim::testenv::{TestZfs, write_file};

async fn timed(
    zfs: &Zfs,
    sender: Arc<dyn Sender>,
    receiver: Arc<dyn Receiver>,
    batch: bool,
) -> (Duration, u64) {
    let options = ReplicationOptions {
        plan: PlanOptions {
            batch_backlog: batch,
            ..PlanOptions::default()
        },
        max_attempts: 1,
        ..ReplicationOptions::default()
    };
    zfs.stats().reset();
    let start = Instant::now();
    let report = replicate(sender, receiver, &options, &Progress::new()).await;
    let elapsed = start.elapsed();
    assert!(report.succeeded(), "{report:#?}");
    (elapsed, zfs.stats().total_count())
}

#[tokio::main]
async fn main() {
    let backlog: usize = std::env::var("ZFERRY_BENCH_BACKLOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let t = TestZfs::new();
    let src = t.create_pool("src");
    let dst = t.create_pool("dst");
    let fs = format!("{src}/data");
    t.zfs_ok(&["create", &fs]);
    write_file(&t.mountpoint(&fs), "base", b"base");
    t.zfs_ok(&["snapshot", &format!("{fs}@s0000")]);
    let zfs = Zfs::new(ZfsConfig {
        zfs_bin: t.zfs_bin(),
        zpool_bin: t.zpool_bin(),
        env: t.env(),
    });
    let pattern = format!("{fs}<");
    let sender = |peer: &str| -> Arc<dyn Sender> {
        Arc::new(LocalSender::new(
            zfs.clone(),
            vec![DatasetPath::new(src.as_str()).expect("pool")],
            FilesystemFilter::from_map([(pattern.as_str(), true)]).expect("filter"),
            Lane::new("push", peer),
            SendOptions::default(),
        ))
    };
    let receiver = |root: &str| -> Arc<dyn Receiver> {
        Arc::new(LocalReceiver::new(
            zfs.clone(),
            DatasetPath::new(format!("{dst}/{root}")).expect("root"),
            Lane::new("sink", "bench"),
            RecvOptions::default(),
        ))
    };
    // Both receivers start from the same initial snapshot.
    timed(&zfs, sender("batched"), receiver("batched"), true).await;
    timed(&zfs, sender("single"), receiver("single"), true).await;
    for i in 1..=backlog {
        write_file(&t.mountpoint(&fs), "counter", format!("{i}").as_bytes());
        t.zfs_ok(&["snapshot", &format!("{fs}@s{i:04}")]);
    }
    let (batched, batched_calls) = timed(&zfs, sender("batched"), receiver("batched"), true).await;
    let (single, single_calls) = timed(&zfs, sender("single"), receiver("single"), false).await;
    println!(
        "backlog of {backlog} snapshots: batched (-I) {:.2} s with {batched_calls} zfs invocations; \
         one step per snapshot (-i) {:.2} s with {single_calls} zfs invocations; ratio {:.1}x",
        batched.as_secs_f64(),
        single.as_secs_f64(),
        single.as_secs_f64() / batched.as_secs_f64().max(1e-9)
    );
}
