//! The daemon as a whole: `signal wakeup --wait` exit codes, the raw status JSON, Prometheus
//! metrics over HTTP, a job whose setup fails while the others run, a snap job with hooks, and a
//! clean exit on SIGTERM.

mod e2e_common;

use std::time::Duration;

use e2e_common::{Host, World, free_port, http_get, wait_until};

/// The local push and sink, plus a second sink on the same listener name (its setup fails).
fn push_sink_jobs(src: &str, dst: &str, root_fs: &str) -> String {
    format!(
        "{}  - name: broken_sink
    type: sink
    root_fs: {dst}/other
    serve:
      type: local
      listener_name: backup
",
        e2e_common::local_push_sink(root_fs, &[(&format!("{src}/data<"), true)])
    )
}

#[test]
fn wakeup_exit_codes_status_metrics_and_setup_failures() {
    let w = World::new();
    let src = w.create_pool("src");
    let dst = w.create_pool("dst");
    w.create(&format!("{dst}/sink"));
    let fs = format!("{src}/data");
    w.create(&fs);
    w.write(&fs, "f", b"hello");
    w.snap(&fs, "s1");
    let metrics_port = free_port();
    let global = format!(
        "  monitoring:\n    - type: prometheus\n      listen: \"127.0.0.1:{metrics_port}\"\n"
    );
    let host = Host::start(
        w,
        "host",
        &global,
        &push_sink_jobs(&src, &dst, &format!("{dst}/sink")),
    );

    // A successful run: exit 0.
    host.wakeup_wait("push");
    assert_eq!(host.w().snapshots(&format!("{dst}/sink/me/{fs}")), ["s1"]);

    // Unknown job and a job that cannot be woken up: exit 1 with a message.
    let out = host.cli(&["signal", "wakeup", "nosuchjob", "--wait"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuchjob"));
    let out = host.cli(&["signal", "wakeup", "sink"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only serves"));

    // Status JSON: shape of the interface.
    let status = host.status();
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert!(status["started_at"].is_string());
    let push = &status["jobs"]["push"];
    assert_eq!(push["type"], "push");
    assert_eq!(push["state"], "idle");
    let r = &push["replication"];
    for key in [
        "attempt",
        "state",
        "started_at",
        "finished_at",
        "bytes_expected",
        "bytes_replicated",
        "rate_bytes_per_sec",
        "filesystems",
    ] {
        assert!(!r[key].is_null(), "replication.{key} missing: {r:#}");
    }
    let f = &r["filesystems"][0];
    assert_eq!(f["filesystem"], fs.as_str());
    assert_eq!(f["state"], "done");
    assert_eq!(f["steps_done"], 1);
    assert_eq!(f["steps_total"], 1);
    assert_eq!(push["snapshotting"]["kind"], "manual");
    assert_eq!(status["jobs"]["sink"]["state"], "serving");
    // The second sink with the same listener name fails its setup; the others run.
    let broken = &status["jobs"]["broken_sink"];
    assert_eq!(broken["state"], "setup_failed");
    assert!(
        broken["setup_error"]
            .as_str()
            .unwrap_or("")
            .contains("backup"),
        "{broken:#}"
    );
    assert!(host.log_text().contains("job setup failed"));

    // The dump mode renders the same status as text, and exits with 2: a job's setup failed.
    let out = host.cli(&["status", "--mode", "dump"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("push") && text.contains("broken_sink"),
        "{text}"
    );

    // Metrics over HTTP.
    let metrics = http_get(&format!("127.0.0.1:{metrics_port}"), "/metrics");
    assert!(
        metrics.contains("zferry_daemon_start_time_seconds"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("zferry_replication_bytes_total{")
                && l.contains("zferry_job=\"push\"")
                && l.contains(&format!("filesystem=\"{fs}\""))),
        "{metrics}"
    );
    assert!(
        metrics.contains("zferry_replication_last_success_timestamp_seconds{zferry_job=\"push\"}")
    );
    assert!(
        metrics.contains("zferry_zfs_commands_total{verb=\"zfs send\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("zferry_receiver_newest_snapshot_timestamp_seconds{"));
    assert!(
        metrics.contains(
            "zferry_pruning_duration_seconds_count{zferry_job=\"push\",side=\"receiver\"}"
        )
    );

    // A failing run: the sink's root is on a pool that does not exist, so its setup fails and
    // the push finds no local listener (a permanent error, not retried) -> exit 1.
    host.w().snap(&fs, "s2");
    let w = host.into_world();
    let mut bad = Host::start(w, "bad", "", &push_sink_jobs(&src, &dst, "nopool/sink"));
    let out = bad.cli(&["signal", "wakeup", "push", "--wait"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("failed"));
    let status = bad.status();
    assert_eq!(status["jobs"]["push"]["replication"]["state"], "failed");

    // SIGTERM: exits 0 and removes its control socket.
    let exit = bad.stop().expect("was running");
    assert!(exit.success(), "exit status {exit}");
}

#[test]
fn snap_job_with_hooks_snapshots_and_prunes() {
    let w = World::new();
    let src = w.create_pool("src");
    let fs = format!("{src}/db");
    w.create(&fs);
    let hook_log = w.dir().join("hook.log");
    let hook = w.dir().join("hook.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\necho \"$ZFERRY_HOOKTYPE $ZFERRY_FS $ZFERRY_SNAPNAME\" >> {}\n",
            hook_log.display()
        ),
    )
    .expect("hook");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&hook)
        .status()
        .expect("chmod");
    let jobs = format!(
        "  - name: snap
    type: snap
    filesystems:
      \"{fs}\": true
    snapshotting:
      type: periodic
      prefix: zf_
      interval: 1s
      hooks:
        - type: command
          path: {hook}
          err_is_fatal: true
    pruning:
      keep:
        - type: last_n
          count: 2
        - type: regex
          regex: \"^manual\"
",
        hook = hook.display()
    );
    w.snap(&fs, "manual_keep");
    let host = Host::start(w, "snap", "", &jobs);
    let w = host.w();
    wait_until(Duration::from_secs(60), "four snapshot rounds", || {
        std::fs::read_to_string(&hook_log)
            .map(|t| t.lines().filter(|l| l.starts_with("post_snapshot")).count() >= 4)
            .unwrap_or(false)
    });
    // Pruning runs after each round: at most two prefixed snapshots plus the kept manual one.
    wait_until(Duration::from_secs(30), "pruning", || {
        w.snapshots(&fs)
            .iter()
            .filter(|s| s.starts_with("zf_"))
            .count()
            <= 2
    });
    let snaps = w.snapshots(&fs);
    assert!(snaps.contains(&"manual_keep".to_string()), "{snaps:?}");
    let log = std::fs::read_to_string(&hook_log).expect("hook log");
    let first: Vec<&str> = log.lines().take(2).collect();
    assert!(
        first[0].starts_with(&format!("pre_snapshot {fs} zf_")),
        "{log}"
    );
    assert!(
        first[1].starts_with(&format!("post_snapshot {fs} zf_")),
        "{log}"
    );
    let status = host.status();
    let snap = &status["jobs"]["snap"]["snapshotting"];
    assert_eq!(snap["kind"], "periodic");
    assert!(
        snap["last_round"]["snapname"]
            .as_str()
            .unwrap_or("")
            .starts_with("zf_")
    );
    assert_eq!(snap["last_round"]["filesystems"][0]["state"], "done");
    // Rounds come every second, so the next pruning run may already be going on.
    let pruning = &status["jobs"]["snap"]["pruning"]["sender"]["state"];
    assert!(pruning == "done" || pruning == "running", "{pruning}");
}
