//! push -> sink over ssh+stdinserver against a real OpenSSH sshd on loopback: the client's key
//! is restricted to the forced command `zferry stdinserver laptop`, which relays to the sink
//! daemon's socket. Skipped (with a message) where sshd is not installed.

mod e2e_common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e_common::{Host, World, data, free_port, wait_until, zferry_bin};

struct Sshd(Child);

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(path)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
}

fn user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// sshd on `port` whose only key runs `forced`.
fn start_sshd(dir: &Path, port: u16, forced: &str) -> Option<(Sshd, PathBuf)> {
    let program = ["/usr/sbin/sshd", "/usr/local/sbin/sshd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let Some(program) = program else {
        eprintln!("SKIPPED: no sshd installed");
        return None;
    };
    let _ = std::fs::create_dir_all("/run/sshd");
    std::fs::create_dir_all(dir).expect("dir");
    keygen(&dir.join("host_key"));
    keygen(&dir.join("client_key"));
    let public = std::fs::read_to_string(dir.join("client_key.pub")).expect("pub");
    std::fs::write(
        dir.join("authorized_keys"),
        format!("command=\"{forced}\",restrict {public}"),
    )
    .expect("authorized_keys");
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
        .expect("sshd");
    wait_until(Duration::from_secs(10), "sshd listening", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    Some((Sshd(child), dir.join("client_key")))
}

#[test]
fn push_to_sink_over_ssh_stdinserver() {
    let w = World::new();
    let src = w.t.create_pool("src");
    let dst = w.t.create_pool("dst");
    let fs = format!("{src}/data");
    w.create(&fs);
    w.write(&fs, "a.bin", &data(11, 500_000));
    w.snap(&fs, "s1");

    let sockdir = w.dir.path().join("stdinserver");
    let sink = Host::start(
        &w,
        "backup",
        &format!(
            "  serve:\n    stdinserver:\n      sockdir: {}\n",
            sockdir.display()
        ),
        &format!(
            "  - name: sink
    type: sink
    root_fs: {dst}/sink
    serve:
      type: stdinserver
      client_identities: [\"laptop\"]
"
        ),
    );
    let port = free_port();
    let forced = format!(
        "{} --config {} stdinserver laptop",
        zferry_bin().display(),
        sink.config.display()
    );
    let Some((_sshd, key)) = start_sshd(&w.dir.path().join("ssh"), port, &forced) else {
        return;
    };
    let push = Host::start(
        &w,
        "laptop",
        "",
        &format!(
            "  - name: push
    type: push
    connect:
      type: ssh+stdinserver
      host: 127.0.0.1
      user: {user}
      port: {port}
      identity_file: {key}
      options:
        - StrictHostKeyChecking=no
        - UserKnownHostsFile=/dev/null
        - LogLevel=ERROR
    filesystems:
      \"{fs}\": true
    snapshotting:
      type: manual
    pruning:
      keep_sender:
        - type: not_replicated
      keep_receiver:
        - type: last_n
          count: 5
",
            user = user(),
            key = key.display()
        ),
    );
    push.wakeup_wait("push");
    w.write(&fs, "b.bin", &data(12, 100_000));
    w.snap(&fs, "s2");
    push.wakeup_wait("push");
    let replica = format!("{dst}/sink/laptop/{fs}");
    assert_eq!(w.snapshots(&replica), ["s1", "s2"]);
    w.mount(&replica);
    assert_eq!(w.checksum(&replica), w.checksum(&fs));
}
