//! Behaviour of the simulator's `zfs`/`zpool` programs, driven through [`TestZfs`] like every
//! other test in the workspace. Cases that use fault injection only run on the simulator.

use std::process::{Command, Output, Stdio};

use zferry_zfs_sim::journal::{self, End, Journal};
use zferry_zfs_sim::testenv::{TestZfs, tree_checksum, write_file};

/// Runs `zfs send ARGS | zfs recv RARGS`; returns (send output, recv output).
fn pipe(t: &TestZfs, send: &[&str], recv: &[&str]) -> (Output, Output) {
    let mut s = t
        .command(t.zfs_bin())
        .arg("send")
        .args(send)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn send");
    let out = s.stdout.take().expect("send stdout");
    let r = t
        .command(t.zfs_bin())
        .arg("recv")
        .args(recv)
        .stdin(Stdio::from(out))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn recv");
    let r = r.wait_with_output().expect("recv");
    let s = s.wait_with_output().expect("send");
    (s, r)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn world() -> (TestZfs, String, String) {
    let t = TestZfs::new();
    let src = t.create_pool("src");
    let dst = t.create_pool("dst");
    (t, src, dst)
}

#[test]
fn full_and_incremental_streams_carry_the_data() {
    let (t, src, dst) = world();
    let fs = format!("{src}/fs");
    t.zfs_ok(&["create", &fs]);
    let mp = t.mountpoint(&fs);
    write_file(&mp, "a/one", &[1u8; 5000]);
    write_file(&mp, "two", b"two");
    t.zfs_ok(&["snapshot", &format!("{fs}@s1")]);
    write_file(&mp, "three", &[3u8; 100]);
    std::fs::remove_file(mp.join("two")).expect("rm");
    t.zfs_ok(&["snapshot", &format!("{fs}@s2")]);

    let target = format!("{dst}/fs");
    let (s, r) = pipe(&t, &[&format!("{fs}@s1")], &[&target]);
    assert!(s.status.success() && r.status.success(), "{}", stderr(&r));
    let (s, r) = pipe(&t, &["-i", "@s1", &format!("{fs}@s2")], &[&target]);
    assert!(s.status.success() && r.status.success(), "{}", stderr(&r));
    assert_eq!(tree_checksum(&mp), tree_checksum(&t.mountpoint(&target)));

    let guids = |ds: &str| t.zfs_ok(&["list", "-H", "-p", "-o", "guid", "-t", "snapshot", ds]);
    assert_eq!(
        guids(&fs),
        guids(&target),
        "received snapshots keep their guids"
    );
    if !t.is_real() {
        let size = |args: &[&str]| -> u64 {
            let out = t.zfs_ok(&[&["send", "-nvP"], args].concat());
            out.lines()
                .find_map(|l| l.strip_prefix("size\t"))
                .and_then(|n| n.parse().ok())
                .expect("size line")
        };
        let full = size(&[&format!("{fs}@s2")]);
        let inc = size(&["-i", "@s1", &format!("{fs}@s2")]);
        assert!(
            inc < full / 2,
            "incremental {inc} carries only changes (full {full})"
        );
    }
}

#[test]
fn incremental_onto_modified_receiver_is_refused_unless_forced() {
    let (t, src, dst) = world();
    let fs = format!("{src}/fs");
    let target = format!("{dst}/fs");
    t.zfs_ok(&["create", &fs]);
    write_file(&t.mountpoint(&fs), "f", b"x");
    t.zfs_ok(&["snapshot", &format!("{fs}@s1")]);
    t.zfs_ok(&["snapshot", &format!("{fs}@s2")]);
    let (_, r) = pipe(&t, &[&format!("{fs}@s1")], &[&target]);
    assert!(r.status.success(), "{}", stderr(&r));
    write_file(&t.mountpoint(&target), "local", b"change");
    let (_, r) = pipe(&t, &["-i", "@s1", &format!("{fs}@s2")], &[&target]);
    assert_eq!(
        stderr(&r),
        format!(
            "cannot receive incremental stream: destination {target} has been modified\nsince most recent snapshot\n"
        )
    );
    let (_, r) = pipe(&t, &["-i", "@s1", &format!("{fs}@s2")], &["-F", &target]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(
        !t.mountpoint(&target).join("local").exists(),
        "-F rolled back"
    );
}

#[test]
fn holds_block_destroy_and_deferred_destroy_happens_on_release() {
    let (t, src, _) = world();
    let fs = format!("{src}/fs");
    let snap = format!("{fs}@s1");
    t.zfs_ok(&["create", &fs]);
    t.zfs_ok(&["snapshot", &snap]);
    t.zfs_ok(&["hold", "keep", &snap]);
    let out = t.zfs(&["destroy", &snap]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "cannot destroy snapshot {snap}: it's being held. Run 'zfs holds -r {snap}' to see holders.\n"
        )
    );
    t.zfs_ok(&["destroy", "-d", &snap]);
    assert_eq!(
        t.zfs_ok(&["list", "-H", "-o", "name,defer_destroy,userrefs", &snap]),
        format!("{snap}\ton\t1\n")
    );
    t.zfs_ok(&["release", "keep", &snap]);
    assert!(
        !t.zfs(&["list", &snap]).status.success(),
        "destroyed on release"
    );
}

#[test]
fn bookmark_outlives_its_snapshot_and_serves_as_incremental_source() {
    let (t, src, dst) = world();
    let fs = format!("{src}/fs");
    let target = format!("{dst}/fs");
    t.zfs_ok(&["create", &fs]);
    write_file(&t.mountpoint(&fs), "f", b"1");
    t.zfs_ok(&["snapshot", &format!("{fs}@s1")]);
    let (_, r) = pipe(&t, &[&format!("{fs}@s1")], &[&target]);
    assert!(r.status.success(), "{}", stderr(&r));
    t.zfs_ok(&["bookmark", &format!("{fs}@s1"), &format!("{fs}#b1")]);
    let before = t.zfs_ok(&[
        "get",
        "-H",
        "-p",
        "-o",
        "value",
        "guid,createtxg",
        &format!("{fs}@s1"),
    ]);
    t.zfs_ok(&["destroy", &format!("{fs}@s1")]);
    let after = t.zfs_ok(&[
        "get",
        "-H",
        "-p",
        "-o",
        "value",
        "guid,createtxg",
        &format!("{fs}#b1"),
    ]);
    assert_eq!(before, after);
    write_file(&t.mountpoint(&fs), "g", b"2");
    t.zfs_ok(&["snapshot", &format!("{fs}@s2")]);
    let (_, r) = pipe(
        &t,
        &["-i", &format!("{fs}#b1"), &format!("{fs}@s2")],
        &[&target],
    );
    assert!(r.status.success(), "{}", stderr(&r));
    assert_eq!(
        tree_checksum(&t.mountpoint(&fs)),
        tree_checksum(&t.mountpoint(&target))
    );
}

#[test]
fn listing_is_tab_separated_and_ordered_like_zfs() {
    let (t, src, _) = world();
    let fs = format!("{src}/a");
    t.zfs_ok(&["create", &fs]);
    t.zfs_ok(&["create", &format!("{src}/a/b")]);
    t.zfs_ok(&["snapshot", "-r", &format!("{fs}@s1")]);
    t.zfs_ok(&["snapshot", &format!("{fs}@s2")]);
    t.zfs_ok(&["bookmark", &format!("{fs}@s1"), &format!("{fs}#m")]);
    let out = t.zfs_ok(&["list", "-H", "-o", "name,type", "-t", "all", "-r", &fs]);
    assert_eq!(
        out,
        format!(
            "{fs}\tfilesystem\n{fs}@s1\tsnapshot\n{fs}@s2\tsnapshot\n{fs}#m\tbookmark\n{fs}/b\tfilesystem\n{fs}/b@s1\tsnapshot\n"
        )
    );
    let txgs = t.zfs_ok(&[
        "list",
        "-H",
        "-p",
        "-o",
        "createtxg",
        "-t",
        "snapshot",
        "-r",
        &fs,
    ]);
    let v: Vec<&str> = txgs.lines().collect();
    assert_eq!(v[0], v[2], "one `snapshot -r` call is one txg");
    assert_ne!(v[0], v[1]);
    let out = t.zfs(&["list", &format!("{src}/nope")]);
    assert_eq!(
        stderr(&out),
        format!("cannot open '{src}/nope': dataset does not exist\n")
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn user_properties_inherit_and_show_their_source() {
    let (t, src, _) = world();
    let fs = format!("{src}/a");
    t.zfs_ok(&["create", "-p", &format!("{fs}/b")]);
    t.zfs_ok(&["set", "zferry:x=on", &fs]);
    let out = t.zfs_ok(&[
        "get",
        "-H",
        "-r",
        "-o",
        "name,value,source",
        "zferry:x",
        &fs,
    ]);
    assert_eq!(
        out,
        format!("{fs}\ton\tlocal\n{fs}/b\ton\tinherited from {fs}\n")
    );
    t.zfs_ok(&["inherit", "zferry:x", &fs]);
    let out = t.zfs_ok(&["get", "-H", "-o", "value,source", "zferry:x", &fs]);
    assert_eq!(out, "-\t-\n");
}

#[test]
fn interrupted_resumable_receive_resumes_with_send_t() {
    let (t, src, dst) = world();
    if t.is_real() {
        return; // needs fault injection
    }
    let fs = format!("{src}/fs");
    let target = format!("{dst}/fs");
    t.zfs_ok(&["create", &fs]);
    write_file(&t.mountpoint(&fs), "big", &vec![7u8; 300_000]);
    t.zfs_ok(&["snapshot", &format!("{fs}@s1")]);
    let faults = t.sim_dir().expect("sim").join("faults.env");
    std::fs::write(&faults, "ZFS_SIM_SEND_FAIL_AFTER=100000\n").expect("faults");
    let (s, r) = pipe(&t, &[&format!("{fs}@s1")], &["-s", &target]);
    assert!(!s.status.success());
    assert!(
        stderr(&r).contains("Partially received snapshot is saved."),
        "{}",
        stderr(&r)
    );
    std::fs::remove_file(&faults).expect("clear faults");
    let token = t.zfs_ok(&["get", "-H", "-o", "value", "receive_resume_token", &target]);
    let token = token.trim();
    assert!(token.starts_with("1-"));
    let decoded = t.zfs_ok(&["send", "-nvt", token]);
    assert!(
        decoded.contains(&format!("\ttoname = {fs}@s1\n")),
        "{decoded}"
    );
    assert!(decoded.contains("\tbytes = 0x"), "{decoded}");
    let (s, r) = pipe(&t, &["-t", token], &["-s", &target]);
    assert!(s.status.success() && r.status.success(), "{}", stderr(&r));
    assert_eq!(
        tree_checksum(&t.mountpoint(&fs)),
        tree_checksum(&t.mountpoint(&target))
    );
    assert_eq!(
        t.zfs_ok(&["get", "-H", "-o", "value", "receive_resume_token", &target]),
        "-\n"
    );
}

#[test]
fn raw_encrypted_receive_stays_locked_until_load_key() {
    let (t, src, dst) = world();
    let key = t.mountpoint(&src).parent().expect("altroot").join("key");
    std::fs::write(&key, "correct horse battery\n").expect("key");
    let fs = format!("{src}/secret");
    let loc = format!("keylocation=file://{}", key.display());
    t.zfs_ok(&[
        "create",
        "-o",
        "encryption=on",
        "-o",
        "keyformat=passphrase",
        "-o",
        &loc,
        &fs,
    ]);
    write_file(&t.mountpoint(&fs), "f", b"secret data");
    t.zfs_ok(&["snapshot", &format!("{fs}@s1")]);
    let target = format!("{dst}/secret");
    let (_, r) = pipe(&t, &["-w", &format!("{fs}@s1")], &["-u", &target]);
    assert!(r.status.success(), "{}", stderr(&r));
    let props = t.zfs_ok(&[
        "get",
        "-H",
        "-o",
        "value",
        "keystatus,encryptionroot,mounted",
        &target,
    ]);
    assert_eq!(props, format!("unavailable\n{target}\nno\n"));
    let out = t.zfs(&["mount", &target]);
    assert_eq!(
        stderr(&out),
        format!("cannot mount '{target}': encryption key not loaded\n")
    );
    t.zfs_ok(&[
        "load-key",
        "-L",
        &format!("file://{}", key.display()),
        &target,
    ]);
    t.zfs_ok(&["mount", &target]);
    assert_eq!(
        tree_checksum(&t.mountpoint(&fs)),
        tree_checksum(&t.mountpoint(&target))
    );
    // recv -F of a full stream over an encrypted filesystem is refused.
    t.zfs_ok(&["create", &format!("{dst}/victim")]);
    let (_, r) = pipe(
        &t,
        &["-w", &format!("{fs}@s1")],
        &["-F", &format!("{dst}/victim")],
    );
    assert_eq!(
        stderr(&r),
        "cannot receive new filesystem stream: zfs receive -F cannot be used to destroy an encrypted filesystem or overwrite an unencrypted one with an encrypted one\n"
    );
}

#[test]
fn receive_without_space_fails_cleanly() {
    let (t, src, dst) = world();
    if t.is_real() {
        return; // needs fault injection
    }
    let fs = format!("{src}/fs");
    t.zfs_ok(&["create", &fs]);
    t.zfs_ok(&["snapshot", &format!("{fs}@s1")]);
    std::fs::write(
        t.sim_dir().expect("sim").join("faults.env"),
        "ZFS_SIM_RECV_NOSPACE=1\n",
    )
    .expect("faults");
    let (_, r) = pipe(&t, &[&format!("{fs}@s1")], &[&format!("{dst}/fs")]);
    assert_eq!(
        stderr(&r),
        "cannot receive new filesystem stream: out of space\n"
    );
    assert!(!t.zfs(&["list", &format!("{dst}/fs")]).status.success());
}

#[test]
fn concurrent_invocations_are_serialised() {
    let (t, src, _) = world();
    let fs = format!("{src}/fs");
    t.zfs_ok(&["create", &fs]);
    std::thread::scope(|s| {
        for i in 0..8 {
            let (t, fs) = (&t, &fs);
            s.spawn(move || t.zfs_ok(&["snapshot", &format!("{fs}@c{i}")]));
        }
    });
    let out = t.zfs_ok(&["list", "-H", "-p", "-o", "createtxg", "-t", "snapshot", &fs]);
    let mut txgs: Vec<u64> = out.lines().map(|l| l.parse().expect("txg")).collect();
    assert_eq!(txgs.len(), 8);
    txgs.dedup();
    assert_eq!(txgs.len(), 8, "every snapshot got its own txg");
}

#[test]
fn programs_refuse_to_run_without_a_state_directory() {
    let t = TestZfs::new();
    if t.is_real() {
        return;
    }
    let out = Command::new(t.zfs_bin())
        .args(["list"])
        .env_remove("ZFS_SIM_DIR")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("ZFS_SIM_DIR"), "{}", stderr(&out));
}

/// Starts `zfs send ARGS > file` slowed to 100 KB/s, waits until it has written something, and
/// SIGKILLs it; returns its pid.
fn kill_slow_send(t: &TestZfs, args: &[&str]) -> u32 {
    let out = tempfile::tempfile().expect("stream file");
    let mut send = t
        .command(t.zfs_bin())
        .arg("send")
        .args(args)
        .env("ZFS_SIM_STREAM_RATE", "100000")
        .stdout(out.try_clone().expect("clone"))
        .spawn()
        .expect("spawn send");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while out.metadata().expect("stat").len() == 0 {
        assert!(std::time::Instant::now() < deadline, "send wrote nothing");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    send.kill().expect("SIGKILL");
    send.wait().expect("reap");
    send.id()
}

fn scratch_trees(t: &TestZfs) -> Vec<String> {
    std::fs::read_dir(t.sim_dir().expect("sim").join("tmp"))
        .expect("tmp")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn journal_records_argv_exit_status_and_the_bytes_a_send_wrote() {
    let (t, src, _) = world();
    if t.is_real() {
        return; // the journal is the simulator's
    }
    let dir = t.sim_dir().expect("sim").to_path_buf();
    let fs = format!("{src}/fs");
    t.zfs_ok(&["create", &fs]);
    write_file(&t.mountpoint(&fs), "f", &[5u8; 300_000]);
    t.zfs_ok(&["snapshot", &format!("{fs}@s1")]);
    assert!(Journal::read(&dir).is_empty(), "off until enabled");

    journal::enable(&dir).expect("enable");
    let stream = t
        .command(t.zfs_bin())
        .args(["send", &format!("{fs}@s1")])
        .output()
        .expect("send");
    assert!(stream.status.success());
    assert!(!t.zfs(&["list", &format!("{src}/nope")]).status.success());
    let killed = kill_slow_send(&t, &[&format!("{fs}@s1")]);

    let all = Journal::read(&dir).invocations();
    let commands: Vec<&str> = all.iter().map(|i| i.command()).collect();
    assert_eq!(commands, ["send", "list", "send"]);
    assert_eq!(all[0].argv[2], format!("{fs}@s1"));
    assert_eq!(
        all[0].end,
        Some(End {
            exit: 0,
            sent: Some(stream.stdout.len() as u64)
        }),
        "sent= counts the bytes that reached stdout"
    );
    assert_eq!(
        all[1].end,
        Some(End {
            exit: 1,
            sent: None
        })
    );
    assert_eq!(all[2].pid, killed);
    assert_eq!(all[2].end, None, "a SIGKILLed send has no end line");
    assert!(!all[2].is_running(), "and is not taken for running");
}

#[test]
fn sigkilled_send_and_receive_leave_no_scratch_tree_behind() {
    let (t, src, dst) = world();
    if t.is_real() {
        return; // the scratch trees are the simulator's
    }
    let fs = format!("{src}/fs");
    let target = format!("{dst}/fs");
    t.zfs_ok(&["create", &fs]);
    write_file(&t.mountpoint(&fs), "f", &[6u8; 1_000_000]);
    t.zfs_ok(&["snapshot", &format!("{fs}@s1")]);
    let mut send = t
        .command(t.zfs_bin())
        .args(["send", &format!("{fs}@s1")])
        .env("ZFS_SIM_STREAM_RATE", "200000")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn send");
    let mut recv = t
        .command(t.zfs_bin())
        .args(["receive", "-s", &target])
        .stdin(Stdio::from(send.stdout.take().expect("stdout")))
        .spawn()
        .expect("spawn recv");
    let token = || {
        let out = t.zfs(&["get", "-H", "-o", "value", "receive_resume_token", &target]);
        let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && token != "-").then_some(token)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while token().is_none() || scratch_trees(&t).len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no partial receive");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Both at once: either would clean up after the other's death.
    recv.kill().expect("SIGKILL");
    send.kill().expect("SIGKILL");
    for p in [&mut send, &mut recv] {
        p.wait().expect("reap");
    }
    let left = scratch_trees(&t);
    assert!(
        left.iter().any(|n| n.starts_with("send-")) && left.iter().any(|n| n.starts_with("recv-")),
        "SIGKILL ran no cleanup: {left:?}"
    );

    // The next send and receive remove what the dead ones left.
    let token = token().expect("the partial receive kept a token");
    let (s, r) = pipe(&t, &["-t", &token], &["-s", &target]);
    assert!(s.status.success() && r.status.success(), "{}", stderr(&r));
    assert_eq!(scratch_trees(&t), Vec::<String>::new());
    assert_eq!(
        tree_checksum(&t.mountpoint(&fs)),
        tree_checksum(&t.mountpoint(&target))
    );
}
