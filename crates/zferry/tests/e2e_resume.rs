//! SIGKILL of the daemon in the middle of a step, then a restart: the next run resumes the
//! interrupted receive from its resume token instead of sending everything again. The step is
//! made slow with the push job's own bandwidth limit, so the tests run the same on the simulator
//! and on real ZFS. Here one daemon holds both ends (local transport, one world); the same
//! interruption between two hosts that share nothing is in e2e_two_vms.rs.

mod e2e_common;

use std::time::Duration;

use e2e_common::{Host, World, data, wait_until};

const SIZE: usize = 3_000_000;

/// A local push + sink whose push streams at 400 KB/s: a 3 MB step takes about 8 s.
fn jobs(dst: &str, fs: &str) -> String {
    let mut jobs = e2e_common::local_push_sink(&format!("{dst}/sink"), &[(fs, true)]);
    jobs.push_str("    send:\n      bandwidth_limit:\n        max: 400 KB\n");
    jobs
}

#[test]
fn reset_aborts_a_running_step_and_the_next_run_resumes() {
    let w = World::new();
    let src = w.create_pool("src");
    let dst = w.create_pool("dst");
    w.create(&format!("{dst}/sink"));
    let fs = format!("{src}/data");
    w.create(&fs);
    w.write(&fs, "big.bin", &data(8, SIZE));
    w.snap(&fs, "s1");
    let host = Host::start(w, "host", "", &jobs(&dst, &fs));
    let w = host.w();
    let waiting = host
        .cli_command(&["signal", "wakeup", "push", "--wait"])
        .spawn()
        .expect("wakeup --wait");
    wait_until(Duration::from_secs(30), "the step streaming", || {
        host.status()["jobs"]["push"]["replication"]["bytes_replicated"]
            .as_u64()
            .is_some_and(|b| b > 200_000)
    });
    let out = host.cli(&["signal", "reset", "push"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let waited = waiting.wait_with_output().expect("wakeup exits");
    assert_eq!(
        waited.status.code(),
        Some(1),
        "the reset run counts as failed"
    );
    let status = host.status();
    assert_eq!(status["jobs"]["push"]["state"], "idle");
    let aborted = &status["jobs"]["push"]["replication"];
    assert_eq!(
        aborted["state"], "failed",
        "the aborted run's report stays: {status:#}"
    );
    assert_eq!(aborted["error"], "the run was aborted by a reset");
    let out = host.cli(&["signal", "reset", "sink"]);
    assert_eq!(out.status.code(), Some(1), "a sink has no run to reset");

    host.wakeup_wait("push");
    let replica = format!("{dst}/sink/me/{fs}");
    assert_eq!(w.snapshots(&replica), ["s1"]);
    w.mount(&replica);
    assert_eq!(w.checksum(&replica), w.checksum(&fs));
}

#[test]
fn sigkill_mid_step_then_restart_resumes_without_full_resend() {
    let w = World::new();
    let src = w.create_pool("src");
    let dst = w.create_pool("dst");
    w.create(&format!("{dst}/sink"));
    let fs = format!("{src}/data");
    w.create(&fs);
    w.write(&fs, "big.bin", &data(7, SIZE));
    w.snap(&fs, "s1");
    let mut host = Host::start(w, "host", "", &jobs(&dst, &fs));
    let out = host.cli(&["signal", "wakeup", "push"]);
    assert!(out.status.success());
    // Killed once `zfs receive` has read a third of the stream, so that it keeps a partial
    // receive; the rest is still held back by the bandwidth limit.
    let replica = format!("{dst}/sink/me/{fs}");
    wait_until(Duration::from_secs(60), "zfs receive reading", || {
        host.w()
            .receive_bytes_read(&replica)
            .is_some_and(|b| b > SIZE as u64 / 3)
    });
    host.kill9();

    wait_until(
        Duration::from_secs(30),
        "a resume token on the receiver",
        || host.w().exists(&replica) && host.w().prop(&replica, "receive_resume_token") != "-",
    );
    assert!(
        host.w().snapshots(&replica).is_empty(),
        "nothing complete yet"
    );

    host.spawn();
    host.wakeup_wait("push");
    assert_eq!(host.w().snapshots(&replica), ["s1"]);
    assert_eq!(host.w().prop(&replica, "receive_resume_token"), "-");
    let status = host.status();
    let sent = status["jobs"]["push"]["replication"]["bytes_replicated"]
        .as_u64()
        .expect("bytes");
    assert!(
        sent > 0 && sent < (SIZE as u64) * 9 / 10,
        "the restarted run resumed and sent only the rest ({sent} of {SIZE} bytes)"
    );
    host.w().mount(&replica);
    assert_eq!(host.w().checksum(&replica), host.w().checksum(&fs));
}
