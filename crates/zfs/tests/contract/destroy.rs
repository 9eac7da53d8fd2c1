//! Destroy: idempotent, comma-batched, reporting held snapshots, halving on E2BIG.

use crate::common::Env;
use zferry_zfs::{HoldTag, VersionQuery, ZfsErrorKind};

#[tokio::test]
async fn destroy_tolerates_absence() {
    let env = Env::new("d-absent");
    env.create("fs").await;
    let s = env.snapshot("fs", "s1").await;
    let r = env
        .zfs
        .destroy_snapshots(&[s.clone(), env.snap("fs", "never")])
        .await
        .expect("destroy");
    assert!(r.is_complete(), "{r:?}");
    let again = env
        .zfs
        .destroy_snapshots(std::slice::from_ref(&s))
        .await
        .expect("destroy again");
    assert!(again.is_complete());
    let r = env
        .zfs
        .destroy_snapshots(&[env.snap("nofs", "x")])
        .await
        .expect("missing fs");
    assert!(r.is_complete());
    env.zfs
        .destroy_bookmark(&env.ds("fs").bookmark("nobm").expect("valid"))
        .await
        .expect("missing bookmark");
    env.zfs
        .destroy_dataset(&env.ds("nofs"), true)
        .await
        .expect("missing dataset");
}

#[tokio::test]
async fn batch_destroy_with_one_held_snapshot_reports_it_and_destroys_the_rest() {
    let env = Env::new("d-held");
    env.create("fs").await;
    let snaps: Vec<_> = ["a", "b", "c", "d"]
        .iter()
        .map(|n| env.snap("fs", n))
        .collect();
    for s in &snaps {
        env.zfs
            .snapshot(std::slice::from_ref(s))
            .await
            .expect("snapshot");
    }
    env.zfs
        .hold(&HoldTag::new("keep").expect("tag"), &snaps[1..2])
        .await
        .expect("hold");
    let r = env.zfs.destroy_snapshots(&snaps).await.expect("destroy");
    assert_eq!(r.undestroyed.len(), 1, "{r:?}");
    assert_eq!(r.undestroyed[0].snapshot, snaps[1]);
    assert_eq!(
        r.undestroyed[0].kind,
        ZfsErrorKind::Busy,
        "{:?}",
        r.undestroyed[0]
    );
    let left = env
        .zfs
        .list_versions(&[env.ds("fs")], VersionQuery::default())
        .await
        .expect("list");
    let left: Vec<&str> = left.iter().map(|l| l.version.name.as_str()).collect();
    assert_eq!(left, ["b"]);
}

#[tokio::test]
async fn destroy_is_one_comma_call_per_filesystem() {
    let env = Env::new("d-comma");
    env.create("a").await;
    env.create("b").await;
    let mut snaps = Vec::new();
    for n in 0..5 {
        snaps.push(env.snap("a", &format!("s{n}")));
        snaps.push(env.snap("b", &format!("s{n}")));
    }
    env.zfs.stats().reset();
    env.zfs.snapshot(&snaps).await.expect("snapshot");
    // OpenZFS takes one snapshot per filesystem per call: 5 rounds of a@sN b@sN.
    assert_eq!(env.zfs.stats().count("zfs snapshot"), 5);
    env.zfs.stats().reset();
    let r = env.zfs.destroy_snapshots(&snaps).await.expect("destroy");
    assert!(r.is_complete());
    assert_eq!(env.zfs.stats().count("zfs destroy"), 2);
    assert!(
        env.zfs
            .list_versions(&[env.ds("a"), env.ds("b")], VersionQuery::default())
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn destroy_dataset_recursive() {
    let env = Env::new("d-rec");
    env.create("fs/child").await;
    env.snapshot("fs/child", "s").await;
    let err = env
        .zfs
        .destroy_dataset(&env.ds("fs"), false)
        .await
        .expect_err("has children");
    assert_eq!(err.kind(), ZfsErrorKind::Unknown, "{err}");
    env.zfs
        .destroy_dataset(&env.ds("fs"), true)
        .await
        .expect("destroy -r");
    assert!(
        env.zfs
            .list_datasets(&[env.ds("fs")])
            .await
            .expect("list")
            .is_empty()
    );
}
