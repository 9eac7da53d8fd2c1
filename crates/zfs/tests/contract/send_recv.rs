//! Send/receive with data compared: full, -i, -I, from bookmark, conflicts, -F, properties,
//! guid verification, estimates, and cleanup of killed streams.

use crate::common::{Env, mounted};
use zferry_zfs::{
    ExpectedSnapshot, PropertyName, ReceiveOptions, SendFlags, SendFrom, SendRequest, VersionQuery,
    ZfsError, ZfsErrorKind,
};

/// Source `src` with s1 (file a), s2 (a changed, b added), s3 (c added); receiver root `dst`.
async fn fixture(env: &Env) {
    let src = env.create("src").await;
    env.create("dst").await;
    env.write(&src, "a", 200_000, 1);
    env.snapshot("src", "s1").await;
    env.write(&src, "a", 200_000, 2);
    env.write(&src, "dir/b", 50_000, 3);
    env.snapshot("src", "s2").await;
    env.write(&src, "c", 30_000, 4);
    env.snapshot("src", "s3").await;
}

async fn expect(
    env: &Env,
    sender: &zferry_zfs::SnapshotName,
    receiver: &zferry_zfs::DatasetPath,
) -> ExpectedSnapshot {
    ExpectedSnapshot {
        snapshot: receiver.snapshot(sender.name()).expect("valid"),
        guid: env.guid(&sender.to_string()).await,
    }
}

/// Checksum of the files in a snapshot of the sender, via rollback-free clone of state:
/// compares the receiver's live files with the sender's live files at that moment.
fn same_files(env: &Env, a: &zferry_zfs::DatasetPath, b: &zferry_zfs::DatasetPath) {
    assert_eq!(env.checksum(a), env.checksum(b), "{a} and {b} differ");
}

#[tokio::test]
async fn full_send_receive_carries_data_and_guid() {
    let env = Env::new("sr-full");
    fixture(&env).await;
    let (src, dst) = (env.ds("src"), env.ds("dst/fs"));
    let s3 = env.snap("src", "s3");
    let e = expect(&env, &s3, &dst).await;
    let bytes = env
        .transfer(&SendRequest::full(s3.clone()), &dst, &mounted(), Some(&e))
        .await
        .expect("transfer");
    assert!(bytes > 280_000, "stream of {bytes} bytes");
    same_files(&env, &src, &dst);
    let v = env
        .zfs
        .list_versions(&[dst], VersionQuery::default())
        .await
        .expect("list");
    assert_eq!(v.len(), 1, "a full send carries only the target snapshot");
}

#[tokio::test]
async fn incremental_send_carries_only_the_changes() {
    let env = Env::new("sr-inc");
    fixture(&env).await;
    let (src, dst) = (env.ds("src"), env.ds("dst/fs"));
    let (s1, s2, s3) = (
        env.snap("src", "s1"),
        env.snap("src", "s2"),
        env.snap("src", "s3"),
    );
    env.transfer(&SendRequest::full(s1.clone()), &dst, &mounted(), None)
        .await
        .expect("full");
    let inc = SendRequest::incremental(SendFrom::Snapshot(s2.clone()), s3.clone());
    let small = env.zfs.estimate_send(&inc).await.expect("estimate");
    let e = expect(&env, &s2, &dst).await;
    let req = SendRequest::incremental(SendFrom::Snapshot(s1), s2);
    env.transfer(&req, &dst, &mounted(), Some(&e))
        .await
        .expect("incremental s1->s2");
    let e = expect(&env, &s3, &dst).await;
    let bytes = env
        .transfer(&inc, &dst, &mounted(), Some(&e))
        .await
        .expect("incremental s2->s3");
    assert!(
        bytes < 150_000,
        "incremental stream of {bytes} bytes carries more than the change"
    );
    assert!(small.total_bytes < 150_000);
    same_files(&env, &src, &dst);
}

#[tokio::test]
async fn intermediates_send_brings_every_snapshot() {
    let env = Env::new("sr-big-i");
    fixture(&env).await;
    let (src, dst) = (env.ds("src"), env.ds("dst/fs"));
    env.full_to(env.snap("src", "s1"), &dst).await;
    let req = SendRequest::Snapshot {
        to: env.snap("src", "s3"),
        from: Some(SendFrom::Snapshot(env.snap("src", "s1"))),
        intermediates: true,
        flags: SendFlags::default(),
    };
    let est = env.zfs.estimate_send(&req).await.expect("estimate");
    assert_eq!(est.steps.len(), 2, "{est:?}");
    env.transfer(&req, &dst, &mounted(), None)
        .await
        .expect("-I");
    let v = env
        .zfs
        .list_versions(std::slice::from_ref(&dst), VersionQuery::default())
        .await
        .expect("list");
    let got: Vec<(&str, u64)> = v
        .iter()
        .map(|l| (l.version.name.as_str(), l.version.guid))
        .collect();
    let mut want = Vec::new();
    for s in ["s1", "s2", "s3"] {
        want.push((s, env.guid(&env.snap("src", s).to_string()).await));
    }
    assert_eq!(got, want);
    same_files(&env, &src, &dst);
}

#[tokio::test]
async fn incremental_from_bookmark_after_the_snapshot_is_gone() {
    let env = Env::new("sr-bm");
    fixture(&env).await;
    let (src, dst) = (env.ds("src"), env.ds("dst/fs"));
    let s2 = env.snap("src", "s2");
    env.transfer(&SendRequest::full(s2.clone()), &dst, &mounted(), None)
        .await
        .expect("full");
    let listed = env
        .zfs
        .list_versions(std::slice::from_ref(&src), VersionQuery::default())
        .await
        .expect("list");
    let v2 = listed
        .iter()
        .find(|l| l.version.name == "s2")
        .expect("s2")
        .version
        .clone();
    let bm = src.bookmark("cursor").expect("valid");
    env.zfs.bookmark(&v2, &bm).await.expect("bookmark");
    env.zfs
        .destroy_snapshots(std::slice::from_ref(&s2))
        .await
        .expect("destroy base");
    let s3 = env.snap("src", "s3");
    let e = expect(&env, &s3, &dst).await;
    env.transfer(
        &SendRequest::incremental(SendFrom::Bookmark(bm), s3),
        &dst,
        &mounted(),
        Some(&e),
    )
    .await
    .expect("from bookmark");
    same_files(&env, &src, &dst);
}

#[tokio::test]
async fn incremental_onto_a_modified_receiver_is_refused() {
    let env = Env::new("sr-mod");
    fixture(&env).await;
    let dst = env.ds("dst/fs");
    env.full_to(env.snap("src", "s1"), &dst).await;
    assert_eq!(env.written(&dst).await, 0, "a fresh replica is unmodified");
    env.write(&dst, "local-change", 1000, 9);
    // `written` counts synced transaction groups only.
    let sync = env.t.zpool(&["sync", &env.pool]);
    assert!(sync.status.success(), "{sync:?}");
    assert!(env.written(&dst).await > 0, "the change shows in `written`");
    let req = SendRequest::incremental(
        SendFrom::Snapshot(env.snap("src", "s1")),
        env.snap("src", "s2"),
    );
    let err = env.refused(&req, &dst, &mounted()).await;
    assert_eq!(err.kind(), ZfsErrorKind::DestinationModified, "{err}");
    assert!(err.to_string().contains("has been modified"), "{err}");
}

#[tokio::test]
async fn incremental_onto_a_diverged_receiver_is_refused_and_force_rolls_back() {
    let env = Env::new("sr-div");
    fixture(&env).await;
    let (src, dst) = (env.ds("src"), env.ds("dst/fs"));
    env.full_to(env.snap("src", "s1"), &dst).await;
    env.write(&dst, "diverged", 1000, 9);
    env.zfs
        .snapshot(&[dst.snapshot("local").expect("valid")])
        .await
        .expect("receiver snapshot");
    let req = SendRequest::incremental(
        SendFrom::Snapshot(env.snap("src", "s1")),
        env.snap("src", "s3"),
    );
    let err = env.refused(&req, &dst, &mounted()).await;
    assert_eq!(err.kind(), ZfsErrorKind::DestinationModified, "{err}");
    let force = ReceiveOptions {
        force: true,
        ..mounted()
    };
    env.transfer(&req, &dst, &force, None)
        .await
        .expect("-F rolls back and receives");
    let names: Vec<String> = env
        .zfs
        .list_versions(std::slice::from_ref(&dst), VersionQuery::default())
        .await
        .expect("list")
        .into_iter()
        .map(|l| l.version.name)
        .collect();
    assert_eq!(
        names,
        ["s1", "s3"],
        "-F destroyed the receiver's own snapshot"
    );
    same_files(&env, &src, &dst);
}

#[tokio::test]
async fn incremental_with_unknown_base_does_not_match() {
    let env = Env::new("sr-nomatch");
    fixture(&env).await;
    let dst = env.ds("dst/fs");
    env.transfer(
        &SendRequest::full(env.snap("src", "s2")),
        &dst,
        &ReceiveOptions {
            no_mount: true,
            ..mounted()
        },
        None,
    )
    .await
    .expect("full");
    let req = SendRequest::incremental(
        SendFrom::Snapshot(env.snap("src", "s1")),
        env.snap("src", "s3"),
    );
    let err = env
        .refused(
            &req,
            &dst,
            &ReceiveOptions {
                no_mount: true,
                ..mounted()
            },
        )
        .await;
    assert_eq!(err.kind(), ZfsErrorKind::IncrementalSourceMismatch, "{err}");
}

#[tokio::test]
async fn full_stream_onto_existing_filesystem_needs_force() {
    let env = Env::new("sr-exists");
    fixture(&env).await;
    let dst = env.ds("dst/fs");
    env.full_to(env.snap("src", "s1"), &dst).await;
    let err = env
        .refused(&SendRequest::full(env.snap("src", "s2")), &dst, &mounted())
        .await;
    assert_eq!(err.kind(), ZfsErrorKind::Exists, "{err}");
}

#[tokio::test]
async fn receive_into_missing_parent_does_not_exist() {
    let env = Env::new("sr-noparent");
    fixture(&env).await;
    let err = env
        .refused(
            &SendRequest::full(env.snap("src", "s1")),
            &env.ds("nope/fs"),
            &mounted(),
        )
        .await;
    assert_eq!(err.kind(), ZfsErrorKind::DoesNotExist, "{err}");
}

#[tokio::test]
async fn received_guid_is_verified() {
    let env = Env::new("sr-guid");
    fixture(&env).await;
    let dst = env.ds("dst/fs");
    let s1 = env.snap("src", "s1");
    let wrong = ExpectedSnapshot {
        snapshot: dst.snapshot("s1").expect("valid"),
        guid: env.guid(&s1.to_string()).await ^ 1,
    };
    let err = env
        .transfer(&SendRequest::full(s1), &dst, &mounted(), Some(&wrong))
        .await
        .expect_err("guid");
    assert!(
        matches!(err, ZfsError::ReceivedGuidMismatch { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn receive_under_another_snapshot_name() {
    let env = Env::new("sr-named");
    fixture(&env).await;
    let dst = env.ds("dst/fs");
    let s1 = env.snap("src", "s1");
    let mut send = env
        .zfs
        .send(&SendRequest::full(s1.clone()))
        .await
        .expect("send");
    let mut recv = env
        .zfs
        .receive(&dst, Some("renamed"), &mounted())
        .await
        .expect("recv");
    tokio::io::copy(&mut send, &mut recv).await.expect("copy");
    send.wait().await.expect("send ok");
    let e = ExpectedSnapshot {
        snapshot: dst.snapshot("renamed").expect("valid"),
        guid: env.guid(&s1.to_string()).await,
    };
    recv.finish(Some(&e)).await.expect("received as @renamed");
}

#[tokio::test]
async fn property_send_with_override_and_exclude() {
    let env = Env::new("sr-props");
    fixture(&env).await;
    let src = env.ds("src");
    let p = |s: &str| PropertyName::new(s).expect("valid");
    env.zfs
        .set_properties(
            src.as_str(),
            &[
                (p("zferry:keep"), "k".into()),
                (p("zferry:drop"), "d".into()),
                (p("zferry:over"), "o1".into()),
            ],
        )
        .await
        .expect("set");
    env.snapshot("src", "p1").await;
    let dst = env.ds("dst/fs");
    let req = SendRequest::Snapshot {
        to: env.snap("src", "p1"),
        from: None,
        intermediates: false,
        flags: SendFlags {
            properties: true,
            ..SendFlags::default()
        },
    };
    let opts = ReceiveOptions {
        no_mount: true,
        exclude: vec![p("zferry:drop")],
        set: vec![(p("zferry:over"), "o2".into())],
        ..ReceiveOptions::default()
    };
    env.transfer(&req, &dst, &opts, None)
        .await
        .expect("transfer");
    let got = env
        .zfs
        .get_properties(
            &[dst.as_str()],
            &[p("zferry:keep"), p("zferry:drop"), p("zferry:over")],
        )
        .await
        .expect("get");
    let vals: Vec<Option<&str>> = got.iter().map(|v| v.value.as_deref()).collect();
    assert_eq!(vals, [Some("k"), None, Some("o2")]);
    assert_eq!(got[0].source, zferry_zfs::PropertySource::Received);
    assert_eq!(got[2].source, zferry_zfs::PropertySource::Local);
}

#[tokio::test]
async fn size_estimate_is_within_ten_percent() {
    let env = Env::new("sr-est");
    let src = env.create("src").await;
    env.write(&src, "big", 4_000_000, 7);
    let s = env.snapshot("src", "s").await;
    let req = SendRequest::full(s);
    let est = env.zfs.estimate_send(&req).await.expect("estimate");
    let mut send = env.zfs.send(&req).await.expect("send");
    let actual = tokio::io::copy(&mut send, &mut tokio::io::sink())
        .await
        .expect("read");
    send.wait().await.expect("send ok");
    let ratio = est.total_bytes as f64 / actual as f64;
    assert!(
        (0.9..=1.1).contains(&ratio),
        "estimate {} vs actual {actual}",
        est.total_bytes
    );
}

#[tokio::test]
async fn send_of_missing_snapshot_does_not_exist() {
    let env = Env::new("sr-nosnap");
    env.create("src").await;
    let send = env
        .zfs
        .send(&SendRequest::full(env.snap("src", "nope")))
        .await
        .expect("spawns");
    let err = send.wait().await.expect_err("missing");
    assert_eq!(err.kind(), ZfsErrorKind::DoesNotExist, "{err}");
    let est = env
        .zfs
        .estimate_send(&SendRequest::full(env.snap("src", "nope")))
        .await
        .expect_err("missing");
    assert_eq!(est.kind(), ZfsErrorKind::DoesNotExist, "{est}");
}

#[tokio::test]
async fn a_dropped_send_leaves_no_process_behind() {
    let env = Env::new("sr-kill");
    let src = env.create("src").await;
    env.write(&src, "big", 8_000_000, 5);
    let s = env.snapshot("src", "s").await;
    let mut send = env.zfs.send(&SendRequest::full(s)).await.expect("send");
    let pid = send.pid().expect("running");
    let mut buf = vec![0u8; 64 * 1024];
    let n = tokio::io::AsyncReadExt::read(&mut send, &mut buf)
        .await
        .expect("read");
    assert!(n > 0);
    drop(send);
    let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    for _ in 0..100 {
        if !proc_dir.exists() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let status = std::fs::read_to_string(proc_dir.join("status")).unwrap_or_default();
    panic!("send child {pid} still present after drop: {status}");
}
