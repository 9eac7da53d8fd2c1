//! The simulator's `zfs` program.

fn main() -> std::process::ExitCode {
    eprintln!("zfs (zferry simulator): not implemented yet");
    std::process::ExitCode::from(2)
}
