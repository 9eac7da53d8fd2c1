//! Shared by the end-to-end tests: ZFS worlds (simulator, or real OpenZFS with
//! `ZFERRY_TEST_ZFS=real`), `zferry daemon` processes ("hosts") with their own configuration and
//! control socket, and assertions on datasets, snapshots, holds, bookmarks and file data.

#![allow(dead_code)] // each test binary uses a different subset

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use zferry_zfs_sim::testenv::{TestZfs, tree_checksum, write_file};

/// The `zferry` binary under test.
pub fn zferry_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_zferry"))
}

/// A ZFS world with helpers.
pub struct World {
    pub t: TestZfs,
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        World {
            t: TestZfs::new(),
            dir: tempfile::Builder::new()
                .prefix("zferry-e2e-")
                .tempdir()
                .expect("tempdir"),
        }
    }

    /// `PATH` with the simulator's programs first, plus `ZFS_SIM_DIR`.
    pub fn daemon_env(&self) -> Vec<(OsString, OsString)> {
        let mut env = self.t.env();
        if let Some(dir) = self
            .t
            .zfs_bin()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut joined = OsString::from(dir.as_os_str());
            joined.push(":");
            joined.push(path);
            env.push(("PATH".into(), joined));
        }
        env
    }

    pub fn zfs_ok(&self, args: &[&str]) -> String {
        self.t.zfs_ok(args)
    }

    pub fn create(&self, ds: &str) {
        self.t.zfs_ok(&["create", "-p", ds]);
    }

    pub fn exists(&self, ds: &str) -> bool {
        self.t
            .zfs(&["list", "-H", "-o", "name", ds])
            .status
            .success()
    }

    pub fn write(&self, ds: &str, file: &str, bytes: &[u8]) {
        write_file(&self.t.mountpoint(ds), file, bytes);
    }

    pub fn snap(&self, ds: &str, name: &str) {
        self.t.zfs_ok(&["snapshot", &format!("{ds}@{name}")]);
    }

    /// Snapshot names of `ds` itself (not children), oldest first.
    pub fn snapshots(&self, ds: &str) -> Vec<String> {
        self.versions(ds, "snapshot")
    }

    /// Bookmark names of `ds`, oldest first.
    pub fn bookmarks(&self, ds: &str) -> Vec<String> {
        self.versions(ds, "bookmark")
    }

    fn versions(&self, ds: &str, kind: &str) -> Vec<String> {
        let out = self.t.zfs(&[
            "list",
            "-H",
            "-p",
            "-t",
            kind,
            "-o",
            "name,createtxg",
            "-r",
            ds,
        ]);
        if !out.status.success() {
            return Vec::new();
        }
        let mut v: Vec<(u64, String)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (name, txg) = l.split_once('\t')?;
                let sep = if kind == "snapshot" { '@' } else { '#' };
                let (d, n) = name.split_once(sep)?;
                (d == ds).then(|| (txg.trim().parse().unwrap_or(0), n.to_string()))
            })
            .collect();
        v.sort();
        v.into_iter().map(|(_, n)| n).collect()
    }

    /// Hold tags on `snapshot` (`fs@name`).
    pub fn holds(&self, snapshot: &str) -> Vec<String> {
        let out = self.t.zfs(&["holds", "-H", snapshot]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split('\t').nth(1).map(str::to_owned))
            .collect()
    }

    pub fn prop(&self, ds: &str, prop: &str) -> String {
        self.t
            .zfs_ok(&["get", "-H", "-p", "-o", "value", prop, ds])
            .trim_end_matches('\n')
            .to_owned()
    }

    pub fn guid(&self, name: &str) -> u64 {
        self.prop(name, "guid").parse().expect("guid")
    }

    /// Mounts `ds` (received with `-u`), giving it a mountpoint of its own if it inherits
    /// `none`. Mount parents before children, as `zfs mount -a` does.
    pub fn mount(&self, ds: &str) {
        if self.prop(ds, "mountpoint") == "none" {
            self.t.zfs_ok(&["set", &format!("mountpoint=/{ds}"), ds]);
        }
        let _ = self.t.zfs(&["mount", ds]);
    }

    /// Checksum of the files below the mountpoint of `ds` (mount it and its children first).
    pub fn checksum(&self, ds: &str) -> String {
        tree_checksum(&self.t.mountpoint(ds))
    }

    /// Writes `$ZFS_SIM_DIR/faults.env` (simulator only; returns false on real ZFS).
    pub fn set_faults(&self, text: &str) -> bool {
        match self.t.sim_dir() {
            Some(dir) => {
                std::fs::write(dir.join("faults.env"), text).expect("write faults.env");
                true
            }
            None => false,
        }
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// One `zferry daemon` process with its configuration.
pub struct Host {
    pub name: String,
    pub config: PathBuf,
    pub log: PathBuf,
    env: Vec<(OsString, OsString)>,
    child: Option<Child>,
}

impl Host {
    /// Writes the configuration `global` + `jobs` (YAML text of the jobs list) with a control
    /// socket in the world's directory, and starts the daemon.
    pub fn start(world: &World, name: &str, extra_global: &str, jobs: &str) -> Host {
        let dir = world.dir.path().join(name);
        std::fs::create_dir_all(&dir).expect("host dir");
        let sock = dir.join("run/control");
        let config = dir.join("zferry.yml");
        let text = format!(
            "global:\n  logging:\n    - type: stdout\n      level: debug\n      format: logfmt\n  control:\n    sockpath: {}\n{extra_global}jobs:\n{jobs}",
            sock.display()
        );
        std::fs::write(&config, text).expect("write config");
        let mut host = Host {
            name: name.to_string(),
            log: dir.join("daemon.log"),
            config,
            env: world.daemon_env(),
            child: None,
        };
        host.spawn();
        host
    }

    /// Starts (or restarts) the daemon process and waits until it answers.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(zferry_bin())
            .arg("--config")
            .arg(&self.config)
            .arg("daemon")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn zferry daemon");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.cli(&["version"]).status.success() {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "daemon {} exited with {status}:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "daemon {} did not come up:\n{}",
                self.name,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs a `zferry` CLI command against this host's configuration.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(zferry_bin())
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .expect("run zferry")
    }

    /// `zferry signal wakeup JOB --wait`, asserting success.
    pub fn wakeup_wait(&self, job: &str) {
        let out = self.cli(&["signal", "wakeup", job, "--wait"]);
        assert!(
            out.status.success(),
            "wakeup of {job} failed ({}): {}{}\n--- log of {}:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
            self.name,
            self.log_text()
        );
    }

    /// The raw status JSON.
    pub fn status(&self) -> serde_json::Value {
        let out = self.cli(&["status", "--mode", "raw"]);
        assert!(
            out.status.success(),
            "status: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("status JSON")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL, no cleanup.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait (bounded); returns the exit status.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                return c.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- log of {}:\n{}", self.name, self.log_text());
        }
        self.stop();
    }
}

/// `GET path` over plain HTTP/1.0, returning the body.
pub fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("response");
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(text)
}

/// Polls `f` until it returns true (panics after `timeout`).
/// Bytes read so far by a running `zfs receive` into `target` (its `rchar`: the stream, plus a
/// few KiB of other reads), from `/proc`; `None` while there is no such process. Works for the
/// simulator and for real ZFS, whose receive ioctl reads the stream on the process's behalf.
pub fn receive_bytes_read(target: &str) -> Option<u64> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            let receiving = args.contains(&&b"receive"[..]) && args.contains(&target.as_bytes());
            if !receiving {
                return None;
            }
            let io = std::fs::read_to_string(entry.path().join("io")).ok()?;
            io.lines()
                .find_map(|l| l.strip_prefix("rchar: "))
                .and_then(|v| v.trim().parse().ok())
        })
}

pub fn wait_until(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A file's bytes of `len` from a seed (incompressible enough, reproducible).
pub fn data(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Whether a path exists (for sockets etc.).
pub fn exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}

/// A sink (local listener `backup`, `root_fs`) and a push job (`client_identity: me`, manual
/// snapshotting, keep_sender `not_replicated`, keep_receiver `last_n 5`) over `filesystems`.
pub fn local_push_sink(root_fs: &str, filesystems: &[(&str, bool)]) -> String {
    let filter: String = filesystems
        .iter()
        .map(|(p, inc)| format!("      \"{p}\": {inc}\n"))
        .collect();
    format!(
        "  - name: sink
    type: sink
    root_fs: {root_fs}
    serve:
      type: local
      listener_name: backup
  - name: push
    type: push
    connect:
      type: local
      listener_name: backup
      client_identity: me
    filesystems:
{filter}    snapshotting:
      type: manual
    pruning:
      keep_sender:
        - type: not_replicated
      keep_receiver:
        - type: last_n
          count: 5
"
    )
}
