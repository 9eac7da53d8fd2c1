//! `command` hooks: an executable run before and after the snapshot.
//!
//! The program gets no arguments and this environment (on top of the daemon's):
//! `ZFERRY_HOOKTYPE` (`pre_snapshot` / `post_snapshot`), `ZFERRY_FS`, `ZFERRY_SNAPNAME`,
//! `ZFERRY_DRYRUN` (`true` or empty) and `ZFERRY_TIMEOUT` (whole seconds), each also under
//! zrepl's name (`ZREPL_HOOKTYPE`, ...) with the same value, so that hook scripts written for
//! zrepl keep working unchanged. It runs in its own
//! process group; on timeout (or when the daemon abandons the invocation) the whole group is
//! killed, so helper processes started by a script do not outlive it. stdout and stderr are
//! captured together, keeping the last [`super::output::DEFAULT_OUTPUT_LIMIT`] bytes.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::output::{DEFAULT_OUTPUT_LIMIT, OutputTail};
use super::{Edge, Hook, HookEnv, HookOutcome, HookSettings, HookState};

/// How long to wait for the output pipes to close after the program exited (a background
/// grandchild may keep them open).
const PIPE_DRAIN_GRACE: Duration = Duration::from_secs(1);

/// The hook variables are set under each of these prefixes: zferry's own and zrepl's.
const ENV_PREFIXES: [&str; 2] = ["ZFERRY_", "ZREPL_"];

/// A `command` hook.
#[derive(Debug)]
pub struct CommandHook {
    path: PathBuf,
    settings: HookSettings,
    output_limit: usize,
}

impl CommandHook {
    /// A hook running the program at `path` (zrepl requires an absolute path; the configuration
    /// layer checks that).
    pub fn new(path: impl Into<PathBuf>, settings: HookSettings) -> CommandHook {
        CommandHook {
            path: path.into(),
            settings,
            output_limit: DEFAULT_OUTPUT_LIMIT,
        }
    }

    /// Changes how many output bytes are kept.
    pub fn with_output_limit(mut self, limit: usize) -> CommandHook {
        self.output_limit = limit;
        self
    }

    fn command(&self, edge: Edge, env: &HookEnv) -> Command {
        let mut cmd = Command::new(&self.path);
        let timeout = self.settings.timeout.as_secs().to_string();
        let variables = [
            ("HOOKTYPE", edge.hook_type()),
            ("FS", env.filesystem.as_str()),
            ("SNAPNAME", env.snapname.as_str()),
            ("DRYRUN", if env.dry_run { "true" } else { "" }),
            ("TIMEOUT", timeout.as_str()),
        ];
        for (name, value) in variables {
            for prefix in ENV_PREFIXES {
                cmd.env(format!("{prefix}{name}"), value);
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        cmd
    }
}

/// Kills a process group when dropped while armed: the invocation was abandoned or timed out.
struct GroupKiller(Option<Pid>);

impl GroupKiller {
    fn kill_now(&mut self) {
        if let Some(pid) = self.0.take() {
            // The group may already be gone; nothing else to do then.
            let _ = kill_process_group(pid, Signal::KILL);
        }
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill_now();
    }
}

fn spawn_reader(
    mut pipe: impl AsyncRead + Unpin + Send + 'static,
    tail: Arc<Mutex<OutputTail>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 8192];
        while let Ok(n) = pipe.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if let Ok(mut tail) = tail.lock() {
                tail.push(&buf[..n]);
            }
        }
    })
}

#[async_trait::async_trait]
impl Hook for CommandHook {
    fn describe(&self) -> String {
        format!("command {}", self.path.display())
    }

    fn settings(&self) -> &HookSettings {
        &self.settings
    }

    async fn run(&self, edge: Edge, env: &HookEnv, _state: &mut HookState) -> HookOutcome {
        let mut child = match self.command(edge, env).spawn() {
            Ok(child) => child,
            Err(e) => {
                return HookOutcome::failed(format!("cannot start {}: {e}", self.path.display()));
            }
        };
        let mut killer = GroupKiller(
            child
                .id()
                .and_then(|id| i32::try_from(id).ok())
                .and_then(Pid::from_raw),
        );
        let tail = Arc::new(Mutex::new(OutputTail::new(self.output_limit)));
        let readers: Vec<_> = [
            child
                .stdout
                .take()
                .map(|p| spawn_reader(p, Arc::clone(&tail))),
            child
                .stderr
                .take()
                .map(|p| spawn_reader(p, Arc::clone(&tail))),
        ]
        .into_iter()
        .flatten()
        .collect();

        let error = match tokio::time::timeout(self.settings.timeout, child.wait()).await {
            Ok(Ok(status)) if status.success() => None,
            Ok(Ok(status)) => Some(format!("{} exited with {status}", self.path.display())),
            Ok(Err(e)) => Some(format!("waiting for {}: {e}", self.path.display())),
            Err(_) => {
                killer.kill_now();
                // Reap the killed child; its exit status says nothing new.
                let _ = child.wait().await;
                Some(format!(
                    "{} timed out after {:?} and was killed",
                    self.path.display(),
                    self.settings.timeout
                ))
            }
        };
        // The program is done: forget its group (a finished group id may be reused).
        killer.0 = None;
        for reader in readers {
            let abort = reader.abort_handle();
            if tokio::time::timeout(PIPE_DRAIN_GRACE, reader)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        let output = tail.lock().map(|t| t.finish()).unwrap_or_default();
        if !output.text.is_empty() {
            tracing::info!(
                filesystem = %env.filesystem,
                hook = %self.path.display(),
                edge = edge.hook_type(),
                output = %output.text.trim_end(),
                "hook output"
            );
        }
        HookOutcome {
            error,
            output: Some(output),
        }
    }
}
