//! The monitoring files shipped in `dist/`: the Prometheus alert rules are valid (checked with
//! `promtool` when it is installed) and use only metrics the daemon exports; the Icinga 2
//! CheckCommand passes only options `zferry check` has.

use std::path::PathBuf;
use std::process::Command;

fn dist(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../dist")
        .join(path)
}

const ALERT_RULES: &str = "prometheus/zferry-alerts.yml";

/// Metric names `/metrics` serves (see `daemon::metrics`).
const EXPORTED: [&str; 11] = [
    "zferry_daemon_start_time_seconds",
    "zferry_build_info",
    "zferry_replication_state_duration_seconds",
    "zferry_replication_bytes_total",
    "zferry_replication_filesystem_errors",
    "zferry_replication_last_success_timestamp_seconds",
    "zferry_pruning_duration_seconds",
    "zferry_zfs_commands_total",
    "zferry_zfs_command_seconds_total",
    "zferry_receiver_newest_snapshot_timestamp_seconds",
    "zferry_replication_lag_seconds",
];

#[test]
fn alert_rules_pass_promtool() {
    let rules = dist(ALERT_RULES);
    let out = match Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("SKIPPED: promtool is not installed ({e}); the rules were not checked");
            return;
        }
    };
    assert!(
        out.status.success(),
        "promtool check rules {}:\n{}{}",
        rules.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SUCCESS: 5 rules found"), "{text}");
}

#[test]
fn alert_rules_use_exported_metrics_only() {
    let text = std::fs::read_to_string(dist(ALERT_RULES)).expect("rules present");
    let exprs: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr:"))
        .collect();
    assert_eq!(exprs.len(), 5, "{exprs:?}");
    for expr in exprs {
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("zferry_") && word != "zferry_job" {
                assert!(EXPORTED.contains(&word), "unknown metric {word} in {expr}");
            }
        }
    }
}

#[test]
fn icinga_check_command_uses_options_of_zferry_check() {
    let conf = std::fs::read_to_string(dist("icinga2/zferry.conf")).expect("conf present");
    let help = Command::new(env!("CARGO_BIN_EXE_zferry"))
        .args(["check", "--help"])
        .output()
        .expect("zferry check --help");
    let help = String::from_utf8_lossy(&help.stdout);
    let options: Vec<&str> = conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"')?.split_once("\" = {"))
        .map(|(opt, _)| opt)
        .collect();
    assert!(options.len() >= 7, "{options:?}");
    for opt in options {
        assert!(
            help.contains(opt),
            "zferry check has no option {opt}:\n{help}"
        );
    }
}
