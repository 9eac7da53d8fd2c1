//! Shared by the end-to-end tests: ZFS worlds, `zferry daemon` processes ("hosts") on them, and
//! assertions on datasets, snapshots, holds, bookmarks and file data.
//!
//! **Every host has its own ZFS.** A [`World`] is one host's ZFS and nothing else: the simulator
//! with a state directory of its own, real OpenZFS (`ZFERRY_TEST_ZFS=real`; separate pools in the
//! one VM the test binary runs in), or one guest of `scripts/vm-pair` (see [`vm`]). A [`Host`]
//! takes its world by value, so two daemons can never share one by accident, and every data,
//! snapshot or hold assertion goes through the host that owns the data (`host.w()`). A receiver
//! that could see the sender's datasets would hide every bug where it asks its own ZFS about the
//! other side (a resume token decoded with `zfs send -nvt` only works where the sending dataset
//! exists). One daemon running both a push and a sink job over the `local` transport is one host
//! and legitimately has one world.

#![allow(dead_code)] // each test binary uses a different subset

pub mod proxy;
pub mod vm;

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use zferry_zfs_sim::journal::{self, Journal};
pub use zferry_zfs_sim::testenv::{TestZfs, tree_checksum, write_file};

/// The `zferry` binary under test (on the vm-pair the same path runs in each guest, through the
/// shared checkout).
pub fn zferry_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_zferry"))
}

/// Where a world's commands run.
enum Backend {
    /// This machine: the simulator or, with `ZFERRY_TEST_ZFS=real`, the real ZFS around the test.
    Local(TestZfs),
    /// A guest of `scripts/vm-pair`: every command runs in it through `zfs-vm exec`.
    Vm(vm::Guest),
}

/// One host's ZFS world plus a directory for that host's files (configuration, logs, identities).
pub struct World {
    backend: Backend,
    /// Host files; on the vm-pair under the shared checkout's `target/`, so the guest sees it too.
    dir: tempfile::TempDir,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    /// A world on this machine: the simulator with its own state directory, or real ZFS when
    /// `ZFERRY_TEST_ZFS=real`.
    pub fn new() -> World {
        let zfs = TestZfs::new();
        if let Some(dir) = zfs.sim_dir() {
            journal::enable(dir).expect("enable the simulator's journal");
        }
        World {
            backend: Backend::Local(zfs),
            dir: tempfile::Builder::new()
                .prefix("zferry-e2e-")
                .tempdir()
                .expect("tempdir"),
        }
    }

    /// A world that is one guest of the vm-pair.
    fn in_guest(guest: vm::Guest) -> World {
        let parent = vm::shared_target_dir().join("e2e-hosts");
        std::fs::create_dir_all(&parent).expect("create target/e2e-hosts");
        World {
            dir: tempfile::Builder::new()
                .prefix(&format!("{}-", guest.name()))
                .tempdir_in(parent)
                .expect("tempdir under the shared checkout"),
            backend: Backend::Vm(guest),
        }
    }

    /// This host's own directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A directory that, once a test creates it, comes first in `PATH` of every command and
    /// daemon of this (local) world, before the simulator's programs: for wrappers that watch
    /// what a host runs (e.g. a `zfs` that records each `zfs send` and runs the next `zfs` in
    /// `PATH`).
    pub fn wrapper_dir(&self) -> PathBuf {
        self.dir().join("wrappers")
    }

    /// Puts a `zfs` first in this world's PATH that runs the shell lines `prelude` and then the
    /// next `zfs` in PATH (the simulator's or the real one), for tests that watch or refuse
    /// what a host runs.
    pub fn wrap_zfs(&self, prelude: &str) {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.wrapper_dir();
        std::fs::create_dir_all(&dir).expect("wrapper dir");
        let script = dir.join("zfs");
        std::fs::write(
            &script,
            format!("#!/bin/sh\n{prelude}\nPATH=${{PATH#*:}} exec zfs \"$@\"\n"),
        )
        .expect("write wrapper");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .expect("chmod wrapper");
    }

    /// True when this world is a guest of the vm-pair.
    pub fn is_vm(&self) -> bool {
        matches!(self.backend, Backend::Vm(_))
    }

    /// A command that runs `program args` on this host: here with the world's environment
    /// (`PATH` with the simulator's programs first, `ZFS_SIM_DIR`), or in the guest.
    pub fn command<I, S>(&self, program: impl AsRef<OsStr>, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        match &self.backend {
            Backend::Local(t) => {
                let mut cmd = Command::new(program);
                cmd.args(args)
                    .envs(local_daemon_env(t, &self.wrapper_dir()));
                cmd
            }
            Backend::Vm(g) => g.command(program.as_ref(), args, false),
        }
    }

    /// Runs `program args` on this host (stdin empty) and returns its output, whatever its
    /// exit status.
    pub fn output<I, S>(&self, program: impl AsRef<OsStr>, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        match &self.backend {
            Backend::Local(_) => self
                .command(program, args)
                .stdin(Stdio::null())
                .output()
                .expect("run a command"),
            Backend::Vm(g) => g.output(program.as_ref(), args),
        }
    }

    /// Runs `zfs` with `args`, whatever its exit status.
    pub fn zfs(&self, args: &[&str]) -> Output {
        match &self.backend {
            Backend::Local(t) => t.zfs(args),
            Backend::Vm(g) => g.run("zfs", args),
        }
    }

    /// Runs `zfs` with `args`, asserting success; returns its stdout.
    pub fn zfs_ok(&self, args: &[&str]) -> String {
        let out = self.zfs(args);
        assert!(
            out.status.success(),
            "zfs {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates a pool whose name starts with `hint` (unique per test process, so pools of real
    /// worlds sharing one machine never clash) and returns its name.
    pub fn create_pool(&self, hint: &str) -> String {
        match &self.backend {
            Backend::Local(t) => t.create_pool(hint),
            Backend::Vm(g) => g.create_pool(hint),
        }
    }

    pub fn create(&self, ds: &str) {
        self.zfs_ok(&["create", "-p", ds]);
    }

    pub fn exists(&self, ds: &str) -> bool {
        self.zfs(&["list", "-H", "-o", "name", ds]).status.success()
    }

    /// The mountpoint of `ds` on this host.
    pub fn mountpoint(&self, ds: &str) -> PathBuf {
        PathBuf::from(self.prop(ds, "mountpoint"))
    }

    /// Writes `bytes` to `file` (relative) below the mountpoint of `ds`.
    pub fn write(&self, ds: &str, file: &str, bytes: &[u8]) {
        let mountpoint = self.mountpoint(ds);
        match &self.backend {
            Backend::Local(_) => write_file(&mountpoint, file, bytes),
            Backend::Vm(g) => g.write_file(&mountpoint.join(file), bytes),
        }
    }

    pub fn snap(&self, ds: &str, name: &str) {
        self.zfs_ok(&["snapshot", &format!("{ds}@{name}")]);
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
        let out = self.zfs(&[
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
        let out = self.zfs(&["holds", "-H", snapshot]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split('\t').nth(1).map(str::to_owned))
            .collect()
    }

    pub fn prop(&self, ds: &str, prop: &str) -> String {
        self.zfs_ok(&["get", "-H", "-p", "-o", "value", prop, ds])
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
            self.zfs_ok(&["set", &format!("mountpoint=/{ds}"), ds]);
        }
        let _ = self.zfs(&["mount", ds]);
    }

    /// Checksum of the files below the mountpoint of `ds` (mount it and its children first),
    /// computed on this host. Compare it only with a checksum of a world of the same kind: the
    /// guests hash with busybox tools (see [`vm::Guest::checksum`]).
    pub fn checksum(&self, ds: &str) -> String {
        let mountpoint = self.mountpoint(ds);
        match &self.backend {
            Backend::Local(_) => tree_checksum(&mountpoint),
            Backend::Vm(g) => g.checksum(&mountpoint),
        }
    }

    /// Writes the simulator's `faults.env` (returns false on real ZFS, where it does not exist).
    pub fn set_faults(&self, text: &str) -> bool {
        match &self.backend {
            Backend::Local(t) => match t.sim_dir() {
                Some(dir) => {
                    std::fs::write(dir.join("faults.env"), text).expect("write faults.env");
                    true
                }
                None => false,
            },
            Backend::Vm(_) => false,
        }
    }

    /// Writes a file only this host can read (outside any share: the key of an encrypted
    /// dataset must not reach the other guest) and returns its path on this host.
    pub fn write_private(&self, name: &str, bytes: &[u8]) -> PathBuf {
        match &self.backend {
            Backend::Local(_) => {
                let path = self.dir().join(name);
                std::fs::write(&path, bytes).expect("write private file");
                path
            }
            Backend::Vm(g) => {
                let path = g.private_dir(self.dir()).join(name);
                g.write_file(&path, bytes);
                path
            }
        }
    }

    /// What ran in this world so far, from the simulator's invocation journal (see
    /// [`journal`]): what happened inside this host's ZFS, independent of zferry's own
    /// account. `None` where there is no journal (real ZFS).
    pub fn journal(&self) -> Option<Journal> {
        match &self.backend {
            Backend::Local(t) => t.sim_dir().map(Journal::read),
            Backend::Vm(_) => None,
        }
    }

    /// The simulator's scratch trees left in `$ZFS_SIM_DIR/tmp` (none on real ZFS): once every
    /// command has ended there should be none, whatever killed them.
    pub fn sim_scratch(&self) -> Vec<String> {
        let Backend::Local(t) = &self.backend else {
            return Vec::new();
        };
        let Some(dir) = t.sim_dir() else {
            return Vec::new();
        };
        std::fs::read_dir(dir.join("tmp"))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Bytes read so far by a running `zfs receive` into `target` on this host (its `rchar`:
    /// the stream, plus a few KiB of other reads), from `/proc`; `None` while there is no such
    /// process. Works for the simulator and for real ZFS, whose receive ioctl reads the stream
    /// on the process's behalf.
    pub fn receive_bytes_read(&self, target: &str) -> Option<u64> {
        match &self.backend {
            Backend::Local(_) => local_receive_bytes_read(target),
            Backend::Vm(g) => g.receive_bytes_read(target),
        }
    }

    /// SIGKILLs every running `zfs VERB` (`send`, `receive`; dry runs `-n` excepted) of this
    /// simulator world (found in `/proc` by its `ZFS_SIM_DIR`); returns how many. Simulator worlds only: real ZFS
    /// processes of two local worlds cannot be told apart (returns 0).
    pub fn kill_zfs(&self, verb: &str) -> usize {
        let Backend::Local(t) = &self.backend else {
            return 0;
        };
        let Some(dir) = t.sim_dir() else { return 0 };
        let marker = format!("ZFS_SIM_DIR={}", dir.display());
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return 0;
        };
        let mut killed = 0;
        for entry in entries.flatten() {
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            let is_zfs = args
                .first()
                .is_some_and(|a| a.ends_with(b"/zfs") || *a == b"zfs");
            let dry_run = args.iter().any(|a| a.starts_with(b"-n"));
            if !is_zfs || args.get(1) != Some(&verb.as_bytes()) || dry_run {
                continue;
            }
            let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
            if environ.split(|&b| b == 0).any(|v| v == marker.as_bytes()) {
                let pid = entry.file_name().to_string_lossy().into_owned();
                if Command::new("kill")
                    .args(["-9", &pid])
                    .status()
                    .is_ok_and(|s| s.success())
                {
                    killed += 1;
                }
            }
        }
        killed
    }

    /// The directory for the daemon's control socket: the host directory, except in a guest,
    /// where Unix sockets cannot live on the 9p share.
    fn socket_dir(&self, host: &str) -> PathBuf {
        match &self.backend {
            Backend::Local(_) => self.dir().join(host).join("run"),
            Backend::Vm(g) => g.private_dir(self.dir()).join(host),
        }
    }

    fn spawn_daemon(&self, config: &Path, log: &Path) -> Daemon {
        match &self.backend {
            Backend::Local(t) => {
                let log = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .expect("log file");
                let child = Command::new(zferry_bin())
                    .arg("--config")
                    .arg(config)
                    .arg("daemon")
                    .envs(local_daemon_env(t, &self.wrapper_dir()))
                    .stdout(log.try_clone().expect("log"))
                    .stderr(log)
                    .spawn()
                    .expect("spawn zferry daemon");
                Daemon::Local(child)
            }
            Backend::Vm(g) => Daemon::Vm(g.spawn_daemon(&zferry_bin(), config, log)),
        }
    }
}

/// `PATH` with the world's [`World::wrapper_dir`] (when a test made it) and the simulator's
/// programs first, plus `ZFS_SIM_DIR` (real ZFS: nothing to add but `PATH`).
fn local_daemon_env(t: &TestZfs, wrappers: &Path) -> Vec<(OsString, OsString)> {
    let mut env = t.env();
    let sim = t.zfs_bin().parent().map(Path::to_path_buf);
    let first = [Some(wrappers.to_path_buf()).filter(|d| d.is_dir()), sim]
        .into_iter()
        .flatten()
        .filter(|d| !d.as_os_str().is_empty());
    let mut dirs: Vec<PathBuf> = first.collect();
    if !dirs.is_empty() {
        dirs.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        env.push((
            "PATH".into(),
            std::env::join_paths(dirs).expect("PATH entries without ':'"),
        ));
    }
    env
}

impl World {
    /// Puts a `zfs` wrapper in this (local) world's [`World::wrapper_dir`], so that it comes
    /// first in `PATH` of the commands and daemons started from now on: while the file
    /// `hang_hold` exists, `zfs hold` creates `hold_reached`, waits for `hang_hold` to go, then
    /// fails without holding anything (so a daemon killed meanwhile never placed its hold).
    /// Returns (`hang_hold`, `hold_reached`).
    pub fn hang_zfs_hold(&self) -> (PathBuf, PathBuf) {
        let Backend::Local(t) = &self.backend else {
            panic!("hang_zfs_hold needs a local world");
        };
        let real = match t.zfs_bin() {
            p if p.is_absolute() => p,
            p => String::from_utf8(
                Command::new("sh")
                    .args(["-c", &format!("command -v {}", p.display())])
                    .output()
                    .expect("sh")
                    .stdout,
            )
            .expect("path")
            .trim()
            .into(),
        };
        let dir = self.wrapper_dir();
        std::fs::create_dir_all(&dir).expect("wrapper dir");
        let (hang, reached) = (dir.join("hang-hold"), dir.join("hold-reached"));
        let script = format!(
            "#!/bin/sh\nif [ \"$1\" = hold ] && [ -e '{hang}' ]; then\n  : > '{reached}'\n  while [ -e '{hang}' ]; do sleep 0.05; done\n  echo 'zfs hold: hung by the test' >&2\n  exit 1\nfi\nexec '{real}' \"$@\"\n",
            hang = hang.display(),
            reached = reached.display(),
            real = real.display()
        );
        let wrapper = dir.join("zfs");
        std::fs::write(&wrapper, script).expect("write wrapper");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
            .expect("chmod wrapper");
        (hang, reached)
    }
}

fn local_receive_bytes_read(target: &str) -> Option<u64> {
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

/// Two worlds that share nothing, for two-host scenarios, and the links that join them.
/// With `ZFERRY_TEST_ZFS=vm-pair` they are the two guests of `scripts/vm-pair` (it panics when
/// the pair is not up: such a run must not pass without having run); otherwise two worlds of
/// this machine (two simulator state directories, or two sets of real pools).
pub fn two_hosts() -> (World, World, Links) {
    if vm::requested() {
        let env = vm::PairEnv::load();
        (
            World::in_guest(vm::Guest::new("a", env.run_a)),
            World::in_guest(vm::Guest::new("b", env.run_b)),
            Links::Forwarded {
                a_to_b: env.ports_a_to_b,
                b_to_a: env.ports_b_to_a,
            },
        )
    } else {
        (World::new(), World::new(), Links::Loopback)
    }
}

/// How host A of [`two_hosts`] reaches a listener of host B and back. Both dial 127.0.0.1.
pub enum Links {
    /// Both hosts on this machine's loopback: any free port.
    Loopback,
    /// The vm-pair's forwarded ports (the same number at both ends).
    Forwarded { a_to_b: Vec<u16>, b_to_a: Vec<u16> },
}

impl Links {
    /// Port number `i` for a listener on host B that host A dials (tests running at the same
    /// time use different `i`: the vm-pair forwards only a few).
    pub fn to_b(&self, i: usize) -> u16 {
        match self {
            Links::Loopback => free_port(),
            Links::Forwarded { a_to_b, .. } => forwarded(a_to_b, i),
        }
    }

    /// Port number `i` for a listener on host A that host B dials.
    pub fn to_a(&self, i: usize) -> u16 {
        match self {
            Links::Loopback => free_port(),
            Links::Forwarded { b_to_a, .. } => forwarded(b_to_a, i),
        }
    }
}

fn forwarded(ports: &[u16], i: usize) -> u16 {
    *ports.get(i).unwrap_or_else(|| {
        panic!(
            "the vm-pair forwards {} ports per direction, port {i} asked for (VM_PAIR_NPORTS)",
            ports.len()
        )
    })
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A running `zferry daemon` process.
enum Daemon {
    Local(Child),
    Vm(vm::GuestDaemon),
}

/// One `zferry daemon` process with its configuration, on the world it owns.
pub struct Host {
    pub name: String,
    pub config: PathBuf,
    pub log: PathBuf,
    /// `Some` until [`Host::into_world`] takes it back.
    world: Option<World>,
    daemon: Option<Daemon>,
}

impl Host {
    /// Writes the configuration `global` + `jobs` (YAML text of the jobs list) with a control
    /// socket of its own, and starts the daemon on `world`, which it keeps.
    pub fn start(world: World, name: &str, extra_global: &str, jobs: &str) -> Host {
        let dir = world.dir().join(name);
        std::fs::create_dir_all(&dir).expect("host dir");
        let sock = world.socket_dir(name).join("control");
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
            world: Some(world),
            daemon: None,
        };
        host.spawn();
        host
    }

    /// This host's ZFS world: the only place to look for the data this host holds.
    pub fn w(&self) -> &World {
        self.world.as_ref().expect("the host has its world")
    }

    /// Stops the daemon and gives the world back (to start another daemon on it).
    pub fn into_world(mut self) -> World {
        self.stop();
        self.world.take().expect("the host has its world")
    }

    /// Starts (or restarts) the daemon process and waits until it answers.
    pub fn spawn(&mut self) {
        self.daemon = Some(self.w().spawn_daemon(&self.config, &self.log));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.cli(&["version"]).status.success() {
                return;
            }
            if let Some(status) = self.exited() {
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

    /// The daemon's exit status once it has exited.
    fn exited(&mut self) -> Option<ExitStatus> {
        match self.daemon.as_mut()? {
            Daemon::Local(c) => c.try_wait().ok().flatten(),
            Daemon::Vm(d) => d.exit_code().map(ExitStatus::from_raw),
        }
    }

    /// The arguments of `zferry args` against this host's configuration.
    fn cli_args<'a>(&'a self, args: &'a [&'a str]) -> impl Iterator<Item = &'a OsStr> {
        [OsStr::new("--config"), self.config.as_os_str()]
            .into_iter()
            .chain(args.iter().map(OsStr::new))
    }

    /// A `zferry` CLI command against this host's configuration, run on this host (to spawn).
    pub fn cli_command(&self, args: &[&str]) -> Command {
        let mut cmd = self.w().command(zferry_bin(), self.cli_args(args));
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Runs a `zferry` CLI command against this host's configuration.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.w().output(zferry_bin(), self.cli_args(args))
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

    /// The raw status JSON (`zferry status` exits with 2 when a job failed: that is an answer).
    pub fn status(&self) -> serde_json::Value {
        let out = self.cli(&["status", "--mode", "raw"]);
        assert!(
            matches!(out.status.code(), Some(0 | 2)),
            "status: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("status JSON")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, no cleanup.
    pub fn kill9(&mut self) {
        match self.daemon.take() {
            Some(Daemon::Local(mut c)) => {
                let _ = c.kill();
                let _ = c.wait();
            }
            Some(Daemon::Vm(d)) => d.kill9(),
            None => {}
        }
    }

    /// SIGTERM and wait (bounded, then SIGKILL); returns the exit status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        match self.daemon.take()? {
            Daemon::Local(mut c) => {
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(c.id().to_string())
                    .status();
                let deadline = Instant::now() + Duration::from_secs(20);
                loop {
                    if let Ok(Some(status)) = c.try_wait() {
                        break Some(status);
                    }
                    if Instant::now() > deadline {
                        let _ = c.kill();
                        break c.wait().ok();
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            Daemon::Vm(d) => d.stop().map(ExitStatus::from_raw),
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

/// Creates a self-generated zferry TLS identity `name` (`zferry identity init`, run on the host
/// of `w`) in that host's directory and returns the directory (`identity.crt`, `identity.key`).
pub fn identity(w: &World, name: &str) -> PathBuf {
    let dir = w.dir().join("identities").join(name);
    let out = w.output(
        zferry_bin(),
        [
            OsStr::new("identity"),
            "init".as_ref(),
            name.as_ref(),
            "--dir".as_ref(),
            dir.as_os_str(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// Gives host `to` a copy of the certificate of identity directory `peer` (as an administrator
/// would copy it over), and returns the copy's path: each daemon reads only its own directory.
pub fn trust(to: &World, peer_name: &str, peer: &Path) -> PathBuf {
    let dir = to.dir().join("trusted");
    std::fs::create_dir_all(&dir).expect("trusted dir");
    let copy = dir.join(format!("{peer_name}.crt"));
    std::fs::copy(peer.join("identity.crt"), &copy).expect("copy certificate");
    copy
}

/// A source job `name` serving `filter` (one filesystem pattern) over tls on 127.0.0.1:`port`,
/// with the identity in directory `me`, pinning the one client `client` = (common name, path of
/// its certificate on this host); `extra` is appended (more job keys, e.g. `send`).
pub fn tls_source_job(
    name: &str,
    filter: &str,
    port: u16,
    me: &Path,
    client: (&str, &Path),
    extra: &str,
) -> String {
    format!(
        "  - name: {name}
    type: source
    serve:
      type: tls
      listen: \"127.0.0.1:{port}\"
      ca: {ca}
      cert: {me}/identity.crt
      key: {me}/identity.key
      client_cns: [\"{cn}\"]
    filesystems:
      \"{filter}\": true
    snapshotting:
      type: manual
{extra}",
        ca = client.1.display(),
        cn = client.0,
        me = me.display(),
    )
}

/// A manual pull job `pull` into `root_fs` from 127.0.0.1:`port` over tls, with the identity in
/// directory `me`, pinning `server` = (common name, path of its certificate on this host);
/// `extra` holds the job's `pruning` section and any more job keys.
pub fn tls_pull_job(
    root_fs: &str,
    port: u16,
    me: &Path,
    server: (&str, &Path),
    extra: &str,
) -> String {
    format!(
        "  - name: pull
    type: pull
    connect:
      type: tls
      address: \"127.0.0.1:{port}\"
      ca: {ca}
      cert: {me}/identity.crt
      key: {me}/identity.key
      server_cn: \"{cn}\"
    root_fs: {root_fs}
    interval: manual
{extra}",
        ca = server.1.display(),
        cn = server.0,
        me = me.display(),
    )
}

/// The `connect:` block (job keys at 4 spaces) of an active job dialling an ssh+stdinserver peer
/// whose sshd (a `TestSshd`) listens on 127.0.0.1:`port` and lets `key` in.
pub fn ssh_stdinserver_connect(port: u16, key: &Path) -> String {
    format!(
        "    connect:
      type: ssh+stdinserver
      host: 127.0.0.1
      user: {user}
      port: {port}
      identity_file: {key}
      options:
        - StrictHostKeyChecking=no
        - UserKnownHostsFile=/dev/null
        - LogLevel=ERROR
",
        user = zferry_zfs_sim::testsshd::TestSshd::user(),
        key = key.display()
    )
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
/// snapshotting, keep_sender `not_replicated`, keep_receiver `last_n 5`) over `filesystems`,
/// for one daemon holding both ends (one host, one world).
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

/// Pruning of the two-host push jobs: keep what is not replicated, the last 5 on the receiver.
pub const PRUNING: &str = "    pruning:
      keep_sender:
        - type: not_replicated
      keep_receiver:
        - type: last_n
          count: 5
";

/// A sink on host B listening on `port` (reached from host A at 127.0.0.1) for client
/// `laptop`, filing its data under `root_fs/laptop`.
pub fn tcp_sink(root_fs: &str, port: u16) -> String {
    format!(
        "  - name: sink
    type: sink
    root_fs: {root_fs}
    serve:
      type: tcp
      listen: \"127.0.0.1:{port}\"
      clients:
        \"127.0.0.1\": \"laptop\"
"
    )
}

/// A push job on host A over `fs` to the sink at 127.0.0.1:`port`, plus `extra` job keys.
pub fn tcp_push(fs: &str, port: u16, extra: &str) -> String {
    format!(
        "  - name: push
    type: push
    connect:
      type: tcp
      address: \"127.0.0.1:{port}\"
    filesystems:
      \"{fs}\": true
    snapshotting:
      type: manual
{PRUNING}{extra}"
    )
}

/// Host B (`b`) runs a tcp sink into `dst/sink` for client `laptop` on a free port, reached
/// through a [`proxy::Proxy`]; host A (`a`) runs the push job `push_job(proxy port)`. Returns
/// (push host, sink host, proxy).
pub fn push_sink_via_proxy(
    (a, b): (World, World),
    dst: &str,
    push_job: impl FnOnce(u16) -> String,
) -> (Host, Host, proxy::Proxy) {
    let sink_port = free_port();
    b.create(&format!("{dst}/sink"));
    let sink = Host::start(
        b,
        "backup",
        "",
        &tcp_sink(&format!("{dst}/sink"), sink_port),
    );
    let proxy = proxy::Proxy::start(sink_port);
    let push = Host::start(a, "laptop", "", &push_job(proxy.port()));
    (push, sink, proxy)
}
