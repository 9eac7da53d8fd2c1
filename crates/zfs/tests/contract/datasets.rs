//! Dataset listing, properties, placeholders, rollback.

use crate::common::Env;
use zferry_zfs::{
    CreateOptions, DatasetPath, DatasetType, PropertyName, PropertySource, ZfsErrorKind,
};

fn prop(s: &str) -> PropertyName {
    PropertyName::new(s).expect("valid property")
}

#[tokio::test]
async fn list_datasets_is_one_recursive_call_with_engine_properties() {
    let env = Env::new("ds-list");
    for rel in ["r/a", "r/a/x", "r/b", "other"] {
        env.create(rel).await;
    }
    env.zfs.stats().reset();
    let listed = env
        .zfs
        .list_datasets(&[env.ds("r"), env.ds("r/a")])
        .await
        .expect("list");
    assert_eq!(
        env.zfs.stats().total_count(),
        1,
        "{:?}",
        env.zfs.stats().snapshot()
    );
    let names: Vec<String> = listed.iter().map(|d| d.path.to_string()).collect();
    let want: Vec<String> = ["r", "r/a", "r/a/x", "r/b"]
        .iter()
        .map(|r| env.ds(r).to_string())
        .collect();
    assert_eq!(names, want);
    for d in &listed {
        assert_eq!(d.kind, DatasetType::Filesystem);
        assert!(!d.placeholder);
        assert_eq!(d.receive_resume_token, None);
        assert_eq!(d.encryption.as_deref(), Some("off"));
        assert!(!d.is_encrypted());
        assert_eq!(d.key_status, None);
        assert!(d.snapshots_changed.is_none() || d.snapshots_changed.is_some_and(|t| t > 0));
    }
}

#[tokio::test]
async fn list_datasets_includes_volumes() {
    let env = Env::new("ds-vol");
    env.create("fs").await;
    env.zfs_ok(&["create", "-V", "16M", env.ds("fs/vol").as_str()]);
    let listed = env.zfs.list_datasets(&[env.ds("fs")]).await.expect("list");
    let vol = listed
        .iter()
        .find(|d| d.path == env.ds("fs/vol"))
        .expect("volume listed");
    assert_eq!(vol.kind, DatasetType::Volume);
}

#[tokio::test]
async fn missing_roots_list_nothing_and_get_reports_does_not_exist() {
    let env = Env::new("ds-missing");
    env.create("here").await;
    let listed = env
        .zfs
        .list_datasets(&[env.ds("nope"), env.ds("here")])
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert!(
        env.zfs
            .list_datasets(&[env.ds("nope")])
            .await
            .expect("list")
            .is_empty()
    );
    let err = env
        .zfs
        .get_property(env.ds("nope").as_str(), &prop("mountpoint"))
        .await
        .expect_err("missing");
    assert_eq!(err.kind(), ZfsErrorKind::DoesNotExist, "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[tokio::test]
async fn placeholder_creation_and_detection() {
    let env = Env::new("ds-ph");
    let ph = env.ds("ph");
    let opts = CreateOptions {
        placeholder: true,
        ..CreateOptions::default()
    };
    env.zfs
        .create(&ph, &opts)
        .await
        .expect("create placeholder");
    assert_eq!(
        env.zfs
            .get_property(ph.as_str(), &prop("mountpoint"))
            .await
            .expect("get")
            .as_deref(),
        Some("none")
    );
    assert_eq!(
        env.zfs
            .get_property(ph.as_str(), &prop("zferry:placeholder"))
            .await
            .expect("get")
            .as_deref(),
        Some("on")
    );
    let zrepl = env.create("zr").await;
    env.zfs
        .set_properties(zrepl.as_str(), &[(prop("zrepl:placeholder"), "on".into())])
        .await
        .expect("set");
    env.create("plain").await;
    let listed = env
        .zfs
        .list_datasets(&[DatasetPath::new(env.pool.clone()).expect("pool")])
        .await
        .expect("list");
    let flag = |p: &DatasetPath| listed.iter().find(|d| &d.path == p).map(|d| d.placeholder);
    assert_eq!(flag(&ph), Some(true));
    assert_eq!(flag(&zrepl), Some(true));
    assert_eq!(flag(&env.ds("plain")), Some(false));
}

/// A filesystem zrepl received below one of its placeholders inherits `zrepl:placeholder=on`;
/// zrepl counts only a local value. zferry took every such zrepl replica for a placeholder, so
/// after a switch from zrepl it never pruned them on the receiver.
#[tokio::test]
async fn zrepl_replica_inheriting_the_placeholder_marker_is_not_a_placeholder() {
    let env = Env::new("ds-zrph");
    let parent = env.create("zph").await;
    env.zfs
        .set_properties(parent.as_str(), &[(prop("zrepl:placeholder"), "on".into())])
        .await
        .expect("set");
    let replica = env.create("zph/replica").await;
    let converted = env.create("zph/converted").await;
    env.zfs
        .set_properties(
            converted.as_str(),
            &[(prop("zferry:placeholder"), "off".into())],
        )
        .await
        .expect("set");
    let nested = env.create("zph/replica/nested_placeholder").await;
    env.zfs
        .set_properties(nested.as_str(), &[(prop("zrepl:placeholder"), "on".into())])
        .await
        .expect("set");
    env.zfs.stats().reset();
    let listed = env
        .zfs
        .list_datasets(std::slice::from_ref(&parent))
        .await
        .expect("list");
    let flag = |p: &DatasetPath| listed.iter().find(|d| &d.path == p).map(|d| d.placeholder);
    assert_eq!(flag(&parent), Some(true));
    assert_eq!(flag(&replica), Some(false));
    assert_eq!(flag(&converted), Some(false));
    assert_eq!(flag(&nested), Some(true));
    // One list plus one batched `zfs get` for the sources of zrepl's marker.
    assert_eq!(
        env.zfs.stats().total_count(),
        2,
        "{:?}",
        env.zfs.stats().snapshot()
    );
}

#[tokio::test]
async fn user_properties_set_get_inherit_with_sources() {
    let env = Env::new("ds-props");
    let parent = env.create("p").await;
    let child = env.create("p/c").await;
    let p = prop("zferry:test");
    env.zfs
        .set_properties(parent.as_str(), &[(p.clone(), "v 1".into())])
        .await
        .expect("set");
    let got = env
        .zfs
        .get_properties(&[parent.as_str(), child.as_str()], std::slice::from_ref(&p))
        .await
        .expect("get");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].value.as_deref(), Some("v 1"));
    assert_eq!(got[0].source, PropertySource::Local);
    assert_eq!(got[1].value.as_deref(), Some("v 1"));
    assert_eq!(got[1].source, PropertySource::Inherited(parent.to_string()));
    env.zfs
        .set_properties(child.as_str(), &[(p.clone(), "own".into())])
        .await
        .expect("set");
    env.zfs
        .inherit_property(child.as_str(), &p, false)
        .await
        .expect("inherit");
    assert_eq!(
        env.zfs
            .get_property(child.as_str(), &p)
            .await
            .expect("get")
            .as_deref(),
        Some("v 1")
    );
    env.zfs
        .inherit_property(parent.as_str(), &p, false)
        .await
        .expect("inherit");
    let unset = env
        .zfs
        .get_properties(&[child.as_str()], std::slice::from_ref(&p))
        .await
        .expect("get");
    assert_eq!(unset[0].value, None);
    assert_eq!(unset[0].source, PropertySource::None);
}

#[tokio::test]
async fn rollback_needs_permission_to_destroy_newer_snapshots() {
    let env = Env::new("ds-rb");
    let ds = env.create("fs").await;
    env.write(&ds, "f", 10_000, 1);
    let s1 = env.snapshot("fs", "s1").await;
    let sum1 = env.checksum(&ds);
    env.write(&ds, "f", 10_000, 2);
    env.snapshot("fs", "s2").await;
    env.write(&ds, "g", 100, 3);
    let err = env
        .zfs
        .rollback(&s1, false)
        .await
        .expect_err("newer snapshot exists");
    assert!(
        err.to_string()
            .contains("more recent snapshots or bookmarks exist"),
        "{err}"
    );
    env.zfs.rollback(&s1, true).await.expect("rollback -r");
    assert_eq!(env.checksum(&ds), sum1);
    let v = env
        .zfs
        .list_versions(&[ds], Default::default())
        .await
        .expect("list");
    assert_eq!(v.len(), 1);
}

#[tokio::test]
async fn create_with_encryption_off_below_encrypted_parent() {
    let env = Env::new("ds-encoff");
    let key = crate::encryption::key_file(&env);
    let parent = crate::encryption::create_encrypted(&env, "enc", &key);
    let child = env.ds("enc/clear");
    let opts = CreateOptions {
        encryption_off: true,
        placeholder: true,
        ..CreateOptions::default()
    };
    env.zfs.create(&child, &opts).await.expect("create");
    let listed = env
        .zfs
        .list_datasets(std::slice::from_ref(&parent))
        .await
        .expect("list");
    let get = |p: &DatasetPath| {
        listed
            .iter()
            .find(|d| &d.path == p)
            .expect("listed")
            .clone()
    };
    assert!(get(&parent).is_encrypted());
    assert_eq!(get(&parent).encryption_root.as_ref(), Some(&parent));
    assert_eq!(
        get(&parent).key_status,
        Some(zferry_zfs::KeyStatus::Available)
    );
    assert!(!get(&child).is_encrypted());
    assert!(get(&child).placeholder);
}
