//! `/metrics` scraped over HTTP, and the monitoring files shipped in `dist/` that use the
//! metrics (the Grafana dashboard and the Prometheus alert rules, checked with `promtool` when it
//! is installed) or `zferry check` (the Icinga 2 CheckCommand passes only options it has).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zferry::daemon::metrics::{Metrics, ZfsCommandStats, serve_metrics};

struct FakeZfs;

impl ZfsCommandStats for FakeZfs {
    fn verb_stats(&self) -> Vec<(String, u64, Duration)> {
        vec![
            ("zfs list".into(), 7, Duration::from_millis(1500)),
            ("zfs send".into(), 2, Duration::from_secs(30)),
        ]
    }
}

async fn scrape(addr: std::net::SocketAddr) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("http response");
    (head.to_string(), body.to_string())
}

fn value(body: &str, series: &str) -> f64 {
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("series {series} missing in\n{body}"))
        .parse()
        .expect("number")
}

#[tokio::test]
async fn metrics_are_served_over_http() {
    let started: jiff::Timestamp = "2024-01-01T00:00:00Z".parse().expect("time");
    let metrics = Arc::new(Metrics::new(started, Arc::new(FakeZfs)));
    metrics.observe_replication_state("push", "stepping", Duration::from_secs(3));
    metrics.add_bytes_replicated("push", "tank/a", 1000);
    metrics.add_bytes_replicated("push", "tank/a", 24);
    metrics.set_filesystem_errors("push", 2);
    metrics.set_last_success("push", "2024-01-01T01:00:00Z".parse().expect("time"));
    metrics.observe_pruning("push", "sender", Duration::from_millis(250));
    let an_hour_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    metrics.set_replicated_newest(
        "push",
        &[("tank/a".to_string(), Some(an_hour_ago))]
            .into_iter()
            .collect(),
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_metrics(listener, Arc::clone(&metrics), async {
        let _ = stopped.await;
    }));

    let (head, body) = scrape(addr).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("application/openmetrics-text"), "{head}");
    assert_eq!(
        value(&body, "zferry_daemon_start_time_seconds"),
        1_704_067_200.0
    );
    assert_eq!(
        value(
            &body,
            &format!(
                "zferry_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        ),
        1.0
    );
    assert_eq!(
        value(
            &body,
            "zferry_replication_state_duration_seconds_count{zferry_job=\"push\",state=\"stepping\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &body,
            "zferry_replication_bytes_total{zferry_job=\"push\",filesystem=\"tank/a\"}"
        ),
        1024.0
    );
    assert_eq!(
        value(
            &body,
            "zferry_replication_filesystem_errors{zferry_job=\"push\"}"
        ),
        2.0
    );
    assert_eq!(
        value(
            &body,
            "zferry_replication_last_success_timestamp_seconds{zferry_job=\"push\"}"
        ),
        1_704_070_800.0
    );
    assert_eq!(
        value(
            &body,
            "zferry_pruning_duration_seconds_sum{zferry_job=\"push\",side=\"sender\"}"
        ),
        0.25
    );
    assert_eq!(
        value(&body, "zferry_zfs_commands_total{verb=\"zfs list\"}"),
        7.0
    );
    assert_eq!(
        value(&body, "zferry_zfs_command_seconds_total{verb=\"zfs send\"}"),
        30.0
    );
    let lag = value(
        &body,
        "zferry_replication_lag_seconds{zferry_job=\"push\",filesystem=\"tank/a\"}",
    );
    assert!((3599.0..3700.0).contains(&lag), "lag {lag}");
    assert!(body.trim_end().ends_with("# EOF"));

    let _ = stop.send(());
    server.await.expect("join").expect("serve");
}

#[test]
fn grafana_dashboard_uses_exported_metric_names() {
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../dist/grafana/zferry.json"
    ))
    .expect("dashboard present");
    let json: serde_json::Value = serde_json::from_str(&dashboard).expect("valid JSON");
    let exprs: Vec<String> = json["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_string))
        .collect();
    assert!(exprs.len() >= 8, "dashboard has {} queries", exprs.len());
    for expr in &exprs {
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("zferry_") && word != "zferry_job" {
                assert!(
                    EXPORTED.iter().any(|k| word == *k
                        || word
                            .strip_prefix(k)
                            .is_some_and(|rest| ["_bucket", "_sum", "_count"].contains(&rest))),
                    "dashboard uses unknown metric {word} in {expr}"
                );
            }
        }
    }
}

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

fn dist(path: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../dist")
        .join(path)
}

const ALERT_RULES: &str = "prometheus/zferry-alerts.yml";

#[test]
fn alert_rules_pass_promtool() {
    let rules = dist(ALERT_RULES);
    let out = match std::process::Command::new("promtool")
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
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_zferry"))
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
