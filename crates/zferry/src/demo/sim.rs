//! The `zferry` binary doubles as the simulator's `zfs` and `zpool` programs when it is invoked
//! under those names (through a symlink). `zferry demo` uses this, so a fresh clone needs no
//! separate build of the simulator.

use std::path::Path;
use std::process::ExitCode;

/// Runs the simulator when `argv[0]` is named `zfs` or `zpool`; `None` otherwise.
pub fn run_as_simulator() -> Option<ExitCode> {
    let argv0 = std::env::args_os().next()?;
    let name = Path::new(&argv0).file_name()?.to_str()?.to_owned();
    match name.as_str() {
        "zfs" => Some(zferry_zfs_sim::cli::zfs::main()),
        "zpool" => Some(zferry_zfs_sim::cli::zpool::main()),
        _ => None,
    }
}

/// Creates `dir/zfs` and `dir/zpool` as symlinks to this executable.
pub fn install_links(dir: &Path) -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    std::fs::create_dir_all(dir)?;
    for name in ["zfs", "zpool"] {
        let link = dir.join(name);
        if link.symlink_metadata().is_ok() {
            std::fs::remove_file(&link)?;
        }
        std::os::unix::fs::symlink(&exe, &link)?;
    }
    Ok(())
}
