//! A running `zfs send`/`zfs recv` child: stderr drained in the background (bounded), the
//! child killed and reaped when the handle is dropped before [`ChildProcess::wait`].

use std::process::Stdio;

use tokio::process::Child;
use tokio::task::JoinHandle;

use crate::command::{CommandLine, Runner, Timing, read_bounded};
use crate::error::ZfsError;

/// Pipe capacity asked for on stream pipes (the system maximum when that is lower).
pub const PIPE_SIZE: usize = 1024 * 1024;

/// A spawned child whose stdout or stdin the caller streams through.
#[derive(Debug)]
pub(crate) struct ChildProcess {
    child: Option<Child>,
    stderr: Option<JoinHandle<std::io::Result<String>>>,
    timing: Option<Timing>,
    pub(crate) command: String,
}

impl ChildProcess {
    /// Spawns `line` with stdin piped when `stdin` is true (else stdout piped).
    pub(crate) fn spawn(
        runner: &Runner,
        line: &CommandLine,
        stdin: bool,
    ) -> Result<ChildProcess, ZfsError> {
        let (mut cmd, timing) = runner.command(line);
        if stdin {
            cmd.stdin(Stdio::piped()).stdout(Stdio::null());
        }
        let mut child = cmd.spawn().map_err(|source| ZfsError::Io {
            command: line.display(),
            source,
        })?;
        let stderr = child
            .stderr
            .take()
            .map(|mut err| tokio::spawn(async move { read_bounded(&mut err).await }));
        Ok(ChildProcess {
            child: Some(child),
            stderr,
            timing: Some(timing),
            command: line.display(),
        })
    }

    pub(crate) fn child_mut(&mut self) -> Option<&mut Child> {
        self.child.as_mut()
    }

    /// The child's process id while it runs.
    pub(crate) fn id(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Waits for exit; a non-zero exit becomes a classified [`ZfsError::Command`].
    pub(crate) async fn wait(&mut self) -> Result<(), ZfsError> {
        let io_err = |command: &str, source| ZfsError::Io {
            command: command.to_owned(),
            source,
        };
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let status = child.wait().await.map_err(|e| io_err(&self.command, e))?;
        if let Some(t) = self.timing.take() {
            t.finish();
        }
        let stderr = match self.stderr.take() {
            Some(task) => task
                .await
                .map_err(|e| io_err(&self.command, std::io::Error::other(e)))?
                .map_err(|e| io_err(&self.command, e))?,
            None => String::new(),
        };
        tracing::debug!(command = %self.command, status = ?status, "stream finished");
        if status.success() {
            Ok(())
        } else {
            Err(ZfsError::command_failed(
                self.command.clone(),
                status.into(),
                stderr,
            ))
        }
    }

    /// Kills the child (if running) and reaps it.
    pub(crate) async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            // Reap now if possible, else in the background so no zombie is left.
            if !matches!(child.try_wait(), Ok(Some(_)))
                && let Ok(handle) = tokio::runtime::Handle::try_current()
            {
                handle.spawn(async move {
                    let _ = child.wait().await;
                });
            }
        }
    }
}

/// Enlarges a pipe to [`PIPE_SIZE`] or the system maximum (best effort: failure is logged).
pub(crate) fn enlarge_pipe(fd: impl rustix::fd::AsFd) {
    let max = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(PIPE_SIZE);
    if let Err(e) = rustix::pipe::fcntl_setpipe_size(fd, PIPE_SIZE.min(max)) {
        tracing::debug!(error = %e, "could not enlarge pipe");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_are_enlarged_up_to_the_system_maximum() {
        let (reader, _writer) = rustix::pipe::pipe().expect("pipe");
        enlarge_pipe(&reader);
        let max = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(PIPE_SIZE);
        let size = rustix::pipe::fcntl_getpipe_size(&reader).expect("F_GETPIPE_SZ");
        assert!(size >= PIPE_SIZE.min(max), "pipe size {size}");
    }
}
