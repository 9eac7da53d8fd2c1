//! Writes a large simulated world directly (no `zfs` invocations), for listing benchmarks:
//! `cargo run --release -p zferry-zfs-sim --example populate -- DIR POOL FILESYSTEMS SNAPSHOTS`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, pool, nfs, nsnap] = args.as_slice() else {
        eprintln!("usage: populate DIR POOL FILESYSTEMS SNAPSHOTS");
        return ExitCode::from(2);
    };
    let (Ok(nfs), Ok(nsnap)) = (nfs.parse::<usize>(), nsnap.parse::<usize>()) else {
        eprintln!("FILESYSTEMS and SNAPSHOTS must be numbers");
        return ExitCode::from(2);
    };
    match zferry_zfs_sim::bulk::populate(&PathBuf::from(dir), pool, nfs, nsnap) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
