//! Protection after a receive ended badly, between two hosts that share nothing (two worlds,
//! two daemons, push -> sink over tcp through a proxy in the test): the last-received hold sits
//! on the received snapshot after the next run, and the sender's cursor points at it.

mod e2e_common;

use std::time::Duration;

use e2e_common::proxy::Proxy;
use e2e_common::{Host, World, push_sink_via_proxy, tcp_push, wait_until};

/// This lane's abstractions on `host`, as the guids in their names: holds of `kind` (`R`, `S`)
/// on `snapshot`, or cursor bookmarks (`C`) of a filesystem.
fn named(names: Vec<String>, kind: char) -> Vec<u64> {
    names
        .iter()
        .filter_map(|n| n.strip_prefix(&format!("zferry_{kind}_")))
        .filter_map(|rest| u64::from_str_radix(rest.get(..16)?, 16).ok())
        .collect()
}

/// A push host (world `a`, fs `src/data` with `@s1` replicated) and a sink host (world `b`)
/// joined through a proxy; returns (push, sink, proxy, fs, replica).
fn replicated_s1(a: World, b: World) -> (Host, Host, Proxy, String, String) {
    let src = a.create_pool("src");
    let dst = b.create_pool("dst");
    let fs = format!("{src}/data");
    a.create(&fs);
    a.write(&fs, "a.txt", b"first");
    a.snap(&fs, "s1");
    let (push, sink, proxy) = push_sink_via_proxy((a, b), &dst, |port| tcp_push(&fs, port, ""));
    push.wakeup_wait("push");
    let replica = format!("{dst}/sink/laptop/{fs}");
    assert_eq!(sink.w().snapshots(&replica), ["s1"]);
    push.w().write(&fs, "b.txt", b"second");
    push.w().snap(&fs, "s2");
    (push, sink, proxy, fs, replica)
}

/// The last-received hold is on `@s2` only, and the sender's cursor points at it.
fn assert_protected(push: &Host, sink: &Host, fs: &str, replica: &str) {
    let g2 = push.w().guid(&format!("{fs}@s2"));
    assert_eq!(sink.w().snapshots(replica), ["s1", "s2"]);
    assert_eq!(
        named(sink.w().holds(&format!("{replica}@s2")), 'R'),
        [g2],
        "last-received hold on @s2"
    );
    assert!(
        named(sink.w().holds(&format!("{replica}@s1")), 'R').is_empty(),
        "no last-received hold left on @s1"
    );
    assert_eq!(named(push.w().bookmarks(fs), 'C'), [g2], "cursor at @s2");
    assert!(
        named(push.w().holds(&format!("{fs}@s2")), 'S').is_empty(),
        "no step hold left"
    );
}

/// Waits until the push job has finished its run (idle again).
fn wait_idle(push: &Host) {
    wait_until(Duration::from_secs(120), "the push run to end", || {
        push.status()["jobs"]["push"]["state"] == "idle"
    });
}

/// Regression: a connection cut just before the `end` frame (all data delivered) let
/// `zfs receive` commit the snapshot while the sink reported "zfs receive accepted a truncated
/// stream" and placed no hold; the sender then found the snapshot there and moved its cursor,
/// and later runs had nothing to do, leaving the hold on the previous snapshot.
#[test]
fn cut_before_the_end_frame_then_the_hold_is_on_the_received_snapshot() {
    let (push, sink, proxy, fs, replica) = replicated_s1(World::new(), World::new());
    proxy.cut_before_next_end();
    let _ = push.cli(&["signal", "wakeup", "push", "--wait"]);
    assert_eq!(
        proxy.cuts_before_end(),
        1,
        "the stream was cut before its end"
    );
    wait_idle(&push);
    assert!(
        sink.log_text().contains("zfs receive had it whole"),
        "the sink kept the whole stream it received:\n{}",
        sink.log_text()
    );
    assert_protected(&push, &sink, &fs, &replica);

    push.wakeup_wait("push");
    assert_protected(&push, &sink, &fs, &replica);
}

/// Regression: the sink SIGKILLed right after `zfs receive` committed (before its hold was
/// placed) left the snapshot unprotected, and no later run placed the hold. Here the sink's
/// `zfs hold` is held back by a wrapper until the kill, so the kill lands exactly there.
#[test]
fn sigkill_of_the_sink_right_after_receive_then_the_next_run_places_the_hold() {
    let b = World::new();
    let (hang, reached) = b.hang_zfs_hold();
    let (push, mut sink, _proxy, fs, replica) = replicated_s1(World::new(), b);
    std::fs::write(&hang, b"").expect("arm the hanging hold");
    let out = push.cli(&["signal", "wakeup", "push"]);
    assert!(out.status.success());
    wait_until(Duration::from_secs(60), "the sink placing its hold", || {
        reached.exists()
    });
    sink.kill9();
    std::fs::remove_file(&hang).expect("release the wrapper");
    let g1 = push.w().guid(&format!("{fs}@s1"));
    assert_eq!(sink.w().snapshots(&replica), ["s1", "s2"], "s2 committed");
    assert_eq!(
        named(sink.w().holds(&format!("{replica}@s1")), 'R'),
        [g1],
        "the hold is still on @s1"
    );

    sink.spawn();
    wait_idle(&push);
    push.wakeup_wait("push");
    assert_protected(&push, &sink, &fs, &replica);
}
