//! `zferry __dist-assets DIR`: the man pages and shell completions a package installs, generated
//! by the packaged binary from its own clap definition, so they can never disagree with the
//! program they describe.
//!
//! It is not a clap subcommand: clap_complete lists even hidden subcommands in the completion
//! scripts, and this one is for `scripts/build-deb` only. `main` asks [`requested`] before
//! parsing the command line.
//!
//! Layout written below `DIR`: `man1/zferry.1` and `man1/zferry-<subcommand>[-<subcommand>].1`
//! for every visible subcommand (clap_mangen), `bash/zferry`, `zsh/_zferry` and
//! `fish/zferry.fish` (clap_complete). `scripts/build-deb` moves them to where each tool looks.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Each shell's completion script: the shell, its subdirectory and the file name it looks for.
const COMPLETIONS: [(Shell, &str, &str); 3] = [
    (Shell::Bash, "bash", "zferry"),
    (Shell::Zsh, "zsh", "_zferry"),
    (Shell::Fish, "fish", "zferry.fish"),
];

/// The argument that asks for the assets.
pub const ARG: &str = "__dist-assets";

/// `DIR` when the command line is exactly `zferry __dist-assets DIR`.
pub fn requested() -> Option<PathBuf> {
    let mut args = std::env::args_os().skip(1);
    match (args.next(), args.next(), args.next()) {
        (Some(arg), Some(dir), None) if arg == ARG => Some(PathBuf::from(dir)),
        _ => None,
    }
}

/// Writes every man page and completion script below `dir`.
pub fn run(dir: &Path) -> anyhow::Result<()> {
    let man = dir.join("man1");
    create_dir(&man)?;
    clap_mangen::generate_to(Cli::command(), &man)
        .with_context(|| format!("writing the man pages into {}", man.display()))?;
    for (shell, subdir, name) in COMPLETIONS {
        let out = dir.join(subdir);
        create_dir(&out)?;
        let path = out.join(name);
        let mut file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        clap_complete::generate(shell, &mut Cli::command(), "zferry", &mut file);
    }
    Ok(())
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}
