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
