//! Rendering the status model: the details of a job as styled lines (shared by the live UI and
//! the `dump` mode), and the live UI's layout (jobs list left, details right).

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph};

use super::keys::{Focus, UiState};
use super::units;
use crate::daemon::hooks::plan::StepStatus;
use crate::daemon::snapshot::round::FsSnapState;
use crate::daemon::status::{
    AttemptState, DaemonStatus, FsReplicationState, JobState, JobStatus, JobType, PruneSideStatus,
    PruneState, ReplicationStatus, SnapshottingStatus,
};
use crate::monitor::{CheckStatus, Level, MonitorStatus};

const BAR_WIDTH: usize = 30;

fn heading(text: &str) -> Line<'static> {
    Line::from(Span::styled(
        text.to_string(),
        Style::default().add_modifier(Modifier::BOLD),
    ))
}

fn error_line(indent: &str, error: &str) -> Line<'static> {
    Line::from(vec![
        Span::raw(indent.to_string()),
        Span::styled(format!("error: {error}"), Style::default().fg(Color::Red)),
    ])
}

fn when(t: Timestamp, now: Timestamp) -> String {
    let delta = t.duration_since(now);
    let secs = delta.as_secs();
    let rel = units::duration(std::time::Duration::from_secs(secs.unsigned_abs()));
    let at = t.strftime("%Y-%m-%d %H:%M:%S UTC");
    match secs {
        0 => format!("{at} (now)"),
        s if s > 0 => format!("{at} (in {rel})"),
        _ => format!("{at} ({rel} ago)"),
    }
}

/// `1 filesystem`, `2 filesystems`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn job_state_name(state: JobState) -> &'static str {
    match state {
        JobState::Idle => "idle",
        JobState::Replicating => "replicating",
        JobState::Pruning => "pruning",
        JobState::Serving => "serving",
        JobState::SetupFailed => "setup failed",
    }
}

fn json_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
        .replace('_', " ")
}

/// The details of one job, as lines.
pub fn job_lines(name: &str, job: &JobStatus, now: Timestamp) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("Job {name}"),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            "  type: {}  state: {}",
            json_name(&job.job_type),
            job_state_name(job.state)
        )),
    ])];
    if let Some(error) = &job.setup_error {
        lines.push(error_line("  ", error));
    }
    for warning in &job.warnings {
        lines.push(Line::from(vec![
            Span::raw("  "),
            Span::styled(
                format!("warning: {warning}"),
                Style::default().fg(Color::Yellow),
            ),
        ]));
    }
    if let Some(next) = job.next_run_at {
        lines.push(Line::from(format!("  next run: {}", when(next, now))));
    }
    if let Some(monitor) = &job.monitor {
        monitor_lines(monitor, &mut lines);
    }
    if let Some(replication) = &job.replication {
        replication_lines(replication, now, &mut lines);
    }
    if let Some(pruning) = &job.pruning {
        lines.push(heading("Pruning"));
        // A snap job prunes its own filesystems, reported as the sending side.
        let first = if job.job_type == JobType::Snap {
            "local"
        } else {
            "sender"
        };
        for (side, status) in [(first, &pruning.sender), ("receiver", &pruning.receiver)] {
            if let Some(status) = status {
                prune_side_lines(side, status, &mut lines);
            }
        }
    }
    if let Some(snapshotting) = &job.snapshotting {
        snapshotting_lines(snapshotting, now, &mut lines);
    }
    lines
}

fn level_style(level: Level) -> Style {
    match level {
        Level::Ok => Style::default().fg(Color::Green),
        Level::Warn => Style::default().fg(Color::Yellow),
        Level::Unknown => Style::default().fg(Color::Magenta),
        Level::Crit => Style::default().fg(Color::Red),
    }
}

fn limit_text(c: &CheckStatus) -> String {
    let secs = |s: u64| units::short_duration(std::time::Duration::from_secs(s));
    match (c.warn_seconds, c.crit_seconds) {
        (None, None) => String::new(),
        (w, cr) => {
            let parts: Vec<String> = [("warn", w), ("crit", cr)]
                .into_iter()
                .filter_map(|(n, v)| v.map(|v| format!("{n} {}", secs(v))))
                .collect();
            format!("  ({})", parts.join(", "))
        }
    }
}

/// The job's freshness against its limits: one line per check, the worst level in the heading.
fn monitor_lines(m: &MonitorStatus, lines: &mut Vec<Line<'static>>) {
    lines.push(Line::from(vec![
        Span::styled(
            "Monitor".to_string(),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw("  "),
        Span::styled(m.level.word().to_string(), level_style(m.level)),
    ]));
    let labels: Vec<String> = m.checks.iter().map(CheckStatus::label).collect();
    let width = labels.iter().map(String::len).max().unwrap_or(0);
    for (c, label) in m.checks.iter().zip(labels) {
        let figure = match c.age_seconds {
            Some(age) => units::short_duration(std::time::Duration::from_secs(age)),
            None => "-".to_string(),
        };
        let mut spans = vec![
            Span::raw(format!("  {label:<width$}  ")),
            Span::styled(format!("{:<7}", c.level.word()), level_style(c.level)),
            Span::raw(format!(" {figure:<8}{}", limit_text(c))),
        ];
        if let Some(reason) = &c.reason {
            spans.push(Span::raw(format!("  {reason}")));
        }
        lines.push(Line::from(spans));
    }
}

fn replication_lines(r: &ReplicationStatus, now: Timestamp, lines: &mut Vec<Line<'static>>) {
    let state_style = match r.state {
        AttemptState::Failed => Style::default().fg(Color::Red),
        AttemptState::Done => Style::default().fg(Color::Green),
        _ => Style::default().fg(Color::Yellow),
    };
    lines.push(Line::from(vec![
        Span::styled(
            "Replication".to_string(),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!("  attempt #{}  ", r.attempt)),
        Span::styled(json_name(&r.state), state_style),
        Span::raw(format!("  started {}", when(r.started_at, now))),
    ]));
    if let Some(finished) = r.finished_at {
        lines.push(Line::from(format!("  finished {}", when(finished, now))));
    }
    if let Some(error) = &r.error {
        lines.push(error_line("  ", error));
    }
    if let Some(next) = r.next_retry_at {
        let mut text = format!("  retrying: next try {}", when(next, now));
        if let Some(end) = r.gives_up_at {
            text.push_str(&format!(", giving up {}", when(end, now)));
        }
        lines.push(Line::from(Span::styled(
            text,
            Style::default().fg(Color::Yellow),
        )));
    }
    let remaining = r.bytes_expected.saturating_sub(r.bytes_replicated);
    let eta = match (r.state, units::eta(remaining, r.rate_bytes_per_sec)) {
        (AttemptState::Running, Some(eta)) => format!("  ETA {}", units::duration(eta)),
        _ => String::new(),
    };
    if r.bytes_expected == 0 && r.state == AttemptState::Done {
        lines.push(Line::from(
            "  nothing to send: every filesystem is up to date",
        ));
    } else {
        lines.push(Line::from(format!(
            "  {}  {} / {}  {}{eta}",
            units::progress_bar(r.bytes_replicated, r.bytes_expected, BAR_WIDTH),
            units::bytes(r.bytes_replicated),
            units::bytes(r.bytes_expected),
            units::rate(r.rate_bytes_per_sec),
        )));
    }
    let width = r
        .filesystems
        .iter()
        .map(|f| f.filesystem.len())
        .max()
        .unwrap_or(0);
    for fs in &r.filesystems {
        let style = match fs.state {
            FsReplicationState::Failed => Style::default().fg(Color::Red),
            FsReplicationState::Done => Style::default().fg(Color::Green),
            FsReplicationState::Stepping => Style::default().fg(Color::Yellow),
            _ => Style::default(),
        };
        let mut spans = vec![
            Span::raw(format!("  {:<width$}  ", fs.filesystem)),
            Span::styled(format!("{:<8}", json_name(&fs.state)), style),
            Span::raw(format!(
                "  step {}/{}  {} / {}",
                step_number(fs),
                fs.steps_total,
                units::bytes(fs.bytes_replicated),
                units::bytes(fs.bytes_expected)
            )),
        ];
        if let Some(step) = &fs.current_step {
            spans.push(Span::raw(format!("  {step}")));
        } else if fs.resumed_steps > 0 {
            let resumed = count(usize::try_from(fs.resumed_steps).unwrap_or(0), "step");
            spans.push(Span::raw(format!("  ({resumed} resumed)")));
        }
        lines.push(Line::from(spans));
        if let Some(error) = &fs.error {
            lines.push(error_line("    ", error));
        }
    }
}

/// The step shown as `step i/n`: the one being sent (1-based) while a step runs, else the
/// number done.
fn step_number(fs: &crate::daemon::status::FsReplicationStatus) -> u32 {
    if fs.current_step.is_some() {
        (fs.steps_done + 1).min(fs.steps_total)
    } else {
        fs.steps_done
    }
}

fn prune_side_lines(side: &str, status: &PruneSideStatus, lines: &mut Vec<Line<'static>>) {
    let style = match status.state {
        PruneState::Failed => Style::default().fg(Color::Red),
        PruneState::Done => Style::default().fg(Color::Green),
        _ => Style::default(),
    };
    let destroy: u32 = status.filesystems.iter().map(|f| f.destroy).sum();
    lines.push(Line::from(vec![
        Span::raw(format!("  {side}: ")),
        Span::styled(json_name(&status.state), style),
        Span::raw(format!(
            "  {}, {} to destroy",
            count(status.filesystems.len(), "filesystem"),
            count(usize::try_from(destroy).unwrap_or(usize::MAX), "snapshot")
        )),
    ]));
    if let Some(error) = &status.error {
        lines.push(error_line("    ", error));
    }
    for fs in &status.filesystems {
        lines.push(Line::from(format!(
            "    {}  keep {}  destroy {}",
            fs.filesystem, fs.keep, fs.destroy
        )));
        for kept in &fs.protected {
            lines.push(Line::from(format!("      kept {kept}")));
        }
        if let Some(error) = &fs.error {
            lines.push(error_line("      ", error));
        }
    }
}

fn snapshotting_lines(s: &SnapshottingStatus, now: Timestamp, lines: &mut Vec<Line<'static>>) {
    let mut head = format!("  {}  {}", json_name(&s.kind), json_name(&s.state));
    if let Some(next) = s.next_at {
        head.push_str(&format!("  next: {}", when(next, now)));
    }
    lines.push(heading("Snapshotting"));
    lines.push(Line::from(head));
    if let Some(round) = &s.last_round {
        lines.push(Line::from(format!("  last round: @{}", round.snapname)));
        for fs in &round.filesystems {
            let (text, style) = match fs.state {
                FsSnapState::Done => ("done", Style::default().fg(Color::Green)),
                FsSnapState::SkippedByHook => (
                    "skipped (fatal hook error)",
                    Style::default().fg(Color::Red),
                ),
                FsSnapState::Error => ("failed", Style::default().fg(Color::Red)),
            };
            let failed_hooks: Vec<String> = fs
                .hooks
                .iter()
                .filter(|h| h.status == StepStatus::Err)
                .map(|h| match &h.error {
                    Some(error) => format!("{} {} ({error})", h.edge.hook_type(), h.hook),
                    None => format!("{} {}", h.edge.hook_type(), h.hook),
                })
                .collect();
            let mut spans = vec![
                Span::raw(format!("    {}  ", fs.filesystem)),
                Span::styled(text.to_string(), style),
            ];
            if !failed_hooks.is_empty() {
                spans.push(Span::raw(format!(
                    "  failed hooks: {}",
                    failed_hooks.join(", ")
                )));
            }
            lines.push(Line::from(spans));
            if let Some(error) = &fs.error {
                lines.push(error_line("      ", error));
            }
        }
    }
    for error in &s.errors {
        lines.push(error_line("  ", error));
    }
}

/// The whole status as plain text, every job in turn (`zferry status --mode dump`).
pub fn dump_text(status: &DaemonStatus, now: Timestamp) -> String {
    let mut out = format!(
        "zferry daemon {} (started {})\n",
        status.version,
        when(status.started_at, now)
    );
    for (name, job) in &status.jobs {
        out.push('\n');
        for line in job_lines(name, job, now) {
            out.push_str(line.to_string().trim_end());
            out.push('\n');
        }
    }
    out
}

/// The details lines of the selected job under the filter, as shown (before scrolling).
fn details(status: &DaemonStatus, ui: &UiState, now: Timestamp) -> Vec<Line<'static>> {
    let Some((name, job)) = status.jobs.iter().nth(ui.selected) else {
        return vec![Line::from("no jobs configured")];
    };
    job_lines(name, job, now)
        .into_iter()
        .filter(|line| ui.shows(&line.to_string()))
        .collect()
}

fn footer(ui: &UiState) -> Line<'static> {
    if let Some(text) = &ui.editing {
        return Line::from(format!("filter: {text}_  (Enter: apply, Esc: cancel)"));
    }
    // What changed comes first: the footer may be cut at the terminal's width.
    let mut spans = Vec::new();
    if let Some(message) = &ui.message {
        spans.push(Span::raw(format!("{message}  ")));
    }
    if !ui.filter.is_empty() {
        spans.push(Span::raw(format!("filter: {} (Esc clears)  ", ui.filter)));
    }
    spans.push(Span::styled(
        " q quit  Tab focus  arrows select/scroll  PgUp/PgDn/Home/End  / filter  w wakeup  R reset ",
        Style::default().add_modifier(Modifier::REVERSED),
    ));
    Line::from(spans)
}

/// Draws the live UI: the jobs list (with the selected job highlighted), that job's details
/// (filtered and scrolled as `ui` says; `ui` is clamped to what there is) and a footer with
/// the keys, the filter and the outcome of the last signal.
pub fn draw(frame: &mut Frame, status: &DaemonStatus, ui: &mut UiState, now: Timestamp) {
    let [main, bottom] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(frame.area());
    let [left, right] =
        Layout::horizontal([Constraint::Length(24), Constraint::Min(20)]).areas(main);
    let items: Vec<ListItem> = status
        .jobs
        .iter()
        .map(|(name, job)| {
            let style = if job.state == JobState::SetupFailed
                || job
                    .replication
                    .as_ref()
                    .is_some_and(|r| r.state == AttemptState::Failed)
            {
                Style::default().fg(Color::Red)
            } else {
                Style::default()
            };
            ListItem::new(Line::from(Span::styled(name.clone(), style)))
        })
        .collect();
    ui.clamp_selection(status.jobs.len());
    let lines = details(status, ui, now);
    let height = usize::from(right.height.saturating_sub(2));
    ui.clamp_scroll(lines.len(), height);
    let focus = ui.focus;
    let border = |f: Focus| {
        if focus == f {
            Style::default().fg(Color::Cyan)
        } else {
            Style::default()
        }
    };
    let list = List::new(items)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(border(Focus::Jobs))
                .title(" Jobs "),
        )
        .highlight_symbol("> ")
        .highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state =
        ListState::default().with_selected((!status.jobs.is_empty()).then_some(ui.selected));
    frame.render_stateful_widget(list, left, &mut state);

    let shown = format!(
        " zferry {}  lines {}-{} of {} ",
        status.version,
        (ui.scroll + 1).min(lines.len()),
        (ui.scroll + height).min(lines.len()),
        lines.len()
    );
    frame.render_widget(
        Paragraph::new(lines)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(border(Focus::Details))
                    .title(shown),
            )
            .scroll((u16::try_from(ui.scroll).unwrap_or(u16::MAX), 0)),
        right,
    );
    frame.render_widget(Paragraph::new(footer(ui)), bottom);
}
