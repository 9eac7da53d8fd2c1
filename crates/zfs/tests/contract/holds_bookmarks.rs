//! Idempotent bookmarks and holds.

use crate::common::Env;
use zferry_zfs::{HoldTag, Version, VersionQuery, ZfsError, ZfsErrorKind};

fn tag(s: &str) -> HoldTag {
    HoldTag::new(s).expect("valid tag")
}

async fn versions(env: &Env, rel: &str) -> Vec<Version> {
    env.zfs
        .list_versions(&[env.ds(rel)], VersionQuery::default())
        .await
        .expect("list")
        .into_iter()
        .map(|l| l.version)
        .collect()
}

#[tokio::test]
async fn bookmark_is_idempotent_for_the_same_guid() {
    let env = Env::new("bm-idem");
    env.create("fs").await;
    env.snapshot("fs", "s1").await;
    let v = versions(&env, "fs").await;
    let bm = env.ds("fs").bookmark("b").expect("valid");
    env.zfs.bookmark(&v[0], &bm).await.expect("first");
    env.zfs
        .bookmark(&v[0], &bm)
        .await
        .expect("again: same guid is success");
    assert_eq!(env.guid(&bm.to_string()).await, v[0].guid);
}

#[tokio::test]
async fn bookmark_with_another_guid_is_an_error() {
    let env = Env::new("bm-guid");
    env.create("fs").await;
    env.snapshot("fs", "s1").await;
    env.snapshot("fs", "s2").await;
    let v = versions(&env, "fs").await;
    let bm = env.ds("fs").bookmark("b").expect("valid");
    env.zfs.bookmark(&v[0], &bm).await.expect("first");
    let err = env.zfs.bookmark(&v[1], &bm).await.expect_err("other guid");
    match err {
        ZfsError::BookmarkGuidMismatch {
            existing, expected, ..
        } => {
            assert_eq!(existing, v[0].guid);
            assert_eq!(expected, v[1].guid);
        }
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn bookmark_copy_from_bookmark() {
    let env = Env::new("bm-copy");
    env.create("fs").await;
    env.snapshot("fs", "s1").await;
    let v = versions(&env, "fs").await;
    let b1 = env.ds("fs").bookmark("b1").expect("valid");
    env.zfs.bookmark(&v[0], &b1).await.expect("bookmark");
    let as_bm = Version {
        kind: zferry_zfs::VersionKind::Bookmark,
        name: "b1".into(),
        ..v[0].clone()
    };
    let b2 = env.ds("fs").bookmark("b2").expect("valid");
    env.zfs.bookmark(&as_bm, &b2).await.expect("bookmark copy");
    assert_eq!(env.guid(&b2.to_string()).await, v[0].guid);
}

#[tokio::test]
async fn bookmark_of_missing_snapshot_does_not_exist() {
    let env = Env::new("bm-missing");
    env.create("fs").await;
    env.snapshot("fs", "s1").await;
    let mut v = versions(&env, "fs").await.remove(0);
    v.name = "nope".into();
    let err = env
        .zfs
        .bookmark(&v, &env.ds("fs").bookmark("b").expect("valid"))
        .await
        .expect_err("missing");
    assert_eq!(err.kind(), ZfsErrorKind::DoesNotExist, "{err}");
}

#[tokio::test]
async fn hold_is_idempotent_and_batched() {
    let env = Env::new("hold-idem");
    env.create("fs").await;
    let s1 = env.snapshot("fs", "s1").await;
    let s2 = env.snapshot("fs", "s2").await;
    env.zfs
        .hold(&tag("zferry_t"), std::slice::from_ref(&s1))
        .await
        .expect("hold s1");
    env.zfs.stats().reset();
    env.zfs
        .hold(&tag("zferry_t"), &[s1.clone(), s2.clone()])
        .await
        .expect("hold both, s1 already held");
    assert_eq!(env.zfs.stats().count("zfs hold"), 1);
    let holds = env
        .zfs
        .list_holds(&[s1.clone(), s2.clone()])
        .await
        .expect("holds");
    let held: Vec<(String, &str)> = holds
        .iter()
        .map(|h| (h.snapshot.to_string(), h.tag.as_str()))
        .collect();
    assert_eq!(
        held,
        [(s1.to_string(), "zferry_t"), (s2.to_string(), "zferry_t")]
    );
    assert!(holds.iter().all(|h| h.timestamp > 0));
}

#[tokio::test]
async fn release_is_idempotent() {
    let env = Env::new("hold-rel");
    env.create("fs").await;
    let s1 = env.snapshot("fs", "s1").await;
    let s2 = env.snapshot("fs", "s2").await;
    env.zfs
        .hold(&tag("t"), std::slice::from_ref(&s1))
        .await
        .expect("hold");
    env.zfs
        .release(&tag("t"), &[s1.clone(), s2.clone()])
        .await
        .expect("release, s2 never held");
    env.zfs
        .release(&tag("t"), std::slice::from_ref(&s1))
        .await
        .expect("release again");
    assert!(
        env.zfs
            .list_holds(&[s1, s2])
            .await
            .expect("holds")
            .is_empty()
    );
}

#[tokio::test]
async fn hold_on_missing_snapshot_fails() {
    let env = Env::new("hold-missing");
    env.create("fs").await;
    let err = env
        .zfs
        .hold(&tag("t"), &[env.snap("fs", "nope")])
        .await
        .expect_err("missing");
    assert_eq!(err.kind(), ZfsErrorKind::DoesNotExist, "{err}");
}

#[tokio::test]
async fn holds_are_read_only_where_userrefs_says_so() {
    let env = Env::new("hold-refs");
    env.create("fs").await;
    let s1 = env.snapshot("fs", "s1").await;
    env.snapshot("fs", "s2").await;
    let q = VersionQuery {
        userrefs: true,
        ..Default::default()
    };
    let listed = env
        .zfs
        .list_versions(&[env.ds("fs")], q)
        .await
        .expect("list");
    env.zfs.stats().reset();
    assert!(
        env.zfs
            .holds_where_referenced(&listed)
            .await
            .expect("holds")
            .is_empty()
    );
    assert_eq!(
        env.zfs.stats().total_count(),
        0,
        "no holds call when nothing is held"
    );
    env.zfs
        .hold(&tag("a"), std::slice::from_ref(&s1))
        .await
        .expect("hold");
    let listed = env
        .zfs
        .list_versions(&[env.ds("fs")], q)
        .await
        .expect("list");
    env.zfs.stats().reset();
    let map = env
        .zfs
        .holds_where_referenced(&listed)
        .await
        .expect("holds");
    assert_eq!(env.zfs.stats().count("zfs holds"), 1);
    assert_eq!(map.len(), 1);
    assert_eq!(map[&s1], vec![tag("a")]);
}
