//! Feature probes and the invocation counters.

use crate::common::Env;
use zferry_zfs::PoolFeature;

#[tokio::test]
async fn version_and_features_are_probed() {
    let env = Env::new("f-ver");
    let v = env.zfs.version().await.expect("version");
    assert!(v.major >= 2 || (v.major == 0 && v.minor >= 8), "{v}");
    let f = env.zfs.features().await.expect("features");
    assert!(f.resumable && f.encryption && f.comma_destroy);
    assert_eq!(f.bookmark_copy, v.major >= 2);
}

#[tokio::test]
async fn pool_features_are_read_with_zpool_get() {
    let env = Env::new("f-pool");
    let state = env
        .zfs
        .pool_feature(&env.pool, "extensible_dataset")
        .await
        .expect("feature");
    assert!(
        matches!(state, PoolFeature::Active | PoolFeature::Enabled),
        "{state:?}"
    );
    let unknown = env
        .zfs
        .pool_feature(&env.pool, "no_such_feature_xyz")
        .await
        .expect("feature");
    assert_eq!(unknown, PoolFeature::Unsupported);
    assert_eq!(env.zfs.stats().count("zpool get"), 2);
}

#[tokio::test]
async fn invocations_are_counted_per_verb() {
    let env = Env::new("f-count");
    env.create("a").await;
    env.snapshot("a", "s").await;
    let stats = env.zfs.stats().snapshot();
    assert_eq!(stats.get("zfs create").map(|s| s.count), Some(1));
    assert_eq!(stats.get("zfs snapshot").map(|s| s.count), Some(1));
    assert!(
        stats
            .values()
            .all(|s| s.total_time > std::time::Duration::ZERO)
    );
}
