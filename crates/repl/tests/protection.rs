//! Protection checked and repaired every cycle (see `zferry_repl::protection`): sender and
//! receiver on separate worlds, as on two hosts; simulator by default, real OpenZFS with
//! `ZFERRY_TEST_ZFS=real`.

mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::{
    Faults, FaultySender, World, cursors, fast_options, lane_a, last_received, run, step_holds,
};
use zferry_repl::abstractions::AbstractionKind;
use zferry_repl::endpoint::Sender;
use zferry_repl::report::FsState;

/// `src@s1` replicated from `w` to `rw`, then `src@s2` taken; returns (src, replica).
async fn replicated_s1_then_s2(w: &World, rw: &World) -> (String, String) {
    let src = w.s("data");
    w.fs_with_snap(&src, "s1");
    let report = run(w.sender(), rw.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    w.write(&src, "more.txt", b"after s1");
    w.snap(&src, "s2");
    (src.clone(), rw.replica_of(w, "data"))
}

/// What ZFS leaves when a receive commits and its daemon dies before placing the hold: the
/// incremental `s1 -> s2` received on `rw` outside zferry.
fn receive_outside_zferry(w: &World, rw: &World, src: &str, replica: &str) {
    let mut send =
        w.t.command(w.t.zfs_bin())
            .args(["send", "-i", &format!("{src}@s1"), &format!("{src}@s2")])
            .stdout(Stdio::piped())
            .spawn()
            .expect("zfs send");
    let received =
        rw.t.command(rw.t.zfs_bin())
            .args(["receive", "-u", replica])
            .stdin(send.stdout.take().expect("send stdout"))
            .output()
            .expect("zfs receive");
    assert!(send.wait().expect("send exits").success());
    assert!(
        received.status.success(),
        "{}",
        String::from_utf8_lossy(&received.stderr)
    );
}

/// Regression: a connection cut just before the stream's `end` (all data delivered) let
/// `zfs receive` commit the snapshot, but the receiver reported "zfs receive accepted a
/// truncated stream" and never placed the last-received hold; later runs had nothing to do
/// and never placed it either.
#[tokio::test]
async fn cut_before_the_end_frame_leaves_the_received_snapshot_held() {
    let (w, rw) = (World::new(), World::new());
    let (src, replica) = replicated_s1_then_s2(&w, &rw).await;
    let faults = Arc::new(Faults::default());
    faults.fail_at_end.store(true, Ordering::SeqCst);
    let faulty: Arc<dyn Sender> = Arc::new(FaultySender {
        inner: w.sender(),
        faults: Arc::clone(&faults),
    });
    let report = run(faulty, rw.receiver(), &fast_options()).await;
    assert!(
        !faults.fail_at_end.load(Ordering::SeqCst),
        "the cut was injected"
    );
    assert!(
        report.succeeded(),
        "a whole stream is a received one: {report:#?}"
    );
    let g2 = w.guid(&format!("{src}@s2"));
    assert_eq!(rw.snapshots(&replica), ["s1", "s2"]);
    assert_eq!(last_received(&rw, &format!("{replica}@s2")), [g2]);
    assert!(last_received(&rw, &format!("{replica}@s1")).is_empty());

    let report = run(w.sender(), rw.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(last_received(&rw, &format!("{replica}@s2")), [g2]);
    assert_eq!(cursors(&w, &src, &lane_a()), [g2]);
}

/// Regression: after a SIGKILL of the sink right after `zfs receive` committed (or of the
/// push daemon), the snapshot was on the receiver without its last-received hold, and every
/// later run was "up to date" and left the hold on the previous snapshot.
#[tokio::test]
async fn a_receive_committed_without_its_hold_gets_it_next_run() {
    let (w, rw) = (World::new(), World::new());
    let (src, replica) = replicated_s1_then_s2(&w, &rw).await;
    receive_outside_zferry(&w, &rw, &src, &replica);
    let g1 = w.guid(&format!("{src}@s1"));
    let g2 = w.guid(&format!("{src}@s2"));
    assert_eq!(last_received(&rw, &format!("{replica}@s1")), [g1]);
    assert_eq!(cursors(&w, &src, &lane_a()), [g1]);

    let report = run(w.sender(), rw.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(
        report.filesystem(&src).map(|f| f.state),
        Some(FsState::UpToDate)
    );
    assert_eq!(last_received(&rw, &format!("{replica}@s2")), [g2]);
    assert!(
        last_received(&rw, &format!("{replica}@s1")).is_empty(),
        "the old hold is released"
    );
    assert_eq!(cursors(&w, &src, &lane_a()), [g2]);

    // Protection in place: the next run repairs nothing (no hold, release or bookmark).
    w.zfs.stats().reset();
    rw.zfs.stats().reset();
    let report = run(w.sender(), rw.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    for (side, zfs) in [("sender", &w.zfs), ("receiver", &rw.zfs)] {
        for verb in ["zfs hold", "zfs release", "zfs bookmark", "zfs destroy"] {
            assert_eq!(zfs.stats().count(verb), 0, "{side} ran {verb}");
        }
    }
}

/// A step hold left behind by a step whose target the receiver has (the daemon died between
/// the cursor and the release) is released by the next run; the cursor was already right.
#[tokio::test]
async fn a_stale_step_hold_is_released_next_run() {
    let (w, rw) = (World::new(), World::new());
    let src = w.s("data");
    w.fs_with_snap(&src, "s1");
    assert!(
        run(w.sender(), rw.receiver(), &fast_options())
            .await
            .succeeded()
    );
    let g1 = w.guid(&format!("{src}@s1"));
    let tag =
        zferry_repl::abstractions::AbstractionName::new(AbstractionKind::StepHold, g1, &lane_a())
            .render(&lane_a(), 0);
    w.t.zfs_ok(&["hold", &tag, &format!("{src}@s1")]);
    assert_eq!(step_holds(&w, &format!("{src}@s1")), [g1]);

    let report = run(w.sender(), rw.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    assert!(step_holds(&w, &format!("{src}@s1")).is_empty());
    assert_eq!(cursors(&w, &src, &lane_a()), [g1]);
}
