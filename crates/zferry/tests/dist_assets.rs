//! `zferry __dist-assets DIR`, which scripts/build-deb packages: a man page for the program and
//! every subcommand, completions for bash, zsh and fish, and nothing about itself in them.

use std::process::Command;

use clap::CommandFactory;

/// `zferry-a-b` page names for `cmd` and every subcommand below it (help excluded).
fn page_names(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
    let name = format!("{prefix}{}", cmd.get_name());
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        page_names(sub, &format!("{name}-"), out);
    }
    out.push(format!("{name}.1"));
}

#[test]
fn every_subcommand_has_a_man_page_and_every_shell_a_completion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let status = Command::new(env!("CARGO_BIN_EXE_zferry"))
        .arg("__dist-assets")
        .arg(dir.path())
        .status()
        .expect("run zferry");
    assert!(status.success());
    let mut expected = Vec::new();
    page_names(&zferry::cli::Cli::command(), "", &mut expected);
    assert!(expected.contains(&"zferry-test-filesystems.1".to_string()));
    for page in &expected {
        let text = std::fs::read_to_string(dir.path().join("man1").join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.starts_with(".ie \\n(.g .ds Aq"), "{page} is not roff");
    }
    let pages = std::fs::read_dir(dir.path().join("man1"))
        .expect("man1")
        .count();
    assert_eq!(pages, expected.len());
    for script in ["bash/zferry", "zsh/_zferry", "fish/zferry.fish"] {
        let text = std::fs::read_to_string(dir.path().join(script)).expect(script);
        assert!(
            text.contains("zfs-abstraction") && text.contains("holds"),
            "{script}"
        );
        assert!(
            !text.contains("dist-assets"),
            "{script} offers the internal command"
        );
    }
}

#[test]
fn dist_assets_needs_exactly_one_directory() {
    let out = Command::new(env!("CARGO_BIN_EXE_zferry"))
        .arg("__dist-assets")
        .output()
        .expect("run zferry");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unrecognized subcommand"), "{stderr}");
}
