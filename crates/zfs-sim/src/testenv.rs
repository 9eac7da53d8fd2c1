//! Test-environment helper shared by every ZFS-facing test in the workspace.
//!
//! One [`TestZfs`] is one isolated ZFS world for one test. Which world it is depends on the
//! environment variable `ZFERRY_TEST_ZFS`:
//!
//! * unset, empty or `sim`: the simulator. A fresh temporary state directory is created and
//!   handed to the simulator's `zfs`/`zpool` programs through `ZFS_SIM_DIR` (see [`TestZfs::env`]).
//!   The programs are looked up next to the running test executable
//!   (`target/<profile>/deps/<test>` -> `target/<profile>/zfs`), or in the directory named by
//!   `ZFERRY_SIM_BIN_DIR`. When they are missing or older than the simulator's sources, they are
//!   built once per process with `cargo build -p zferry-zfs-sim --bins`.
//! * `real`: the real `zfs`/`zpool` from `PATH`. [`TestZfs::create_pool`] creates file-backed pools
//!   (as root) with an altroot in a temporary directory; they are destroyed on drop.
//!
//! The helper is std-only (no async runtime) so it can be used from any test.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

/// Name of the environment variable that holds the simulator's state directory.
pub const SIM_DIR_ENV: &str = "ZFS_SIM_DIR";
/// Environment variable selecting the ZFS implementation for tests (`real` or `sim`).
pub const TEST_ZFS_ENV: &str = "ZFERRY_TEST_ZFS";
/// Environment variable overriding the directory that holds the simulator binaries.
pub const SIM_BIN_DIR_ENV: &str = "ZFERRY_SIM_BIN_DIR";

/// Size of the sparse file backing each real test pool.
const REAL_POOL_FILE_SIZE: u64 = 512 * 1024 * 1024;

/// Counter making pool names unique within one process.
static POOL_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Guards the one-time (per process) build of the simulator binaries; holds the result.
static SIM_BIN_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// One isolated ZFS world for one test: either the simulator with its own state directory,
/// or the real ZFS with pools created (and destroyed) by this value.
pub struct TestZfs {
    /// True when the real `zfs`/`zpool` are used.
    real: bool,
    /// Temporary directory: the simulator's state dir, or the real pools' vdev files and altroots.
    tmp: tempfile::TempDir,
    /// Directory holding the `zfs` and `zpool` programs (`None`: from `PATH`).
    bin_dir: Option<PathBuf>,
    /// Pools created by [`TestZfs::create_pool`] (destroyed on drop when real).
    pools: Mutex<Vec<String>>,
}

impl Default for TestZfs {
    fn default() -> Self {
        Self::new()
    }
}

impl TestZfs {
    /// Creates a new world: real ZFS when `ZFERRY_TEST_ZFS=real`, else the simulator with a fresh
    /// temporary state directory. Panics when the simulator binaries cannot be found or built.
    pub fn new() -> TestZfs {
        let real = std::env::var(TEST_ZFS_ENV).is_ok_and(|v| v == "real");
        let tmp = tempfile::Builder::new()
            .prefix("zferry-testzfs-")
            .tempdir()
            .expect("create temporary directory for TestZfs");
        let bin_dir = if real { None } else { Some(sim_bin_dir()) };
        TestZfs {
            real,
            tmp,
            bin_dir,
            pools: Mutex::new(Vec::new()),
        }
    }

    /// True when this world is the real OpenZFS.
    pub fn is_real(&self) -> bool {
        self.real
    }

    /// Path of the `zfs` program to run (bare `zfs`, resolved through `PATH`, when real).
    pub fn zfs_bin(&self) -> PathBuf {
        self.bin("zfs")
    }

    /// Path of the `zpool` program to run (bare `zpool`, resolved through `PATH`, when real).
    pub fn zpool_bin(&self) -> PathBuf {
        self.bin("zpool")
    }

    fn bin(&self, name: &str) -> PathBuf {
        match &self.bin_dir {
            Some(dir) => dir.join(name),
            None => PathBuf::from(name),
        }
    }

    /// Environment variables every child process running `zfs`/`zpool` of this world needs
    /// (simulator: `ZFS_SIM_DIR`; real ZFS: none).
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        if self.real {
            Vec::new()
        } else {
            vec![(
                OsString::from(SIM_DIR_ENV),
                self.tmp.path().as_os_str().to_owned(),
            )]
        }
    }

    /// The simulator's state directory (for tests that write `faults.env`); `None` when real.
    pub fn sim_dir(&self) -> Option<&Path> {
        (!self.real).then(|| self.tmp.path())
    }

    /// Creates a new pool whose name starts with `hint` (made unique) and returns its name.
    /// Real ZFS: a sparse file vdev in the temporary directory, altroot in it too (`-R`).
    /// Panics when creation fails.
    pub fn create_pool(&self, hint: &str) -> String {
        let n = POOL_COUNTER.fetch_add(1, Ordering::Relaxed);
        let clean: String = hint
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        let clean = if clean.starts_with(|c: char| c.is_ascii_alphabetic()) {
            clean
        } else {
            format!("p{clean}")
        };
        let name = format!("{clean}-{}-{n}", std::process::id());
        let vdev = self.tmp.path().join(format!("{name}.vdev"));
        let altroot = self.tmp.path().join("altroot");
        if self.real {
            let f = fs::File::create(&vdev).expect("create vdev file");
            f.set_len(REAL_POOL_FILE_SIZE).expect("size vdev file");
        }
        let altroot_s = altroot.to_string_lossy().into_owned();
        let vdev_s = vdev.to_string_lossy().into_owned();
        let out = self.zpool(&["create", "-f", "-R", &altroot_s, &name, &vdev_s]);
        assert!(
            out.status.success(),
            "zpool create {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.pools
            .lock()
            .expect("pool list lock")
            .push(name.clone());
        name
    }

    /// Runs `zfs` with `args` and returns its output whatever the exit status.
    /// Panics (with the error) only when the program cannot be started.
    pub fn zfs(&self, args: &[&str]) -> Output {
        self.run(&self.zfs_bin(), args)
    }

    /// Runs `zpool` with `args` and returns its output whatever the exit status.
    pub fn zpool(&self, args: &[&str]) -> Output {
        self.run(&self.zpool_bin(), args)
    }

    /// Runs `zfs` with `args`, asserts it succeeded (panicking with its stderr otherwise) and
    /// returns its stdout.
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

    /// A `Command` for `program` with this world's environment applied.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.env());
        cmd
    }

    fn run(&self, program: &Path, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
    }

    /// The mountpoint of `dataset`, from `zfs get -H -o value mountpoint`.
    pub fn mountpoint(&self, dataset: &str) -> PathBuf {
        let out = self.zfs_ok(&["get", "-H", "-o", "value", "mountpoint", dataset]);
        PathBuf::from(out.trim_end_matches('\n'))
    }
}

impl Drop for TestZfs {
    fn drop(&mut self) {
        if self.real {
            let pools = std::mem::take(&mut *self.pools.lock().unwrap_or_else(|e| e.into_inner()));
            for pool in pools.iter().rev() {
                // Best effort: a failing destroy must not turn a test failure into a double panic.
                let _ = self.zpool(&["destroy", "-f", pool]);
            }
        }
        // The temporary directory (simulator state, vdev files) is removed by TempDir's drop.
    }
}

/// Writes `bytes` to `mountpoint/rel`, creating parent directories.
pub fn write_file(mountpoint: &Path, rel: &str, bytes: &[u8]) {
    let path = mountpoint.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
    }
    let mut f =
        fs::File::create(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    f.write_all(bytes)
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// SHA-256 (hex) over the sorted relative paths and contents of every entry under `dir`,
/// ignoring `.zfs` at the top. Directories, files and symlinks are distinguished; file modes and
/// times are not part of the checksum. Panics when `dir` cannot be read.
pub fn tree_checksum(dir: &Path) -> String {
    let mut entries = Vec::new();
    collect_tree(dir, Path::new(""), &mut entries);
    entries.sort();
    let mut h = Sha256::new();
    for rel in entries {
        let path = dir.join(&rel);
        let meta =
            fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
        let rel_bytes = rel.as_os_str().as_encoded_bytes();
        h.update((rel_bytes.len() as u64).to_le_bytes());
        h.update(rel_bytes);
        if meta.is_dir() {
            h.update(b"d");
        } else if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).unwrap_or_else(|e| panic!("readlink: {e}"));
            h.update(b"l");
            h.update(target.as_os_str().as_encoded_bytes());
        } else {
            let data = fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            h.update(b"f");
            h.update((data.len() as u64).to_le_bytes());
            h.update(&data);
        }
    }
    hex::encode(h.finalize())
}

fn collect_tree(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let dir = root.join(rel);
    let rd = fs::read_dir(&dir).unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()));
    for entry in rd {
        let entry = entry.unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()));
        let name = entry.file_name();
        if rel.as_os_str().is_empty() && name == ".zfs" {
            continue;
        }
        let child = rel.join(&name);
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        out.push(child.clone());
        if is_dir {
            collect_tree(root, &child, out);
        }
    }
}

/// The directory holding the simulator's `zfs`/`zpool`, building them once when needed.
fn sim_bin_dir() -> PathBuf {
    let mut guard = SIM_BIN_DIR.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = guard.as_ref() {
        return dir.clone();
    }
    let dir = match std::env::var_os(SIM_BIN_DIR_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let profile_dir = profile_dir();
            if !bins_fresh(&profile_dir) {
                build_bins(&profile_dir);
            }
            profile_dir
        }
    };
    for name in ["zfs", "zpool"] {
        assert!(
            dir.join(name).is_file(),
            "simulator program {} missing (set {SIM_BIN_DIR_ENV} or build zferry-zfs-sim)",
            dir.join(name).display()
        );
    }
    *guard = Some(dir.clone());
    dir
}

/// `target/<profile>` of the running executable (`.../deps/x` or `.../examples/x` -> parent).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe
        .parent()
        .expect("executable has a directory")
        .to_path_buf();
    if dir
        .file_name()
        .is_some_and(|n| n == "deps" || n == "examples")
    {
        dir.pop();
    }
    dir
}

/// True when both programs exist and are newer than every source file of this crate.
fn bins_fresh(profile_dir: &Path) -> bool {
    let newest_src = newest_mtime(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")).max(
        newest_mtime(&Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")),
    );
    ["zfs", "zpool"].iter().all(|name| {
        fs::metadata(profile_dir.join(name))
            .and_then(|m| m.modified())
            .is_ok_and(|t| Some(t) >= newest_src)
    })
}

fn newest_mtime(path: &Path) -> Option<std::time::SystemTime> {
    let meta = fs::metadata(path).ok()?;
    let mut newest = meta.modified().ok();
    if meta.is_dir() {
        for entry in fs::read_dir(path).ok()?.flatten() {
            newest = newest.max(newest_mtime(&entry.path()));
        }
    }
    newest
}

/// Runs `cargo build -p zferry-zfs-sim --bins` for the profile and target dir of `profile_dir`.
fn build_bins(profile_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["-p", "zferry-zfs-sim", "--bins"]);
    if let (Some(profile), Some(target_dir)) = (profile_dir.file_name(), profile_dir.parent()) {
        cmd.arg("--target-dir").arg(target_dir);
        match profile.to_str() {
            Some("debug") => {}
            Some("release") => {
                cmd.arg("--release");
            }
            Some(other) => {
                cmd.args(["--profile", other]);
            }
            None => {}
        }
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the simulator: {e}"));
    assert!(
        status.success(),
        "building the simulator binaries failed: {status}"
    );
}
