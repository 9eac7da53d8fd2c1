//! push -> sink over ssh+stdinserver against a real OpenSSH sshd on loopback: the client's key
//! is restricted to the forced command `zferry stdinserver laptop`, which relays to the sink
//! daemon's socket. Skipped (with a message) where sshd is not installed.

mod e2e_common;

use e2e_common::{Host, World, data, zferry_bin};
use zferry_zfs_sim::testsshd::TestSshd;

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
    let forced = format!(
        "{} --config {} stdinserver laptop",
        zferry_bin().display(),
        sink.config.display()
    );
    let Some(sshd) = TestSshd::start(&w.dir.path().join("ssh"), &forced) else {
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
            user = TestSshd::user(),
            port = sshd.port,
            key = sshd.client_key.display()
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
