//! The maintenance commands against a daemon's real results: `zfs-abstraction list /
//! release-all`, `test filesystems`, `test placeholder`, `version` and `status --mode dump`.

mod e2e_common;

use e2e_common::{Host, World, data};

#[test]
fn abstraction_and_test_commands_after_a_replication() {
    let w = World::new();
    let src = w.create_pool("src");
    let dst = w.create_pool("dst");
    w.create(&format!("{dst}/sink"));
    let fs = format!("{src}/data");
    w.create(&fs);
    w.write(&fs, "f.bin", &data(5, 50_000));
    w.snap(&fs, "s1");
    let jobs = e2e_common::local_push_sink(
        &format!("{dst}/sink"),
        &[
            (&format!("{src}<"), true),
            (&format!("{src}/excluded"), false),
        ],
    );
    let host = Host::start(w, "host", "", &jobs);
    let w = host.w();
    host.wakeup_wait("push");
    let replica = format!("{dst}/sink/me/{fs}");
    let guid = format!("{:016x}", w.guid(&format!("{fs}@s1")));

    let ok = |args: &[&str]| -> String {
        let out = host.cli(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // Sender: one cursor of lane push.backup; receiver: one last-received hold.
    let list: serde_json::Value =
        serde_json::from_str(&ok(&["zfs-abstraction", "list", "--fs", &src, "--json"]))
            .expect("json");
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["type"], "replication_cursor");
    assert_eq!(list[0]["dataset"], fs.as_str());
    assert_eq!(list[0]["job"], "push.backup");
    assert_eq!(list[0]["stale"], false);
    assert!(
        list[0]["object"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("#zferry_C_{guid}_"))
    );
    let receiver_filter = ["--fs", dst.as_str(), "--json", "--job", "sink"];
    let receiver_list = ok(&[&["zfs-abstraction", "list"][..], &receiver_filter].concat());
    let recv: serde_json::Value = serde_json::from_str(&receiver_list).expect("json");
    assert_eq!(recv.as_array().map(Vec::len), Some(1), "{recv}");
    assert_eq!(recv[0]["type"], "last_received_hold");
    assert_eq!(recv[0]["object"], format!("{replica}@s1"));
    // zrepl's name for the listing gives the same answer.
    assert_eq!(
        ok(&[&["holds", "list"][..], &receiver_filter].concat()),
        receiver_list
    );

    // Filters exclude, --dry-run changes nothing, release-all releases.
    let none = ok(&["zfs-abstraction", "list", "--fs", &dst, "--job", "otherjob"]);
    assert!(none.trim().is_empty(), "{none}");
    let dry = ok(&[
        "zfs-abstraction",
        "release-all",
        "--fs",
        &dst,
        "--type",
        "last-received",
        "--dry-run",
    ]);
    assert!(dry.contains("would release last_received_hold"), "{dry}");
    assert_eq!(w.holds(&format!("{replica}@s1")).len(), 1);
    let stale = ok(&["zfs-abstraction", "release-stale", "--fs", &dst]);
    assert!(stale.trim().is_empty(), "nothing stale: {stale}");
    ok(&[
        "zfs-abstraction",
        "release-all",
        "--fs",
        &dst,
        "--type",
        "last-received",
    ]);
    assert!(w.holds(&format!("{replica}@s1")).is_empty());

    // test filesystems / placeholder.
    let f = ok(&[
        "test",
        "filesystems",
        "--job",
        "push",
        "--input",
        &format!("{src}/excluded"),
    ]);
    // zrepl's words and columns, so scripts parsing `zrepl test filesystems` keep working.
    assert_eq!(f, format!("REJECT\t{src}/excluded\t\n"));
    let f = ok(&["test", "filesystems", "--job", "push", "--all"]);
    assert!(f.lines().any(|l| l == format!("ACCEPT\t{fs}\t")), "{f}");
    assert!(f.lines().any(|l| l == format!("REJECT\t{dst}\t")), "{f}");
    let p = ok(&[
        "test",
        "placeholder",
        "--dataset",
        &format!("{dst}/sink/me/{src}"),
    ]);
    assert_eq!(p.trim(), format!("{dst}/sink/me/{src}\tplaceholder"));
    let p = ok(&["test", "placeholder", "--dataset", &replica]);
    assert_eq!(p.trim(), format!("{replica}\tnot a placeholder"));

    // version: client and daemon.
    let v = ok(&["version"]);
    assert!(
        v.contains("client: zferry") && v.contains("daemon: zferry"),
        "{v}"
    );
    // completions are generated from the same CLI definition.
    assert!(ok(&["completions", "bash"]).contains("zfs-abstraction"));
}
