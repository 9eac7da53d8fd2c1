//! One simulated host: its own ZFS world, so that sender and receiver share nothing.

use zferry_repl::abstractions::Lane;
use zferry_repl::filter::FilesystemFilter;
use zferry_repl::local::{LocalReceiver, LocalSender, RecvOptions, SendOptions};
use zferry_zfs::{DatasetPath, Zfs, ZfsConfig};
use zferry_zfs_sim::testenv::{TestZfs, tree_checksum, write_file};

/// One host's own ZFS world with one pool: sender and receiver never share a world, so nothing
/// the receiver does can see the sender's datasets (as between two real machines).
pub struct World {
    pub t: TestZfs,
    pub zfs: Zfs,
    pub pool: String,
}

impl World {
    pub fn new(pool_hint: &str) -> World {
        let t = TestZfs::new();
        let pool = t.create_pool(pool_hint);
        let zfs = Zfs::new(ZfsConfig {
            zfs_bin: t.zfs_bin(),
            zpool_bin: t.zpool_bin(),
            env: t.env(),
        });
        World { t, zfs, pool }
    }

    /// `src/data` with a file and snapshot `s1`.
    pub fn source_data(&self) -> String {
        let ds = format!("{}/data", self.pool);
        self.t.zfs_ok(&["create", "-p", &ds]);
        let payload: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        write_file(&self.t.mountpoint(&ds), "a.bin", &payload);
        self.t.zfs_ok(&["snapshot", &format!("{ds}@s1")]);
        ds
    }

    pub fn sender(&self, lane: Lane) -> LocalSender {
        let filter =
            FilesystemFilter::from_map([(format!("{}/data<", self.pool).as_str(), true)]).unwrap();
        LocalSender::new(
            self.zfs.clone(),
            vec![DatasetPath::new(self.pool.as_str()).unwrap()],
            filter,
            lane,
            SendOptions::default(),
        )
    }

    pub fn receiver(&self, root: &str, lane: Lane) -> LocalReceiver {
        LocalReceiver::new(
            self.zfs.clone(),
            DatasetPath::new(root).unwrap(),
            lane,
            RecvOptions::default(),
        )
    }

    pub fn checksum(&self, ds: &str) -> String {
        if self
            .t
            .zfs_ok(&["get", "-H", "-o", "value", "mountpoint", ds])
            .trim()
            == "none"
        {
            let flat = ds.replace('/', "_");
            self.t
                .zfs_ok(&["set", &format!("mountpoint=/mnt/{flat}"), ds]);
        }
        let _ = self.t.zfs(&["mount", ds]);
        tree_checksum(&self.t.mountpoint(ds))
    }
}

/// A sink on `host` filing each client's data under `root/<identity>`.
pub fn sink_service(host: &std::sync::Arc<World>, root: &str) -> zferry_rpc::server::Service {
    let host = host.clone();
    let root = root.to_string();
    zferry_rpc::server::Service::Sink(std::sync::Arc::new(
        move |id: &zferry_rpc::ClientIdentity| {
            Ok(std::sync::Arc::new(
                host.receiver(&format!("{root}/{id}"), Lane::new("sink", id.as_str())),
            )
                as std::sync::Arc<dyn zferry_repl::endpoint::Receiver>)
        },
    ))
}
