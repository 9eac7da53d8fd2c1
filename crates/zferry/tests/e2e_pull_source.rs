//! pull -> source end to end over tls with pinned zferry identities (`zferry identity init`),
//! and fan-out: one source daemon with one source job per target, two pull daemons, each with
//! its own lane (cursor) so their pruning of the source never forces the other into a full
//! re-send. Every daemon runs on a ZFS world of its own; each holds only its own identity and
//! copies of the certificates it pins.

mod e2e_common;

use std::path::Path;

use e2e_common::{Host, World, data, free_port, identity, tls_pull_job, tls_source_job, trust};

/// The pull jobs' pruning: the puller prunes the source down to its newest replicated snapshot.
const PULL_PRUNING: &str = "    pruning:
      keep_sender:
        - type: not_replicated
        - type: last_n
          count: 1
      keep_receiver:
        - type: last_n
          count: 2
";

fn source_job(name: &str, src: &str, port: u16, me: &Path, client: (&str, &Path)) -> String {
    tls_source_job(name, &format!("{src}/data<"), port, me, client, "")
}

fn pull_job(root_fs: &str, port: u16, me: &Path, server: (&str, &Path)) -> String {
    tls_pull_job(root_fs, port, me, server, PULL_PRUNING)
}

fn round(w: &World, fs: &str, seed: u32, snap: &str) {
    w.write(fs, "file.bin", &data(seed, 200_000));
    w.snap(fs, snap);
}

#[test]
fn pull_from_source_over_tls_with_pinned_identities() {
    let (source_w, puller_w, stranger_w) = (World::new(), World::new(), World::new());
    let src = source_w.create_pool("src");
    let dst = puller_w.create_pool("dst");
    puller_w.create(&format!("{dst}/pulled"));
    let other = stranger_w.create_pool("dst");
    stranger_w.create(&format!("{other}/stolen"));
    let fs = format!("{src}/data");
    source_w.create(&fs);
    let source_id = identity(&source_w, "source-host");
    let puller_id = identity(&puller_w, "puller");
    let stranger_id = identity(&stranger_w, "stranger");
    let puller_cert = trust(&source_w, "puller", &puller_id);
    let source_cert = trust(&puller_w, "source-host", &source_id);
    let source_cert_of_stranger = trust(&stranger_w, "source-host", &source_id);
    let port = free_port();
    let source = Host::start(
        source_w,
        "source",
        "",
        &source_job("source", &src, port, &source_id, ("puller", &puller_cert)),
    );
    let puller = Host::start(
        puller_w,
        "puller",
        "",
        &pull_job(
            &format!("{dst}/pulled"),
            port,
            &puller_id,
            ("source-host", &source_cert),
        ),
    );
    round(source.w(), &fs, 1, "s1");
    puller.wakeup_wait("pull");
    round(source.w(), &fs, 2, "s2");
    round(source.w(), &fs, 3, "s3");
    puller.wakeup_wait("pull");

    let (sw, pw) = (source.w(), puller.w());
    let replica = format!("{dst}/pulled/{fs}");
    assert_eq!(pw.snapshots(&replica), ["s2", "s3"]);
    assert_eq!(sw.snapshots(&fs), ["s3"], "the puller pruned the source");
    let guid = format!("{:016x}", sw.guid(&format!("{fs}@s3")));
    assert!(
        sw.bookmarks(&fs)
            .iter()
            .any(|b| b.starts_with(&format!("zferry_C_{guid}_"))),
        "cursor on the source: {:?}",
        sw.bookmarks(&fs)
    );
    pw.mount(&replica);
    assert_eq!(pw.checksum(&replica), sw.checksum(&fs));

    // A stranger with its own identity is not pinned by the source: it is refused (the engine
    // keeps retrying what looks like a network error, so this does not wait for the run).
    let stranger = Host::start(
        stranger_w,
        "stranger",
        "",
        &pull_job(
            &format!("{other}/stolen"),
            port,
            &stranger_id,
            ("source-host", &source_cert_of_stranger),
        ),
    );
    let out = stranger.cli(&["signal", "wakeup", "pull"]);
    assert!(out.status.success());
    e2e_common::wait_until(std::time::Duration::from_secs(30), "the refusal", || {
        source.log_text().contains("refused a client")
    });
    assert!(!stranger.w().exists(&format!("{other}/stolen/{fs}")));
}

#[test]
fn fan_out_one_source_daemon_two_pullers_independent_lanes() {
    let (source_w, a_w, b_w) = (World::new(), World::new(), World::new());
    let src = source_w.create_pool("src");
    let dst_a = a_w.create_pool("dsta");
    let dst_b = b_w.create_pool("dstb");
    a_w.create(&format!("{dst_a}/pulled"));
    b_w.create(&format!("{dst_b}/pulled"));
    let fs = format!("{src}/data");
    source_w.create(&fs);
    let source_id = identity(&source_w, "source-host");
    let a_id = identity(&a_w, "target-a");
    let b_id = identity(&b_w, "target-b");
    let (a_cert, b_cert) = (
        trust(&source_w, "target-a", &a_id),
        trust(&source_w, "target-b", &b_id),
    );
    let (source_cert_a, source_cert_b) = (
        trust(&a_w, "source-host", &source_id),
        trust(&b_w, "source-host", &source_id),
    );
    let (port_a, port_b) = (free_port(), free_port());
    let jobs = format!(
        "{}{}",
        source_job("source_a", &src, port_a, &source_id, ("target-a", &a_cert)),
        source_job("source_b", &src, port_b, &source_id, ("target-b", &b_cert)),
    );
    let source = Host::start(source_w, "source", "", &jobs);
    let a = Host::start(
        a_w,
        "target-a",
        "",
        &pull_job(
            &format!("{dst_a}/pulled"),
            port_a,
            &a_id,
            ("source-host", &source_cert_a),
        ),
    );
    let b = Host::start(
        b_w,
        "target-b",
        "",
        &pull_job(
            &format!("{dst_b}/pulled"),
            port_b,
            &b_id,
            ("source-host", &source_cert_b),
        ),
    );
    let sw = source.w();
    let replica_a = format!("{dst_a}/pulled/{fs}");
    let replica_b = format!("{dst_b}/pulled/{fs}");

    round(sw, &fs, 1, "s1");
    round(sw, &fs, 2, "s2");
    a.wakeup_wait("pull");
    b.wakeup_wait("pull");
    assert_eq!(a.w().snapshots(&replica_a), ["s2"]);
    assert_eq!(b.w().snapshots(&replica_b), ["s2"]);
    // Two lanes, two cursors on s2.
    let cursors = || -> Vec<String> {
        sw.bookmarks(&fs)
            .into_iter()
            .filter(|b| b.starts_with("zferry_C_"))
            .collect()
    };
    assert_eq!(cursors().len(), 2, "{:?}", cursors());

    // Only B keeps up: its pruning keeps s3 (A's cursor) although its own rules would drop it.
    round(sw, &fs, 3, "s3");
    a.wakeup_wait("pull");
    round(sw, &fs, 4, "s4");
    round(sw, &fs, 5, "s5");
    b.wakeup_wait("pull");
    assert_eq!(b.w().snapshots(&replica_b), ["s4", "s5"]);
    assert!(
        sw.snapshots(&fs).contains(&"s3".to_string()),
        "A's incremental base survives B's pruning: {:?}",
        sw.snapshots(&fs)
    );
    // A continues incrementally from s3 (s3 stays on its replica, same guid).
    let s3 = sw.guid(&format!("{fs}@s3"));
    a.wakeup_wait("pull");
    assert_eq!(a.w().snapshots(&replica_a), ["s3", "s5"]);
    assert_eq!(a.w().guid(&format!("{replica_a}@s3")), s3);
    assert_eq!(sw.snapshots(&fs), ["s5"], "both lanes past s3: pruned");
    a.w().mount(&replica_a);
    b.w().mount(&replica_b);
    assert_eq!(a.w().checksum(&replica_a), sw.checksum(&fs));
    assert_eq!(b.w().checksum(&replica_b), sw.checksum(&fs));
}
