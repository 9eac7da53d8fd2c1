//! `zferry status`: a live terminal UI over the control socket (ratatui), or one text rendering
//! (`--mode dump`), or the raw status JSON (`--mode raw`).

pub mod keys;
pub mod units;
pub mod view;

use std::io::IsTerminal;
use std::time::Duration;

use jiff::Timestamp;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind};

use keys::{Action, UiState};

use super::control::client::{ClientError, ControlClient};
use super::status::DaemonStatus;

/// How `zferry status` shows the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The live terminal UI.
    Interactive,
    /// One plain-text rendering on stdout.
    Dump,
    /// The JSON returned by the daemon, pretty-printed.
    Raw,
}

/// Why `zferry status` failed.
#[derive(Debug, thiserror::Error)]
pub enum StatusUiError {
    /// Talking to the daemon failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The terminal failed.
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
    /// JSON output failed.
    #[error("cannot print the status: {0}")]
    Json(#[from] serde_json::Error),
    /// The interactive view was asked for without a terminal.
    #[error(
        "the interactive status needs a terminal; use `zferry status --mode dump` (text) or `--mode raw` (JSON)"
    )]
    NoTerminal,
    /// `--job` names a job the daemon does not run.
    #[error("the daemon runs no job named {0:?}")]
    UnknownJob(String),
}

/// Which jobs `zferry status` shows: the named ones, or every job when none is named.
#[derive(Debug, Clone, Default)]
pub struct JobSelection(pub Vec<String>);

impl JobSelection {
    fn shows(&self, job: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|j| j == job)
    }

    /// The status with only the selected jobs; a named job the daemon does not run is an error.
    pub fn apply(&self, mut status: DaemonStatus) -> Result<DaemonStatus, StatusUiError> {
        if let Some(missing) = self.0.iter().find(|j| !status.jobs.contains_key(*j)) {
            return Err(StatusUiError::UnknownJob(missing.clone()));
        }
        status.jobs.retain(|name, _| self.shows(name));
        Ok(status)
    }

    fn apply_json(&self, mut json: serde_json::Value) -> serde_json::Value {
        if let Some(jobs) = json.get_mut("jobs").and_then(|j| j.as_object_mut()) {
            jobs.retain(|name, _| self.shows(name));
        }
        json
    }
}

/// What `dump` and `raw` print, and the status shown (for the exit code).
pub async fn render_once(
    client: &ControlClient,
    mode: Mode,
    jobs: &JobSelection,
) -> Result<(String, DaemonStatus), StatusUiError> {
    let status = jobs.apply(client.status().await?)?;
    let text = match mode {
        Mode::Raw => {
            serde_json::to_string_pretty(&jobs.apply_json(client.status_json().await?))? + "\n"
        }
        Mode::Dump | Mode::Interactive => view::dump_text(&status, Timestamp::now()),
    };
    Ok((text, status))
}

/// Runs the live UI until `q` or Esc, refreshing every `refresh`; returns the status last
/// shown.
pub async fn run_interactive(
    client: &ControlClient,
    refresh: Duration,
    jobs: &JobSelection,
) -> Result<DaemonStatus, StatusUiError> {
    if !std::io::stdout().is_terminal() {
        return Err(StatusUiError::NoTerminal);
    }
    let mut terminal = ratatui::try_init()?;
    let result = interactive_loop(client, refresh, jobs, &mut terminal).await;
    ratatui::try_restore()?;
    result
}

async fn interactive_loop(
    client: &ControlClient,
    refresh: Duration,
    jobs: &JobSelection,
    terminal: &mut ratatui::DefaultTerminal,
) -> Result<DaemonStatus, StatusUiError> {
    let mut ui = UiState::default();
    loop {
        let status = jobs.apply(client.status().await?)?;
        terminal.draw(|frame| view::draw(frame, &status, &mut ui, Timestamp::now()))?;
        let key = tokio::task::spawn_blocking(move || -> std::io::Result<Option<KeyCode>> {
            if event::poll(refresh)?
                && let Event::Key(key) = event::read()?
                && key.kind == KeyEventKind::Press
            {
                return Ok(Some(key.code));
            }
            Ok(None)
        })
        .await
        .map_err(std::io::Error::other)??;
        let Some(key) = key else { continue };
        let names: Vec<String> = status.jobs.keys().cloned().collect();
        match ui.on_key(key, &names) {
            Action::None => {}
            Action::Quit => return Ok(status),
            Action::Wakeup(job) => {
                ui.message = Some(match client.wakeup(&job, false).await {
                    Ok(_) => format!("woke up {job}"),
                    Err(e) => format!("wakeup of {job} failed: {e}"),
                });
            }
            Action::Reset(job) => {
                ui.message = Some(match client.reset(&job).await {
                    Ok(()) => format!("reset {job}"),
                    Err(e) => format!("reset of {job} failed: {e}"),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::daemon::hooks::Edge;
    use crate::daemon::hooks::plan::{StepReport, StepStatus};
    use crate::daemon::snapshot::round::{FsRoundReport, FsSnapState, RoundReport};
    use crate::daemon::status::*;
    use crate::monitor::{CheckKind, CheckStatus, Level, MonitorStatus};

    fn t(s: &str) -> Timestamp {
        s.parse().expect("time")
    }

    const MIB: u64 = 1024 * 1024;

    /// Lag of two filesystems (one critical) and the last success.
    fn monitor_fixture() -> MonitorStatus {
        let check = |fs: Option<&str>, kind, age: u64, level| CheckStatus {
            kind,
            filesystem: fs.map(str::to_string),
            peer: None,
            prefix: None,
            since: Some(t("2024-05-01T12:00:00Z") - jiff::SignedDuration::from_secs(age as i64)),
            age_seconds: Some(age),
            warn_seconds: Some(900),
            crit_seconds: Some(3600),
            level,
            reason: None,
        };
        MonitorStatus {
            level: Level::Crit,
            checks: vec![
                check(Some("tank/home"), CheckKind::Lag, 300, Level::Ok),
                check(Some("tank/vm"), CheckKind::Lag, 7200, Level::Crit),
                check(None, CheckKind::LastSuccess, 1000, Level::Warn),
            ],
        }
    }

    /// A push job mid-replication with one failed filesystem, pruning and a snapshot round with a
    /// fatal hook error; a sink; a snap job whose setup failed.
    fn fixture() -> DaemonStatus {
        let push = JobStatus {
            job_type: JobType::Push,
            state: JobState::Replicating,
            setup_error: None,
            next_run_at: None,
            replication: Some(ReplicationStatus {
                attempt: 2,
                state: AttemptState::Running,
                started_at: t("2024-05-01T11:58:00Z"),
                finished_at: None,
                error: None,
                next_retry_at: None,
                gives_up_at: None,
                bytes_expected: 2048 * MIB,
                bytes_replicated: 1024 * MIB,
                rate_bytes_per_sec: 16 * MIB,
                filesystems: vec![
                    FsReplicationStatus {
                        filesystem: "tank/home".into(),
                        state: FsReplicationState::Done,
                        steps_done: 3,
                        steps_total: 3,
                        current_step: None,
                        bytes_expected: 512 * MIB,
                        bytes_replicated: 512 * MIB,
                        resumed_steps: 0,
                        error: None,
                    },
                    FsReplicationStatus {
                        filesystem: "tank/vm".into(),
                        state: FsReplicationState::Stepping,
                        steps_done: 1,
                        steps_total: 4,
                        current_step: Some("@zrepl_1 -> @zrepl_2".into()),
                        bytes_expected: 1536 * MIB,
                        bytes_replicated: 512 * MIB,
                        resumed_steps: 0,
                        error: None,
                    },
                    FsReplicationStatus {
                        filesystem: "tank/db".into(),
                        state: FsReplicationState::Failed,
                        steps_done: 0,
                        steps_total: 2,
                        current_step: None,
                        bytes_expected: 0,
                        bytes_replicated: 0,
                        resumed_steps: 0,
                        error: Some("cannot receive: dataset is busy".into()),
                    },
                ],
            }),
            pruning: Some(PruningStatus {
                sender: Some(PruneSideStatus {
                    state: PruneState::Done,
                    error: None,
                    filesystems: vec![FsPruneStatus {
                        filesystem: "tank/home".into(),
                        keep: 10,
                        destroy: 2,
                        protected: vec!["@zrepl_1: the replication cursor points at it".into()],
                        error: None,
                    }],
                }),
                receiver: Some(PruneSideStatus {
                    state: PruneState::Pending,
                    error: None,
                    filesystems: vec![],
                }),
            }),
            snapshotting: Some(SnapshottingStatus {
                kind: SnapshotterKind::Periodic,
                state: SnapshotterState::Waiting,
                next_at: Some(t("2024-05-01T12:10:00Z")),
                last_round: Some(RoundReport {
                    snapname: "zrepl_20240501_115800_000".into(),
                    filesystems: vec![
                        FsRoundReport {
                            filesystem: "tank/db".into(),
                            state: FsSnapState::SkippedByHook,
                            error: None,
                            hooks: vec![StepReport {
                                hook: "command /etc/zferry/lock.sh".into(),
                                edge: Edge::Pre,
                                status: StepStatus::Err,
                                fatal: true,
                                duration_ms: Some(12),
                                error: Some("exit status: 1".into()),
                                output: None,
                            }],
                        },
                        FsRoundReport {
                            filesystem: "tank/home".into(),
                            state: FsSnapState::Done,
                            error: None,
                            hooks: vec![],
                        },
                    ],
                }),
                errors: vec![],
            }),
            warnings: vec![],
            monitor: Some(monitor_fixture()),
        };
        let sink = JobStatus {
            job_type: JobType::Sink,
            state: JobState::Serving,
            setup_error: None,
            next_run_at: None,
            replication: None,
            pruning: None,
            snapshotting: None,
            warnings: vec![],
            monitor: None,
        };
        let snap = JobStatus {
            job_type: JobType::Snap,
            state: JobState::SetupFailed,
            setup_error: Some("invalid cron expression \"61 * * * *\"".into()),
            next_run_at: None,
            replication: None,
            pruning: None,
            snapshotting: None,
            warnings: vec![],
            monitor: None,
        };
        DaemonStatus {
            version: "0.1.0".into(),
            started_at: t("2024-05-01T08:00:00Z"),
            jobs: BTreeMap::from([
                ("backup_push".to_string(), push),
                ("local_sink".to_string(), sink),
                ("snap_hourly".to_string(), snap),
            ]),
        }
    }

    const NOW: &str = "2024-05-01T12:00:00Z";

    fn screen(selected: usize) -> String {
        let mut terminal = Terminal::new(TestBackend::new(110, 32)).expect("terminal");
        let mut ui = UiState {
            selected,
            ..UiState::default()
        };
        terminal
            .draw(|frame| view::draw(frame, &fixture(), &mut ui, t(NOW)))
            .expect("draw");
        let buffer = terminal.backend().buffer();
        let width = usize::from(buffer.area.width);
        buffer
            .content()
            .chunks(width)
            .map(|row| {
                row.iter()
                    .map(|cell| cell.symbol())
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn tui_push_job_details() {
        insta::assert_snapshot!(screen(0));
    }

    #[test]
    fn tui_setup_failed_job() {
        insta::assert_snapshot!(screen(2));
    }

    #[test]
    fn dump_renders_every_job() {
        insta::assert_snapshot!(view::dump_text(&fixture(), t(NOW)));
    }

    #[test]
    fn status_json_round_trips_and_has_the_documented_shape() {
        let status = fixture();
        let json = serde_json::to_value(&status).expect("json");
        assert_eq!(json["jobs"]["backup_push"]["type"], "push");
        assert_eq!(
            json["jobs"]["backup_push"]["replication"]["filesystems"][1]["steps_done"],
            1
        );
        assert_eq!(json["jobs"]["snap_hourly"]["state"], "setup_failed");
        assert!(json["jobs"]["local_sink"].get("replication").is_none());
        let back: DaemonStatus = serde_json::from_value(json).expect("parse back");
        assert_eq!(back, status);
    }
}
