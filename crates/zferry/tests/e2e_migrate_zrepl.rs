//! The switch from zrepl to zferry, following docs/migrating-from-zrepl.md on two hosts that
//! share nothing: the state zrepl leaves behind is built by hand (its cursor bookmark, step hold,
//! last-received hold and placeholders, replicas received with plain `zfs send | zfs recv`),
//! then zferry runs on zrepl's configuration. Every `zfs` call zferry makes on either host goes
//! through a wrapper that records it, so the test counts the `zfs send` streams and sees in which
//! order zferry created its cursor and released anything.

mod e2e_common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use e2e_common::{Host, World, data, free_port};

/// zrepl's names, for its job `push` (sender) and its job `sink` (receiver).
const ZREPL_STEP_HOLD: &str = "zrepl_STEP_J_push";
const ZREPL_LAST_RECEIVED: &str = "zrepl_last_received_J_sink";

fn zrepl_cursor(guid: u64) -> String {
    format!("zrepl_CURSOR_G_{guid:016x}_J_push")
}

/// `zfs send ARGS` on `from` piped into `zfs recv -u TARGET` on `to`, as zrepl's own transfer
/// would leave it.
fn transfer(from: &World, send: &[&str], to: &World, target: &str) {
    let mut sender = from
        .command("zfs", [&["send"][..], send].concat())
        .stdout(Stdio::piped())
        .spawn()
        .expect("zfs send");
    let stream = sender.stdout.take().expect("stdout");
    let received = to
        .command("zfs", ["recv", "-u", target])
        .stdin(stream)
        .status()
        .expect("zfs recv");
    assert!(sender.wait().expect("wait").success() && received.success());
}

/// Puts a `zfs` first in the world's PATH that appends its arguments to the returned log and
/// runs the next `zfs` in PATH (the simulator's).
fn record_zfs_calls(w: &World) -> PathBuf {
    let log = w.dir().join("zfs-calls.log");
    w.wrap_zfs(&format!("printf '%s\\n' \"$*\" >> '{}'", log.display()));
    log
}

fn calls(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The `zfs send` invocations that produce a stream (not `-n` estimates).
fn send_streams(calls: &[String]) -> Vec<&String> {
    calls
        .iter()
        .filter(|c| c.starts_with("send ") && !c.split(' ').any(|a| a.starts_with("-n")))
        .collect()
}

/// A stream is incremental with `-i`/`-I`, or a resumed one with `-t`.
fn is_full(send: &str) -> bool {
    !send.split(' ').any(|a| matches!(a, "-i" | "-I" | "-t"))
}

/// A `zfs release` of one of zrepl's hold tags or a `zfs destroy` of its cursor bookmark (not
/// of snapshots that happen to be named `zrepl_…`: pruning those is the keep rules' business).
fn removes_zrepl_abstraction(call: &str) -> bool {
    let releases = call.starts_with("release ")
        && [ZREPL_STEP_HOLD, ZREPL_LAST_RECEIVED]
            .iter()
            .any(|tag| call.split(' ').any(|a| a == *tag));
    releases || (call.starts_with("destroy ") && call.contains("#zrepl_CURSOR_"))
}

/// The first call index matching `f`, if any.
fn first(calls: &[String], f: impl Fn(&str) -> bool) -> Option<usize> {
    calls.iter().position(|c| f(c))
}

fn push_job(fs: &str, port: u16) -> String {
    format!(
        "  - name: push
    type: push
    connect:
      type: tcp
      address: \"127.0.0.1:{port}\"
    filesystems:
      \"{fs}\": true
    snapshotting:
      type: manual
    pruning:
      keep_sender:
        - type: not_replicated
        - type: last_n
          count: 1
      keep_receiver:
        - type: last_n
          count: 2
"
    )
}

fn sink_job(root_fs: &str, port: u16) -> String {
    format!(
        "  - name: sink
    type: sink
    root_fs: {root_fs}
    serve:
      type: tcp
      listen: \"127.0.0.1:{port}\"
      clients:
        \"127.0.0.1\": \"laptop\"
"
    )
}

#[test]
fn zferry_continues_incrementally_from_zrepls_state_then_releases_it() {
    let (laptop, backup) = (World::new(), World::new());
    let src = laptop.create_pool("src");
    let dst = backup.create_pool("dst");
    let fs = format!("{src}/data");
    let root_fs = format!("{dst}/sink");
    let replica = format!("{root_fs}/laptop/{fs}");

    // --- What zrepl leaves: two snapshots replicated below its placeholders, its cursor on the
    // newest (whose snapshot the sender's pruning destroyed: only the bookmark is left as the
    // incremental base), a step hold an interrupted step left on the older one, and the
    // receiver's last-received hold.
    laptop.create(&fs);
    laptop.write(&fs, "a.bin", &data(1, 200_000));
    laptop.snap(&fs, "zrepl_1");
    laptop.write(&fs, "b.bin", &data(2, 100_000));
    laptop.snap(&fs, "zrepl_2");
    backup.create(&root_fs);
    for placeholder in [
        format!("{root_fs}/laptop"),
        format!("{root_fs}/laptop/{src}"),
    ] {
        backup.zfs_ok(&[
            "create",
            "-o",
            "zrepl:placeholder=on",
            "-o",
            "mountpoint=none",
            &placeholder,
        ]);
    }
    transfer(&laptop, &[&format!("{fs}@zrepl_1")], &backup, &replica);
    let s2 = format!("{fs}@zrepl_2");
    transfer(&laptop, &["-i", "@zrepl_1", &s2], &backup, &replica);
    let s2_guid = laptop.guid(&s2);
    let cursor = zrepl_cursor(s2_guid);
    laptop.zfs_ok(&["bookmark", &s2, &format!("{fs}#{cursor}")]);
    laptop.zfs_ok(&["hold", ZREPL_STEP_HOLD, &format!("{fs}@zrepl_1")]);
    laptop.zfs_ok(&["destroy", &s2]);
    let replica_s2 = format!("{replica}@zrepl_2");
    backup.zfs_ok(&["hold", ZREPL_LAST_RECEIVED, &replica_s2]);
    let replica_s2_txg = backup.prop(&replica_s2, "createtxg");

    // --- zrepl stopped; zferry starts on the same configuration (and so takes snapshots with
    // zrepl's prefix), every zfs call recorded.
    let laptop_log = record_zfs_calls(&laptop);
    let backup_log = record_zfs_calls(&backup);
    let port = free_port();
    let sink = Host::start(backup, "backup", "", &sink_job(&root_fs, port));
    let push = Host::start(laptop, "laptop", "", &push_job(&fs, port));
    let (w, r) = (push.w(), sink.w());
    w.write(&fs, "c.bin", &data(3, 150_000));
    w.snap(&fs, "zrepl_3");
    push.wakeup_wait("push");

    // One stream, incremental from zrepl's cursor bookmark: no full send.
    let sender_calls = calls(&laptop_log);
    let sends = send_streams(&sender_calls);
    println!("zfs send streams of the first zferry run: {sends:?}");
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert!(!is_full(sends[0]), "{sends:?}");
    assert!(sends[0].contains(&format!("#{cursor}")), "{sends:?}");
    // The receiver kept what zrepl received (same snapshot, not received again) and has s3.
    assert_eq!(r.prop(&replica_s2, "createtxg"), replica_s2_txg);
    assert_eq!(
        r.guid(&format!("{replica}@zrepl_3")),
        w.guid(&format!("{fs}@zrepl_3"))
    );
    // Receiver pruning (last_n 2) works on zrepl's replica: zrepl_1 went, zrepl_2 stays held.
    assert_eq!(r.snapshots(&replica), ["zrepl_2", "zrepl_3"]);

    // zferry's own cursor and last-received hold exist; nothing of zrepl's was touched: it is
    // all still there, and no call released or destroyed any of it.
    let s3_guid = format!("{:016x}", w.guid(&format!("{fs}@zrepl_3")));
    assert!(
        w.bookmarks(&fs)
            .iter()
            .any(|b| b.starts_with(&format!("zferry_C_{s3_guid}_"))),
        "{:?}",
        w.bookmarks(&fs)
    );
    assert!(w.bookmarks(&fs).contains(&cursor));
    assert_eq!(w.holds(&format!("{fs}@zrepl_1")), [ZREPL_STEP_HOLD]);
    assert!(
        r.holds(&replica_s2)
            .iter()
            .any(|h| h == ZREPL_LAST_RECEIVED)
    );
    let receiver_calls = calls(&backup_log);
    for c in sender_calls.iter().chain(&receiver_calls) {
        assert!(!removes_zrepl_abstraction(c), "zferry removed zrepl's: {c}");
    }
    // The placeholders are still placeholders; the replica below them is a real filesystem.
    let placeholders =
        String::from_utf8_lossy(&sink.cli(&["test", "placeholder", "--all"]).stdout).into_owned();
    assert!(
        placeholders
            .lines()
            .any(|l| l == format!("{root_fs}/laptop\tplaceholder")),
        "{placeholders}"
    );
    assert!(
        placeholders
            .lines()
            .any(|l| l == format!("{replica}\tnot a placeholder")),
        "{placeholders}"
    );

    // --- Then release zrepl's abstractions on both hosts (after zferry's cursor exists).
    // `--fs` with the host's pool: with real ZFS both worlds are pools of one machine.
    for (host, pool, host_log) in [(&push, &src, &laptop_log), (&sink, &dst, &backup_log)] {
        let release = [
            "zfs-abstraction",
            "release-all",
            "--type",
            "zrepl",
            "--fs",
            pool,
        ];
        let dry = host.cli(&[&release[..], &["--dry-run"]].concat());
        let dry_text = String::from_utf8_lossy(&dry.stdout);
        assert!(dry.status.success(), "{dry:?}");
        assert!(dry_text.contains("would release zrepl_"), "{dry:?}");
        let released = host.cli(&release);
        assert!(released.status.success(), "{released:?}");
        let host_calls = calls(host_log);
        // zferry's own protection (the sender's cursor, the receiver's last-received hold)
        // was made before anything of zrepl's was removed.
        let ours_created = first(&host_calls, |c| {
            (c.starts_with("bookmark ") && c.contains("#zferry_C_"))
                || (c.starts_with("hold ") && c.contains("zferry_R_"))
        });
        let zrepl_removed = first(&host_calls, removes_zrepl_abstraction);
        assert!(ours_created.is_some(), "{host_calls:?}");
        assert!(ours_created < zrepl_removed, "{host_calls:?}");
    }
    assert!(!w.bookmarks(&fs).contains(&cursor));
    assert!(w.holds(&format!("{fs}@zrepl_1")).is_empty());
    assert!(r.holds(&replica_s2).is_empty());

    // The next run goes on from zferry's own cursor, incrementally, and prunes what zrepl held.
    w.write(&fs, "d.bin", &data(4, 50_000));
    w.snap(&fs, "zrepl_4");
    push.wakeup_wait("push");
    let all_calls = calls(&laptop_log);
    let sends = send_streams(&all_calls);
    let estimates = all_calls.iter().filter(|c| c.starts_with("send ")).count() - sends.len();
    println!(
        "zfs send streams of both zferry runs: {sends:?} (plus {estimates} `zfs send -n` estimates)"
    );
    assert_eq!(sends.len(), 2, "{sends:?}");
    assert!(sends.iter().all(|s| !is_full(s)), "{sends:?}");
    assert_eq!(r.snapshots(&replica), ["zrepl_3", "zrepl_4"]);
    assert_eq!(w.snapshots(&fs), ["zrepl_4"]);
    // The data (mounting writes to the replica, so last).
    r.mount(&replica);
    assert_eq!(r.checksum(&replica), w.checksum(&fs));
}
