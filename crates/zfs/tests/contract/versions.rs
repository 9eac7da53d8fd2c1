//! Version listing: type filter, prefix, depth, userrefs, creation, createtxg, atomic snapshots.

use crate::common::Env;
use zferry_zfs::{Version, VersionKind, VersionQuery, ZfsErrorKind};

fn names(v: &[zferry_zfs::ListedVersion]) -> Vec<String> {
    v.iter().map(|l| l.version.full_name()).collect()
}

async fn fixture(env: &Env) {
    env.create("r/a").await;
    env.create("r/a/x").await;
    env.create("r/ab").await;
    let snaps: Vec<_> = ["r/a", "r/a/x", "r/ab"]
        .iter()
        .map(|r| env.snap(r, "s1"))
        .collect();
    env.zfs.snapshot(&snaps).await.expect("snapshot");
    let s1 = env
        .zfs
        .list_versions(
            &[env.ds("r/a")],
            VersionQuery {
                recursive: false,
                ..Default::default()
            },
        )
        .await
        .expect("list");
    env.zfs
        .bookmark(
            &s1[0].version,
            &env.ds("r/a").bookmark("b1").expect("valid"),
        )
        .await
        .expect("bookmark");
}

#[tokio::test]
async fn type_filter_snapshots_or_bookmarks_only() {
    let env = Env::new("v-type");
    fixture(&env).await;
    let a = env.ds("r/a");
    let q = VersionQuery {
        recursive: false,
        ..Default::default()
    };
    let snaps = env
        .zfs
        .list_versions(
            std::slice::from_ref(&a),
            VersionQuery {
                bookmarks: false,
                ..q
            },
        )
        .await
        .expect("list");
    assert_eq!(names(&snaps), [format!("{a}@s1")]);
    let bms = env
        .zfs
        .list_versions(
            std::slice::from_ref(&a),
            VersionQuery {
                snapshots: false,
                ..q
            },
        )
        .await
        .expect("list");
    assert_eq!(names(&bms), [format!("{a}#b1")]);
    assert_eq!(bms[0].version.kind, VersionKind::Bookmark);
    assert_eq!(
        bms[0].version.guid, snaps[0].version.guid,
        "bookmark keeps the snapshot's guid"
    );
    assert_eq!(bms[0].version.createtxg, snaps[0].version.createtxg);
}

#[tokio::test]
async fn recursive_listing_respects_the_prefix_and_depth() {
    let env = Env::new("v-prefix");
    fixture(&env).await;
    let a = env.ds("r/a");
    let rec = env
        .zfs
        .list_versions(std::slice::from_ref(&a), VersionQuery::default())
        .await
        .expect("list");
    assert_eq!(
        names(&rec),
        [format!("{a}@s1"), format!("{a}#b1"), format!("{a}/x@s1")]
    );
    assert!(
        !names(&rec).iter().any(|n| n.contains("/r/ab")),
        "pool/r/ab is not below pool/r/a"
    );
    let flat = env
        .zfs
        .list_versions(
            std::slice::from_ref(&a),
            VersionQuery {
                recursive: false,
                ..Default::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(names(&flat), [format!("{a}@s1"), format!("{a}#b1")]);
}

#[tokio::test]
async fn many_filesystems_are_listed_in_one_call() {
    let env = Env::new("v-one");
    fixture(&env).await;
    env.zfs.stats().reset();
    let fss = [env.ds("r/a"), env.ds("r/a/x"), env.ds("r/ab")];
    let flat = env
        .zfs
        .list_versions(
            &fss,
            VersionQuery {
                recursive: false,
                ..Default::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(flat.len(), 4);
    assert_eq!(env.zfs.stats().count("zfs list"), 1);
    assert_eq!(env.zfs.stats().total_count(), 1);
}

#[tokio::test]
async fn userrefs_counts_holds() {
    let env = Env::new("v-refs");
    fixture(&env).await;
    let s = env.snap("r/a", "s1");
    for tag in ["t1", "t2"] {
        env.zfs
            .hold(
                &zferry_zfs::HoldTag::new(tag).expect("tag"),
                std::slice::from_ref(&s),
            )
            .await
            .expect("hold");
    }
    let q = VersionQuery {
        userrefs: true,
        ..Default::default()
    };
    let v = env
        .zfs
        .list_versions(&[env.ds("r")], q)
        .await
        .expect("list");
    let refs = |n: &str| {
        v.iter()
            .find(|l| l.version.full_name() == n)
            .map(|l| l.userrefs)
    };
    assert_eq!(refs(&s.to_string()), Some(Some(2)));
    assert_eq!(refs(&env.snap("r/ab", "s1").to_string()), Some(Some(0)));
    assert_eq!(
        refs(&format!("{}#b1", env.ds("r/a"))),
        Some(None),
        "bookmarks have no userrefs"
    );
}

#[tokio::test]
async fn no_versions_and_missing_filesystems_list_empty() {
    let env = Env::new("v-none");
    let ds = env.create("empty").await;
    assert!(
        env.zfs
            .list_versions(&[ds], VersionQuery::default())
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        env.zfs
            .list_versions(&[env.ds("missing")], VersionQuery::default())
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn creation_only_when_asked() {
    let env = Env::new("v-creation");
    fixture(&env).await;
    let fast = env
        .zfs
        .list_versions(&[env.ds("r")], VersionQuery::default())
        .await
        .expect("list");
    assert!(fast.iter().all(|l| l.version.creation.is_none()));
    let with = env
        .zfs
        .list_versions(
            &[env.ds("r")],
            VersionQuery {
                creation: true,
                ..Default::default()
            },
        )
        .await
        .expect("list");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    assert!(
        with.iter()
            .all(|l| l.version.creation.is_some_and(|c| (now - c).abs() < 3600)),
        "{with:?}"
    );
}

#[tokio::test]
async fn createtxg_grows_and_guids_are_distinct() {
    let env = Env::new("v-txg");
    env.create("fs").await;
    for s in ["s1", "s2", "s3"] {
        env.snapshot("fs", s).await;
    }
    let v = env
        .zfs
        .list_versions(&[env.ds("fs")], VersionQuery::default())
        .await
        .expect("list");
    let names: Vec<&str> = v.iter().map(|l| l.version.name.as_str()).collect();
    assert_eq!(names, ["s1", "s2", "s3"]);
    assert!(
        v.windows(2)
            .all(|w| w[0].version.createtxg < w[1].version.createtxg)
    );
    let mut guids: Vec<u64> = v.iter().map(|l| l.version.guid).collect();
    guids.dedup();
    assert_eq!(guids.len(), 3);
}

#[tokio::test]
async fn multi_dataset_snapshot_is_atomic() {
    let env = Env::new("v-atomic");
    for rel in ["a", "b", "c/d"] {
        env.create(rel).await;
    }
    let snaps: Vec<_> = ["a", "b", "c/d"]
        .iter()
        .map(|r| env.snap(r, "same"))
        .collect();
    env.zfs.stats().reset();
    env.zfs.snapshot(&snaps).await.expect("snapshot");
    assert_eq!(env.zfs.stats().count("zfs snapshot"), 1);
    let v = env
        .zfs
        .list_versions(
            &[env.ds("a"), env.ds("b"), env.ds("c")],
            VersionQuery::default(),
        )
        .await
        .expect("list");
    assert_eq!(v.len(), 3);
    assert!(
        v.iter()
            .all(|l| l.version.createtxg == v[0].version.createtxg),
        "{v:?}"
    );
    let again = env.zfs.snapshot(&snaps[..1]).await.expect_err("exists");
    assert_eq!(again.kind(), ZfsErrorKind::Exists, "{again}");
}

#[tokio::test]
async fn bookmark_outlives_its_snapshot() {
    let env = Env::new("v-bm");
    env.create("fs").await;
    let s = env.snapshot("fs", "s1").await;
    let listed: Vec<Version> = env
        .zfs
        .list_versions(&[env.ds("fs")], VersionQuery::default())
        .await
        .expect("list")
        .into_iter()
        .map(|l| l.version)
        .collect();
    let bm = env.ds("fs").bookmark("b").expect("valid");
    env.zfs.bookmark(&listed[0], &bm).await.expect("bookmark");
    env.zfs
        .destroy_snapshots(std::slice::from_ref(&s))
        .await
        .expect("destroy");
    let after = env
        .zfs
        .list_versions(&[env.ds("fs")], VersionQuery::default())
        .await
        .expect("list");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].version.kind, VersionKind::Bookmark);
    assert_eq!(after[0].version.guid, listed[0].guid);
    assert_eq!(after[0].version.createtxg, listed[0].createtxg);
}
