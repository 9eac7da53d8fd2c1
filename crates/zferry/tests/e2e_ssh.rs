//! push -> sink over ssh+stdinserver against a real OpenSSH sshd on loopback: the client's key
//! is restricted to the forced command `zferry stdinserver laptop`, which relays to the sink
//! daemon's socket. Skipped (with a message) where sshd is not installed. The laptop and the
//! backup host (whose sshd it is) each have their own ZFS world.

mod e2e_common;

use e2e_common::{Host, World, data, ssh_stdinserver_connect, zferry_bin};
use zferry_zfs_sim::testsshd::TestSshd;

#[test]
fn push_to_sink_over_ssh_stdinserver() {
    let (laptop, backup) = (World::new(), World::new());
    let src = laptop.create_pool("src");
    let dst = backup.create_pool("dst");
    backup.create(&format!("{dst}/sink"));
    let fs = format!("{src}/data");
    laptop.create(&fs);
    laptop.write(&fs, "a.bin", &data(11, 500_000));
    laptop.snap(&fs, "s1");

    let sockdir = backup.dir().join("stdinserver");
    let sink = Host::start(
        backup,
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
    let Some(sshd) = TestSshd::start(&sink.w().dir().join("ssh"), &forced) else {
        return;
    };
    let push = Host::start(
        laptop,
        "laptop",
        "",
        &format!(
            "  - name: push
    type: push
{connect}    filesystems:
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
            connect = ssh_stdinserver_connect(sshd.port, &sshd.client_key)
        ),
    );
    push.wakeup_wait("push");
    push.w().write(&fs, "b.bin", &data(12, 100_000));
    push.w().snap(&fs, "s2");
    push.wakeup_wait("push");
    let replica = format!("{dst}/sink/laptop/{fs}");
    assert_eq!(sink.w().snapshots(&replica), ["s1", "s2"]);
    sink.w().mount(&replica);
    assert_eq!(sink.w().checksum(&replica), push.w().checksum(&fs));
}
