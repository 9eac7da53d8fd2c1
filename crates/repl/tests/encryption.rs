//! Encryption policy matrix: `send.encrypted`, raw sends, and `recv.placeholder.encryption`.

mod common;

use common::{World, fast_options, lane_a, noise, run};
use zferry_repl::abstractions::Lane;
use zferry_repl::endpoint::ErrorKind;
use zferry_repl::local::{PlaceholderEncryption, RecvOptions, SendOptions};
use zferry_repl::report::FsState;

/// Creates an encrypted filesystem with a passphrase key file.
fn encrypted(w: &World, ds: &str, keydir: &tempfile::TempDir) {
    let key = keydir.path().join("key");
    std::fs::write(&key, "correct horse battery staple").expect("key file");
    w.t.zfs_ok(&[
        "create",
        "-p",
        "-o",
        "encryption=on",
        "-o",
        "keyformat=passphrase",
        "-o",
        &format!("keylocation=file://{}", key.display()),
        ds,
    ]);
}

fn encrypted_sender(w: &World, encrypted: bool) -> std::sync::Arc<zferry_repl::local::LocalSender> {
    w.sender_for(
        &[("data<", true)],
        lane_a(),
        SendOptions {
            encrypted,
            ..SendOptions::default()
        },
    )
}

#[tokio::test]
async fn encrypted_policy_refuses_unencrypted_filesystem() {
    let w = World::new();
    let src = w.s("data");
    w.fs_with_snap(&src, "s1");
    let report = run(encrypted_sender(&w, true), w.receiver(), &fast_options()).await;
    let fs = report.filesystem(&src).expect("fs");
    assert_eq!(fs.state, FsState::Failed);
    let error = fs.error.as_ref().expect("error");
    assert_eq!(error.kind, ErrorKind::AccessDenied);
    assert!(error.message.contains("not encrypted"), "{}", error.message);
    assert!(!w.exists(&w.r("data")));
}

#[tokio::test]
async fn encrypted_policy_sends_raw_and_the_replica_stays_locked() {
    let w = World::new();
    let keys = tempfile::tempdir().expect("tempdir");
    let src = w.s("data");
    encrypted(&w, &src, &keys);
    w.write(&src, "secret.bin", &noise(100_000, 5));
    w.snap(&src, "s1");
    let report = run(encrypted_sender(&w, true), w.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    let dst = w.r("data");
    assert_ne!(w.prop(&dst, "encryption"), "off");
    assert_eq!(
        w.prop(&dst, "keystatus"),
        "unavailable",
        "raw replica stays locked"
    );
    assert_eq!(w.prop(&dst, "encryptionroot"), dst);
    // Incremental raw sends work on the locked replica.
    w.write(&src, "more.bin", &noise(10_000, 6));
    w.snap(&src, "s2");
    let report = run(encrypted_sender(&w, true), w.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(w.snapshots(&dst), vec!["s1", "s2"]);
    // With the key, the data is there.
    w.t.zfs_ok(&[
        "load-key",
        "-L",
        &format!("file://{}", keys.path().join("key").display()),
        &dst,
    ]);
    assert_eq!(w.checksum(&dst), w.checksum(&src));
}

#[tokio::test]
async fn unencrypted_policy_sends_plaintext_of_an_encrypted_filesystem() {
    let w = World::new();
    let keys = tempfile::tempdir().expect("tempdir");
    let src = w.s("data");
    encrypted(&w, &src, &keys);
    w.write(&src, "plain.txt", b"readable on the receiver");
    w.snap(&src, "s1");
    let report = run(encrypted_sender(&w, false), w.receiver(), &fast_options()).await;
    assert!(report.succeeded(), "{report:#?}");
    let dst = w.r("data");
    assert_eq!(w.prop(&dst, "encryption"), "off");
    assert_eq!(w.checksum(&dst), w.checksum(&src));
}

#[tokio::test]
async fn placeholder_below_encrypted_parent_needs_a_policy() {
    let w = World::new();
    let keys = tempfile::tempdir().expect("tempdir");
    let src = w.s("data");
    w.fs_with_snap(&src, "s1");
    encrypted(&w, &w.d("vault"), &keys);
    let receiver = |policy| {
        w.receiver_at(
            "vault/backup",
            Lane::new("sink", "client"),
            RecvOptions {
                placeholder_encryption: policy,
                ..RecvOptions::default()
            },
        )
    };
    let report = run(
        w.sender(),
        receiver(PlaceholderEncryption::Unspecified),
        &fast_options(),
    )
    .await;
    let fs = report.filesystem(&src).expect("fs");
    assert_eq!(fs.state, FsState::Failed);
    let message = &fs.error.as_ref().expect("error").message;
    assert!(message.contains("placeholder.encryption"), "{message}");
    assert!(!w.exists(&w.d("vault/backup")), "no placeholder created");

    let report = run(
        w.sender(),
        receiver(PlaceholderEncryption::Inherit),
        &fast_options(),
    )
    .await;
    assert!(report.succeeded(), "{report:#?}");
    let placeholder = w.d("vault/backup");
    assert_eq!(w.prop(&placeholder, "zferry:placeholder"), "on");
    assert_eq!(w.prop(&placeholder, "encryptionroot"), w.d("vault"));
    let dst = format!("{}/vault/backup/{}/data", w.dst, w.src);
    assert_eq!(
        w.prop(&dst, "encryptionroot"),
        w.d("vault"),
        "plaintext stream inherits encryption"
    );
    assert_eq!(w.checksum(&dst), w.checksum(&src));
}
