//! Resumable receive: token present, decode matches, `send -t` completes, abort, missing base.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::Env;
use zferry_zfs::{
    DatasetPath, ReceiveOptions, SendFlags, SendFrom, SendRequest, SnapshotName, ZfsErrorKind,
};

fn resumable() -> ReceiveOptions {
    ReceiveOptions {
        resumable: true,
        ..ReceiveOptions::default()
    }
}

/// Sends `req` but lets only `limit` bytes reach `zfs recv -s`; returns the token it reports.
async fn interrupted(env: &Env, req: &SendRequest, target: &DatasetPath, limit: u64) -> String {
    let send = env.zfs.send(req).await.expect("send");
    let mut recv = env
        .zfs
        .receive(target, None, &resumable())
        .await
        .expect("recv");
    let mut head = send.take(limit);
    tokio::io::copy(&mut head, &mut recv)
        .await
        .expect("copy head");
    recv.shutdown().await.expect("close");
    let send = head.into_inner();
    send.cancel().await;
    let err = recv
        .finish(None)
        .await
        .expect_err("interrupted receive fails");
    match err.kind() {
        ZfsErrorKind::ResumableReceiveFailed { token } => token,
        other => panic!("expected resumable failure, got {other:?}: {err}"),
    }
}

/// Source with a 2 MB file at s1 and another 2 MB at s2.
async fn fixture(env: &Env) -> (SnapshotName, SnapshotName) {
    let src = env.create("src").await;
    env.create("dst").await;
    env.write(&src, "a", 2_000_000, 1);
    let s1 = env.snapshot("src", "s1").await;
    env.write(&src, "b", 2_000_000, 2);
    let s2 = env.snapshot("src", "s2").await;
    (s1, s2)
}

#[tokio::test]
async fn interrupted_full_receive_resumes_with_send_t() {
    let env = Env::new("rs-full");
    let (s1, _) = fixture(&env).await;
    let dst = env.ds("dst/fs");
    let token = interrupted(&env, &SendRequest::full(s1.clone()), &dst, 500_000).await;
    let listed = env.zfs.list_datasets(&[env.ds("dst")]).await.expect("list");
    let partial = listed
        .iter()
        .find(|d| d.path == dst)
        .expect("partial dataset listed");
    assert_eq!(
        partial.receive_resume_token.as_deref(),
        Some(token.as_str())
    );
    let decoded = env.zfs.decode_resume_token(&token).await.expect("decode");
    assert_eq!(decoded.to_name, s1.to_string());
    assert_eq!(decoded.to_guid, env.guid(&s1.to_string()).await);
    assert_eq!(decoded.from_guid, None);
    assert!(decoded.bytes > 0 && decoded.bytes <= 500_000, "{decoded:?}");
    env.transfer(&SendRequest::Resume { token }, &dst, &resumable(), None)
        .await
        .expect("resume");
    assert_eq!(env.checksum(&env.ds("src")).len(), 64);
    let listed = env
        .zfs
        .list_datasets(std::slice::from_ref(&dst))
        .await
        .expect("list");
    assert_eq!(listed[0].receive_resume_token, None);
    assert_eq!(
        env.guid(&dst.snapshot("s1").expect("valid").to_string())
            .await,
        decoded.to_guid
    );
}

#[tokio::test]
async fn interrupted_incremental_receive_resumes_and_data_matches() {
    let env = Env::new("rs-inc");
    let (s1, s2) = fixture(&env).await;
    let dst = env.ds("dst/fs");
    env.full_to(s1.clone(), &dst).await;
    let req = SendRequest::Snapshot {
        to: s2.clone(),
        from: Some(SendFrom::Snapshot(s1.clone())),
        intermediates: false,
        flags: SendFlags {
            compressed: true,
            embedded: true,
            ..SendFlags::default()
        },
    };
    let token = interrupted(&env, &req, &dst, 300_000).await;
    let decoded = env.zfs.decode_resume_token(&token).await.expect("decode");
    assert_eq!(decoded.from_guid, Some(env.guid(&s1.to_string()).await));
    assert_eq!(decoded.to_name, s2.to_string());
    assert!(
        decoded.compressed && decoded.embedded && !decoded.raw,
        "{decoded:?}"
    );
    let est = env
        .zfs
        .estimate_send(&SendRequest::Resume {
            token: token.clone(),
        })
        .await
        .expect("estimate");
    assert!(est.total_bytes > 0);
    env.transfer(&SendRequest::Resume { token }, &dst, &resumable(), None)
        .await
        .expect("resume");
    assert_eq!(env.checksum(&env.ds("src")), env.checksum(&dst));
}

#[tokio::test]
async fn abort_discards_the_partial_state() {
    let env = Env::new("rs-abort");
    let (s1, s2) = fixture(&env).await;
    let dst = env.ds("dst/fs");
    env.full_to(s1.clone(), &dst).await;
    let req = SendRequest::incremental(SendFrom::Snapshot(s1), s2);
    interrupted(&env, &req, &dst, 300_000).await;
    env.zfs.abort_resumable_receive(&dst).await.expect("abort");
    let listed = env
        .zfs
        .list_datasets(std::slice::from_ref(&dst))
        .await
        .expect("list");
    assert_eq!(listed[0].receive_resume_token, None);
    env.zfs
        .abort_resumable_receive(&dst)
        .await
        .expect("abort again is fine");
    env.transfer(&req, &dst, &ReceiveOptions::default(), None)
        .await
        .expect("fresh incremental works");
}

#[tokio::test]
async fn token_for_a_destroyed_snapshot_does_not_exist() {
    let env = Env::new("rs-gone");
    let (s1, s2) = fixture(&env).await;
    let dst = env.ds("dst/fs");
    env.full_to(s1.clone(), &dst).await;
    let token = interrupted(
        &env,
        &SendRequest::incremental(SendFrom::Snapshot(s1), s2.clone()),
        &dst,
        300_000,
    )
    .await;
    env.zfs
        .destroy_snapshots(std::slice::from_ref(&s2))
        .await
        .expect("destroy");
    let send = env
        .zfs
        .send(&SendRequest::Resume { token })
        .await
        .expect("spawn");
    let mut sink = Vec::new();
    let mut send = send;
    let _ = send.read_to_end(&mut sink).await;
    let err = send.wait().await.expect_err("snapshot gone");
    assert_eq!(err.kind(), ZfsErrorKind::DoesNotExist, "{err}");
}
