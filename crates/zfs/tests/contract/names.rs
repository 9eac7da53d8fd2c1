//! Namecheck edge cases: what the typed names accept, ZFS accepts, and the reverse.

use crate::common::Env;
use zferry_zfs::{DatasetPath, SnapshotName, VersionQuery};

#[tokio::test]
async fn names_with_spaces_round_trip_through_zfs() {
    let env = Env::new("names-sp");
    let ds = env.create("a b/c d").await;
    env.snapshot("a b/c d", "snap 1").await;
    let listed = env.zfs.list_datasets(&[env.ds("a b")]).await.expect("list");
    let names: Vec<&str> = listed.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(names, [env.ds("a b").as_str(), ds.as_str()]);
    let versions = env
        .zfs
        .list_versions(std::slice::from_ref(&ds), VersionQuery::default())
        .await
        .expect("versions");
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].version.full_name(), format!("{ds}@snap 1"));
}

#[tokio::test]
async fn leading_and_trailing_whitespace_is_preserved() {
    let env = Env::new("names-ws");
    let lead = env.create(" lead").await;
    let trail = env.create("trail ").await;
    env.snapshot(" lead", " s").await;
    let listed = env
        .zfs
        .list_datasets(&[DatasetPath::new(env.pool.clone()).expect("pool")])
        .await
        .expect("list");
    assert!(listed.iter().any(|d| d.path == lead), "{listed:?}");
    assert!(listed.iter().any(|d| d.path == trail), "{listed:?}");
    let v = env
        .zfs
        .list_versions(std::slice::from_ref(&lead), VersionQuery::default())
        .await
        .expect("versions");
    assert_eq!(v[0].version.name, " s");
    assert_eq!(
        v[0].version
            .snapshot_name()
            .expect("snapshot")
            .expect("valid"),
        lead.snapshot(" s").expect("valid")
    );
}

#[tokio::test]
async fn longest_snapshot_name_is_accepted_and_one_more_byte_is_not() {
    let env = Env::new("names-long");
    // pool/<fill>@s is exactly 255 bytes.
    let fill = 255 - env.pool.len() - 1 - 2;
    // ZFS limits components too (each < 256), so split the filler into two components.
    let first = "a".repeat(fill / 2);
    let second = "b".repeat(fill - fill / 2 - 1);
    let rel = format!("{first}/{second}");
    let ds = env.create(&rel).await;
    let snap = ds.snapshot("s").expect("255 bytes is legal");
    assert_eq!(snap.to_string().len(), 255);
    env.zfs
        .snapshot(std::slice::from_ref(&snap))
        .await
        .expect("zfs accepts 255 bytes");
    assert!(
        ds.snapshot("st").is_err(),
        "256 bytes must be rejected by namecheck"
    );
    let raw = env.t.zfs(&["snapshot", &format!("{ds}@st")]);
    assert!(!raw.status.success(), "zfs must reject a 256-byte name too");
}

#[tokio::test]
async fn names_zfs_rejects_are_rejected_by_namecheck() {
    let env = Env::new("names-bad");
    for rel in ["a*b", "a//b", "a/", "x@y", "a#b", "./x", "a/.."] {
        let full = format!("{}/{rel}", env.pool);
        assert!(
            DatasetPath::new(full.clone()).is_err(),
            "{full} accepted by namecheck"
        );
        let out = env.t.zfs(&["create", &full]);
        assert!(!out.status.success(), "{full} accepted by zfs");
    }
    assert!(SnapshotName::parse(&format!("{}@a@b", env.pool)).is_err());
    let out = env.t.zfs(&["snapshot", &format!("{}@a@b", env.pool)]);
    assert!(!out.status.success());
}
