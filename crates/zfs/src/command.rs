//! Spawning `zfs`/`zpool`: configuration, bounded stderr capture, logging and the per-verb
//! invocation counters.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::error::{ExitStatus, STDERR_LIMIT, ZfsError};

/// Where the ZFS programs are and what environment they get.
#[derive(Debug, Clone)]
pub struct ZfsConfig {
    /// The `zfs` program: a bare name is looked up in `PATH`.
    pub zfs_bin: PathBuf,
    /// The `zpool` program: a bare name is looked up in `PATH`.
    pub zpool_bin: PathBuf,
    /// Extra environment variables for every child (tests use it for the simulator's state).
    pub env: Vec<(OsString, OsString)>,
}

impl Default for ZfsConfig {
    fn default() -> Self {
        ZfsConfig {
            zfs_bin: PathBuf::from("zfs"),
            zpool_bin: PathBuf::from("zpool"),
            env: Vec::new(),
        }
    }
}

/// Which program a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Program {
    Zfs,
    Zpool,
}

/// Count and cumulative wall time of one verb (`zfs list`, `zfs send`, ...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerbStats {
    /// Number of invocations started.
    pub count: u64,
    /// Sum of the wall time from spawn to exit of the finished ones.
    pub total_time: Duration,
}

/// Per-verb invocation counters, shared by all clones of one [`crate::Zfs`].
#[derive(Debug, Default)]
pub struct InvocationStats {
    verbs: Mutex<BTreeMap<String, VerbStats>>,
}

impl InvocationStats {
    /// A copy of the counters, keyed by `"zfs list"`, `"zpool get"`, ...
    pub fn snapshot(&self) -> BTreeMap<String, VerbStats> {
        self.lock().clone()
    }

    /// Invocations of one verb key such as `"zfs list"`.
    pub fn count(&self, verb: &str) -> u64 {
        self.lock().get(verb).map_or(0, |s| s.count)
    }

    /// Invocations of all verbs.
    pub fn total_count(&self) -> u64 {
        self.lock().values().map(|s| s.count).sum()
    }

    /// Sets every counter back to zero.
    pub fn reset(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, VerbStats>> {
        self.verbs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn started(&self, verb: &str) {
        self.lock().entry(verb.to_owned()).or_default().count += 1;
    }

    fn finished(&self, verb: &str, elapsed: Duration) {
        self.lock().entry(verb.to_owned()).or_default().total_time += elapsed;
    }
}

/// Quotes one argument for display (not for a shell to execute).
fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./@#:=,%+".contains(c));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Longest command line shown in messages and logs.
const DISPLAY_LIMIT: usize = 1024;

/// One prepared command line.
#[derive(Debug, Clone)]
pub(crate) struct CommandLine {
    pub(crate) program: Program,
    pub(crate) args: Vec<OsString>,
}

impl CommandLine {
    pub(crate) fn zfs<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self::new(Program::Zfs, args)
    }

    pub(crate) fn zpool<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self::new(Program::Zpool, args)
    }

    fn new<I, S>(program: Program, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        CommandLine {
            program,
            args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
        }
    }

    /// Appends one argument.
    pub(crate) fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// `"zfs list"`: the program and its first argument, the key of the counters.
    pub(crate) fn verb(&self) -> String {
        let program = match self.program {
            Program::Zfs => "zfs",
            Program::Zpool => "zpool",
        };
        match self.args.first() {
            Some(v) => format!("{program} {}", v.to_string_lossy()),
            None => program.to_owned(),
        }
    }

    /// Whether the command only reads (`zfs list`, `zfs get`, `zfs holds`, `zfs version`,
    /// `zfs send -n`, `zpool list`, `zpool get`): running it again changes nothing.
    pub(crate) fn is_read_only(&self) -> bool {
        let mut args = self.args.iter().map(|a| a.to_str().unwrap_or(""));
        let verb = args.next().unwrap_or("");
        match (self.program, verb) {
            (Program::Zfs, "list" | "get" | "holds" | "version" | "-V") => true,
            (Program::Zfs, "send") => args
                .take_while(|a| a.starts_with('-'))
                .any(|a| a == "-n" || (!a.starts_with("--") && a[1..].contains('n'))),
            (Program::Zpool, "list" | "get") => true,
            _ => false,
        }
    }

    /// The command line for messages (very long lines are cut after [`DISPLAY_LIMIT`] bytes).
    pub(crate) fn display(&self) -> String {
        let program = match self.program {
            Program::Zfs => "zfs",
            Program::Zpool => "zpool",
        };
        let mut s = program.to_owned();
        for a in &self.args {
            s.push(' ');
            s.push_str(&quote(&a.to_string_lossy()));
            if s.len() > DISPLAY_LIMIT {
                let mut cut = DISPLAY_LIMIT;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
                s.push_str(" ...");
                break;
            }
        }
        s
    }
}

/// Output of a command that ran to completion.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Finished {
    pub(crate) fn success(&self) -> bool {
        self.status == ExitStatus::Code(0)
    }
}

/// The runner half of [`crate::Zfs`]: configuration plus counters.
#[derive(Debug, Clone, Default)]
pub(crate) struct Runner {
    pub(crate) config: ZfsConfig,
    pub(crate) stats: Arc<InvocationStats>,
}

/// A started invocation: keeps the verb and start time to record its duration once.
#[derive(Debug)]
pub(crate) struct Timing {
    verb: String,
    start: Instant,
    stats: Arc<InvocationStats>,
}

impl Timing {
    /// Records the elapsed time.
    pub(crate) fn finish(self) {
        self.stats.finished(&self.verb, self.start.elapsed());
    }
}

impl Runner {
    /// A `tokio::process::Command` for `line` with the configured program and environment,
    /// counted and logged. Stdin is null unless the caller changes it.
    pub(crate) fn command(&self, line: &CommandLine) -> (Command, Timing) {
        let program = match line.program {
            Program::Zfs => &self.config.zfs_bin,
            Program::Zpool => &self.config.zpool_bin,
        };
        let mut cmd = Command::new(program);
        cmd.args(&line.args)
            .envs(self.config.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let verb = line.verb();
        tracing::debug!(command = %line.display(), "running");
        self.stats.started(&verb);
        let timing = Timing {
            verb,
            start: Instant::now(),
            stats: self.stats.clone(),
        };
        (cmd, timing)
    }

    /// Runs `line` to completion, capturing stdout fully and stderr bounded; never fails on
    /// a non-zero exit (see [`Runner::run`]).
    ///
    /// A read-only command ([`CommandLine::is_read_only`]) that fails without a word on stderr
    /// runs once more: ZFS always says why it refuses, so a silent failure is something around
    /// it (a forwarding wrapper, a signal, a transient exec problem), and one unexplained exit
    /// must not fail a filesystem and its children for a whole run. Commands that change
    /// anything are never repeated here.
    pub(crate) async fn output(&self, line: &CommandLine) -> Result<Finished, ZfsError> {
        let finished = self.output_once(line).await?;
        if finished.success() || !finished.stderr.trim().is_empty() || !line.is_read_only() {
            return Ok(finished);
        }
        tracing::warn!(
            command = %line.display(),
            status = %finished.status,
            "read-only zfs command failed with empty stderr; running it once more"
        );
        self.output_once(line).await
    }

    async fn output_once(&self, line: &CommandLine) -> Result<Finished, ZfsError> {
        let io_err = |source| ZfsError::Io {
            command: line.display(),
            source,
        };
        let (mut cmd, timing) = self.command(line);
        let mut child = cmd.spawn().map_err(io_err)?;
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let read_stdout = async {
            let mut buf = Vec::new();
            if let Some(out) = stdout.as_mut() {
                out.read_to_end(&mut buf).await?;
            }
            Ok::<_, std::io::Error>(buf)
        };
        let read_stderr = async {
            match stderr.as_mut() {
                Some(err) => read_bounded(err).await,
                None => Ok(String::new()),
            }
        };
        let (out, err) = tokio::try_join!(read_stdout, read_stderr).map_err(io_err)?;
        let status = child.wait().await.map_err(io_err)?;
        timing.finish();
        let finished = Finished {
            status: status.into(),
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: err,
        };
        tracing::debug!(command = %line.display(), status = %finished.status, "finished");
        Ok(finished)
    }

    /// Runs `line` and returns its stdout, or a classified [`ZfsError::Command`].
    pub(crate) async fn run(&self, line: &CommandLine) -> Result<String, ZfsError> {
        let out = self.output(line).await?;
        if out.success() {
            Ok(out.stdout)
        } else {
            Err(ZfsError::command_failed(
                line.display(),
                out.status,
                out.stderr,
            ))
        }
    }
}

/// Reads a stream to its end, keeping at most [`STDERR_LIMIT`] bytes (the rest is drained so
/// the child never blocks on a full pipe).
pub(crate) async fn read_bounded<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<String> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        let room = STDERR_LIMIT.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    Ok(String::from_utf8_lossy(&kept).into_owned())
}

/// Splits `items` into chunks whose summed `size` (plus one separator byte each) stays at or
/// below `limit`; an item larger than `limit` gets a chunk of its own.
pub(crate) fn chunk_by_size<T: Clone>(
    items: &[T],
    limit: usize,
    size: impl Fn(&T) -> usize,
) -> Vec<Vec<T>> {
    let mut chunks = Vec::new();
    let mut current = Vec::new();
    let mut used = 0;
    for item in items {
        let n = size(item) + 1;
        if !current.is_empty() && used + n > limit {
            chunks.push(std::mem::take(&mut current));
            used = 0;
        }
        current.push(item.clone());
        used += n;
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// Bytes of arguments per invocation when batching names: well below Linux's ARG_MAX (2 MiB
/// with the default stack limit) and its per-argument limit of 128 KiB.
pub(crate) const ARG_BUDGET: usize = 100 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_what_needs_it() {
        let line = CommandLine::zfs(["list", "-H", "pool/a b", "it's"]);
        assert_eq!(line.display(), r"zfs list -H 'pool/a b' 'it'\''s'");
        assert_eq!(line.verb(), "zfs list");
    }

    #[test]
    fn chunks_respect_the_budget() {
        let items: Vec<String> = (0..10).map(|i| format!("item{i}")).collect();
        let chunks = chunk_by_size(&items, 12, |s| s.len());
        assert!(
            chunks
                .iter()
                .all(|c| c.iter().map(|s| s.len() + 1).sum::<usize>() <= 12)
        );
        assert_eq!(chunks.concat(), items);
        assert_eq!(chunk_by_size(&["x".repeat(50)], 10, |s| s.len()).len(), 1);
    }

    #[tokio::test]
    async fn counts_invocations_and_captures_output() {
        let runner = Runner {
            config: ZfsConfig {
                zfs_bin: "sh".into(),
                ..ZfsConfig::default()
            },
            ..Runner::default()
        };
        let ok = CommandLine::zfs(["-c", "echo out; echo err >&2"]);
        assert_eq!(runner.run(&ok).await.expect("runs"), "out\n");
        let fail = CommandLine::zfs([
            "-c",
            "echo 'cannot open x: dataset does not exist' >&2; exit 1",
        ]);
        let err = runner.run(&fail).await.expect_err("fails");
        assert_eq!(err.kind(), crate::ZfsErrorKind::DoesNotExist);
        assert_eq!(runner.stats.count("zfs -c"), 2);
        assert_eq!(runner.stats.total_count(), 2);
    }

    #[test]
    fn read_only_commands_are_recognised() {
        let read_only = [
            CommandLine::zfs(["list", "-H", "pool"]),
            CommandLine::zfs(["get", "-H", "encryption", "pool"]),
            CommandLine::zfs(["holds", "-H", "pool@s"]),
            CommandLine::zfs(["send", "-n", "-v", "-P", "pool@s"]),
            CommandLine::zfs(["send", "-nvP", "pool@s"]),
            CommandLine::zpool(["get", "-H", "feature@x", "pool"]),
        ];
        for line in &read_only {
            assert!(line.is_read_only(), "{} reads only", line.display());
        }
        let mutating = [
            CommandLine::zfs(["send", "-w", "pool@s"]),
            CommandLine::zfs(["send", "pool@-n"]),
            CommandLine::zfs(["receive", "-s", "pool/a"]),
            CommandLine::zfs(["hold", "tag", "pool@s"]),
            CommandLine::zfs(["destroy", "pool@s"]),
            CommandLine::zfs(["set", "a:b=c", "pool"]),
        ];
        for line in &mutating {
            assert!(!line.is_read_only(), "{} is not read-only", line.display());
        }
    }

    /// Waits until `script` can be executed: a process forked by another test thread while the
    /// script was open for writing holds it until that process execs, and until then `exec`
    /// fails with ETXTBSY (this made `silent_failure_of_a_mutating_command_is_not_retried` fail
    /// once in CI with a spawn error instead of the exit status).
    fn wait_until_executable(script: &std::path::Path) {
        const ETXTBSY: i32 = 26;
        for _ in 0..500 {
            match std::process::Command::new(script)
                .env("FLAKY_PROBE", "1")
                .status()
            {
                Err(e) if e.raw_os_error() == Some(ETXTBSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => {
                    other.expect("probe the script");
                    return;
                }
            }
        }
        panic!("{} stayed busy", script.display());
    }

    /// A fake `zfs` that fails silently (exit 255, empty stderr) on its first run, or with
    /// `stderr` when given, and then succeeds; counts its runs in `dir/runs`.
    fn flaky_zfs(dir: &std::path::Path, stderr: &str) -> Runner {
        use std::os::unix::fs::PermissionsExt;
        let script = dir.join("zfs");
        let runs = dir.join("runs");
        let text = format!(
            "#!/bin/sh\n[ -n \"$FLAKY_PROBE\" ] && exit 0\necho x >> '{runs}'\nif [ \"$(wc -l < '{runs}')\" -eq 1 ]; then printf '{stderr}' >&2; exit 255; fi\necho ok\n",
            runs = runs.display()
        );
        std::fs::write(&script, text).expect("write script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        wait_until_executable(&script);
        Runner {
            config: ZfsConfig {
                zfs_bin: script,
                ..ZfsConfig::default()
            },
            ..Runner::default()
        }
    }

    #[tokio::test]
    async fn silent_failure_of_a_read_only_command_is_retried_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let runner = flaky_zfs(dir.path(), "");
        let line = CommandLine::zfs(["get", "-H", "encryption", "dst"]);
        assert_eq!(
            runner.run(&line).await.expect("second run succeeds"),
            "ok\n"
        );
        assert_eq!(runner.stats.count("zfs get"), 2);
    }

    #[tokio::test]
    async fn silent_failure_of_a_mutating_command_is_not_retried() {
        let dir = tempfile::tempdir().expect("tempdir");
        let runner = flaky_zfs(dir.path(), "");
        let line = CommandLine::zfs(["destroy", "dst@s"]);
        let err = runner.run(&line).await.expect_err("not retried");
        assert!(matches!(
            err,
            ZfsError::Command {
                status: ExitStatus::Code(255),
                ..
            }
        ));
        assert_eq!(runner.stats.count("zfs destroy"), 1);
    }

    #[tokio::test]
    async fn explained_failure_of_a_read_only_command_is_not_retried() {
        let dir = tempfile::tempdir().expect("tempdir");
        let runner = flaky_zfs(dir.path(), "cannot open dst: dataset does not exist\\n");
        let line = CommandLine::zfs(["get", "-H", "encryption", "dst"]);
        let err = runner.run(&line).await.expect_err("not retried");
        assert_eq!(err.kind(), crate::ZfsErrorKind::DoesNotExist);
        assert_eq!(runner.stats.count("zfs get"), 1);
    }

    #[tokio::test]
    async fn stderr_is_bounded() {
        let runner = Runner {
            config: ZfsConfig {
                zfs_bin: "sh".into(),
                ..ZfsConfig::default()
            },
            ..Runner::default()
        };
        let line = CommandLine::zfs(["-c", "head -c 200000 /dev/zero >&2; exit 3"]);
        let out = runner.output(&line).await.expect("runs");
        assert_eq!(out.status, ExitStatus::Code(3));
        assert_eq!(out.stderr.len(), STDERR_LIMIT);
    }
}
