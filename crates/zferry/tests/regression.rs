//! One test per fixed bug of the `zferry` program, named after what broke (issue 12's
//! observations are numbered in the comments).

mod e2e_common;

use std::process::{Command, Stdio};

use e2e_common::{Host, World, data, free_port, http_get, zferry_bin};

/// A configuration with only a control socket at `sockpath`, in a temporary directory.
fn config_with_socket(sockpath: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("zferry.yml");
    std::fs::write(
        &config,
        format!("global:\n  control:\n    sockpath: {sockpath}\njobs: []\n"),
    )
    .expect("write config");
    (dir, config)
}

fn zferry(args: &[&str]) -> std::process::Output {
    Command::new(zferry_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run zferry")
}

// Observation 6: `... (os error 2): No such file or directory (os error 2)`.
#[test]
fn error_cause_is_printed_once() {
    let (_dir, config) = config_with_socket("/nonexistent-zferry/control");
    let config = config.to_str().expect("utf-8 path");
    for args in [
        vec!["--config", config, "status", "--mode", "dump"],
        vec!["--config", "/nonexistent-zferry.yml", "configcheck"],
    ] {
        let out = zferry(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(
            stderr.matches("No such file or directory").count(),
            1,
            "{args:?}: {stderr}"
        );
    }
}

// Observation 6: the interactive status without a terminal failed with a bare terminal error.
#[test]
fn interactive_status_without_a_terminal_points_to_dump_mode() {
    let (_dir, config) = config_with_socket("/nonexistent-zferry/control");
    let out = zferry(&["--config", config.to_str().expect("utf-8"), "status"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("needs a terminal") && stderr.contains("--mode dump"),
        "{stderr}"
    );
}

// Observation 7: the lag metric was exported for datasets the job does not replicate (anything
// below the receiver's root) and kept growing.
#[test]
fn lag_metric_only_for_the_jobs_filesystems() {
    let w = World::new();
    let src = w.create_pool("src");
    let dst = w.create_pool("dst");
    w.create(&format!("{dst}/sink"));
    let data_fs = format!("{src}/data");
    w.create(&data_fs);
    w.create(&format!("{src}/other"));
    w.write(&data_fs, "a.bin", &data(3, 10_000));
    w.snap(&data_fs, "s1");
    w.snap(&format!("{src}/other"), "o1");
    // A dataset below the sink's root that this job does not replicate (left from an old job).
    let stray = format!("{dst}/sink/me/{src}/old");
    w.create(&stray);
    w.snap(&stray, "old1");
    let port = free_port();
    let jobs = e2e_common::local_push_sink(&format!("{dst}/sink"), &[(&data_fs, true)]);
    let host = Host::start(
        w,
        "host",
        &format!("  monitoring:\n    - type: prometheus\n      listen: \"127.0.0.1:{port}\"\n"),
        &jobs,
    );
    host.wakeup_wait("push");
    let body = http_get(&format!("127.0.0.1:{port}"), "/metrics");
    let lag: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("zferry_replication_lag_seconds{"))
        .collect();
    assert_eq!(lag.len(), 1, "{lag:?}");
    assert!(
        lag[0].contains(&format!("filesystem=\"{data_fs}\"")),
        "{lag:?}"
    );
    let status = host.status();
    let checks = status["jobs"]["push"]["monitor"]["checks"]
        .as_array()
        .expect("checks")
        .clone();
    let lagged: Vec<&str> = checks
        .iter()
        .filter(|c| c["kind"] == "lag")
        .filter_map(|c| c["filesystem"].as_str())
        .collect();
    assert_eq!(lagged, [data_fs.as_str()]);
}

// Observation 11: configuration.md said a grid interval keeps its newest snapshots, pruning.md
// (and the code, like zrepl) the oldest.
#[test]
fn grid_docs_agree_the_oldest_per_interval_is_kept() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    for file in ["configuration.md", "pruning.md"] {
        let text = std::fs::read_to_string(docs.join(file)).expect("docs");
        // The grid's description: the paragraph (or table row) that explains `keep=`.
        let grid: Vec<&str> = text
            .split("\n\n")
            .flat_map(|p| {
                if p.starts_with('|') {
                    p.lines().collect()
                } else {
                    vec![p]
                }
            })
            .filter(|p| p.contains("keep=") && p.contains("snapshots") && !p.starts_with("```"))
            .collect();
        assert!(!grid.is_empty(), "{file} does not describe grids");
        for part in grid {
            assert!(part.contains("oldest"), "{file}: {part}");
            assert!(!part.contains("newest snapshots"), "{file}: {part}");
        }
    }
}

// Observation 9: a dataset that does not exist printed nothing and exited 0.
#[test]
fn commands_given_a_missing_dataset_say_so() {
    let w = World::new();
    let pool = w.create_pool("p");
    let missing = format!("{pool}/nosuch");
    for args in [
        vec!["test", "placeholder", "--dataset", &missing],
        vec!["zfs-abstraction", "list", "--fs", &missing],
    ] {
        let out = w.output(zferry_bin(), &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("dataset {missing} does not exist")),
            "{args:?}: {stderr}"
        );
    }
}

/// A step: `(state, bytes expected, bytes replicated, resumed)`.
type Step<'a> = (&'a str, u64, u64, bool);

/// A run of `filesystems` (each `(path, fs state, steps)`), as the engine reports it, turned
/// into the status model.
fn run_status(
    attempt_state: &str,
    filesystems: &[(&str, &str, &[Step<'_>])],
) -> zferry::daemon::status::ReplicationStatus {
    let fss: Vec<serde_json::Value> = filesystems
        .iter()
        .map(|(path, state, steps)| {
            let steps: Vec<serde_json::Value> = steps
                .iter()
                .map(|(st, expected, done, resumed)| {
                    serde_json::json!({"from": "@a", "to": "b", "incremental": "single",
                        "snapshots": 1, "state": st, "bytes_expected": expected,
                        "bytes_replicated": done, "resumed": resumed, "start_order": null,
                        "error": null})
                })
                .collect();
            serde_json::json!({"path": path, "state": state, "error": null, "steps": steps})
        })
        .collect();
    let report: zferry_repl::report::Report = serde_json::from_value(serde_json::json!({
        "started_at": 1_700_000_000, "finished_at": 1_700_000_010,
        "attempts": [{"number": 1, "started_at": 1_700_000_000, "finished_at": 1_700_000_010,
            "state": attempt_state, "error": null, "filesystems": fss}]
    }))
    .expect("a report");
    zferry::jobs::report::replication_status(&report, jiff::Timestamp::now()).expect("status")
}

fn dump_of(replication: zferry::daemon::status::ReplicationStatus, now: jiff::Timestamp) -> String {
    use zferry::daemon::status::{DaemonStatus, JobState, JobStatus, JobType};
    let mut job = JobStatus::new(JobType::Push, JobState::Idle);
    job.replication = Some(replication);
    let status = DaemonStatus {
        version: "test".into(),
        started_at: now,
        jobs: [("push".to_string(), job)].into_iter().collect(),
    };
    zferry::daemon::status_ui::view::dump_text(&status, now)
}

// Observation 5: `step 0/1` while the first step ran, and a resumed step was not marked.
#[test]
fn running_step_counts_from_one_and_resumed_steps_are_marked() {
    let running = run_status(
        "executing",
        &[("p/a", "running", &[("running", 100, 50, true)])],
    );
    let text = dump_of(running, jiff::Timestamp::now());
    assert!(text.contains("step 1/1"), "{text}");
    assert!(text.contains("@a -> @b (resumed)"), "{text}");
    let done = run_status("done", &[("p/a", "done", &[("done", 100, 100, true)])]);
    let text = dump_of(done, jiff::Timestamp::now());
    assert!(
        text.contains("step 1/1") && text.contains("(1 step resumed)"),
        "{text}"
    );
}

// Observation 5: a finished run with nothing to send showed a `0%` progress bar.
#[test]
fn finished_run_with_nothing_to_send_shows_no_zero_percent() {
    let idle = run_status("done", &[("p/a", "up_to_date", &[])]);
    let text = dump_of(idle, jiff::Timestamp::now());
    assert!(!text.contains("0%"), "{text}");
    assert!(text.contains("nothing to send"), "{text}");
}

// Observation 5: a time just past showed as `in 0s`, and `1 filesystems`.
#[test]
fn times_just_past_are_now_and_counts_are_singular() {
    use zferry::daemon::status::{
        DaemonStatus, FsPruneStatus, JobState, JobStatus, JobType, PruneSideStatus, PruneState,
        PruningStatus,
    };
    let now: jiff::Timestamp = "2024-05-01T12:00:00.400Z".parse().expect("time");
    let mut job = JobStatus::new(JobType::Push, JobState::Idle);
    job.next_run_at = Some("2024-05-01T12:00:00Z".parse().expect("time"));
    job.pruning = Some(PruningStatus {
        sender: Some(PruneSideStatus {
            state: PruneState::Done,
            error: None,
            filesystems: vec![FsPruneStatus {
                filesystem: "p/a".into(),
                keep: 3,
                destroy: 1,
                protected: vec![],
                error: None,
            }],
        }),
        receiver: None,
    });
    let status = DaemonStatus {
        version: "test".into(),
        started_at: now,
        jobs: [("push".to_string(), job)].into_iter().collect(),
    };
    let text = zferry::daemon::status_ui::view::dump_text(&status, now);
    assert!(!text.contains("in 0s"), "{text}");
    assert!(
        text.contains("next run: 2024-05-01 12:00:00 UTC (now)"),
        "{text}"
    );
    assert!(
        text.contains("1 filesystem, 1 snapshot to destroy"),
        "{text}"
    );
}

// Observation 5: after `zferry signal reset` the aborted run's report disappeared from status.
#[test]
fn reset_keeps_the_aborted_runs_report() {
    let w = World::new();
    let src = w.create_pool("src");
    let dst = w.create_pool("dst");
    w.create(&format!("{dst}/sink"));
    let fs = format!("{src}/data");
    w.create(&fs);
    w.write(&fs, "big.bin", &data(9, 2_000_000));
    w.snap(&fs, "s1");
    let mut jobs = e2e_common::local_push_sink(&format!("{dst}/sink"), &[(&fs, true)]);
    jobs.push_str("    send:\n      bandwidth_limit:\n        max: 200 KB\n");
    let host = Host::start(w, "host", "", &jobs);
    let out = host.cli(&["signal", "wakeup", "push"]);
    assert!(out.status.success());
    e2e_common::wait_until(
        std::time::Duration::from_secs(30),
        "the step streaming",
        || {
            host.status()["jobs"]["push"]["replication"]["bytes_replicated"]
                .as_u64()
                .is_some_and(|b| b > 100_000)
        },
    );
    assert!(host.cli(&["signal", "reset", "push"]).status.success());
    let status = host.status();
    let r = &status["jobs"]["push"]["replication"];
    assert_eq!(r["state"], "failed", "{status:#}");
    assert_eq!(r["error"], "the run was aborted by a reset");
    assert!(
        r["bytes_replicated"].as_u64().unwrap_or(0) > 100_000,
        "{r:#}"
    );
    assert!(r["finished_at"].is_string(), "{r:#}");
    let dump = host.cli(&["status", "--mode", "dump"]);
    assert_eq!(
        dump.status.code(),
        Some(2),
        "a failed last run fails `status`"
    );
}

// Observation 4: pruning reported `keep 0` where snapshots were kept (it counted only the
// protected ones), gave no reason for a snapshot kept by a hold, and labelled a snap job's
// local pruning `sender:`.
#[test]
fn pruning_counts_every_kept_snapshot_says_why_and_labels_snap_jobs_local() {
    let w = World::new();
    let src = w.create_pool("src");
    let fs = format!("{src}/data");
    w.create(&fs);
    for s in ["s1", "s2", "s3", "s4"] {
        w.snap(&fs, s);
    }
    w.zfs_ok(&["hold", "mine", &format!("{fs}@s1")]);
    let jobs = format!(
        "  - name: local
    type: snap
    filesystems:
      \"{fs}\": true
    snapshotting:
      type: manual
    pruning:
      keep:
        - type: last_n
          count: 2
"
    );
    let host = Host::start(w, "host", "", &jobs);
    host.wakeup_wait("local");
    assert_eq!(host.w().snapshots(&fs), ["s1", "s3", "s4"]);
    let status = host.status();
    let pruned = &status["jobs"]["local"]["pruning"]["sender"]["filesystems"][0];
    assert_eq!(pruned["keep"], 3, "{pruned:#}");
    assert_eq!(pruned["destroy"], 1, "{pruned:#}");
    assert_eq!(pruned["protected"][0], "@s1: 1 user hold(s)", "{pruned:#}");
    let dump = host.cli(&["status", "--mode", "dump"]);
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(
        text.contains("  local: done  1 filesystem, 1 snapshot to destroy"),
        "{text}"
    );
    assert!(!text.contains("sender:"), "{text}");
    assert!(text.contains("kept @s1: 1 user hold(s)"), "{text}");
}

// Observation 8: sink-side and debug log lines carried no job name.
#[test]
fn sink_and_debug_log_lines_name_their_job() {
    let (laptop, backup) = (World::new(), World::new());
    let src = laptop.create_pool("src");
    let dst = backup.create_pool("dst");
    backup.create(&format!("{dst}/sink"));
    let fs = format!("{src}/data");
    laptop.create(&fs);
    laptop.snap(&fs, "s1");
    let port = free_port();
    let sink = Host::start(
        backup,
        "backup",
        "",
        &e2e_common::tcp_sink(&format!("{dst}/sink"), port),
    );
    let push = Host::start(laptop, "laptop", "", &e2e_common::tcp_push(&fs, port, ""));
    push.wakeup_wait("push");
    for (host, job) in [(&sink, "sink"), (&push, "push")] {
        let log = host.log_text();
        let commands: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("msg=running command="))
            .collect();
        assert!(!commands.is_empty(), "{log}");
        let anonymous: Vec<&&str> = commands
            .iter()
            .filter(|l| !l.contains(&format!("job={job}")))
            .collect();
        assert!(
            anonymous.is_empty(),
            "lines without job={job}: {anonymous:#?}"
        );
    }
}

// Observation 3: a `filesystems` filter that matches nothing: the run and `--wait` succeeded
// silently.
#[test]
fn filter_matching_no_dataset_warns_in_the_run_wakeup_and_status() {
    let w = World::new();
    let src = w.create_pool("src");
    let dst = w.create_pool("dst");
    w.create(&format!("{dst}/sink"));
    w.create(&format!("{src}/data"));
    let jobs = e2e_common::local_push_sink(&format!("{dst}/sink"), &[("nosuchpool/data<", true)]);
    let host = Host::start(w, "host", "", &jobs);
    let out = host.cli(&["signal", "wakeup", "push", "--wait"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: job \"push\": the sender has no filesystem to replicate"),
        "{stderr}"
    );
    let dump = host.cli(&["status", "--mode", "dump", "--job", "push"]);
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(
        text.contains("warning: the sender has no filesystem"),
        "{text}"
    );
    assert!(
        host.log_text().lines().any(|l| l.contains("level=warn")
            && l.contains("job=push")
            && l.contains("matches no dataset")),
        "{}",
        host.log_text()
    );
}

// Observation 1: a push to a sink that is not listening: the status named neither the address
// nor the next retry, and nothing was logged until the reconnect deadline.
#[test]
fn unreachable_sink_is_named_and_the_retry_is_shown_and_logged() {
    let w = World::new();
    let src = w.create_pool("src");
    let fs = format!("{src}/data");
    w.create(&fs);
    w.snap(&fs, "s1");
    let port = free_port(); // nothing listens there
    let jobs = e2e_common::tcp_push(&fs, port, "");
    let host = Host::start(w, "laptop", "", &jobs);
    assert!(host.cli(&["signal", "wakeup", "push"]).status.success());
    e2e_common::wait_until(
        std::time::Duration::from_secs(30),
        "a retry planned",
        || !host.status()["jobs"]["push"]["replication"]["next_retry_at"].is_null(),
    );
    let status = host.status();
    let r = &status["jobs"]["push"]["replication"];
    let error = r["error"].as_str().unwrap_or("");
    assert!(error.contains(&format!("tcp 127.0.0.1:{port}")), "{r:#}");
    assert!(r["gives_up_at"].is_string(), "{r:#}");
    let dump = host.cli(&["status", "--mode", "dump"]);
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(text.contains("retrying: next try"), "{text}");
    assert!(text.contains(", giving up"), "{text}");
    let log = host.log_text();
    assert!(
        log.lines().any(|l| l.contains("level=warn")
            && l.contains("job=push")
            && l.contains("replication attempt failed; retrying")
            && l.contains(&format!("127.0.0.1:{port}"))),
        "{log}"
    );
}

/// A tmux session of its own (private socket) running one command in a `width` x `height`
/// terminal; killed on drop.
struct Tmux {
    socket: std::path::PathBuf,
}

impl Tmux {
    fn start(dir: &std::path::Path, width: u16, height: u16, command: &[&str]) -> Option<Tmux> {
        let socket = dir.join("tmux.sock");
        let mut args = vec![
            "-S".to_string(),
            socket.display().to_string(),
            "new-session".into(),
            "-d".into(),
            "-s".into(),
            "ui".into(),
            "-x".into(),
            width.to_string(),
            "-y".into(),
            height.to_string(),
            "--".into(),
        ];
        args.extend(command.iter().map(|s| s.to_string()));
        match Command::new("tmux").args(&args).status() {
            Ok(s) if s.success() => Some(Tmux { socket }),
            Ok(s) => panic!("tmux new-session failed: {s}"),
            Err(e) => {
                eprintln!(
                    "SKIPPED: tmux is not installed ({e}); the interactive status was not driven"
                );
                None
            }
        }
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "ui"]).stdout).into_owned()
    }

    /// Sends tmux key names (`Tab`, `End`, `Enter`, `Escape`) or, with `literal`, text.
    fn keys(&self, keys: &[&str], literal: bool) {
        let mut args = vec!["send-keys", "-t", "ui"];
        if literal {
            args.push("-l");
        }
        args.extend_from_slice(keys);
        assert!(self.tmux(&args).status.success(), "send-keys {keys:?}");
    }

    /// Waits until the screen satisfies `ok`, returning it.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if ok(&screen) {
                eprintln!("--- screen with {what}:\n{screen}");
                return screen;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {what} on the screen:\n{screen}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    fn alive(&self) -> bool {
        self.tmux(&["has-session", "-t", "ui"]).status.success()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

// Observation 10: the interactive status had no scrolling (sections below the screen were
// unreachable), and Tab, `/` (filter) and a signal key did nothing.
#[test]
fn interactive_status_scrolls_filters_and_wakes_up_under_tmux() {
    let w = World::new();
    let src = w.create_pool("src");
    let dst = w.create_pool("dst");
    w.create(&format!("{dst}/sink"));
    let names: Vec<String> = (1..=12).map(|i| format!("{src}/data/fs{i:02}")).collect();
    for fs in &names {
        w.create(fs);
        w.snap(fs, "s1");
    }
    let jobs =
        e2e_common::local_push_sink(&format!("{dst}/sink"), &[(&format!("{src}/data<"), true)]);
    let host = Host::start(w, "host", "", &jobs);
    host.wakeup_wait("push");
    let config = host.config.display().to_string();
    let bin = zferry_bin().display().to_string();
    let Some(tmux) = Tmux::start(
        host.w().dir(),
        110,
        20,
        &[&bin, "--config", &config, "status", "--refresh-ms", "200"],
    ) else {
        return;
    };

    // The first page: the push job's top; its pruning section is below the screen.
    let top = tmux.wait_for("the push job", |s| s.contains("Job push"));
    assert!(!top.contains("Pruning"), "{top}");
    assert!(top.contains("lines 1-17 of"), "{top}");

    // Tab moves the focus to the details, End scrolls to the bottom.
    tmux.keys(&["Tab", "End"], false);
    let bottom = tmux.wait_for("the bottom of the details", |s| {
        s.contains("receiver: done")
    });
    assert!(!bottom.contains("lines 1-"), "{bottom}");

    // `/` filters the details to the lines of one filesystem (headings stay).
    tmux.keys(&["Home"], false);
    tmux.keys(&["/fs07"], true);
    tmux.keys(&["Enter"], false);
    let filtered = tmux.wait_for("the filter", |s| s.contains("filter: fs07 (Esc clears)"));
    assert!(filtered.contains("data/fs07"), "{filtered}");
    assert!(!filtered.contains("data/fs03"), "{filtered}");
    assert!(
        filtered.contains("Pruning"),
        "the headings stay: {filtered}"
    );

    // Esc clears the filter; `w` wakes up the selected job (push), which replicates s2.
    tmux.keys(&["Escape"], false);
    tmux.wait_for("no filter", |s| s.contains("data/fs03"));
    host.w().snap(&names[0], "s2");
    tmux.keys(&["w"], true);
    tmux.wait_for("the wakeup", |s| s.contains("woke up push"));
    let replica = format!("{dst}/sink/me/{}", names[0]);
    e2e_common::wait_until(std::time::Duration::from_secs(30), "s2 replicated", || {
        host.w().snapshots(&replica).contains(&"s2".to_string())
    });

    tmux.keys(&["q"], true);
    e2e_common::wait_until(std::time::Duration::from_secs(10), "the UI to quit", || {
        !tmux.alive()
    });
}

// Observation 2: a `root_fs` that does not exist was created silently as placeholders, and a
// missing pool failed only at run time, naming neither the job nor `root_fs`.
#[test]
fn missing_root_fs_or_pool_fails_the_jobs_setup_and_creates_nothing() {
    let w = World::new();
    let dst = w.create_pool("dst");
    let port = free_port();
    let jobs = format!(
        "  - name: sink
    type: sink
    root_fs: {dst}/nosuch
    serve:
      type: local
      listener_name: backup
  - name: pull
    type: pull
    connect:
      type: tcp
      address: \"127.0.0.1:{port}\"
    root_fs: nosuchpool/backups
    interval: manual
    pruning:
      keep_sender:
        - type: not_replicated
      keep_receiver:
        - type: last_n
          count: 2
"
    );
    let host = Host::start(w, "host", "", &jobs);
    let status = host.status();
    let sink = &status["jobs"]["sink"];
    assert_eq!(sink["state"], "setup_failed", "{status:#}");
    assert_eq!(
        sink["setup_error"],
        format!(
            "root_fs {dst}/nosuch does not exist; zferry does not create it (`zfs create -p -o mountpoint=none {dst}/nosuch`)"
        )
    );
    let pull = &status["jobs"]["pull"];
    assert_eq!(pull["state"], "setup_failed", "{status:#}");
    assert_eq!(
        pull["setup_error"],
        "root_fs nosuchpool/backups: the pool nosuchpool does not exist"
    );
    assert!(!host.w().exists(&format!("{dst}/nosuch")));
    let log = host.log_text();
    assert!(
        log.lines().any(|l| l.contains("job=sink")
            && l.contains("job setup failed")
            && l.contains("root_fs")),
        "{log}"
    );
}

// Observation 3: `test filesystems --all` with a filter that matches nothing was silent.
#[test]
fn test_filesystems_warns_when_the_filter_matches_nothing() {
    let w = World::new();
    let pool = w.create_pool("p");
    w.create(&format!("{pool}/a"));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("zferry.yml");
    let jobs = |filter: &str| {
        format!(
            "jobs:\n  - name: snap\n    type: snap\n    filesystems:\n      \"{filter}\": true\n    snapshotting:\n      type: manual\n    pruning:\n      keep:\n        - type: last_n\n          count: 5\n"
        )
    };
    let run = |filter: &str| {
        std::fs::write(&config, jobs(filter)).expect("write config");
        let cfg = config.to_str().expect("utf-8 path");
        w.output(
            zferry_bin(),
            [
                "--config",
                cfg,
                "test",
                "filesystems",
                "--job",
                "snap",
                "--all",
            ],
        )
    };
    let none = run(&format!("{pool}/nosuch<"));
    let stdout = String::from_utf8_lossy(&none.stdout);
    let stderr = String::from_utf8_lossy(&none.stderr);
    assert!(none.status.success(), "{stderr}");
    assert!(stdout.contains(&format!("REJECT\t{pool}/a\t")), "{stdout}");
    assert!(
        stderr.contains("matches none of the") && stderr.contains("\"snap\""),
        "{stderr}"
    );
    let some = run(&format!("{pool}/a"));
    let stderr = String::from_utf8_lossy(&some.stderr);
    assert!(String::from_utf8_lossy(&some.stdout).contains(&format!("ACCEPT\t{pool}/a\t")));
    assert!(!stderr.contains("matches none"), "{stderr}");
}

// Observation 4: the log said `pruning done` when receiver pruning failed.
#[test]
fn failed_receiver_pruning_is_logged_as_failed() {
    let (laptop, backup) = (World::new(), World::new());
    let src = laptop.create_pool("src");
    let dst = backup.create_pool("dst");
    backup.create(&format!("{dst}/sink"));
    let fs = format!("{src}/data");
    laptop.create(&fs);
    laptop.snap(&fs, "s1");
    // The backup host refuses every `zfs destroy`, as a pool in trouble would.
    backup.wrap_zfs(
        "if [ \"$1\" = destroy ]; then echo \"cannot destroy: pool I/O is currently suspended\" >&2; exit 1; fi",
    );
    let port = free_port();
    let sink = Host::start(
        backup,
        "backup",
        "",
        &e2e_common::tcp_sink(&format!("{dst}/sink"), port),
    );
    let push = Host::start(laptop, "laptop", "", &e2e_common::tcp_push(&fs, port, ""));
    push.wakeup_wait("push");
    for i in 2..=7 {
        push.w().snap(&fs, &format!("s{i}"));
    }
    // The receiver now keeps 5 of 7 snapshots and must destroy 2, which the host refuses.
    let before = push.log_text().len();
    let _ = push
        .cli_command(&["signal", "wakeup", "push", "--wait"])
        .output()
        .expect("wakeup --wait");
    let replica = format!("{dst}/sink/laptop/{fs}");
    assert_eq!(
        sink.w().snapshots(&replica).len(),
        7,
        "nothing was destroyed"
    );
    let log = push.log_text();
    let receiver_lines: Vec<&str> = log[before..]
        .lines()
        .filter(|l| l.contains("subsystem=pruning") && l.contains("side=receiver"))
        .collect();
    assert!(
        receiver_lines.iter().any(|l| l.contains("pruning failed")),
        "{log}"
    );
    assert!(
        !receiver_lines.iter().any(|l| l.contains("pruning done")),
        "{log}"
    );
}
