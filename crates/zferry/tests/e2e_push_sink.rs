//! push -> sink end to end with real `zferry daemon` processes: over tcp (two daemons, each on
//! its own ZFS world) and over the local transport (one daemon, one world). Asserts replicated file data, snapshots, the replication
//! cursor and last-received hold, pruning on both sides, and the status JSON.

mod e2e_common;

use e2e_common::{Host, World, data, free_port};

const PRUNING: &str = "    pruning:
      keep_sender:
        - type: not_replicated
        - type: last_n
          count: 1
      keep_receiver:
        - type: last_n
          count: 2
";

fn push_job(src: &str, connect: &str) -> String {
    format!(
        "  - name: push
    type: push
    connect:
{connect}    filesystems:
      \"{src}/data<\": true
    snapshotting:
      type: manual
{PRUNING}"
    )
}

fn sink_job(dst: &str, serve: &str) -> String {
    format!(
        "  - name: sink
    type: sink
    root_fs: {dst}/sink
    serve:
{serve}"
    )
}

/// Two rounds of snapshots, replication and pruning; `push` runs the push job on the world
/// holding `src`, `sink` (the same host over the local transport) the sink on the world holding
/// `dst`; `identity` is the name the sink files the data under.
fn scenario(push: &Host, sink: &Host, src: &str, dst: &str, identity: &str) {
    let (w, r) = (push.w(), sink.w());
    let data_fs = format!("{src}/data");
    let child = format!("{src}/data/child");
    w.create(&child);
    w.write(&data_fs, "a.bin", &data(1, 300_000));
    w.write(&child, "dir/b.txt", b"child data 1");
    w.snap(&data_fs, "s1");
    w.snap(&child, "s1");

    push.wakeup_wait("push");
    let replica = format!("{dst}/sink/{identity}/{data_fs}");
    let replica_child = format!("{replica}/child");
    assert_eq!(r.snapshots(&replica), ["s1"]);
    assert_eq!(r.snapshots(&replica_child), ["s1"]);
    assert_eq!(
        r.guid(&format!("{replica}@s1")),
        w.guid(&format!("{data_fs}@s1"))
    );

    w.write(&data_fs, "a.bin", &data(2, 300_000));
    w.snap(&data_fs, "s2");
    w.snap(&child, "s2");
    w.write(&data_fs, "c.bin", &data(3, 100_000));
    w.write(&child, "dir/b.txt", b"child data 3");
    w.snap(&data_fs, "s3");
    w.snap(&child, "s3");
    push.wakeup_wait("push");

    // Receiver: s1 pruned by last_n 2; sender: only the newest (replicated) snapshot kept.
    assert_eq!(r.snapshots(&replica), ["s2", "s3"]);
    assert_eq!(r.snapshots(&replica_child), ["s2", "s3"]);
    assert_eq!(w.snapshots(&data_fs), ["s3"]);
    assert_eq!(w.snapshots(&child), ["s3"]);

    // The cursor on the sender and the last-received hold on the receiver point at s3.
    let guid = format!("{:016x}", w.guid(&format!("{data_fs}@s3")));
    let cursors: Vec<String> = w
        .bookmarks(&data_fs)
        .into_iter()
        .filter(|b| b.starts_with("zferry_C_"))
        .collect();
    assert_eq!(cursors.len(), 1, "one cursor: {cursors:?}");
    assert!(
        cursors[0].starts_with(&format!("zferry_C_{guid}_")),
        "{cursors:?}"
    );
    let holds = r.holds(&format!("{replica}@s3"));
    assert!(
        holds
            .iter()
            .any(|h| h.starts_with(&format!("zferry_R_{guid}_"))),
        "last-received hold on s3: {holds:?}"
    );
    assert!(
        r.holds(&format!("{replica}@s2"))
            .iter()
            .all(|h| !h.starts_with("zferry_R_"))
    );

    // Status: the push job's last attempt is done for both filesystems.
    let status = push.status();
    let job = &status["jobs"]["push"];
    assert_eq!(job["type"], "push");
    assert_eq!(job["state"], "idle");
    assert_eq!(job["replication"]["state"], "done", "{job:#}");
    let fss = job["replication"]["filesystems"]
        .as_array()
        .expect("filesystems");
    assert_eq!(fss.len(), 2);
    assert!(fss.iter().all(|f| f["state"] == "done"), "{fss:?}");
    assert_eq!(job["pruning"]["sender"]["state"], "done");
    assert_eq!(job["pruning"]["receiver"]["state"], "done");

    // The data (the parent's tree includes the child's mountpoint).
    r.mount(&replica);
    r.mount(&replica_child);
    assert_eq!(r.checksum(&replica), w.checksum(&data_fs));
    assert_eq!(r.checksum(&replica_child), w.checksum(&child));
}

#[test]
fn push_to_sink_over_tcp() {
    let (laptop, backup) = (World::new(), World::new());
    let src = laptop.create_pool("src");
    let dst = backup.create_pool("dst");
    backup.create(&format!("{dst}/sink"));
    laptop.create(&format!("{src}/data"));
    let port = free_port();
    let sink = Host::start(
        backup,
        "backup",
        "",
        &sink_job(
            &dst,
            &format!(
                "      type: tcp\n      listen: \"127.0.0.1:{port}\"\n      clients:\n        \"127.0.0.1\": \"laptop\"\n"
            ),
        ),
    );
    let push = Host::start(
        laptop,
        "laptop",
        "",
        &push_job(
            &src,
            &format!("      type: tcp\n      address: \"127.0.0.1:{port}\"\n"),
        ),
    );
    scenario(&push, &sink, &src, &dst, "laptop");
    assert_eq!(sink.status()["jobs"]["sink"]["state"], "serving");
}

#[test]
fn push_and_sink_in_one_daemon_over_local() {
    let w = World::new();
    let src = w.create_pool("src");
    let dst = w.create_pool("dst");
    w.create(&format!("{dst}/sink"));
    w.create(&format!("{src}/data"));
    let jobs = format!(
        "{}{}",
        sink_job(&dst, "      type: local\n      listener_name: backup\n"),
        push_job(
            &src,
            "      type: local\n      listener_name: backup\n      client_identity: me\n"
        )
    );
    let host = Host::start(w, "both", "", &jobs);
    scenario(&host, &host, &src, &dst, "me");
}
