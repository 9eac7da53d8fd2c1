//! `zferry daemon` under a `Type=notify` unit: the test plays systemd's part, with a datagram
//! socket in `NOTIFY_SOCKET` and a watchdog interval in `WATCHDOG_USEC`, and reads what the
//! daemon tells it.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Receives one notification (bounded wait), or `None` after 30 s of silence.
fn next_message(socket: &UnixDatagram) -> Option<String> {
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Starts the daemon with no jobs; `WATCHDOG_PID` must name the daemon itself, so a shell sets
/// it to its own pid and `exec`s the daemon.
fn start_daemon(dir: &Path, notify: &Path) -> Child {
    let config = dir.join("zferry.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  control:\n    sockpath: {}\njobs: []\n",
            dir.join("run/control").display()
        ),
    )
    .expect("write config");
    Command::new("sh")
        .arg("-c")
        .arg("WATCHDOG_PID=$$ exec \"$0\" --config \"$1\" daemon")
        .arg(env!("CARGO_BIN_EXE_zferry"))
        .arg(&config)
        .env("NOTIFY_SOCKET", notify)
        .env("WATCHDOG_USEC", "200000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn zferry daemon")
}

#[test]
fn daemon_reports_ready_pings_the_watchdog_and_reports_stopping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let notify = dir.path().join("notify");
    let socket = UnixDatagram::bind(&notify).expect("bind the notify socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut daemon = start_daemon(dir.path(), &notify);

    let mut messages = Vec::new();
    while messages.iter().filter(|m| *m == "WATCHDOG=1\n").count() < 2 {
        let Some(m) = next_message(&socket) else {
            break;
        };
        if m == "READY=1\n" {
            // Ready means listening: the control socket is already there.
            assert!(dir.path().join("run/control").exists(), "READY before bind");
        }
        messages.push(m);
    }
    assert_eq!(
        messages.first().map(String::as_str),
        Some("READY=1\n"),
        "{messages:?}"
    );
    assert!(
        messages.iter().filter(|m| *m == "WATCHDOG=1\n").count() >= 2,
        "{messages:?}"
    );

    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(daemon.id().to_string())
        .status();
    let stopping = std::iter::from_fn(|| next_message(&socket)).find(|m| m != "WATCHDOG=1\n");
    assert_eq!(stopping.as_deref(), Some("STOPPING=1\n"));
    assert!(daemon.wait().expect("wait").success());
}
