//! The vm-pair backend of [`super::World`]: a world that is one guest of `scripts/vm-pair`, two
//! qemu VMs with real OpenZFS that share nothing but a few forwarded TCP ports. Every command of
//! such a world (`zfs`, the daemon, the CLI, file writes, checksums) runs inside its guest over
//! ssh, as `zfs-vm exec` does (`. /etc/profile`, the caller's working directory, each argument
//! quoted); the test binary itself runs on the host. The guests see this checkout at the same
//! path (so `target/debug/zferry` runs in them) and the hosts' directories are under its
//! `target/`.
//!
//! Why not `zfs-vm exec` itself: it multiplexes every session over one ssh master connection,
//! and the guest's dropbear aborts that connection (`Failed assertion (common-channel.c:705):
//! !channel->sent_close` in the console log) when sessions close at the same moment, which
//! parallel tests polling a guest do all the time; every session in flight then fails with
//! status 255. So each command here gets a connection of its own (the ssh arguments of
//! `zfs-vm ssh-args` without the ControlMaster options, as the forwarders of `scripts/vm-pair`
//! use). Dropbear refuses handshakes beyond a few at once per client; a command refused before
//! authentication never ran, so it is tried again.
//!
//! Selected by `ZFERRY_TEST_ZFS=vm-pair`; the pair's run directories and ports are read from the
//! env file `scripts/vm-pair up` writes (`target/vm-pair/env`, or `ZFERRY_VM_PAIR_ENV`).

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Value of `ZFERRY_TEST_ZFS` selecting the vm-pair.
pub const VM_PAIR: &str = "vm-pair";

/// Size of the sparse file backing each guest pool (in the guest's RAM-backed /var/lib/zfs-vm).
const POOL_FILE_SIZE: &str = "512M";

/// Makes pool names unique within one test process.
static POOL_COUNTER: AtomicU64 = AtomicU64::new(0);

/// True when the tests are asked to run on the vm-pair.
pub fn requested() -> bool {
    std::env::var("ZFERRY_TEST_ZFS").is_ok_and(|v| v == VM_PAIR)
}

/// The checkout this test crate belongs to (shared into both guests at the same path).
fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("checkout directory")
}

/// The target directory holding the binaries under test (`target/debug/zferry` -> `target`);
/// the guests can read it only when it is under the shared checkout ([`PairEnv::load`] checks).
pub fn shared_target_dir() -> PathBuf {
    super::zferry_bin()
        .parent()
        .and_then(Path::parent)
        .expect("target directory of the zferry binary")
        .to_path_buf()
}

/// The zfs-vm harness: `ZFS_VM`, else `../shared/zfs-vm/zfs-vm` next to the checkout.
fn zfs_vm() -> PathBuf {
    std::env::var_os("ZFS_VM")
        .map(PathBuf::from)
        .unwrap_or_else(|| checkout().join("../shared/zfs-vm/zfs-vm"))
}

/// What `scripts/vm-pair up` wrote: the two run directories and the forwarded ports.
pub struct PairEnv {
    pub run_a: PathBuf,
    pub run_b: PathBuf,
    /// Dialled in guest A at 127.0.0.1, reaching the same port number in guest B.
    pub ports_a_to_b: Vec<u16>,
    /// Dialled in guest B, reaching guest A.
    pub ports_b_to_a: Vec<u16>,
}

impl PairEnv {
    /// Reads the env file; panics (the run must not pass) when the pair is not up.
    pub fn load() -> PairEnv {
        let path = std::env::var_os("ZFERRY_VM_PAIR_ENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| checkout().join("target/vm-pair/env"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "ZFERRY_TEST_ZFS={VM_PAIR} but {} cannot be read ({e}): run scripts/vm-pair up",
                path.display()
            )
        });
        let value = |key: &str| -> String {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').to_string())
                .unwrap_or_else(|| panic!("{} has no {key}", path.display()))
        };
        let ports = |key: &str| -> Vec<u16> {
            value(key)
                .split_whitespace()
                .map(|p| p.parse().unwrap_or_else(|_| panic!("{key}: bad port {p}")))
                .collect()
        };
        let share = PathBuf::from(value("VM_PAIR_SHARE"));
        assert!(
            shared_target_dir().starts_with(&share),
            "the binaries under test ({}) are not under the pair's share {}",
            shared_target_dir().display(),
            share.display()
        );
        PairEnv {
            run_a: PathBuf::from(value("VM_PAIR_RUN_A")),
            run_b: PathBuf::from(value("VM_PAIR_RUN_B")),
            ports_a_to_b: ports("VM_PAIR_PORTS_A_TO_B"),
            ports_b_to_a: ports("VM_PAIR_PORTS_B_TO_A"),
        }
    }
}

/// One guest of the pair, with the pools this world created in it (destroyed on drop).
pub struct Guest {
    name: String,
    run: PathBuf,
    /// See [`Guest::ssh_args`].
    ssh_args: OnceLock<Vec<String>>,
    pools: Mutex<Vec<String>>,
}

impl Guest {
    pub fn new(name: &str, run: PathBuf) -> Guest {
        Guest {
            name: name.to_string(),
            run,
            ssh_args: OnceLock::new(),
            pools: Mutex::new(Vec::new()),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// ssh arguments for this guest (from `zfs-vm ssh-args`, without ControlMaster options),
    /// ending with the destination.
    fn ssh_args(&self) -> Vec<String> {
        self.ssh_args
            .get_or_init(|| {
                let out = Command::new(zfs_vm())
                    .env("ZFS_VM_RUN", &self.run)
                    .arg("ssh-args")
                    .output()
                    .expect("zfs-vm ssh-args");
                assert!(
                    out.status.success(),
                    "zfs-vm ssh-args for guest {}: {}",
                    self.name,
                    String::from_utf8_lossy(&out.stderr)
                );
                let words: Vec<String> = String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect();
                let mut args = Vec::new();
                let mut i = 0;
                while i < words.len() {
                    if words[i] == "-o"
                        && words.get(i + 1).is_some_and(|o| o.starts_with("Control"))
                    {
                        i += 2;
                        continue;
                    }
                    args.push(words[i].clone());
                    i += 1;
                }
                args
            })
            .clone()
    }

    /// A command running `program args` in the guest, in the test's working directory (which
    /// the guest has through the share); stdin is forwarded only when `stdin`.
    pub fn command<I, S>(&self, program: &OsStr, args: I, stdin: bool) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut remote = String::from(". /etc/profile; cd ");
        let cwd = std::env::current_dir().expect("current directory");
        remote.push_str(&shell_quote(cwd.as_os_str()));
        remote.push_str(" 2>/dev/null || cd /; exec");
        for word in std::iter::once(program.to_owned())
            .chain(args.into_iter().map(|a| a.as_ref().to_owned()))
        {
            remote.push(' ');
            remote.push_str(&shell_quote(&word));
        }
        let mut cmd = Command::new("ssh");
        cmd.arg("-T");
        if !stdin {
            cmd.arg("-n");
        }
        cmd.args(self.ssh_args()).arg(remote);
        cmd
    }

    /// Runs `program args` in the guest and returns its output whatever its exit status,
    /// trying again while the guest refuses the connection before authentication.
    pub fn output<I, S>(&self, program: &OsStr, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<std::ffi::OsString> =
            args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        retry_refused(&self.name, || {
            self.command(program, &args, false)
                .output()
                .unwrap_or_else(|e| panic!("cannot run ssh: {e}"))
        })
    }

    /// Runs `program args` in the guest, whatever its exit status.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        self.output(program.as_ref(), args)
    }

    /// Runs the shell script `script` with positional parameters `args`, asserting success.
    fn sh_ok(&self, script: &str, args: &[&str]) -> String {
        let mut all = vec!["-c", script, "sh"];
        all.extend_from_slice(args);
        let out = self.run("sh", &all);
        assert!(
            out.status.success(),
            "in guest {}: sh -c '{script}' {args:?} failed ({}): {}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A pool `<hint>-<pid>-<n>` on a sparse file vdev, mounted at `/<name>`.
    pub fn create_pool(&self, hint: &str) -> String {
        let n = POOL_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{hint}-{}-{n}", std::process::id());
        self.sh_ok(
            "truncate -s \"$2\" \"/var/lib/zfs-vm/$1.vdev\" && zpool create -f \"$1\" \"/var/lib/zfs-vm/$1.vdev\"",
            &[&name, POOL_FILE_SIZE],
        );
        self.pools.lock().expect("pools").push(name.clone());
        name
    }

    /// Writes `bytes` to `path` in the guest (through `cat` on stdin).
    pub fn write_file(&self, path: &Path, bytes: &[u8]) {
        let script = "mkdir -p \"$(dirname \"$1\")\" && cat > \"$1\"";
        let args = [
            OsStr::new("-c"),
            script.as_ref(),
            "sh".as_ref(),
            path.as_os_str(),
        ];
        let out = retry_refused(&self.name, || {
            let mut child = self
                .command("sh".as_ref(), args, true)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("ssh");
            // A refused connection closes stdin early: the error shows in the exit status.
            let _ = child.stdin.take().expect("stdin").write_all(bytes);
            child.wait_with_output().expect("ssh")
        });
        assert!(
            out.status.success(),
            "writing {} in guest {}: {}",
            path.display(),
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The guest's `sha256sum` of every regular file below `dir`, one `hash  ./path` line each
    /// in path order (busybox has no GNU tar or coreutils; both guests run the same busybox).
    pub fn checksum(&self, dir: &Path) -> String {
        self.sh_ok(
            "cd \"$1\" && find . -type f | sort | xargs -r sha256sum",
            &[&dir.to_string_lossy()],
        )
    }

    /// `rchar` of a `zfs receive` into `target` running in the guest (see
    /// [`super::World::receive_bytes_read`]). The candidates are found with a plain `grep -l`:
    /// busybox's `grep -lF` finds nothing in NUL-separated `/proc/*/cmdline` (dataset names
    /// hold no regex characters but `.`, which matches itself too).
    pub fn receive_bytes_read(&self, target: &str) -> Option<u64> {
        let out = self.sh_ok(
            "for f in $(grep -l -e \"$1\" /proc/[0-9]*/cmdline 2>/dev/null); do
               d=${f%/cmdline}
               if tr '\\0' '\\n' < \"$f\" | grep -qx receive && tr '\\0' '\\n' < \"$f\" | grep -qxF \"$1\"; then
                 sed -n 's/^rchar: //p' \"$d/io\"; exit 0
               fi
             done",
            &[target],
        );
        out.trim().parse().ok()
    }

    /// A guest-local directory (not on the share) for the world whose host directory is
    /// `host_dir`: for control sockets (a Unix socket cannot be bound on 9p) and for files the
    /// other guest must not see.
    pub fn private_dir(&self, host_dir: &Path) -> PathBuf {
        let unique = host_dir
            .file_name()
            .expect("host directory name")
            .to_string_lossy();
        PathBuf::from(format!("/tmp/zferry-e2e/{unique}"))
    }

    /// Starts `bin --config config daemon` in the background in the guest, detached from the ssh
    /// session, its output appended to `log`. A launcher script next to the log records the
    /// daemon's pid, waits for it and records its exit code, so that the test can signal it and
    /// learn how it ended (both files on the share, read here directly).
    pub fn spawn_daemon(&self, bin: &Path, config: &Path, log: &Path) -> GuestDaemon {
        let dir = log.parent().expect("log directory");
        let (pidfile, exitfile) = (dir.join("daemon.pid"), dir.join("daemon.exit"));
        let launcher = dir.join("launch.sh");
        let _ = std::fs::remove_file(&pidfile);
        let _ = std::fs::remove_file(&exitfile);
        std::fs::write(
            &launcher,
            format!(
                "#!/bin/sh\n\"{bin}\" --config \"{config}\" daemon >>\"{log}\" 2>&1 </dev/null &\n\
                 echo $! > \"{pid}.tmp\" && mv \"{pid}.tmp\" \"{pid}\"\n\
                 wait $!\necho $? > \"{exit}.tmp\" && mv \"{exit}.tmp\" \"{exit}\"\n",
                bin = bin.display(),
                config = config.display(),
                log = log.display(),
                pid = pidfile.display(),
                exit = exitfile.display(),
            ),
        )
        .expect("write launcher");
        self.sh_ok(
            "setsid sh \"$1\" >/dev/null 2>&1 </dev/null &",
            &[&launcher.to_string_lossy()],
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        let pid = loop {
            if let Some(pid) = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok())
            {
                break pid;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon in guest {} did not start",
                self.name
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        GuestDaemon {
            // A handle of its own to signal the daemon; it creates no pools, so its drop is a no-op.
            guest: Guest::new(&self.name, self.run.clone()),
            pid,
            exitfile,
        }
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let pools = std::mem::take(&mut *self.pools.lock().unwrap_or_else(|e| e.into_inner()));
        for pool in pools.iter().rev() {
            // Best effort: a failing destroy must not turn a test failure into a double panic.
            let _ = self.run(
                "sh",
                &[
                    "-c",
                    "zpool destroy -f \"$1\"; rm -f \"/var/lib/zfs-vm/$1.vdev\"",
                    "sh",
                    pool,
                ],
            );
        }
    }
}

/// `word` quoted for a POSIX shell.
fn shell_quote(word: &OsStr) -> String {
    format!("'{}'", word.to_string_lossy().replace('\'', "'\\''"))
}

/// Runs `attempt` until the guest did not refuse the connection before authentication
/// (ssh's status 255 with `kex_exchange_identification` or `Connection refused`: the command did
/// not start), for at most a minute.
fn retry_refused(guest: &str, mut attempt: impl FnMut() -> Output) -> Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut pause = Duration::from_millis(50);
    loop {
        let out = attempt();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let refused = out.status.code() == Some(255)
            && (stderr.contains("kex_exchange_identification")
                || stderr.contains("Connection refused"));
        if !refused || Instant::now() > deadline {
            if refused {
                panic!("guest {guest} keeps refusing ssh connections: {stderr}");
            }
            return out;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(800));
    }
}

/// A daemon running in a guest (see [`Guest::spawn_daemon`]).
pub struct GuestDaemon {
    guest: Guest,
    pid: u32,
    exitfile: PathBuf,
}

impl GuestDaemon {
    /// The raw wait status (exit code in the high byte) once the daemon has exited.
    pub fn exit_code(&self) -> Option<i32> {
        let text = std::fs::read_to_string(&self.exitfile).ok()?;
        text.trim().parse::<i32>().ok().map(|c| c << 8)
    }

    fn signal(&self, sig: &str) {
        let _ = self
            .guest
            .run("kill", &[&format!("-{sig}"), &self.pid.to_string()]);
    }

    fn wait(&self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(code) = self.exit_code() {
                return Some(code);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `kill -9` in the guest, and wait until it is gone.
    pub fn kill9(self) {
        self.signal("KILL");
        self.wait(Duration::from_secs(30));
    }

    /// SIGTERM, wait (bounded), then SIGKILL; the raw wait status.
    pub fn stop(self) -> Option<i32> {
        self.signal("TERM");
        if let Some(code) = self.wait(Duration::from_secs(20)) {
            return Some(code);
        }
        self.signal("KILL");
        self.wait(Duration::from_secs(30))
    }
}
