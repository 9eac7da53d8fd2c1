//! Two hosts that share nothing: host A ("laptop", the sender) and host B ("backup"), each with
//! its own ZFS and its own daemon, joined only by TCP. With `ZFERRY_TEST_ZFS=vm-pair` they are the
//! two guests of `scripts/vm-pair` (real OpenZFS in each; the test binary runs on the host and
//! drives each guest through zfs-vm); otherwise two simulator worlds on this machine. Neither host
//! can see the other's datasets, so anything the receiver learns about the sender must come over
//! the protocol:
//!
//! * (a) push over tcp, SIGKILL of the push daemon mid-step, restart: the receive resumes from
//!   the replica's resume token (decoded without the sending dataset);
//! * (b) pull over tls with pinned identities, SIGKILL of the pull daemon mid-step, restart:
//!   resumes the same way;
//! * (c) the sender destroys the common snapshot: the next step is incremental from the cursor
//!   bookmark;
//! * (d) a raw encrypted send to a host that never gets the key: the replica stays locked and
//!   later steps are incremental.
//!
//! The interrupted steps are slowed by a bandwidth limit of the job whose daemon is killed (push:
//! `send`, pull: `recv`), never by a timed wait.

mod e2e_common;

use std::time::Duration;

use e2e_common::{
    Host, Links, PRUNING, World, data, identity, tcp_push, tcp_sink, tls_pull_job, tls_source_job,
    trust, two_hosts, wait_until,
};

/// Size of the file of the interrupted steps (about 8 s at the limit below).
const SIZE: usize = 3_000_000;
/// Slows the interrupted push step at the sender, so that the push daemon can be killed in the
/// middle of it.
const SLOW_SEND: &str = "    send:\n      bandwidth_limit:\n        max: 400 KB\n";
/// Slows the interrupted pull step at the receiver (the daemon that is killed there): a limit at
/// the source would not hold back what the path between the hosts has buffered.
const SLOW_RECV: &str = "    recv:\n      bandwidth_limit:\n        max: 400 KB\n";

/// Host B runs a tcp sink into `dst/sink` on link `i`, host A a push of `fs` to it (plus `extra`
/// job keys). Returns the push host, the sink host and the replica's name on B.
fn push_to_sink(
    (a, b, links): (World, World, &Links),
    i: usize,
    fs: &str,
    dst: &str,
    extra: &str,
) -> (Host, Host, String) {
    let port = links.to_b(i);
    b.create(&format!("{dst}/sink"));
    let sink = Host::start(b, "backup", "", &tcp_sink(&format!("{dst}/sink"), port));
    let push = Host::start(a, "laptop", "", &tcp_push(fs, port, extra));
    (push, sink, format!("{dst}/sink/laptop/{fs}"))
}

/// Bytes sent so far by the current (or last) run of `job` on `host`, from its status.
fn bytes_replicated(host: &Host, job: &str) -> Option<u64> {
    host.status()["jobs"][job]["replication"]["bytes_replicated"].as_u64()
}

/// Waits until the push job of `push` has sent a third of the stream. Killed then, the sender
/// has put no more than that on the wire, so the receive ends with a partial state whatever the
/// path buffers: between the vm-pair's guests a chain of ssh forwards holds more than the whole
/// stream, and the receiving side, still creating placeholders under emulation, may not have
/// read a byte yet (so its own progress cannot tell when to kill the sender).
fn wait_sending_a_third(push: &Host) {
    wait_until(Duration::from_secs(120), "the push sending", || {
        bytes_replicated(push, "push").is_some_and(|b| b > SIZE as u64 / 3)
    });
}

/// Waits until the `zfs receive` into `replica` on `receiver` has read a third of the stream:
/// killed then (the receiving daemon), the receive keeps a partial state; the rest is still
/// held back by the receiving job's bandwidth limit.
fn wait_receiving_a_third(receiver: &World, replica: &str) {
    wait_until(Duration::from_secs(120), "zfs receive reading", || {
        receiver
            .receive_bytes_read(replica)
            .is_some_and(|b| b > SIZE as u64 / 3)
    });
}

/// After the kill: the receiver keeps a resume token and no complete snapshot.
fn assert_partial(receiver: &World, replica: &str) {
    wait_until(
        Duration::from_secs(180),
        "a resume token on the receiver",
        || receiver.exists(replica) && receiver.prop(replica, "receive_resume_token") != "-",
    );
    assert!(
        receiver.snapshots(replica).is_empty(),
        "nothing complete yet"
    );
}

/// After `active` was restarted and ran: the step completed from the token, sending only the
/// rest, and the data on both hosts is equal.
fn assert_resumed(
    active: &Host,
    job: &str,
    sender: &World,
    fs: &str,
    receiver: &World,
    replica: &str,
) {
    assert_eq!(receiver.snapshots(replica), ["s1"]);
    assert_eq!(receiver.prop(replica, "receive_resume_token"), "-");
    let sent = bytes_replicated(active, job).expect("bytes_replicated");
    assert!(
        sent > 0 && sent < (SIZE as u64) * 9 / 10,
        "the restarted run resumed and sent only the rest ({sent} of {SIZE} bytes)"
    );
    receiver.mount(replica);
    assert_eq!(receiver.checksum(replica), sender.checksum(fs));
}

#[test]
fn a_push_over_tcp_killed_mid_step_resumes_on_the_other_host() {
    let (a, b, links) = two_hosts();
    let src = a.create_pool("src");
    let dst = b.create_pool("dst");
    let fs = format!("{src}/data");
    a.create(&fs);
    a.write(&fs, "big.bin", &data(7, SIZE));
    a.snap(&fs, "s1");
    let (mut push, sink, replica) = push_to_sink((a, b, &links), 0, &fs, &dst, SLOW_SEND);
    let out = push.cli(&["signal", "wakeup", "push"]);
    assert!(out.status.success());
    wait_sending_a_third(&push);
    push.kill9();
    assert_partial(sink.w(), &replica);

    push.spawn();
    push.wakeup_wait("push");
    assert_resumed(&push, "push", push.w(), &fs, sink.w(), &replica);
}

#[test]
fn b_pull_over_tls_killed_mid_step_resumes_on_the_other_host() {
    let (a, b, links) = two_hosts();
    let src = a.create_pool("src");
    let dst = b.create_pool("dst");
    let fs = format!("{src}/data");
    a.create(&fs);
    a.write(&fs, "big.bin", &data(8, SIZE));
    a.snap(&fs, "s1");
    // Each host makes its own identity; each is given a copy of the other's certificate.
    let (source_id, puller_id) = (identity(&a, "source-host"), identity(&b, "puller"));
    let puller_cert = trust(&a, "puller", &puller_id);
    let source_cert = trust(&b, "source-host", &source_id);
    let port = links.to_a(1);
    let source = Host::start(
        a,
        "source",
        "",
        &tls_source_job(
            "source",
            &fs,
            port,
            &source_id,
            ("puller", &puller_cert),
            "",
        ),
    );
    b.create(&format!("{dst}/pulled"));
    let mut puller = Host::start(
        b,
        "puller",
        "",
        &tls_pull_job(
            &format!("{dst}/pulled"),
            port,
            &puller_id,
            ("source-host", &source_cert),
            &format!("{PRUNING}{SLOW_RECV}"),
        ),
    );
    let out = puller.cli(&["signal", "wakeup", "pull"]);
    assert!(out.status.success());
    let replica = format!("{dst}/pulled/{fs}");
    wait_receiving_a_third(puller.w(), &replica);
    puller.kill9();
    assert_partial(puller.w(), &replica);

    puller.spawn();
    puller.wakeup_wait("pull");
    assert_resumed(&puller, "pull", source.w(), &fs, puller.w(), &replica);
}

#[test]
fn c_incremental_from_the_cursor_after_the_sender_destroyed_the_common_snapshot() {
    let (a, b, links) = two_hosts();
    let src = a.create_pool("src");
    let dst = b.create_pool("dst");
    let fs = format!("{src}/data");
    a.create(&fs);
    a.write(&fs, "base.bin", &data(21, 1_000_000));
    a.snap(&fs, "s1");
    let (push, sink, replica) = push_to_sink((a, b, &links), 2, &fs, &dst, "");
    let (aw, bw) = (push.w(), sink.w());
    push.wakeup_wait("push");
    assert_eq!(bw.snapshots(&replica), ["s1"]);
    let s1 = aw.guid(&format!("{fs}@s1"));
    let cursor = format!("zferry_C_{s1:016x}_");
    assert!(
        aw.bookmarks(&fs).iter().any(|b| b.starts_with(&cursor)),
        "cursor bookmark on s1: {:?}",
        aw.bookmarks(&fs)
    );

    // The sender loses its last common snapshot; only the cursor bookmark remains of it.
    aw.zfs_ok(&["destroy", &format!("{fs}@s1")]);
    aw.write(&fs, "delta.bin", &data(22, 100_000));
    aw.snap(&fs, "s2");
    push.wakeup_wait("push");
    assert_eq!(bw.snapshots(&replica), ["s1", "s2"]);
    assert_eq!(
        bw.guid(&format!("{replica}@s1")),
        s1,
        "s1 kept, not re-received"
    );
    assert_eq!(
        bw.guid(&format!("{replica}@s2")),
        aw.guid(&format!("{fs}@s2"))
    );
    let sent = bytes_replicated(&push, "push").expect("bytes_replicated");
    assert!(
        sent > 0 && sent < 500_000,
        "incremental from the bookmark: {sent} bytes, not the full 1.1 MB"
    );
    bw.mount(&replica);
    assert_eq!(bw.checksum(&replica), aw.checksum(&fs));
}

#[test]
fn d_raw_encrypted_send_to_a_host_without_the_key_stays_locked_and_incremental() {
    let (a, b, links) = two_hosts();
    let src = a.create_pool("src");
    let dst = b.create_pool("dst");
    let fs = format!("{src}/secret");
    // A hex key in a file only host A has (a passphrase would cost seconds of PBKDF2 in a VM).
    let key = a.write_private("secret.key", "7a".repeat(32).as_bytes());
    a.zfs_ok(&[
        "create",
        "-o",
        "encryption=on",
        "-o",
        "keyformat=hex",
        "-o",
        &format!("keylocation=file://{}", key.display()),
        &fs,
    ]);
    a.write(&fs, "secret.bin", &data(31, 500_000));
    a.snap(&fs, "s1");
    let encrypted = "    send:\n      encrypted: true\n";
    let (push, sink, replica) = push_to_sink((a, b, &links), 3, &fs, &dst, encrypted);
    let (aw, bw) = (push.w(), sink.w());
    push.wakeup_wait("push");
    assert_eq!(bw.snapshots(&replica), ["s1"]);
    assert_ne!(bw.prop(&replica, "encryption"), "off");
    assert_eq!(bw.prop(&replica, "keystatus"), "unavailable");
    assert_eq!(bw.prop(&replica, "encryptionroot"), replica);

    aw.write(&fs, "more.bin", &data(32, 50_000));
    aw.snap(&fs, "s2");
    push.wakeup_wait("push");
    assert_eq!(bw.snapshots(&replica), ["s1", "s2"]);
    assert_eq!(
        bw.guid(&format!("{replica}@s2")),
        aw.guid(&format!("{fs}@s2"))
    );
    let sent = bytes_replicated(&push, "push").expect("bytes_replicated");
    assert!(
        sent > 0 && sent < 300_000,
        "the second raw step is incremental: {sent} bytes"
    );
    assert_eq!(
        bw.prop(&replica, "keystatus"),
        "unavailable",
        "still locked"
    );
}
