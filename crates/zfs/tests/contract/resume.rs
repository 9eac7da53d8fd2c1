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
    let decoded = zferry_zfs::decode_resume_token(&token).expect("decode");
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
    let decoded = zferry_zfs::decode_resume_token(&token).expect("decode");
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

/// The fields `zfs send -nvt TOKEN` prints (`key = value` lines of its nvlist dump), as the
/// sending host sees them: the reference native decoding is compared with.
fn nvt_fields(env: &Env, token: &str) -> std::collections::BTreeMap<String, String> {
    env.zfs_ok(&["send", "-nvt", token])
        .lines()
        .filter_map(|l| l.trim().split_once(" = "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn nvt_number(fields: &std::collections::BTreeMap<String, String>, key: &str) -> Option<u64> {
    let v = fields.get(key)?;
    Some(match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).expect("hex number"),
        None => v.parse().expect("number"),
    })
}

/// Interrupts `req` into `target` and checks that native decoding of the token says exactly
/// what `zfs send -nvt` says on the sending host; returns the decoded token.
async fn native_agrees_with_send_nvt(
    env: &Env,
    req: &SendRequest,
    target: &DatasetPath,
) -> zferry_zfs::ResumeTokenContents {
    let token = interrupted(env, req, target, 400_000).await;
    let native = zferry_zfs::decode_resume_token(&token).expect("native decoding");
    let nvt = nvt_fields(env, &token);
    assert_eq!(nvt.get("toname"), Some(&native.to_name), "{nvt:?}");
    assert_eq!(nvt_number(&nvt, "toguid"), Some(native.to_guid));
    assert_eq!(nvt_number(&nvt, "fromguid"), native.from_guid);
    assert_eq!(nvt_number(&nvt, "bytes").unwrap_or(0), native.bytes);
    assert_eq!(nvt_number(&nvt, "object").unwrap_or(0), native.object);
    assert_eq!(nvt_number(&nvt, "offset").unwrap_or(0), native.offset);
    for (key, flag) in [
        ("rawok", native.raw),
        ("compressok", native.compressed),
        ("embedok", native.embedded),
        ("largeblockok", native.large_blocks),
        ("savedok", native.saved),
    ] {
        assert_eq!(nvt.contains_key(key), flag, "{key} in {nvt:?}");
    }
    native
}

fn with_flags(mut req: SendRequest, flags: SendFlags) -> SendRequest {
    if let SendRequest::Snapshot { flags: f, .. } = &mut req {
        *f = flags;
    }
    req
}

#[tokio::test]
async fn native_token_decoding_agrees_with_send_nvt_for_full_and_flagged_sends() {
    let env = Env::new("rs-nat");
    let (s1, _) = fixture(&env).await;
    let variants = [
        ("plain", SendFlags::default()),
        (
            "c",
            SendFlags {
                compressed: true,
                ..SendFlags::default()
            },
        ),
        (
            "big",
            SendFlags {
                large_blocks: true,
                ..SendFlags::default()
            },
        ),
        (
            "e",
            SendFlags {
                embedded: true,
                ..SendFlags::default()
            },
        ),
    ];
    for (name, flags) in variants {
        let target = env.ds(&format!("dst/{name}"));
        let req = with_flags(SendRequest::full(s1.clone()), flags);
        let t = native_agrees_with_send_nvt(&env, &req, &target).await;
        assert_eq!(t.from_guid, None, "{name}");
        assert_eq!(t.to_name, s1.to_string(), "{name}");
        // `largeblockok` only where blocks over 128K exist (see the next case).
        assert_eq!(
            (t.compressed, t.large_blocks, t.embedded),
            (flags.compressed, false, flags.embedded),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_large_block_send_marks_its_token_only_when_the_dataset_has_large_blocks() {
    let env = Env::new("rs-natl");
    env.create("dst").await;
    let big = env.ds("big");
    env.zfs_ok(&["create", "-o", "recordsize=1M", big.as_str()]);
    env.write(&big, "a", 2_000_000, 5);
    let s1 = env.snapshot("big", "s1").await;
    let large = SendFlags {
        large_blocks: true,
        ..SendFlags::default()
    };
    let with_l = with_flags(SendRequest::full(s1.clone()), large);
    let t = native_agrees_with_send_nvt(&env, &with_l, &env.ds("dst/l")).await;
    assert!(t.large_blocks);
    let plain = SendRequest::full(s1);
    let t = native_agrees_with_send_nvt(&env, &plain, &env.ds("dst/plain")).await;
    assert!(!t.large_blocks);
}

#[tokio::test]
async fn native_token_decoding_agrees_with_send_nvt_for_incrementals() {
    let env = Env::new("rs-nati");
    let (s1, s2) = fixture(&env).await;
    let src = env.ds("src");
    let book = src.bookmark("b1").expect("valid");
    env.zfs_ok(&["bookmark", &s1.to_string(), &book.to_string()]);
    for (name, from) in [
        ("snap", SendFrom::Snapshot(s1.clone())),
        ("book", SendFrom::Bookmark(book.clone())),
    ] {
        let target = env.ds(&format!("dst/{name}"));
        env.full_to(s1.clone(), &target).await;
        let req = SendRequest::incremental(from, s2.clone());
        let t = native_agrees_with_send_nvt(&env, &req, &target).await;
        assert_eq!(t.from_guid, Some(env.guid(&s1.to_string()).await), "{name}");
        assert_eq!(t.to_guid, env.guid(&s2.to_string()).await, "{name}");
    }
}

#[tokio::test]
async fn native_token_decoding_agrees_with_send_nvt_for_raw_sends() {
    let env = Env::new("rs-natw");
    let key = crate::encryption::key_file(&env);
    let secret = crate::encryption::create_encrypted(&env, "secret", &key);
    env.create("dst").await;
    env.write(&secret, "a", 2_000_000, 3);
    let s1 = env.snapshot("secret", "s1").await;
    let raw = SendFlags {
        raw: true,
        ..SendFlags::default()
    };
    let t = native_agrees_with_send_nvt(
        &env,
        &with_flags(SendRequest::full(s1.clone()), raw),
        &env.ds("dst/full"),
    )
    .await;
    assert!(t.raw && t.from_guid.is_none());
    env.write(&secret, "b", 2_000_000, 4);
    let s2 = env.snapshot("secret", "s2").await;
    let target = env.ds("dst/inc");
    env.transfer(
        &with_flags(SendRequest::full(s1.clone()), raw),
        &target,
        &ReceiveOptions::default(),
        None,
    )
    .await
    .expect("raw full");
    let inc = with_flags(SendRequest::incremental(SendFrom::Snapshot(s1), s2), raw);
    let t = native_agrees_with_send_nvt(&env, &inc, &target).await;
    assert!(t.raw && t.from_guid.is_some());
}

#[tokio::test]
async fn a_corrupt_token_is_refused_natively_and_by_send_nvt() {
    let env = Env::new("rs-bad");
    let (s1, _) = fixture(&env).await;
    let token = interrupted(&env, &SendRequest::full(s1), &env.ds("dst/fs"), 400_000).await;
    let mut bytes = token.into_bytes();
    let at = bytes.len() - 8;
    bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
    let bad = String::from_utf8(bytes).expect("ascii");
    assert_eq!(
        zferry_zfs::decode_resume_token(&bad),
        Err(zferry_zfs::TokenError::Checksum)
    );
    let out = env.t.zfs(&["send", "-nvt", &bad]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("resume token is corrupt"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
