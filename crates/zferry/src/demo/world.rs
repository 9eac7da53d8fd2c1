//! The demo's ZFS world: simulated pools in a temporary directory, or datasets below real pools.

use anyhow::{Context, bail};
use zferry_zfs::ZfsConfig;

/// Where the demo's datasets live and how `zfs` is run.
pub struct World {
    zfs: ZfsConfig,
    source_root: String,
    target_root: String,
    real: bool,
}

impl World {
    /// Two simulated pools, `demo-src` and `demo-dst`.
    pub fn simulated(zfs: ZfsConfig) -> anyhow::Result<World> {
        let world = World {
            zfs,
            source_root: "demo-src/data".into(),
            target_root: "demo-dst/backups".into(),
            real: false,
        };
        for pool in ["demo-src", "demo-dst"] {
            world.run(
                &world.zfs.zpool_bin,
                &["create", pool, &format!("/dev/{pool}")],
            )?;
        }
        println!("created simulated pools demo-src and demo-dst");
        Ok(world)
    }

    /// Datasets `zferry-demo` below the user's `source` and `target`.
    pub fn real(zfs: ZfsConfig, source: &str, target: &str) -> anyhow::Result<World> {
        let world = World {
            zfs,
            source_root: format!("{source}/zferry-demo"),
            target_root: format!("{target}/zferry-demo"),
            real: true,
        };
        for ds in [&world.source_root, &world.target_root] {
            if world.zfs(&["list", "-H", "-o", "name", ds]).is_ok() {
                bail!("{ds} already exists; remove it or choose other pools");
            }
        }
        Ok(world)
    }

    /// The ZFS programs and environment.
    pub fn zfs_config(&self) -> &ZfsConfig {
        &self.zfs
    }

    /// The replicated tree's root on the source.
    pub fn source_root(&self) -> String {
        self.source_root.clone()
    }

    /// The sink's `root_fs`.
    pub fn target_root(&self) -> String {
        self.target_root.clone()
    }

    fn run(&self, program: &std::path::Path, args: &[&str]) -> anyhow::Result<String> {
        let out = std::process::Command::new(program)
            .args(args)
            .envs(self.zfs.env.iter().map(|(k, v)| (k, v)))
            .output()
            .with_context(|| format!("running {}", program.display()))?;
        if !out.status.success() {
            bail!(
                "{} {} failed: {}",
                program.display(),
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs `zfs`.
    pub fn zfs(&self, args: &[&str]) -> anyhow::Result<String> {
        self.run(&self.zfs.zfs_bin, args)
    }

    /// `zfs create -p`.
    pub fn create(&self, ds: &str) -> anyhow::Result<()> {
        self.zfs(&["create", "-p", ds]).map(|_| ())
    }

    /// The mountpoint of `ds`.
    pub fn mountpoint(&self, ds: &str) -> anyhow::Result<std::path::PathBuf> {
        let out = self.zfs(&["get", "-H", "-o", "value", "mountpoint", ds])?;
        Ok(out.trim_end_matches('\n').into())
    }

    /// Writes this round's files: a changing README and blob in the source root, a new note and
    /// an updated to-do list in `home`.
    pub fn write_round(&self, source: &str, home: &str, round: u32) -> anyhow::Result<()> {
        let top = self.mountpoint(source)?;
        let home_dir = self.mountpoint(home)?;
        std::fs::create_dir_all(top.join("blobs"))?;
        std::fs::write(
            top.join("README.txt"),
            format!("zferry demo, round {round}\n"),
        )?;
        let blob: Vec<u8> = (0..256 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(round) >> 13) as u8)
            .collect();
        std::fs::write(top.join(format!("blobs/blob-{round}.bin")), blob)?;
        std::fs::write(
            home_dir.join(format!("note-{round}.txt")),
            format!("note {round}\n"),
        )?;
        let todo: String = (1..=round).map(|i| format!("- task {i}\n")).collect();
        std::fs::write(home_dir.join("todo.txt"), todo)?;
        Ok(())
    }

    /// One `zfs snapshot` of all `filesystems` with the same name.
    pub fn snapshot(&self, filesystems: &[&str], name: &str) -> anyhow::Result<()> {
        let names: Vec<String> = filesystems.iter().map(|f| format!("{f}@{name}")).collect();
        let mut args = vec!["snapshot"];
        args.extend(names.iter().map(String::as_str));
        self.zfs(&args).map(|_| ())
    }

    /// The snapshot names of `fs` (not its children), oldest first.
    pub fn snapshots(&self, fs: &str) -> anyhow::Result<Vec<String>> {
        let out = self.zfs(&[
            "list",
            "-H",
            "-p",
            "-t",
            "snapshot",
            "-o",
            "name,createtxg",
            "-r",
            fs,
        ])?;
        let mut snaps: Vec<(u64, String)> = out
            .lines()
            .filter_map(|l| {
                let (name, txg) = l.split_once('\t')?;
                let (dataset, snap) = name.split_once('@')?;
                (dataset == fs).then(|| (txg.trim().parse().unwrap_or(0), format!("@{snap}")))
            })
            .collect();
        snaps.sort();
        Ok(snaps.into_iter().map(|(_, n)| n).collect())
    }

    /// Mounts a replica (received with `-u`, below a placeholder whose mountpoint is `none`) and
    /// returns where its files are.
    pub fn mount_replica(&self, ds: &str) -> anyhow::Result<std::path::PathBuf> {
        if self.mountpoint(ds)?.as_os_str() == "none" {
            self.zfs(&["set", &format!("mountpoint=/{ds}"), ds])?;
        }
        let _ = self.zfs(&["mount", ds]);
        self.mountpoint(ds)
    }

    /// Removes what the demo created on real pools (the simulator's state goes with the
    /// temporary directory).
    pub fn cleanup(&self) -> anyhow::Result<()> {
        if self.real {
            for ds in [&self.source_root, &self.target_root] {
                let _ = self.zfs(&["destroy", "-r", ds]);
            }
        }
        Ok(())
    }
}
