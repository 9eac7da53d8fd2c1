//! Encryption: raw sends keep the target locked, `recv -F` into encrypted refused.

use std::path::PathBuf;

use crate::common::Env;
use zferry_zfs::{KeyStatus, ReceiveOptions, SendFlags, SendRequest, ZfsErrorKind};

/// A passphrase file for `env` (outside the pool).
pub fn key_file(env: &Env) -> PathBuf {
    let path = std::env::temp_dir().join(format!("zferry-contract-key-{}", env.pool));
    std::fs::write(&path, "correct horse battery\n").expect("write key");
    path
}

/// Creates an encrypted filesystem `pool/rel` with a passphrase read from `key`.
pub fn create_encrypted(env: &Env, rel: &str, key: &std::path::Path) -> zferry_zfs::DatasetPath {
    let ds = env.ds(rel);
    let loc = format!("keylocation=file://{}", key.display());
    env.zfs_ok(&[
        "create",
        "-o",
        "encryption=on",
        "-o",
        "keyformat=passphrase",
        "-o",
        &loc,
        ds.as_str(),
    ]);
    ds
}

/// A raw (`-w`) full stream of `s`.
fn raw_full(s: zferry_zfs::SnapshotName) -> SendRequest {
    SendRequest::Snapshot {
        to: s,
        from: None,
        intermediates: false,
        flags: SendFlags {
            raw: true,
            ..SendFlags::default()
        },
    }
}

#[tokio::test]
async fn raw_send_to_unencrypted_parent_stays_locked_until_load_key() {
    let env = Env::new("enc-raw");
    let key = key_file(&env);
    let src = create_encrypted(&env, "secret", &key);
    env.write(&src, "f", 100_000, 3);
    let s = env.snapshot("secret", "s1").await;
    env.create("plain").await;
    let dst = env.ds("plain/secret");
    let req = raw_full(s);
    let opts = ReceiveOptions {
        no_mount: true,
        ..ReceiveOptions::default()
    };
    env.transfer(&req, &dst, &opts, None)
        .await
        .expect("raw receive");
    let listed = env
        .zfs
        .list_datasets(std::slice::from_ref(&dst))
        .await
        .expect("list");
    assert!(listed[0].is_encrypted());
    assert_eq!(listed[0].key_status, Some(KeyStatus::Unavailable));
    assert_eq!(listed[0].encryption_root.as_ref(), Some(&dst));
    env.zfs_ok(&[
        "load-key",
        "-L",
        &format!("file://{}", key.display()),
        dst.as_str(),
    ]);
    env.zfs_ok(&["mount", dst.as_str()]);
    let listed = env
        .zfs
        .list_datasets(std::slice::from_ref(&dst))
        .await
        .expect("list");
    assert_eq!(listed[0].key_status, Some(KeyStatus::Available));
    assert_eq!(env.checksum(&src), env.checksum(&dst));
}

#[tokio::test]
async fn force_receive_into_encrypted_is_refused() {
    let env = Env::new("enc-force");
    let key = key_file(&env);
    let plain = env.create("plain").await;
    env.write(&plain, "f", 10_000, 1);
    let s = env.snapshot("plain", "s1").await;
    let target = create_encrypted(&env, "locked", &key);
    let force = ReceiveOptions {
        force: true,
        no_mount: true,
        ..ReceiveOptions::default()
    };
    let err = env.refused(&SendRequest::full(s), &target, &force).await;
    assert_eq!(err.kind(), ZfsErrorKind::RecvForceIntoEncrypted, "{err}");
}

#[tokio::test]
async fn raw_force_receive_over_unencrypted_is_refused() {
    let env = Env::new("enc-force-raw");
    let key = key_file(&env);
    create_encrypted(&env, "secret", &key);
    let s = env.snapshot("secret", "s1").await;
    let target = env.create("plain").await;
    let force = ReceiveOptions {
        force: true,
        no_mount: true,
        ..ReceiveOptions::default()
    };
    let req = raw_full(s);
    let err = env.refused(&req, &target, &force).await;
    assert_eq!(err.kind(), ZfsErrorKind::RecvForceIntoEncrypted, "{err}");
}
