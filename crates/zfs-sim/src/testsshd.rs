//! A throw-away OpenSSH server on loopback for the ssh+stdinserver tests: its own host key, one
//! client key restricted to a forced command, no PAM, no passwords.
//!
//! Not part of the simulator proper; it lives here because this crate is what every test in the
//! workspace already depends on for its environment.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `sshd -D` that is killed when dropped.
pub struct TestSshd {
    child: Child,
    /// The loopback port it listens on.
    pub port: u16,
    /// The private key whose public half may log in (and only runs the forced command).
    pub client_key: PathBuf,
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestSshd {
    /// Starts sshd with its files in `dir`; its only authorized key runs `forced_command`.
    /// Returns `None`, after printing why, where no sshd is installed.
    ///
    /// # Panics
    /// When sshd is installed but cannot be set up or does not listen within 10 s.
    pub fn start(dir: &Path, forced_command: &str) -> Option<TestSshd> {
        let Some(program) = ["/usr/sbin/sshd", "/usr/local/sbin/sshd"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
        else {
            println!("SKIPPED: no sshd installed (apt-get install openssh-server)");
            return None;
        };
        // sshd insists on its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        std::fs::create_dir_all(dir).expect("sshd directory");
        keygen(&dir.join("host_key"));
        keygen(&dir.join("client_key"));
        let public = std::fs::read_to_string(dir.join("client_key.pub")).expect("public key");
        std::fs::write(
            dir.join("authorized_keys"),
            format!("command=\"{forced_command}\",restrict {public}"),
        )
        .expect("authorized_keys");
        // The port is free when chosen but may be taken before sshd binds it (tests running at
        // the same time bind and connect too): then sshd exits, and another port is tried.
        for _ in 0..5 {
            if let Some(sshd) = spawn_on(&program, dir, free_port()) {
                return Some(sshd);
            }
        }
        panic!("sshd did not come up on any of 5 ports");
    }

    /// The user to log in as: the one running the tests.
    pub fn user() -> String {
        let out = Command::new("id").arg("-un").output().expect("id runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// Starts sshd with the files in `dir` on `port`; `None` when it exits before it listens (the
/// port was taken meanwhile).
///
/// # Panics
/// When it does not listen within 10 s.
fn spawn_on(program: &Path, dir: &Path, port: u16) -> Option<TestSshd> {
    std::fs::write(
        dir.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nAuthorizedKeysFile {ak}\n\
             PidFile {pid}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\nLogLevel ERROR\n",
            hk = dir.join("host_key").display(),
            ak = dir.join("authorized_keys").display(),
            pid = dir.join("sshd.pid").display(),
        ),
    )
    .expect("sshd_config");
    let child = Command::new(program)
        .args(["-D", "-e", "-f"])
        .arg(dir.join("sshd_config"))
        .stdin(Stdio::null())
        .spawn()
        .expect("sshd starts");
    let mut sshd = TestSshd {
        child,
        port,
        client_key: dir.join("client_key"),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    // Whoever answers on the port is ours only while sshd runs and greets like sshd.
    while !greets_as_ssh(port) {
        if sshd.child.try_wait().ok().flatten().is_some() {
            return None;
        }
        assert!(
            Instant::now() < deadline,
            "sshd did not come up on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    if sshd.child.try_wait().ok().flatten().is_some() {
        return None;
    }
    Some(sshd)
}

/// Whether what listens on 127.0.0.1:`port` sends an SSH identification string.
fn greets_as_ssh(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut banner = [0u8; 4];
    s.read_exact(&mut banner).is_ok() && &banner == b"SSH-"
}

/// Generates an ed25519 key pair without a passphrase at `path` (and `path.pub`).
pub fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(path)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
