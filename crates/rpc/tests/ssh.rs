//! ssh+stdinserver against a real OpenSSH sshd on loopback, with a forced command that relays
//! to the daemon's per-identity socket. Skipped (with a message) where sshd is not installed.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use zferry_repl::endpoint::{ByteStream, Endpoint, Receiver};
use zferry_rpc::ClientIdentity;
use zferry_rpc::transport::ssh::SshClient;
use zferry_rpc::transport::stdinserver::StdinserverServer;
use zferry_zfs_sim::testsshd::{TestSshd, keygen};

const RELAY: &str = env!("CARGO_BIN_EXE_zferry-stdinserver-relay");

/// sshd whose key relays to `sockdir/<identity>`, and a sink serving that socket.
struct Sshd {
    sshd: TestSshd,
    sockdir: PathBuf,
    log: Arc<Log>,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

fn start_sshd(identity: &str) -> Option<Sshd> {
    let dir = tempfile::tempdir().unwrap();
    let sockdir = dir.path().join("sock");
    let forced = format!("{RELAY} {} {identity}", sockdir.display());
    let sshd = TestSshd::start(&dir.path().join("ssh"), &forced)?;
    let listener = StdinserverServer::bind(&sockdir, &[ClientIdentity::new(identity).unwrap()])
        .expect("sockets bound");
    let log = Arc::new(Log::default());
    let stop = serve(listener, sink(log.clone(), None));
    Some(Sshd {
        sshd,
        sockdir,
        log,
        _stop: stop,
        _dir: dir,
    })
}

fn ssh_client(sshd: &Sshd, key: &Path) -> SshClient {
    let mut c = SshClient::new(
        "127.0.0.1",
        &TestSshd::user(),
        sshd.sshd.port,
        key.to_path_buf(),
    );
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
    let remote = client(ssh_client(&sshd, &sshd.sshd.client_key));
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
