//! The live UI's state and what each key does to it.
//!
//! | key | effect |
//! |---|---|
//! | up/down, `k`/`j` | select a job (jobs focused) or scroll the details by a line |
//! | Tab | move the focus between the jobs list and the details |
//! | PageUp/PageDown, Home/End | scroll the details by a page, to the top or the bottom |
//! | `/` | type a filter (Enter applies, Esc cancels): the details keep the lines containing it |
//! | `w` | wake up the selected job (`zferry signal wakeup`) |
//! | `R` | reset the selected job (`zferry signal reset`) |
//! | Esc | clear the filter; without one, quit |
//! | `q` | quit |

use ratatui::crossterm::event::KeyCode;

/// Which pane the arrow keys move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    /// The jobs list: arrows select a job.
    #[default]
    Jobs,
    /// The details: arrows scroll.
    Details,
}

/// What the caller must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Redraw.
    None,
    /// Leave the UI.
    Quit,
    /// Wake up this job.
    Wakeup(String),
    /// Reset this job.
    Reset(String),
}

/// The state of the live UI between redraws.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UiState {
    /// The selected job's index in the (name-sorted) jobs list.
    pub selected: usize,
    /// The first details line shown.
    pub scroll: usize,
    /// Which pane the arrows move.
    pub focus: Focus,
    /// The applied filter (empty: none).
    pub filter: String,
    /// The filter being typed after `/`.
    pub editing: Option<String>,
    /// The outcome of the last signal, shown in the footer.
    pub message: Option<String>,
}

/// How far PageUp/PageDown scroll.
pub const PAGE: usize = 10;

impl UiState {
    /// Applies `key`; `jobs` are the job names in list order.
    pub fn on_key(&mut self, key: KeyCode, jobs: &[String]) -> Action {
        if let Some(text) = self.editing.as_mut() {
            match key {
                KeyCode::Enter => {
                    self.filter = self.editing.take().unwrap_or_default();
                    self.scroll = 0;
                }
                KeyCode::Esc => self.editing = None,
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) => text.push(c),
                _ => {}
            }
            return Action::None;
        }
        let job = || jobs.get(self.selected).cloned();
        match key {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Esc if self.filter.is_empty() => return Action::Quit,
            KeyCode::Esc => self.filter.clear(),
            KeyCode::Tab | KeyCode::BackTab => {
                self.focus = match self.focus {
                    Focus::Jobs => Focus::Details,
                    Focus::Details => Focus::Jobs,
                }
            }
            KeyCode::Up | KeyCode::Char('k') => self.step(-1, jobs.len()),
            KeyCode::Down | KeyCode::Char('j') => self.step(1, jobs.len()),
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(PAGE),
            KeyCode::PageDown => self.scroll += PAGE,
            KeyCode::Home => self.scroll = 0,
            KeyCode::End => self.scroll = usize::MAX,
            KeyCode::Char('/') => self.editing = Some(self.filter.clone()),
            KeyCode::Char('w') => return job().map_or(Action::None, Action::Wakeup),
            KeyCode::Char('R') => return job().map_or(Action::None, Action::Reset),
            _ => {}
        }
        Action::None
    }

    /// One line or one job up (`-1`) or down (`1`), depending on the focus.
    fn step(&mut self, by: isize, jobs: usize) {
        match self.focus {
            Focus::Jobs => {
                let next = self.selected.saturating_add_signed(by);
                let next = next.min(jobs.saturating_sub(1));
                if next != self.selected {
                    self.selected = next;
                    self.scroll = 0;
                }
            }
            Focus::Details => self.scroll = self.scroll.saturating_add_signed(by),
        }
    }

    /// Keeps the selection among `jobs` jobs (some may have gone since the last refresh).
    pub fn clamp_selection(&mut self, jobs: usize) {
        self.selected = self.selected.min(jobs.saturating_sub(1));
    }

    /// Keeps the scroll within `lines` lines of which `height` fit.
    pub fn clamp_scroll(&mut self, lines: usize, height: usize) {
        self.scroll = self.scroll.min(lines.saturating_sub(height));
    }

    /// Whether a details line is shown under the filter: when it contains the filter text, and
    /// always the headings that give the lines their context: sections (no indentation) and
    /// labelled lines of a section (`  receiver: done`, `  error: …`).
    pub fn shows(&self, line: &str) -> bool {
        let labelled = line
            .strip_prefix("  ")
            .filter(|rest| !rest.starts_with(' '))
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|word| word.ends_with(':'));
        self.filter.is_empty() || !line.starts_with(' ') || labelled || line.contains(&self.filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs() -> Vec<String> {
        ["a", "b", "c"].map(String::from).to_vec()
    }

    #[test]
    fn arrows_select_jobs_or_scroll_by_focus() {
        let mut ui = UiState::default();
        ui.on_key(KeyCode::Down, &jobs());
        ui.on_key(KeyCode::Char('j'), &jobs());
        ui.on_key(KeyCode::Down, &jobs());
        assert_eq!(ui.selected, 2);
        ui.on_key(KeyCode::Tab, &jobs());
        ui.on_key(KeyCode::Down, &jobs());
        ui.on_key(KeyCode::PageDown, &jobs());
        assert_eq!((ui.selected, ui.scroll), (2, 1 + PAGE));
        ui.clamp_scroll(8, 5);
        assert_eq!(ui.scroll, 3);
    }

    #[test]
    fn filter_is_typed_applied_and_cleared() {
        let mut ui = UiState::default();
        for key in [
            KeyCode::Char('/'),
            KeyCode::Char('v'),
            KeyCode::Char('m'),
            KeyCode::Enter,
        ] {
            assert_eq!(ui.on_key(key, &jobs()), Action::None);
        }
        assert_eq!(ui.filter, "vm");
        assert!(ui.shows("Replication") && ui.shows("  tank/vm done") && !ui.shows("  tank/db"));
        assert!(ui.shows("  receiver: done") && !ui.shows("    tank/db  keep 1"));
        assert_eq!(ui.on_key(KeyCode::Char('q'), &jobs()), Action::Quit);
        assert_eq!(ui.on_key(KeyCode::Esc, &jobs()), Action::None);
        assert!(ui.filter.is_empty());
        assert_eq!(ui.on_key(KeyCode::Esc, &jobs()), Action::Quit);
    }

    #[test]
    fn signal_keys_name_the_selected_job() {
        let mut ui = UiState {
            selected: 1,
            ..UiState::default()
        };
        assert_eq!(
            ui.on_key(KeyCode::Char('w'), &jobs()),
            Action::Wakeup("b".into())
        );
        assert_eq!(
            ui.on_key(KeyCode::Char('R'), &jobs()),
            Action::Reset("b".into())
        );
        assert_eq!(ui.on_key(KeyCode::Char('w'), &[]), Action::None);
    }
}
