//! Test worlds for the scenario tests: a sender pool and a receiver pool in one [`TestZfs`]
//! (simulator by default, real OpenZFS with `ZFERRY_TEST_ZFS=real`), local endpoints over them,
//! and endpoint wrappers that inject faults at the engine's boundary (so the same tests run on
//! real ZFS, where the simulator's fault variables do not exist).

#![allow(dead_code)] // each test binary uses a different subset

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, ReadBuf};
use zferry_repl::abstractions::{AbstractionKind, AbstractionName, Lane};
use zferry_repl::endpoint::{
    ByteStream, DestroySnapshotsRequest, DestroySnapshotsResponse, Endpoint, EndpointError,
    FilesystemInfo, FsPath, FsVersion, HintRequest, ListVersionsRequest, ListVersionsResponse,
    Receiver, SendCompletedRequest, SendEstimate, SendRequest, SendResponse, Sender,
};
use zferry_repl::executor::{ReplicationOptions, replicate};
use zferry_repl::filter::FilesystemFilter;
use zferry_repl::local::{LocalReceiver, LocalSender, RecvOptions, SendOptions};
use zferry_repl::report::{Progress, Report};
use zferry_zfs::{DatasetPath, Zfs, ZfsConfig};
use zferry_zfs_sim::testenv::{TestZfs, tree_checksum, write_file};

/// Two pools and a driver.
pub struct World {
    pub t: TestZfs,
    pub zfs: Zfs,
    pub src: String,
    pub dst: String,
}

impl World {
    pub fn new() -> World {
        let t = TestZfs::new();
        let src = t.create_pool("src");
        let dst = t.create_pool("dst");
        let zfs = Zfs::new(ZfsConfig {
            zfs_bin: t.zfs_bin(),
            zpool_bin: t.zpool_bin(),
            env: t.env(),
        });
        World { t, zfs, src, dst }
    }

    /// `src/<rel>` (or `dst/<rel>`).
    pub fn s(&self, rel: &str) -> String {
        format!("{}/{rel}", self.src)
    }
    pub fn d(&self, rel: &str) -> String {
        format!("{}/{rel}", self.dst)
    }

    pub fn create(&self, ds: &str) {
        self.t.zfs_ok(&["create", "-p", ds]);
    }

    pub fn write(&self, ds: &str, file: &str, bytes: &[u8]) {
        let mut mountpoint = self.t.mountpoint(ds);
        if !mountpoint.is_absolute() {
            // Below a placeholder the inherited mountpoint is `none`.
            self.mount(ds);
            mountpoint = self.t.mountpoint(ds);
        }
        assert!(mountpoint.is_absolute(), "{ds} has no mountpoint");
        write_file(&mountpoint, file, bytes);
    }

    pub fn snap(&self, ds: &str, name: &str) {
        self.t.zfs_ok(&["snapshot", &format!("{ds}@{name}")]);
    }

    /// Creates `ds` with a file and snapshot `name`.
    pub fn fs_with_snap(&self, ds: &str, name: &str) {
        self.create(ds);
        self.write(ds, "file.txt", format!("{ds} {name}").as_bytes());
        self.snap(ds, name);
    }

    pub fn exists(&self, ds: &str) -> bool {
        self.t
            .zfs(&["list", "-H", "-o", "name", ds])
            .status
            .success()
    }

    fn names(&self, ds: &str, kind: &str) -> Vec<String> {
        let out = self.t.zfs(&[
            "list",
            "-H",
            "-p",
            "-d",
            "1",
            "-t",
            kind,
            "-o",
            "name",
            "-s",
            "createtxg",
            ds,
        ]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                l.split_once(if kind == "snapshot" { '@' } else { '#' })
                    .map(|(_, n)| n.to_owned())
            })
            .collect()
    }

    pub fn snapshots(&self, ds: &str) -> Vec<String> {
        self.names(ds, "snapshot")
    }

    pub fn bookmarks(&self, ds: &str) -> Vec<String> {
        self.names(ds, "bookmark")
    }

    pub fn holds(&self, snapshot: &str) -> Vec<String> {
        let out = self.t.zfs(&["holds", "-H", snapshot]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split('\t').nth(1).map(str::to_owned))
            .collect()
    }

    pub fn guid(&self, name: &str) -> u64 {
        self.t
            .zfs_ok(&["get", "-H", "-p", "-o", "value", "guid", name])
            .trim()
            .parse()
            .expect("guid")
    }

    pub fn prop(&self, ds: &str, prop: &str) -> String {
        self.t
            .zfs_ok(&["get", "-H", "-o", "value", prop, ds])
            .trim_end_matches('\n')
            .to_owned()
    }

    /// Checksum of a filesystem's current data (mounting it first: receives use `-u`, and
    /// below placeholders the inherited mountpoint is `none`).
    pub fn checksum(&self, ds: &str) -> String {
        if ds.starts_with(&format!("{}/", self.dst)) {
            // Reading a mounted replica updates atimes on real ZFS, which counts as a
            // modification and would make the next incremental receive fail.
            self.t.zfs_ok(&["set", "readonly=on", ds]);
        }
        self.mount(ds);
        tree_checksum(&self.t.mountpoint(ds))
    }

    /// Mounts `ds`, giving it a mountpoint of its own when it inherits `none`.
    pub fn mount(&self, ds: &str) {
        if self.prop(ds, "mountpoint") == "none" {
            // Flattened, so nested datasets never mount inside each other.
            let flat = ds.replace('/', "_");
            self.t
                .zfs_ok(&["set", &format!("mountpoint=/mnt/{flat}"), ds]);
        }
        let _ = self.t.zfs(&["mount", ds]);
    }

    /// A sender offering `src/<subtree>` for lane (`job`, `peer`).
    pub fn sender_for(
        &self,
        filter: &[(&str, bool)],
        lane: Lane,
        options: SendOptions,
    ) -> Arc<LocalSender> {
        let map: Vec<(String, bool)> = filter.iter().map(|(p, b)| (self.s(p), *b)).collect();
        let filter =
            FilesystemFilter::from_map(map.iter().map(|(p, b)| (p.as_str(), *b))).expect("filter");
        Arc::new(LocalSender::new(
            self.zfs.clone(),
            vec![DatasetPath::new(self.src.as_str()).expect("pool")],
            filter,
            lane,
            options,
        ))
    }

    /// The default sender: everything below `src/data`.
    pub fn sender(&self) -> Arc<LocalSender> {
        self.sender_for(&[("data<", true)], lane_a(), SendOptions::default())
    }

    /// A receiver below `dst/<root>`.
    pub fn receiver_at(&self, root: &str, lane: Lane, options: RecvOptions) -> Arc<LocalReceiver> {
        Arc::new(LocalReceiver::new(
            self.zfs.clone(),
            DatasetPath::new(self.d(root)).expect("root"),
            lane,
            options,
        ))
    }

    pub fn receiver(&self) -> Arc<LocalReceiver> {
        self.receiver_at(
            "backup",
            Lane::new("sink", "client"),
            RecvOptions::default(),
        )
    }

    /// Where the receiver puts `src/<rel>`.
    pub fn r(&self, rel: &str) -> String {
        self.replica_of(self, rel)
    }

    /// Where this world's receiver puts `<sender's src>/<rel>` of another world's sender.
    pub fn replica_of(&self, sender: &World, rel: &str) -> String {
        format!("{}/backup/{}/{rel}", self.dst, sender.src)
    }

    /// A fault file for the simulator (no effect on real ZFS; callers check `is_real`).
    pub fn sim_faults(&self, content: &str) {
        if let Some(dir) = self.t.sim_dir() {
            std::fs::write(dir.join("faults.env"), content).expect("write faults.env");
        }
    }
}

pub fn lane_a() -> Lane {
    Lane::new("push", "backup")
}

/// Options for fast tests: no waiting between attempts.
pub fn fast_options() -> ReplicationOptions {
    ReplicationOptions {
        max_attempts: 1,
        reconnect_deadline: Duration::from_millis(200),
        backoff_initial: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        ..ReplicationOptions::default()
    }
}

pub async fn run(
    sender: Arc<dyn Sender>,
    receiver: Arc<dyn Receiver>,
    options: &ReplicationOptions,
) -> Report {
    replicate(sender, receiver, options, &Progress::new()).await
}

/// The abstraction names of `kind` in `lane` among `names`, with their guids.
pub fn abstractions(names: &[String], kind: AbstractionKind, lane: &Lane) -> Vec<u64> {
    names
        .iter()
        .filter_map(|n| AbstractionName::parse(n))
        .filter(|a| a.kind == kind && a.lane == lane.key())
        .map(|a| a.guid)
        .collect()
}

/// The replication cursors of `lane` on `ds`, as guids.
pub fn cursors(w: &World, ds: &str, lane: &Lane) -> Vec<u64> {
    abstractions(&w.bookmarks(ds), AbstractionKind::ReplicationCursor, lane)
}

/// The last-received holds of the default receiver's lane on `snapshot`, as guids.
pub fn last_received(w: &World, snapshot: &str) -> Vec<u64> {
    abstractions(
        &w.holds(snapshot),
        AbstractionKind::LastReceivedHold,
        &Lane::new("sink", "client"),
    )
}

/// The step holds of [`lane_a`] on `snapshot`, as target guids.
pub fn step_holds(w: &World, snapshot: &str) -> Vec<u64> {
    abstractions(&w.holds(snapshot), AbstractionKind::StepHold, &lane_a())
}

/// What a [`FaultySender`] does wrong.
#[derive(Default)]
pub struct Faults {
    /// Cut the next send stream after this many bytes (then the reader fails).
    pub cut_after: Mutex<Option<u64>>,
    /// Fail `send_completed` (temporary error) this many times.
    pub lose_confirmations: AtomicU64,
    /// Fail `send` permanently for this filesystem.
    pub refuse: Mutex<Option<String>>,
    /// Bytes actually delivered by every send stream so far.
    pub delivered: Arc<AtomicU64>,
    /// `list_filesystems` fails with a temporary error this many times (offline peer).
    pub offline: AtomicU64,
    /// The next send stream delivers everything, then fails instead of ending (a connection
    /// cut just before the protocol's `end` frame).
    pub fail_at_end: AtomicBool,
}

/// A sender that delegates to a real one and injects faults at the engine boundary.
pub struct FaultySender {
    pub inner: Arc<dyn Sender>,
    pub faults: Arc<Faults>,
}

#[async_trait]
impl Endpoint for FaultySender {
    async fn list_filesystems(&self) -> Result<Vec<FilesystemInfo>, EndpointError> {
        if self.faults.offline.load(Ordering::SeqCst) > 0 {
            self.faults.offline.fetch_sub(1, Ordering::SeqCst);
            return Err(EndpointError::temporary("connection refused"));
        }
        self.inner.list_filesystems().await
    }
    async fn list_versions(
        &self,
        r: ListVersionsRequest,
    ) -> Result<ListVersionsResponse, EndpointError> {
        self.inner.list_versions(r).await
    }
    async fn destroy_snapshots(
        &self,
        r: DestroySnapshotsRequest,
    ) -> Result<DestroySnapshotsResponse, EndpointError> {
        self.inner.destroy_snapshots(r).await
    }
    async fn ping(&self) -> Result<(), EndpointError> {
        self.inner.ping().await
    }
}

#[async_trait]
impl Sender for FaultySender {
    async fn send_estimate(&self, r: SendRequest) -> Result<SendEstimate, EndpointError> {
        self.inner.send_estimate(r).await
    }
    async fn send(&self, r: SendRequest) -> Result<(SendResponse, ByteStream), EndpointError> {
        if self.faults.refuse.lock().unwrap().as_deref() == Some(r.filesystem.as_str()) {
            return Err(EndpointError::permanent(format!(
                "injected failure for {}",
                r.filesystem
            )));
        }
        let (response, stream) = self.inner.send(r).await?;
        let cut = self.faults.cut_after.lock().unwrap().take();
        Ok((
            response,
            ByteStream::new(Cut {
                inner: stream,
                left: cut,
                fail_at_end: self.faults.fail_at_end.swap(false, Ordering::SeqCst),
                delivered: Arc::clone(&self.faults.delivered),
            }),
        ))
    }
    async fn send_completed(&self, r: SendCompletedRequest) -> Result<(), EndpointError> {
        if self.faults.lose_confirmations.load(Ordering::SeqCst) > 0 {
            self.faults
                .lose_confirmations
                .fetch_sub(1, Ordering::SeqCst);
            return Err(EndpointError::temporary(
                "connection lost before the confirmation",
            ));
        }
        self.inner.send_completed(r).await
    }
    async fn replication_cursor(&self, fs: FsPath) -> Result<Option<FsVersion>, EndpointError> {
        self.inner.replication_cursor(fs).await
    }
    async fn hint_most_recent_common_ancestor(&self, r: HintRequest) -> Result<(), EndpointError> {
        self.inner.hint_most_recent_common_ancestor(r).await
    }
}

/// A stream that fails after `left` bytes (if set) or instead of its end (`fail_at_end`),
/// counting what it delivered.
struct Cut {
    inner: ByteStream,
    left: Option<u64>,
    fail_at_end: bool,
    delivered: Arc<AtomicU64>,
}

impl AsyncRead for Cut {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.left == Some(0) {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected: connection cut mid-stream",
            )));
        }
        let limit = self
            .left
            .map_or(buf.remaining(), |l| buf.remaining().min(l as usize));
        let mut small = ReadBuf::new(buf.initialize_unfilled_to(limit));
        let result = Pin::new(&mut self.inner).poll_read(cx, &mut small);
        let n = small.filled().len();
        if self.fail_at_end && n == 0 && limit > 0 && matches!(result, Poll::Ready(Ok(()))) {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected: connection cut before the end of the stream",
            )));
        }
        buf.advance(n);
        if let Some(l) = self.left.as_mut() {
            *l -= n as u64;
        }
        self.delivered.fetch_add(n as u64, Ordering::SeqCst);
        result
    }
}

/// Pseudo-random incompressible bytes.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
