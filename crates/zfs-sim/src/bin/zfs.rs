//! The simulator's `zfs` program (see the `zferry_zfs_sim` crate docs).

fn main() -> std::process::ExitCode {
    zferry_zfs_sim::cli::zfs::main()
}
