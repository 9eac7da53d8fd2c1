//! ssh+stdinserver against a real OpenSSH sshd on loopback, with a forced command that relays
//! to the daemon's per-identity socket. Skipped (with a message) where sshd is not installed.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use zferry_repl::endpoint::{ByteStream, Endpoint, Receiver};
use zferry_rpc::ClientIdentity;
use zferry_rpc::transport::ssh::SshClient;
use zferry_rpc::transport::stdinserver::StdinserverServer;

const RELAY: &str = env!("CARGO_BIN_EXE_zferry-stdinserver-relay");

fn sshd_program() -> Option<PathBuf> {
    ["/usr/sbin/sshd", "/usr/local/sbin/sshd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(path)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id runs");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

struct Sshd {
    child: Child,
    port: u16,
    client_key: PathBuf,
    sockdir: PathBuf,
    log: Arc<Log>,
    _stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts sshd with a forced command relaying to `sockdir/<identity>`, and a sink serving that
/// socket.
fn start_sshd(identity: &str) -> Option<Sshd> {
    let Some(program) = sshd_program() else {
        println!("SKIPPED: no sshd installed (apt-get install openssh-server)");
        return None;
    };
    // sshd insists on its privilege separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(&d.join("host_key"));
    keygen(&d.join("client_key"));
    let sockdir = d.join("sock");
    let public = std::fs::read_to_string(d.join("client_key.pub")).unwrap();
    std::fs::write(
        d.join("authorized_keys"),
        format!(
            "command=\"{RELAY} {} {identity}\",restrict {public}",
            sockdir.display()
        ),
    )
    .unwrap();
    let port = free_port();
    std::fs::write(
        d.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nAuthorizedKeysFile {ak}\n\
             PidFile {pid}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\nLogLevel ERROR\n",
            hk = d.join("host_key").display(),
            ak = d.join("authorized_keys").display(),
            pid = d.join("sshd.pid").display(),
        ),
    )
    .unwrap();
    let child = Command::new(&program)
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .stdin(Stdio::null())
        .spawn()
        .expect("sshd starts");
    let mut sshd = Sshd {
        child,
        port,
        client_key: d.join("client_key"),
        sockdir,
        log: Arc::new(Log::default()),
        _stop: None,
        _dir: dir,
    };
    let listener =
        StdinserverServer::bind(&sshd.sockdir, &[ClientIdentity::new(identity).unwrap()])
            .expect("sockets bound");
    sshd._stop = Some(serve(listener, sink(sshd.log.clone(), None)));
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(sshd);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("sshd did not come up on port {port}");
}

fn ssh_client(sshd: &Sshd, key: &Path) -> SshClient {
    let mut c = SshClient::new("127.0.0.1", &user(), sshd.port, key.to_path_buf());
    c.options = vec![
        "StrictHostKeyChecking=no".into(),
        "UserKnownHostsFile=/dev/null".into(),
        "LogLevel=ERROR".into(),
    ];
    c.dial_timeout = Duration::from_secs(15);
    c
}

#[tokio::test]
async fn ssh_stdinserver_yields_the_forced_identity_and_carries_a_stream() {
    let Some(sshd) = start_sshd("ssh-laptop") else {
        return;
    };
    let log = sshd.log.clone();
    let remote = client(ssh_client(&sshd, &sshd.client_key));
    remote.ping().await.expect("ping over ssh");
    let data = test_data(8 << 20);
    remote
        .receive(
            receive_request("pool/fs"),
            ByteStream::new(std::io::Cursor::new(data.clone())),
        )
        .await
        .expect("receive over ssh");
    assert_eq!(
        log.calls(),
        vec![
            "backup/ssh-laptop: ping",
            "backup/ssh-laptop: receive pool/fs"
        ]
    );
    assert_eq!(*log.received.lock().unwrap(), data);
}

#[tokio::test]
async fn ssh_with_an_unknown_key_fails_with_sshs_message() {
    let Some(sshd) = start_sshd("ssh-laptop") else {
        return;
    };
    let log = sshd.log.clone();
    let other = sshd.sockdir.with_file_name("other_key");
    keygen(&other);
    let err = client(ssh_client(&sshd, &other))
        .ping()
        .await
        .expect_err("refused");
    assert!(err.message.contains("Permission denied"), "{err:?}");
    assert!(log.calls().is_empty());
}

#[test]
fn world_accessible_sockdir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let err = StdinserverServer::bind(&open, &[ClientIdentity::new("x").unwrap()])
        .err()
        .expect("refused");
    assert!(err.to_string().contains("world-accessible"), "{err}");
    let fresh = dir.path().join("fresh");
    drop(StdinserverServer::bind(&fresh, &[ClientIdentity::new("x").unwrap()]).expect("created"));
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}
