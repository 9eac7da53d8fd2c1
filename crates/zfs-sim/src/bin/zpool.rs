//! The simulator's `zpool` program.

fn main() -> std::process::ExitCode {
    eprintln!("zpool (zferry simulator): not implemented yet");
    std::process::ExitCode::from(2)
}
