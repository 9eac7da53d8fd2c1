//! Replication scenarios through `LocalSender`/`LocalReceiver` on a `TestZfs` world
//! (simulator by default; `ZFERRY_TEST_ZFS=real` for real OpenZFS).

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::{
    Faults, FaultySender, World, cursors, fast_options, lane_a, last_received, noise, run,
    step_holds,
};
use regex::Regex;
use zferry_repl::abstractions::{AbstractionKind, Lane};
use zferry_repl::endpoint::{Incremental, Protection, Sender};
use zferry_repl::executor::ReplicationOptions;
use zferry_repl::local::{RecvOptions, SendOptions};
use zferry_repl::planner::InitialReplication;
use zferry_repl::prune::{KeepRule, PruneSide, prune};
use zferry_repl::report::{FsState, StepState};
use zferry_zfs::PropertyName;

#[tokio::test]
async fn initial_full_then_incremental() {
    let w = World::new();
    let src = w.s("data");
    w.create(&src);
    w.write(&src, "a.bin", &noise(200_000, 1));
    w.snap(&src, "s1");
    let report = run(w.sender(), w.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    let dst = w.r("data");
    assert_eq!(w.snapshots(&dst), vec!["s1"]);
    assert_eq!(w.guid(&format!("{dst}@s1")), w.guid(&format!("{src}@s1")));
    assert_eq!(w.checksum(&dst), w.checksum(&src));
    let g1 = w.guid(&format!("{src}@s1"));
    assert_eq!(cursors(&w, &src, &lane_a()), vec![g1]);
    assert_eq!(last_received(&w, &format!("{dst}@s1")), vec![g1]);
    assert!(
        step_holds(&w, &format!("{src}@s1")).is_empty(),
        "step holds released"
    );
    // The parents of the target are placeholders.
    assert_eq!(
        w.prop(w.r("").trim_end_matches('/'), "zferry:placeholder"),
        "on"
    );

    // Incremental.
    w.write(&src, "b.bin", &noise(50_000, 2));
    w.snap(&src, "s2");
    let report = run(w.sender(), w.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    let fs = report.filesystem(&src).expect("fs in report");
    assert_eq!(fs.steps.len(), 1);
    assert_eq!(fs.steps[0].from.as_deref(), Some("@s1"));
    assert!(fs.steps[0].bytes_replicated > 0);
    assert_eq!(w.snapshots(&dst), vec!["s1", "s2"]);
    assert_eq!(w.checksum(&dst), w.checksum(&src));
    let g2 = w.guid(&format!("{src}@s2"));
    assert_eq!(
        cursors(&w, &src, &lane_a()),
        vec![g2],
        "cursor moved, old one gone"
    );
    assert!(
        last_received(&w, &format!("{dst}@s1")).is_empty(),
        "old hold released"
    );
    assert_eq!(last_received(&w, &format!("{dst}@s2")), vec![g2]);

    // Nothing new: up to date, no step.
    let report = run(w.sender(), w.receiver(), &fast_options()).await;
    assert_eq!(
        report.filesystem(&src).map(|f| f.state),
        Some(FsState::UpToDate)
    );
}

#[tokio::test]
async fn backlog_of_50_is_one_send() {
    let w = World::new();
    let src = w.s("data");
    w.fs_with_snap(&src, "s0");
    assert!(
        run(w.sender(), w.receiver(), &fast_options())
            .await
            .succeeded()
    );
    for i in 1..=50 {
        w.write(&src, "f.txt", format!("version {i}").as_bytes());
        w.snap(&src, &format!("s{i:02}"));
    }
    let sender = w.sender();
    let before = w.zfs.stats().count("zfs send");
    let report = run(sender, w.receiver(), &fast_options()).await;
    let sends = w.zfs.stats().count("zfs send") - before;
    assert!(report.succeeded(), "{report:#?}");
    let fs = report.filesystem(&src).expect("fs");
    assert_eq!(fs.steps.len(), 1, "{fs:#?}");
    assert_eq!(fs.steps[0].incremental, Incremental::WithIntermediates);
    assert_eq!(fs.steps[0].snapshots, 50);
    // One stream plus one dry-run size estimate.
    assert!(
        sends <= 2,
        "{sends} zfs send invocations for a backlog of 50"
    );
    assert_eq!(w.snapshots(&w.r("data")).len(), 51);
    assert_eq!(w.checksum(&w.r("data")), w.checksum(&src));

    // The same backlog without batching takes 50 steps.
    for i in 51..=55 {
        w.snap(&src, &format!("s{i:02}"));
    }
    let options = ReplicationOptions {
        plan: zferry_repl::planner::PlanOptions {
            batch_backlog: false,
            ..Default::default()
        },
        ..fast_options()
    };
    let report = run(w.sender(), w.receiver(), &options).await;
    assert_eq!(report.filesystem(&src).map(|f| f.steps.len()), Some(5));
}

#[tokio::test]
async fn sender_destroys_common_snapshot_incremental_continues_from_cursor() {
    let w = World::new();
    let src = w.s("data");
    w.fs_with_snap(&src, "s1");
    assert!(
        run(w.sender(), w.receiver(), &fast_options())
            .await
            .succeeded()
    );
    w.t.zfs_ok(&["destroy", &format!("{src}@s1")]);
    w.write(&src, "more.txt", b"after s1");
    w.snap(&src, "s2");
    let report = run(w.sender(), w.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    let fs = report.filesystem(&src).expect("fs");
    assert!(
        fs.steps[0]
            .from
            .as_deref()
            .is_some_and(|f| f.starts_with("#zferry_C_")),
        "incremental from the cursor bookmark: {fs:#?}"
    );
    assert_eq!(w.snapshots(&w.r("data")), vec!["s1", "s2"]);
    assert_eq!(w.checksum(&w.r("data")), w.checksum(&src));
}

/// Sender and receiver on separate worlds (as on two machines): the receiver cannot see the
/// sender's snapshots, so only a token it decodes itself lets the next run resume.
async fn interrupted_then_resumed(incremental: bool) {
    let w = World::new();
    let rw = World::new();
    let src = w.s("data");
    w.create(&src);
    if incremental {
        w.write(&src, "small", b"x");
        w.snap(&src, "s0");
        assert!(
            run(w.sender(), rw.receiver(), &fast_options())
                .await
                .succeeded()
        );
    }
    w.write(&src, "big.bin", &noise(3 << 20, 7));
    w.snap(&src, "s1");
    let faults = Arc::new(Faults::default());
    *faults.cut_after.lock().unwrap() = Some(1 << 20);
    let faulty: Arc<dyn Sender> = Arc::new(FaultySender {
        inner: w.sender(),
        faults: Arc::clone(&faults),
    });
    let report = run(Arc::clone(&faulty), rw.receiver(), &fast_options()).await;
    assert!(!report.succeeded());
    let fs = report.filesystem(&src).expect("fs");
    assert_eq!(fs.state, FsState::Failed);
    assert_eq!(
        fs.error.as_ref().map(|e| e.kind),
        Some(zferry_repl::endpoint::ErrorKind::Temporary)
    );
    let target = rw.replica_of(&w, "data");
    let token = rw.prop(&target, "receive_resume_token");
    assert!(token.len() > 10, "a resume token after the cut: {token:?}");
    // Step holds survive the interruption (guarantee_resumability).
    assert!(!step_holds(&w, &format!("{src}@s1")).is_empty());

    let first = faults.delivered.load(Ordering::SeqCst);
    let report = run(Arc::clone(&faulty), rw.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    let fs = report.filesystem(&src).expect("fs");
    assert!(fs.steps[0].resumed, "{fs:#?}");
    let resumed_bytes = faults.delivered.load(Ordering::SeqCst) - first;
    // 1 MiB of the 3 MiB file went through before the cut; the resumed stream carries the rest only.
    assert!(
        resumed_bytes < (3 << 20) - (1 << 19),
        "resume sent {resumed_bytes} bytes after {first}: data was sent again"
    );
    assert_eq!(fs.steps[0].bytes_replicated, resumed_bytes);
    assert_eq!(rw.checksum(&target), w.checksum(&src));
    assert!(step_holds(&w, &format!("{src}@s1")).is_empty());
    assert_eq!(rw.prop(&target, "receive_resume_token"), "-");
}

/// Regression: a receiver decoded its `receive_resume_token` with `zfs send -nvt`, which only
/// works where the sending dataset exists; on a host of its own it reported the token as
/// undecodable (guid 0), and the next run aborted the partial receive and sent everything again.
#[tokio::test]
async fn a_receiver_on_another_host_decodes_its_resume_token() {
    use zferry_repl::endpoint::Endpoint;
    let w = World::new();
    let rw = World::new();
    let src = w.s("data");
    w.create(&src);
    w.write(&src, "big.bin", &noise(2 << 20, 9));
    w.snap(&src, "s1");
    let faults = Arc::new(Faults::default());
    *faults.cut_after.lock().unwrap() = Some(1 << 20);
    let faulty: Arc<dyn Sender> = Arc::new(FaultySender {
        inner: w.sender(),
        faults,
    });
    assert!(
        !run(faulty, rw.receiver(), &fast_options())
            .await
            .succeeded()
    );
    let listed = rw.receiver().list_filesystems().await.expect("list");
    let resume = listed
        .iter()
        .find_map(|f| f.resume.clone())
        .expect("the partial receive is listed with its token");
    assert_eq!(resume.to_guid, w.guid(&format!("{src}@s1")));
    assert_eq!(resume.from_guid, None);
}

#[tokio::test]
async fn interrupted_full_send_resumes_from_token() {
    interrupted_then_resumed(false).await;
}

#[tokio::test]
async fn interrupted_incremental_send_resumes_from_token() {
    interrupted_then_resumed(true).await;
}

#[tokio::test]
async fn simulator_send_fault_resumes_from_token() {
    let w = World::new();
    if w.t.is_real() {
        return; // the fault variable exists only in the simulator; the cut-stream tests cover real ZFS
    }
    let src = w.s("data");
    w.create(&src);
    w.write(&src, "big.bin", &noise(2 << 20, 3));
    w.snap(&src, "s1");
    w.sim_faults("ZFS_SIM_SEND_FAIL_AFTER=700000\n");
    let report = run(w.sender(), w.receiver(), &fast_options()).await;
    assert!(!report.succeeded(), "{report:#?}");
    w.sim_faults("");
    let report = run(w.sender(), w.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    let step = &report.filesystem(&src).expect("fs").steps[0];
    assert!(step.resumed);
    assert!(step.bytes_replicated < 2 << 20, "{step:#?}");
    assert_eq!(w.checksum(&w.r("data")), w.checksum(&src));
}

#[tokio::test]
async fn token_for_vanished_snapshot_is_aborted_and_replanned() {
    let w = World::new();
    let src = w.s("data");
    w.create(&src);
    w.write(&src, "big.bin", &noise(2 << 20, 9));
    w.snap(&src, "s1");
    let faults = Arc::new(Faults::default());
    *faults.cut_after.lock().unwrap() = Some(600_000);
    let options = ReplicationOptions {
        plan: zferry_repl::planner::PlanOptions {
            protection: zferry_repl::planner::ProtectionOptions {
                initial: Protection::GuaranteeNothing,
                incremental: Protection::GuaranteeNothing,
            },
            ..Default::default()
        },
        ..fast_options()
    };
    let faulty = Arc::new(FaultySender {
        inner: w.sender(),
        faults,
    });
    assert!(!run(faulty, w.receiver(), &options).await.succeeded());
    assert_ne!(w.prop(&w.r("data"), "receive_resume_token"), "-");
    w.t.zfs_ok(&["destroy", &format!("{src}@s1")]);
    w.write(&src, "new.txt", b"new");
    w.snap(&src, "s2");
    let report = run(w.sender(), w.receiver(), &options).await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(w.snapshots(&w.r("data")), vec!["s2"]);
    assert_eq!(w.prop(&w.r("data"), "receive_resume_token"), "-");
    assert_eq!(w.checksum(&w.r("data")), w.checksum(&src));
}

#[tokio::test]
async fn confirmation_lost_after_receive_converges_next_run() {
    let w = World::new();
    let src = w.s("data");
    w.fs_with_snap(&src, "s1");
    let faults = Arc::new(Faults::default());
    faults.lose_confirmations.store(1, Ordering::SeqCst);
    let faulty = Arc::new(FaultySender {
        inner: w.sender(),
        faults,
    });
    let report = run(faulty, w.receiver(), &fast_options()).await;
    assert!(!report.succeeded());
    assert_eq!(
        w.snapshots(&w.r("data")),
        vec!["s1"],
        "received despite the lost confirmation"
    );
    assert!(
        cursors(&w, &src, &lane_a()).is_empty(),
        "cursor not moved yet"
    );
    let report = run(w.sender(), w.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(
        report.filesystem(&src).map(|f| f.state),
        Some(FsState::UpToDate)
    );
    assert_eq!(
        cursors(&w, &src, &lane_a()),
        vec![w.guid(&format!("{src}@s1"))]
    );
    assert!(
        step_holds(&w, &format!("{src}@s1")).is_empty(),
        "stale step holds cleaned"
    );
}

#[tokio::test]
async fn retries_after_a_temporary_outage_within_one_run() {
    let w = World::new();
    let src = w.s("data");
    w.fs_with_snap(&src, "s1");
    let faults = Arc::new(Faults::default());
    faults.offline.store(1, Ordering::SeqCst);
    let faulty = Arc::new(FaultySender {
        inner: w.sender(),
        faults,
    });
    let options = ReplicationOptions {
        max_attempts: 3,
        ..fast_options()
    };
    let report = run(faulty, w.receiver(), &options).await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(report.attempts.len(), 2);
    assert!(report.attempts[0].error.is_some());
}

#[tokio::test]
async fn parent_initial_failure_blocks_child_not_similar_sibling() {
    let w = World::new();
    for ds in ["data/a", "data/a/child", "data/ab"] {
        w.fs_with_snap(&w.s(ds), "s1");
    }
    let faults = Arc::new(Faults::default());
    *faults.refuse.lock().unwrap() = Some(w.s("data/a"));
    let faulty = Arc::new(FaultySender {
        inner: w.sender(),
        faults,
    });
    let options = ReplicationOptions {
        concurrency_steps: 3,
        ..fast_options()
    };
    let report = run(faulty, w.receiver(), &options).await;
    let state = |p: &str| {
        report
            .filesystem(&w.s(p))
            .map(|f| (f.state, f.error.clone()))
    };
    assert_eq!(state("data/a").map(|s| s.0), Some(FsState::Failed));
    let (child_state, child_error) = state("data/a/child").expect("child");
    assert_eq!(child_state, FsState::ParentFailed);
    let message = child_error.expect("reason").message;
    assert!(
        message.contains("parent") && message.contains("injected failure"),
        "{message}"
    );
    assert_eq!(state("data/ab").map(|s| s.0), Some(FsState::Done));
    assert!(w.exists(&w.r("data/ab")));
    assert!(!w.exists(&w.r("data/a/child")));
}

#[tokio::test]
async fn hierarchy_gap_gets_placeholders_which_are_converted_later() {
    let w = World::new();
    w.create(&w.s("data/x/y"));
    w.write(&w.s("data/x/y"), "y.txt", b"y data");
    w.snap(&w.s("data/x/y"), "s1");
    w.fs_with_snap(&w.s("data/x/y/z"), "s1");
    let only_z = w.sender_for(&[("data/x/y/z", true)], lane_a(), SendOptions::default());
    let report = run(only_z, w.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    for gap in ["data", "data/x", "data/x/y"] {
        let ds = w.r(gap);
        assert_eq!(w.prop(&ds, "zferry:placeholder"), "on", "{ds}");
        assert_eq!(w.prop(&ds, "mountpoint"), "none", "{ds}");
        assert!(w.snapshots(&ds).is_empty());
    }
    assert_eq!(
        w.checksum(&w.r("data/x/y/z")),
        w.checksum(&w.s("data/x/y/z"))
    );

    // Now y is replicated too: its placeholder becomes a real filesystem, z stays.
    let both = w.sender_for(
        &[("data/x/y", true), ("data/x/y/z", true)],
        lane_a(),
        SendOptions::default(),
    );
    let report = run(both, w.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    let y = w.r("data/x/y");
    assert_ne!(w.prop(&y, "zferry:placeholder"), "on");
    assert_eq!(w.snapshots(&y), vec!["s1"]);
    w.mount(&y);
    let data = std::fs::read(w.t.mountpoint(&y).join("y.txt")).expect("y.txt received");
    assert_eq!(data, b"y data");
    assert_eq!(w.snapshots(&w.r("data/x/y/z")), vec!["s1"]);
}

#[tokio::test]
async fn receiver_modified_is_a_clear_error_and_nothing_is_destroyed() {
    let w = World::new();
    let src = w.s("data");
    w.fs_with_snap(&src, "s1");
    assert!(
        run(w.sender(), w.receiver(), &fast_options())
            .await
            .succeeded()
    );
    let dst = w.r("data");
    w.mount(&dst);
    w.write(&dst, "local-change.txt", b"written on the receiver");
    // Real ZFS shows a change in `written` once its transaction group is synced.
    let sync = w.t.zpool(&["sync"]);
    assert!(sync.status.success(), "{sync:?}");
    w.snap(&src, "s2");
    let report = run(w.sender(), w.receiver(), &fast_options()).await;
    let fs = report.filesystem(&src).expect("fs");
    assert_eq!(fs.state, FsState::Conflict, "{fs:#?}");
    let message = &fs.error.as_ref().expect("error").message;
    assert!(
        message.contains("receiver modified:")
            && message.contains("since its most recent snapshot @s1"),
        "found by the planner from `written`, before anything was sent: {message}"
    );
    assert_eq!(w.snapshots(&dst), vec!["s1"]);
    assert!(
        w.t.mountpoint(&dst).join("local-change.txt").exists(),
        "local data kept"
    );
}

#[tokio::test]
async fn diverged_receiver_is_a_clear_error() {
    let w = World::new();
    let src = w.s("data");
    w.fs_with_snap(&src, "s1");
    assert!(
        run(w.sender(), w.receiver(), &fast_options())
            .await
            .succeeded()
    );
    let dst = w.r("data");
    w.snap(&dst, "local");
    w.snap(&src, "s2");
    let report = run(w.sender(), w.receiver(), &fast_options()).await;
    let fs = report.filesystem(&src).expect("fs");
    assert_eq!(fs.state, FsState::Conflict, "{fs:#?}");
    let message = &fs.error.as_ref().expect("error").message;
    assert!(
        message.contains("diverged") && message.contains("@local"),
        "{message}"
    );
    assert_eq!(w.snapshots(&dst), vec!["s1", "local"]);
}

#[tokio::test]
async fn no_common_ancestor_is_a_clear_error() {
    let w = World::new();
    let src = w.s("data");
    w.fs_with_snap(&src, "s1");
    w.fs_with_snap(&w.r("data"), "other");
    let report = run(w.sender(), w.receiver(), &fast_options()).await;
    let fs = report.filesystem(&src).expect("fs");
    assert_eq!(fs.state, FsState::Conflict);
    assert!(
        fs.error
            .as_ref()
            .expect("error")
            .message
            .contains("no common snapshot")
    );
    assert_eq!(w.snapshots(&w.r("data")), vec!["other"]);
}

#[tokio::test]
async fn initial_replication_policies() {
    let w = World::new();
    let src = w.s("data");
    w.create(&src);
    for i in 1..=3 {
        w.write(&src, "f", format!("{i}").as_bytes());
        w.snap(&src, &format!("s{i}"));
    }
    let with = |initial| ReplicationOptions {
        plan: zferry_repl::planner::PlanOptions {
            initial,
            ..Default::default()
        },
        ..fast_options()
    };
    let report = run(w.sender(), w.receiver(), &with(InitialReplication::Fail)).await;
    assert_eq!(
        report.filesystem(&src).map(|f| f.state),
        Some(FsState::Conflict)
    );
    assert!(!w.exists(&w.r("data")));
    let report = run(w.sender(), w.receiver(), &with(InitialReplication::All)).await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(w.snapshots(&w.r("data")), vec!["s1", "s2", "s3"]);

    let other = w.receiver_at("other", Lane::new("sink", "client"), RecvOptions::default());
    let report = run(w.sender(), other, &with(InitialReplication::MostRecent)).await;
    assert!(report.succeeded());
    assert_eq!(
        w.snapshots(&format!("{}/other/{}/data", w.dst, w.src)),
        vec!["s3"]
    );
}

#[tokio::test]
async fn two_lanes_are_independent_including_pruning() {
    let w = World::new();
    let src = w.s("data");
    w.fs_with_snap(&src, "s1");
    let lane1 = Lane::new("source", "puller-one");
    let lane2 = Lane::new("source", "puller-two");
    let sender1 = || w.sender_for(&[("data<", true)], lane1.clone(), SendOptions::default());
    let sender2 = || w.sender_for(&[("data<", true)], lane2.clone(), SendOptions::default());
    let recv1 = || w.receiver_at("one", Lane::new("pull", "src"), RecvOptions::default());
    let recv2 = || w.receiver_at("two", Lane::new("pull", "src"), RecvOptions::default());
    assert!(run(sender1(), recv1(), &fast_options()).await.succeeded());
    assert!(run(sender2(), recv2(), &fast_options()).await.succeeded());
    let g1 = w.guid(&format!("{src}@s1"));
    for i in 2..=4 {
        w.write(&src, "f", format!("{i}").as_bytes());
        w.snap(&src, &format!("s{i}"));
    }
    assert!(run(sender1(), recv1(), &fast_options()).await.succeeded());
    let g4 = w.guid(&format!("{src}@s4"));
    assert_eq!(cursors(&w, &src, &lane1), vec![g4]);
    assert_eq!(cursors(&w, &src, &lane2), vec![g1], "lane two untouched");

    // Pruning through lane one's sender: keep only the newest, never lane two's base.
    let rules = [KeepRule::LastN {
        count: 1,
        regex: None,
    }];
    let report = prune(sender1().as_ref(), PruneSide::Sender, &rules).await;
    assert_eq!(report.error, None);
    let fs = &report.filesystems[0];
    assert!(
        fs.skipped
            .iter()
            .any(|s| s.name == "s1" && s.reason.contains("cursor")),
        "{fs:#?}"
    );
    assert_eq!(w.snapshots(&src), vec!["s1", "s4"]);

    // Lane two continues incrementally.
    let report = run(sender2(), recv2(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(
        report.filesystem(&src).expect("fs").steps[0]
            .from
            .as_deref(),
        Some("@s1")
    );
    assert_eq!(cursors(&w, &src, &lane2), vec![g4]);
    assert_eq!(
        w.checksum(&format!("{}/two/{}/data", w.dst, w.src)),
        w.checksum(&src)
    );
}

#[tokio::test]
async fn prune_with_target_offline_keeps_the_incremental_base() {
    let w = World::new();
    let src = w.s("data");
    w.fs_with_snap(&src, "s1");
    assert!(
        run(w.sender(), w.receiver(), &fast_options())
            .await
            .succeeded()
    );
    for i in 2..=5 {
        w.write(&src, "f", format!("{i}").as_bytes());
        w.snap(&src, &format!("s{i}"));
    }
    // The receiver is offline: only the sender is pruned, by rules that would keep one snapshot.
    let rules = [
        KeepRule::LastN {
            count: 1,
            regex: None,
        },
        KeepRule::Regex {
            regex: Regex::new("^keep").unwrap(),
            negate: false,
        },
    ];
    let report = prune(w.sender().as_ref(), PruneSide::Sender, &rules).await;
    assert_eq!(report.error, None);
    assert_eq!(w.snapshots(&src), vec!["s1", "s5"], "{report:#?}");
    // not_replicated keeps everything after the cursor even with an aggressive rule set.
    let report = prune(
        w.receiver().as_ref(),
        PruneSide::Receiver {
            sender_filesystems: None,
        },
        &rules,
    )
    .await;
    assert!(
        report.error.is_some(),
        "receiver not pruned without the sender's list"
    );
    let report = run(w.sender(), w.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(w.checksum(&w.r("data")), w.checksum(&src));
}

#[tokio::test]
async fn receiver_pruning_skips_placeholders_and_unknown_filesystems() {
    let w = World::new();
    let src = w.s("data/x");
    w.fs_with_snap(&src, "s1");
    w.snap(&src, "s2");
    w.snap(&src, "s3");
    let options = ReplicationOptions {
        plan: zferry_repl::planner::PlanOptions {
            initial: InitialReplication::All,
            ..Default::default()
        },
        ..fast_options()
    };
    assert!(run(w.sender(), w.receiver(), &options).await.succeeded());
    // A receiver filesystem the sender does not have.
    w.fs_with_snap(&w.r("data/stray"), "old");
    let sender_fs: Vec<_> = w.sender().list_filesystems_paths().await;
    let rules = [KeepRule::LastN {
        count: 1,
        regex: None,
    }];
    let report = prune(
        w.receiver().as_ref(),
        PruneSide::Receiver {
            sender_filesystems: Some(&sender_fs),
        },
        &rules,
    )
    .await;
    assert_eq!(report.error, None, "{report:#?}");
    // s3 is kept by the rule; s1, s2 go; the stray filesystem and the placeholder are untouched.
    assert_eq!(w.snapshots(&w.r("data/x")), vec!["s3"]);
    assert_eq!(w.snapshots(&w.r("data/stray")), vec!["old"]);
}

#[tokio::test]
async fn properties_override_and_inherit_on_receive() {
    let w = World::new();
    let src = w.s("data");
    w.create(&src);
    w.t.zfs_ok(&["set", "test:color=blue", &src]);
    w.t.zfs_ok(&["set", "test:shape=round", &src]);
    w.write(&src, "f", b"x");
    w.snap(&src, "s1");
    let sender = w.sender_for(
        &[("data<", true)],
        lane_a(),
        SendOptions {
            properties: true,
            ..SendOptions::default()
        },
    );
    let recv = RecvOptions {
        properties_override: vec![(PropertyName::new("test:size").unwrap(), "big".into())],
        properties_inherit: vec![PropertyName::new("test:shape").unwrap()],
        ..RecvOptions::default()
    };
    let receiver = w.receiver_at("backup", Lane::new("sink", "client"), recv);
    let report = run(sender, receiver, &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    let dst = w.r("data");
    assert_eq!(w.prop(&dst, "test:color"), "blue", "received property");
    assert_eq!(w.prop(&dst, "test:size"), "big", "overridden property");
    assert_eq!(
        w.prop(&dst, "test:shape"),
        "-",
        "excluded property is not received"
    );
}

/// Lists the sender's filesystems as paths (test helper).
trait ListPaths {
    async fn list_filesystems_paths(&self) -> Vec<zferry_repl::endpoint::FsPath>;
}

impl<T: zferry_repl::endpoint::Endpoint + ?Sized> ListPaths for T {
    async fn list_filesystems_paths(&self) -> Vec<zferry_repl::endpoint::FsPath> {
        self.list_filesystems()
            .await
            .expect("list")
            .into_iter()
            .map(|f| f.path)
            .collect()
    }
}

#[tokio::test]
async fn step_report_states_are_final() {
    let w = World::new();
    let src = w.s("data");
    w.fs_with_snap(&src, "s1");
    let report = run(w.sender(), w.receiver(), &fast_options()).await;
    let fs = report.filesystem(&src).expect("fs");
    assert_eq!(fs.state, FsState::Done);
    assert!(fs.steps.iter().all(|s| s.state == StepState::Done));
    let json = serde_json::to_string(&report).expect("json");
    assert!(json.contains("\"bytes_replicated\""));
}

#[tokio::test]
async fn inventory_lists_and_releases_zferry_and_zrepl_abstractions() {
    use zferry_repl::local::inventory::{Owner, list_abstractions, release};
    let w = World::new();
    let src = w.s("data");
    w.fs_with_snap(&src, "s1");
    assert!(
        run(w.sender(), w.receiver(), &fast_options())
            .await
            .succeeded()
    );
    let g1 = w.guid(&format!("{src}@s1"));
    // What zrepl would have left behind.
    w.t.zfs_ok(&[
        "bookmark",
        &format!("{src}@s1"),
        &format!("{src}#zrepl_CURSOR_G_{g1:016x}_J_oldjob"),
    ]);
    w.t.zfs_ok(&["hold", "zrepl_STEP_J_oldjob", &format!("{src}@s1")]);
    w.t.zfs_ok(&["hold", "user-keep", &format!("{src}@s1")]);
    let root = zferry_zfs::DatasetPath::new(w.src.as_str()).unwrap();
    let entries = list_abstractions(&w.zfs, std::slice::from_ref(&root))
        .await
        .expect("list");
    let zferry: Vec<_> = entries
        .iter()
        .filter(|e| matches!(e.owner, Owner::Zferry { .. }))
        .collect();
    assert_eq!(zferry.len(), 1, "{entries:#?}");
    assert!(zferry[0].genuine && !zferry[0].stale);
    let zrepl: Vec<_> = entries
        .iter()
        .filter(|e| matches!(e.owner, Owner::Zrepl { .. }))
        .cloned()
        .collect();
    assert_eq!(zrepl.len(), 2, "{entries:#?}");
    assert!(
        !entries.iter().any(|e| e.name == "user-keep"),
        "users' holds are not ours"
    );
    release(&w.zfs, &zrepl).await.expect("release");
    assert_eq!(w.holds(&format!("{src}@s1")), vec!["user-keep"]);
    assert!(!w.bookmarks(&src).iter().any(|b| b.starts_with("zrepl_")));
    // The zferry cursor is untouched, and the receiver's last-received hold is listed there.
    assert_eq!(cursors(&w, &src, &lane_a()), vec![g1]);
    let dst_root = zferry_zfs::DatasetPath::new(w.dst.as_str()).unwrap();
    let entries = list_abstractions(&w.zfs, std::slice::from_ref(&dst_root))
        .await
        .expect("list");
    assert!(entries.iter().any(|e| matches!(
        e.owner,
        Owner::Zferry {
            kind: AbstractionKind::LastReceivedHold,
            ..
        }
    ) && e.genuine
        && !e.stale));
}

#[tokio::test]
async fn zrepl_cursor_bookmark_is_an_incremental_base() {
    let w = World::new();
    let src = w.s("data");
    w.fs_with_snap(&src, "zrepl_1");
    assert!(
        run(w.sender(), w.receiver(), &fast_options())
            .await
            .succeeded()
    );
    // Simulate a zrepl-era setup: only zrepl's cursor remains as the common version on the sender.
    let g1 = w.guid(&format!("{src}@zrepl_1"));
    for b in w.bookmarks(&src) {
        w.t.zfs_ok(&["destroy", &format!("{src}#{b}")]);
    }
    w.t.zfs_ok(&[
        "bookmark",
        &format!("{src}@zrepl_1"),
        &format!("{src}#zrepl_CURSOR_G_{g1:016x}_J_push"),
    ]);
    w.t.zfs_ok(&["destroy", &format!("{src}@zrepl_1")]);
    w.write(&src, "new", b"zferry era");
    w.snap(&src, "zferry_1");
    let report = run(w.sender(), w.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    let step = &report.filesystem(&src).expect("fs").steps[0];
    assert!(
        step.from
            .as_deref()
            .is_some_and(|f| f.starts_with("#zrepl_CURSOR_G_")),
        "{step:#?}"
    );
    assert_eq!(w.checksum(&w.r("data")), w.checksum(&src));
}

#[tokio::test]
async fn oldest_target_snapshot_goes_first_across_filesystems() {
    let w = World::new();
    // `data/b`'s snapshot is older than `data/a`'s although `a` sorts first.
    w.fs_with_snap(&w.s("data/b"), "early");
    w.fs_with_snap(&w.s("data/a"), "late");
    let report = run(w.sender(), w.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    let order = |p: &str| report.filesystem(&w.s(p)).expect("fs").steps[0].start_order;
    assert!(order("data/b") < order("data/a"), "{report:#?}");
}

#[tokio::test]
async fn rollback_of_a_diverged_receiver_only_when_allowed() {
    let w = World::new();
    let src = w.s("data");
    w.fs_with_snap(&src, "s1");
    assert!(
        run(w.sender(), w.receiver(), &fast_options())
            .await
            .succeeded()
    );
    let dst = w.r("data");
    w.snap(&dst, "local");
    w.write(&src, "f2", b"two");
    w.snap(&src, "s2");
    let options = ReplicationOptions {
        plan: zferry_repl::planner::PlanOptions {
            allow_rollback: true,
            ..Default::default()
        },
        ..fast_options()
    };
    let report = run(w.sender(), w.receiver(), &options).await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(
        w.snapshots(&dst),
        vec!["s1", "s2"],
        "rolled back over @local"
    );
    assert_eq!(w.checksum(&dst), w.checksum(&src));
}
