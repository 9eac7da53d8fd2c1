//! `zferry check` (the Nagios/Icinga plugin) and the monitor figures of `zferry status`, end to
//! end: a push daemon and a sink daemon, each on its own ZFS world. Shows the plugin output and
//! exit code for OK, WARNING, CRITICAL and UNKNOWN (daemon down, ZFS unreadable), and that the
//! lag the sending host computes from its cursor agrees with the lag the receiving host computes
//! from what it received.

mod e2e_common;

use std::time::Duration;

use e2e_common::{Host, World, data, free_port, tcp_push, tcp_sink, wait_until};

/// A check's output and exit code.
struct Plugin {
    code: i32,
    stdout: String,
}

fn check(host: &Host, args: &[&str]) -> Plugin {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    let out = host.cli(&all);
    let p = Plugin {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    };
    eprintln!(
        "$ zferry {} -> exit {}\n{}",
        all.join(" "),
        p.code,
        p.stdout
    );
    p
}

/// The value in seconds of perfdata `label` in a plugin's summary line.
fn perf_seconds(p: &Plugin, label: &str) -> u64 {
    let key = format!("'{label}'=");
    let first = p.stdout.lines().next().unwrap_or("");
    let rest = first
        .split_once(&key)
        .unwrap_or_else(|| panic!("no perfdata {label} in {first}"))
        .1;
    rest.split(['s', ';'])
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("perfdata {label} has no value in seconds: {first}"))
}

/// The `since` of the one check a verbose plugin output details.
fn since(p: &Plugin) -> String {
    let details: Vec<&str> = p.stdout.lines().skip(1).collect();
    assert_eq!(details.len(), 1, "{}", p.stdout);
    details[0]
        .split_once(" since ")
        .map(|(_, t)| t.to_string())
        .unwrap_or_else(|| panic!("no since in {}", details[0]))
}

struct Pair {
    push: Host,
    sink: Host,
    data_fs: String,
}

fn start() -> Pair {
    let (laptop, backup) = (World::new(), World::new());
    let src = laptop.create_pool("src");
    let dst = backup.create_pool("dst");
    backup.create(&format!("{dst}/sink"));
    let data_fs = format!("{src}/data");
    laptop.create(&data_fs);
    laptop.write(&data_fs, "a.bin", &data(1, 20_000));
    let port = free_port();
    let sink = Host::start(
        backup,
        "backup",
        "",
        &(tcp_sink(&format!("{dst}/sink"), port)
            + "    monitor:\n      lag: {warn: 1h, crit: 2h}\n"),
    );
    let push = Host::start(
        laptop,
        "laptop",
        "",
        &tcp_push(
            &data_fs,
            port,
            "    monitor:\n      lag: {warn: 1h, crit: 2h}\n      last_success: {warn: 1h, crit: 1d}\n",
        ),
    );
    Pair {
        push,
        sink,
        data_fs,
    }
}

#[test]
fn check_reports_ok_warning_critical_and_unknown_with_agreeing_lag_on_both_hosts() {
    let Pair {
        mut push,
        sink,
        data_fs,
    } = start();

    // A snapshot, not replicated yet: the lag cannot be known.
    push.w().snap(&data_fs, "s1");
    let p = check(&push, &["--lag"]);
    assert_eq!(p.code, 3, "{}", p.stdout);
    assert!(
        p.stdout.starts_with("ZFERRY UNKNOWN - push lag "),
        "{}",
        p.stdout
    );

    push.wakeup_wait("push");
    let created: i64 = push
        .w()
        .prop(&format!("{data_fs}@s1"), "creation")
        .parse()
        .expect("creation");

    // OK, from both hosts, with the figure in the perfdata.
    let on_sender = check(&push, &["--lag", "--verbose"]);
    let on_receiver = check(&sink, &["--lag", "--verbose"]);
    assert_eq!(on_sender.code, 0, "{}", on_sender.stdout);
    assert_eq!(on_receiver.code, 0, "{}", on_receiver.stdout);
    assert!(
        on_sender
            .stdout
            .starts_with("ZFERRY OK - 1 check ok | 'push lag "),
        "{}",
        on_sender.stdout
    );
    // Both hosts count the lag from the same instant, the creation of s1 (the ages differ by
    // the time between the two checks).
    let s1 = jiff::Timestamp::from_second(created)
        .expect("time")
        .to_string();
    assert_eq!(since(&on_sender), s1, "{}", on_sender.stdout);
    assert_eq!(since(&on_receiver), s1, "{}", on_receiver.stdout);
    let sender_lag = perf_seconds(&on_sender, &format!("push lag {data_fs}"));
    let receiver_lag = perf_seconds(&on_receiver, &format!("sink lag laptop:{data_fs}"));
    assert!(sender_lag <= receiver_lag, "the receiver checked later");
    assert!(
        on_sender.stdout.contains(";3600;7200;0;"),
        "the configured limits in the perfdata: {}",
        on_sender.stdout
    );

    // The daemon's status shows the same figure: counted from the creation of s1.
    let status = push.status();
    let monitor = &status["jobs"]["push"]["monitor"];
    let lag = &monitor["checks"][0];
    assert_eq!(lag["kind"], "lag", "{monitor:#}");
    assert_eq!(lag["filesystem"], data_fs.as_str());
    assert_eq!(lag["level"], "ok");
    let since: jiff::Timestamp = lag["since"].as_str().expect("since").parse().expect("ts");
    assert_eq!(since.as_second(), created);
    let dump = push.cli(&["status", "--mode", "dump", "--job", "push"]);
    let dump_text = String::from_utf8_lossy(&dump.stdout);
    assert!(dump_text.contains("Monitor  ok"), "{dump_text}");
    assert!(dump_text.contains(&format!("lag {data_fs}")), "{dump_text}");
    assert_eq!(dump.status.code(), Some(0), "{dump_text}");

    // WARNING, then CRITICAL, as the snapshot ages past limits given on the command line.
    wait_until(Duration::from_secs(30), "s1 older than 2s", || {
        jiff::Timestamp::now().as_second() > created + 2
    });
    let warning = check(&sink, &["--lag", "-w", "1s", "-c", "1h"]);
    assert_eq!(warning.code, 1, "{}", warning.stdout);
    assert!(
        warning
            .stdout
            .starts_with(&format!("ZFERRY WARNING - sink lag laptop:{data_fs} ")),
        "{}",
        warning.stdout
    );
    let critical = check(&push, &["--lag", "-w", "1s", "-c", "2s"]);
    assert_eq!(critical.code, 2, "{}", critical.stdout);
    assert!(
        critical
            .stdout
            .starts_with(&format!("ZFERRY CRITICAL - push lag {data_fs} ")),
        "{}",
        critical.stdout
    );
    assert!(critical.stdout.contains("> 2s"), "{}", critical.stdout);

    // Failures come from the daemon: the last run succeeded.
    let failures = check(&push, &["--failures", "--verbose"]);
    assert_eq!(failures.code, 0, "{}", failures.stdout);
    assert!(
        failures
            .stdout
            .contains("[OK] push last_run (last run succeeded)"),
        "{}",
        failures.stdout
    );

    // ZFS unreadable (no `zfs` to run): UNKNOWN.
    let out = push
        .cli_command(&["check", "--lag"])
        .env("PATH", "/nonexistent-zferry-test")
        .output()
        .expect("run check");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!(
        "$ PATH=/nonexistent zferry check --lag -> {:?}\n{text}",
        out.status.code()
    );
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.starts_with("ZFERRY UNKNOWN - push lag"), "{text}");

    // Daemon down: the lag still comes from ZFS, failures are UNKNOWN.
    push.stop();
    let lag = check(&push, &["--lag"]);
    assert_eq!(lag.code, 0, "{}", lag.stdout);
    let down = check(&push, &["--failures"]);
    assert_eq!(down.code, 3, "{}", down.stdout);
    assert!(
        down.stdout
            .starts_with("ZFERRY UNKNOWN - push last_run (daemon not reachable: "),
        "{}",
        down.stdout
    );
}

#[test]
fn check_snapshots_watches_the_newest_snapshot_per_prefix() {
    let w = World::new();
    let pool = w.create_pool("p");
    let fs = format!("{pool}/home");
    w.create(&fs);
    w.snap(&fs, "auto_1");
    let host = Host::start(
        w,
        "host",
        "",
        &format!(
            "  - name: local
    type: snap
    filesystems:
      \"{fs}\": true
    snapshotting:
      type: manual
    pruning:
      keep:
        - type: last_n
          count: 5
    monitor:
      snapshots:
        - {{prefix: auto_, warn: 1h, crit: 2h}}
        - {{prefix: weekly_, crit: 8d}}
"
        ),
    );
    let created: i64 = host
        .w()
        .prop(&format!("{fs}@auto_1"), "creation")
        .parse()
        .expect("creation");

    // auto_ is fresh, weekly_ has no snapshot at all: UNKNOWN, named.
    let p = check(&host, &["--snapshots", "--verbose"]);
    assert_eq!(p.code, 3, "{}", p.stdout);
    assert!(
        p.stdout.starts_with(&format!(
            "ZFERRY UNKNOWN - local snapshots {fs}@weekly_ (no snapshot named `weekly_…`)"
        )),
        "{}",
        p.stdout
    );
    assert!(
        p.stdout
            .contains(&format!("[OK] local snapshots {fs}@auto_ ")),
        "{}",
        p.stdout
    );
    assert!(
        p.stdout
            .contains(&format!("'local snapshots {fs}@weekly_'=U;;691200;0;")),
        "{}",
        p.stdout
    );

    // The daemon's status shows the same check after a run.
    host.wakeup_wait("local");
    let status = host.status();
    let checks = status["jobs"]["local"]["monitor"]["checks"]
        .as_array()
        .expect("checks")
        .clone();
    let auto = checks
        .iter()
        .find(|c| c["kind"] == "snapshot_age" && c["prefix"] == "auto_")
        .expect("auto_ check");
    assert_eq!(auto["level"], "ok");
    let since: jiff::Timestamp = auto["since"].as_str().expect("since").parse().expect("ts");
    assert_eq!(since.as_second(), created);

    // The one prefix with a snapshot, against a critical limit it has outgrown.
    wait_until(Duration::from_secs(30), "auto_1 older than 2s", || {
        jiff::Timestamp::now().as_second() > created + 2
    });
    let critical = check(&host, &["--snapshots", "-w", "1s", "-c", "2s"]);
    assert_eq!(critical.code, 2, "{}", critical.stdout);
    assert!(
        critical
            .stdout
            .starts_with(&format!("ZFERRY CRITICAL - local snapshots {fs}@auto_ ")),
        "{}",
        critical.stdout
    );
}
