//! `zferry check`: a Nagios/Icinga plugin (monitoring-plugins conventions).
//!
//! Exit code 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. The first line is the summary naming the
//! worst checks, then `|` and the perfdata of every check
//! (`'label'=value[UOM];warn;crit;min;max`); with `--verbose` one line per check follows.
//!
//! Lag and snapshot ages come from this host's ZFS alone (see [`crate::monitor::local`]), so
//! they work while the daemon is down; failures (the last run of each job and the time since
//! its last success) need the daemon and are UNKNOWN when it does not answer. A check whose
//! figure cannot be known is UNKNOWN, never OK.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::bail;
use jiff::Timestamp;
use zferry_zfs::Zfs;

use super::control::{block_on, client, load_config};
use crate::cli::CheckArgs;
use crate::config::Job;
use crate::config::duration::PositiveDuration;
use crate::config::monitor::{Limits, Monitor, PrefixLimits};
use crate::daemon::status::{AttemptState, DaemonStatus, JobState, JobStatus, PruneState};
use crate::daemon::status_ui::units::short_duration;
use crate::monitor::{CheckKind, CheckStatus, Level, MonitorStatus, Selection, assess, local};

/// One job's checks, with the job's name for labels.
struct JobChecks {
    job: String,
    checks: Vec<CheckStatus>,
}

/// Runs the check, prints the plugin output and returns the exit code.
pub fn run(config_path: Option<&Path>, args: &CheckArgs) -> u8 {
    let (level, text) = match evaluate(config_path, args) {
        Ok(results) => render(&results, args.verbose),
        Err(e) => (
            Level::Unknown,
            format!(
                "ZFERRY UNKNOWN - {}\n",
                one_line(&crate::cli::error_text(&e))
            ),
        ),
    };
    print!("{text}");
    level.exit_code()
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '|'], " ")
}

fn selection(args: &CheckArgs) -> Selection {
    if !(args.lag || args.snapshots || args.failures) {
        return Selection::ALL;
    }
    Selection {
        lag: args.lag,
        snapshots: args.snapshots,
        last_success: args.failures,
    }
}

/// The job's limits with `--warning`/`--critical` replacing the configured lag and snapshot
/// limits.
fn limits_with_overrides(monitor: &Monitor, args: &CheckArgs) -> Monitor {
    if args.warning.is_none() && args.critical.is_none() {
        return monitor.clone();
    }
    let given = Limits {
        warn: args.warning,
        crit: args.critical,
    };
    let snapshots = |list: &[PrefixLimits]| -> Vec<PrefixLimits> {
        list.iter()
            .map(|p| PrefixLimits {
                prefix: p.prefix.clone(),
                limits: given,
            })
            .collect()
    };
    Monitor {
        lag: Some(given),
        last_success: monitor.last_success,
        snapshots: snapshots(&monitor.snapshots),
        overrides: Vec::new(),
    }
}

fn evaluate(config_path: Option<&Path>, args: &CheckArgs) -> anyhow::Result<Vec<JobChecks>> {
    let config = load_config(config_path)?;
    let jobs: Vec<&Job> = if args.job.is_empty() {
        config.jobs.iter().collect()
    } else {
        let mut jobs = Vec::new();
        for name in &args.job {
            match config.job(name) {
                Some(j) => jobs.push(j),
                None => bail!("no job named {name:?} in the configuration"),
            }
        }
        jobs
    };
    if jobs.is_empty() {
        bail!("the configuration has no jobs");
    }
    let selection = selection(args);
    let zfs = Zfs::default();
    let daemon = if selection.last_success {
        Some(block_on(async {
            match client(config_path) {
                Ok(c) => c.status().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        })?)
    } else {
        None
    };
    let now = Timestamp::now();
    let mut results = Vec::new();
    for job in jobs {
        let monitor = limits_with_overrides(job.monitor(), args);
        let local_part = Selection {
            last_success: false,
            ..selection
        };
        let mut checks = Vec::new();
        if local_part.lag || local_part.snapshots {
            let observed = block_on(local::observe(&zfs, job))?;
            checks.extend(assess(&observed, &monitor, local_part, false, now).checks);
        }
        if let Some(daemon) = &daemon {
            checks.extend(failure_checks(job, &monitor, daemon));
        }
        results.push(JobChecks {
            job: job.name().to_string(),
            checks,
        });
    }
    Ok(results)
}

/// The job's last run and its last success, from the daemon.
fn failure_checks(
    job: &Job,
    monitor: &Monitor,
    daemon: &Result<DaemonStatus, String>,
) -> Vec<CheckStatus> {
    let status = match daemon {
        Ok(s) => s.jobs.get(job.name()),
        Err(e) => {
            return vec![failure(
                Level::Unknown,
                format!("daemon not reachable: {e}"),
            )];
        }
    };
    let Some(status) = status else {
        return vec![failure(
            Level::Unknown,
            "the daemon does not run this job (restart it after changing the configuration)".into(),
        )];
    };
    let mut checks = vec![match last_run_failure(status) {
        Some(why) => failure(Level::Crit, why),
        None => failure(Level::Ok, "last run succeeded".into()),
    }];
    if matches!(job, Job::Push(_) | Job::Pull(_) | Job::Snap(_)) {
        let last_success = status
            .monitor
            .as_ref()
            .and_then(|m: &MonitorStatus| {
                m.checks
                    .iter()
                    .find(|c| c.kind == CheckKind::LastSuccess)
                    .cloned()
            })
            .map(|mut c| {
                // The daemon assessed against its configuration; `--warning`/`--critical`
                // do not apply to the time since the last success.
                c.warn_seconds = monitor.last_success.and_then(|l| l.warn).map(secs);
                c.crit_seconds = monitor.last_success.and_then(|l| l.crit).map(secs);
                c
            });
        checks.extend(last_success);
    }
    checks
}

fn secs(d: PositiveDuration) -> u64 {
    d.as_std().as_secs()
}

/// Why the job's last run (or its setup) failed, if it did.
pub fn last_run_failure(job: &JobStatus) -> Option<String> {
    if let Some(e) = &job.setup_error {
        return Some(format!("setup failed: {e}"));
    }
    if job.state == JobState::Replicating {
        return None;
    }
    if let Some(r) = &job.replication
        && r.state == AttemptState::Failed
    {
        let failed: Vec<String> = r
            .filesystems
            .iter()
            .filter_map(|f| f.error.as_ref().map(|e| format!("{}: {e}", f.filesystem)))
            .collect();
        let why = r.error.clone().unwrap_or_else(|| failed.join("; "));
        return Some(format!("replication failed: {why}"));
    }
    let pruning = job.pruning.as_ref()?;
    for (side, s) in [("sender", &pruning.sender), ("receiver", &pruning.receiver)] {
        if let Some(s) = s
            && s.state == PruneState::Failed
        {
            let why = s
                .error
                .clone()
                .unwrap_or_else(|| "a snapshot was not destroyed".into());
            return Some(format!("pruning the {side} failed: {why}"));
        }
    }
    None
}

fn failure(level: Level, reason: String) -> CheckStatus {
    CheckStatus {
        kind: CheckKind::LastRun,
        filesystem: None,
        peer: None,
        prefix: None,
        since: None,
        age_seconds: None,
        warn_seconds: None,
        crit_seconds: None,
        level,
        reason: Some(reason),
    }
}

fn age_text(seconds: u64) -> String {
    short_duration(std::time::Duration::from_secs(seconds))
}

fn describe(job: &str, c: &CheckStatus) -> String {
    let mut text = format!("{job} {}", c.label());
    if let Some(age) = c.age_seconds {
        let _ = write!(text, " {}", age_text(age));
        let limit = match c.level {
            Level::Crit => c.crit_seconds,
            Level::Warn => c.warn_seconds,
            _ => None,
        };
        if let Some(l) = limit {
            let _ = write!(text, " > {}", age_text(l));
        }
    }
    if let Some(r) = &c.reason
        && (c.age_seconds.is_none() || c.level != Level::Ok)
    {
        let _ = write!(text, " ({r})");
    }
    text
}

/// `'label'=value[UOM];warn;crit;min;max`, for checks with a figure (`U` when unknown).
fn perfdata(job: &str, c: &CheckStatus) -> Option<String> {
    if c.kind == CheckKind::LastRun {
        return None;
    }
    let label = format!("{job} {}", c.label()).replace(['\'', '='], "_");
    let value = c.age_seconds.map_or("U".to_string(), |a| format!("{a}s"));
    let limit = |l: Option<u64>| l.map(|v| v.to_string()).unwrap_or_default();
    Some(format!(
        "'{label}'={value};{};{};0;",
        limit(c.warn_seconds),
        limit(c.crit_seconds)
    ))
}

/// The plugin output: the summary line with perfdata, then one line per check with `verbose`.
fn render(results: &[JobChecks], verbose: bool) -> (Level, String) {
    let all: Vec<(&str, &CheckStatus)> = results
        .iter()
        .flat_map(|r| r.checks.iter().map(move |c| (r.job.as_str(), c)))
        .collect();
    let level = all
        .iter()
        .map(|(_, c)| c.level)
        .max()
        .unwrap_or(Level::Unknown);
    let count = |l: Level| all.iter().filter(|(_, c)| c.level == l).count();
    let worst: Vec<String> = all
        .iter()
        .filter(|(_, c)| c.level == level && level != Level::Ok)
        .map(|(job, c)| describe(job, c))
        .collect();
    let mut summary = if all.is_empty() {
        "nothing to check (no monitored figures for the selected jobs)".to_string()
    } else if worst.is_empty() {
        match all.len() {
            1 => "1 check ok".to_string(),
            n => format!("{n} checks ok"),
        }
    } else {
        let shown = worst.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
        let more = worst.len().saturating_sub(3);
        let more = if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        };
        format!(
            "{shown}{more} ({} critical, {} warning, {} unknown of {})",
            count(Level::Crit),
            count(Level::Warn),
            count(Level::Unknown),
            all.len()
        )
    };
    let level = if all.is_empty() {
        Level::Unknown
    } else {
        level
    };
    summary = one_line(&summary);
    let perf: Vec<String> = all.iter().filter_map(|(job, c)| perfdata(job, c)).collect();
    let mut out = format!("ZFERRY {} - {summary}", level.plugin_word());
    if !perf.is_empty() {
        let _ = write!(out, " | {}", perf.join(" "));
    }
    out.push('\n');
    if verbose {
        for (job, c) in &all {
            // The time the age counts from: the same on every host that sees the snapshot.
            let since = c.since.map(|t| format!(" since {t}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "[{}] {}{since}",
                c.level.plugin_word(),
                one_line(&describe(job, c))
            );
        }
    }
    (level, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: CheckKind, fs: &str, age: Option<u64>, level: Level) -> CheckStatus {
        CheckStatus {
            kind,
            filesystem: Some(fs.into()),
            peer: None,
            prefix: None,
            since: None,
            age_seconds: age,
            warn_seconds: Some(900),
            crit_seconds: Some(3600),
            level,
            reason: age
                .is_none()
                .then(|| "no snapshot of the sender is on the receiver yet".into()),
        }
    }

    #[test]
    fn the_summary_names_the_worst_and_perfdata_follows_the_plugin_format() {
        let results = vec![JobChecks {
            job: "push".into(),
            checks: vec![
                check(CheckKind::Lag, "tank/a", Some(120), Level::Ok),
                check(CheckKind::Lag, "tank/b", Some(7200), Level::Crit),
                check(CheckKind::Lag, "tank/c", None, Level::Unknown),
            ],
        }];
        let (level, text) = render(&results, true);
        assert_eq!(level, Level::Crit);
        assert_eq!(
            text,
            "ZFERRY CRITICAL - push lag tank/b 2h > 1h (1 critical, 0 warning, 1 unknown of 3) \
             | 'push lag tank/a'=120s;900;3600;0; 'push lag tank/b'=7200s;900;3600;0; \
             'push lag tank/c'=U;900;3600;0;\n\
             [OK] push lag tank/a 2m\n\
             [CRITICAL] push lag tank/b 2h > 1h\n\
             [UNKNOWN] push lag tank/c (no snapshot of the sender is on the receiver yet)\n"
        );
    }

    #[test]
    fn nothing_to_check_is_unknown() {
        let (level, text) = render(&[], false);
        assert_eq!(level, Level::Unknown);
        assert!(
            text.starts_with("ZFERRY UNKNOWN - nothing to check"),
            "{text}"
        );
    }
}
