//! Broken configurations under `tests/fixtures/invalid/<case>/zferry.yml`: each must be rejected
//! with an exact message (pinned by an insta snapshot) that points at the line carrying the
//! comment `# <- error` (in the main file or in the included file the message names).

use std::path::{Path, PathBuf};

use zferry::config::{self, ConfigError, LoadOptions};

const FIXTURES: &str = "tests/fixtures/invalid";

fn cases() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(FIXTURES)
        .expect("fixtures directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The 1-based line of the `# <- error` marker in `file`, if any.
fn marker_line(file: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .position(|l| l.contains("# <- error"))
        .map(|i| i as u64 + 1)
}

#[test]
fn there_are_at_least_twenty_broken_configurations() {
    assert!(cases().len() >= 20, "only {} fixtures", cases().len());
}

#[test]
fn every_broken_configuration_is_rejected_at_the_marked_line() {
    let mut wrong_lines = Vec::new();
    for dir in cases() {
        let name = dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let main = dir.join("zferry.yml");
        let err = match config::load_with(&main, LoadOptions { check_certs: true }) {
            Ok(_) => panic!("{name}: configuration was accepted"),
            Err(e) => e,
        };
        let message = err.to_string();
        insta::assert_snapshot!(name.clone(), message);
        let ConfigError::Invalid(invalid) = &err else {
            panic!("{name}: expected a validation error, got: {message}");
        };
        let marked = marker_line(&invalid.file).unwrap_or_else(|| {
            panic!(
                "{name}: no `# <- error` marker in {}",
                invalid.file.display()
            )
        });
        if invalid.pos.line != marked || invalid.pos.column == 0 {
            wrong_lines.push(format!(
                "{name}: error at {}:{}, marker on line {marked}: {message}",
                invalid.pos.line, invalid.pos.column
            ));
        }
    }
    assert!(wrong_lines.is_empty(), "{}", wrong_lines.join("\n"));
}
