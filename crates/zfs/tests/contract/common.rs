//! Shared set-up: one pool per case, a driver pointed at it, data helpers.

use std::path::PathBuf;

use tokio::io::AsyncWriteExt;
use zferry_zfs::{
    CreateOptions, DatasetPath, ExpectedSnapshot, ReceiveOptions, SendRequest, SnapshotName, Zfs,
    ZfsConfig, ZfsError,
};
use zferry_zfs_sim::testenv::{TestZfs, tree_checksum, write_file};

/// One case's world: the test environment, a pool in it, and a driver.
pub struct Env {
    pub t: TestZfs,
    pub zfs: Zfs,
    pub pool: String,
}

impl Env {
    /// A fresh pool named after `hint`.
    pub fn new(hint: &str) -> Env {
        let t = TestZfs::new();
        let pool = t.create_pool(hint);
        let zfs = Zfs::new(ZfsConfig {
            zfs_bin: t.zfs_bin(),
            zpool_bin: t.zpool_bin(),
            env: t.env(),
        });
        Env { t, zfs, pool }
    }

    /// `pool/rel` as a typed path.
    pub fn ds(&self, rel: &str) -> DatasetPath {
        DatasetPath::new(format!("{}/{rel}", self.pool)).expect("valid dataset name")
    }

    /// `pool/rel@snap`.
    pub fn snap(&self, rel: &str, snap: &str) -> SnapshotName {
        self.ds(rel).snapshot(snap).expect("valid snapshot name")
    }

    /// Creates `pool/rel` (with parents).
    pub async fn create(&self, rel: &str) -> DatasetPath {
        let ds = self.ds(rel);
        let opts = CreateOptions {
            parents: true,
            ..CreateOptions::default()
        };
        if let Err(e) = self.zfs.create(&ds, &opts).await {
            // Seen once in the VM with four tests at once: the dataset is created but its
            // mount fails with EBUSY. The cases need it mounted, not this race, so mount again.
            assert!(
                e.to_string()
                    .contains("successfully created, but not mounted"),
                "create: {e}"
            );
            self.mount_retrying(&ds);
        }
        ds
    }

    /// `zfs mount`, retried for a few seconds while the mountpoint is busy.
    fn mount_retrying(&self, ds: &DatasetPath) {
        for _ in 0..20 {
            if self.t.zfs(&["mount", ds.as_str()]).status.success() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        panic!("{ds} stays unmountable");
    }

    /// The `written` property of a filesystem, as the listing reports it.
    pub async fn written(&self, ds: &DatasetPath) -> u64 {
        let listed = self
            .zfs
            .list_datasets(std::slice::from_ref(ds))
            .await
            .expect("list");
        let info = listed.iter().find(|d| &d.path == ds).expect("listed");
        info.written.expect("written is listed")
    }

    /// The mountpoint of a dataset.
    pub fn mountpoint(&self, ds: &DatasetPath) -> PathBuf {
        self.t.mountpoint(ds.as_str())
    }

    /// Writes `len` pseudo-random bytes (seeded) to `file` in the dataset.
    pub fn write(&self, ds: &DatasetPath, file: &str, len: usize, seed: u64) {
        write_file(&self.mountpoint(ds), file, &pseudo_random(len, seed));
    }

    /// Checksum of the dataset's files.
    pub fn checksum(&self, ds: &DatasetPath) -> String {
        tree_checksum(&self.mountpoint(ds))
    }

    /// Takes one snapshot.
    pub async fn snapshot(&self, rel: &str, snap: &str) -> SnapshotName {
        let s = self.snap(rel, snap);
        self.zfs
            .snapshot(std::slice::from_ref(&s))
            .await
            .expect("snapshot");
        s
    }

    /// The guid of a snapshot/bookmark/dataset.
    pub async fn guid(&self, name: &str) -> u64 {
        self.zfs.guid_of(name).await.expect("guid")
    }

    /// Sends `request` into `target` (optionally as `target@name`) and finishes both ends;
    /// the receiver's error wins (a failing `zfs recv` makes the sender die of a broken pipe).
    pub async fn transfer(
        &self,
        request: &SendRequest,
        target: &DatasetPath,
        options: &ReceiveOptions,
        expected: Option<&ExpectedSnapshot>,
    ) -> Result<u64, ZfsError> {
        let mut send = self.zfs.send(request).await?;
        let mut recv = self.zfs.receive(target, None, options).await?;
        let copied = tokio::io::copy(&mut send, &mut recv).await;
        let _ = recv.shutdown().await;
        let sent = send.wait().await;
        let received = recv.finish(expected).await;
        received?;
        sent?;
        Ok(copied.unwrap_or(0))
    }

    /// A transfer that must fail; returns its error.
    pub async fn refused(
        &self,
        request: &SendRequest,
        target: &DatasetPath,
        options: &ReceiveOptions,
    ) -> ZfsError {
        match self.transfer(request, target, options, None).await {
            Ok(bytes) => panic!("transfer into {target} succeeded ({bytes} bytes)"),
            Err(e) => e,
        }
    }

    /// A full send of `snapshot` into `target` (mounted), which must succeed.
    pub async fn full_to(&self, snapshot: SnapshotName, target: &DatasetPath) {
        let req = SendRequest::full(snapshot);
        self.transfer(&req, target, &mounted(), None)
            .await
            .expect("full send/receive");
    }

    /// The bytes `zfs send args` writes, asserting it succeeds.
    pub fn send_bytes(&self, args: &[&str]) -> Vec<u8> {
        let out = self
            .t
            .command(self.t.zfs_bin())
            .arg("send")
            .args(args)
            .output()
            .expect("run zfs send");
        assert!(
            out.status.success(),
            "zfs send {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Runs `zfs` directly (for set-up the driver does not offer) and asserts success.
    pub fn zfs_ok(&self, args: &[&str]) -> String {
        self.t.zfs_ok(args)
    }
}

/// Receive options every data test uses: mounted (to compare files), not forced.
pub fn mounted() -> ReceiveOptions {
    ReceiveOptions::default()
}

/// Deterministic bytes (xorshift) so sizes and content are reproducible.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
