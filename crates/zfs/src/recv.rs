//! `zfs recv`: a sink to write the stream into, then a guid check of what arrived.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use tokio::process::ChildStdin;

use crate::command::CommandLine;
use crate::driver::Zfs;
use crate::error::ZfsError;
use crate::name::{DatasetPath, PropertyName, SnapshotName};
use crate::stream::{ChildProcess, enlarge_pipe};

/// Options of `zfs recv`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiveOptions {
    /// `-s`: keep partial state on interruption (resumable).
    pub resumable: bool,
    /// `-u`: do not mount.
    pub no_mount: bool,
    /// `-F`: roll back / destroy what is in the way. Only when explicitly asked.
    pub force: bool,
    /// `-x PROP`: ignore these properties of the stream.
    pub exclude: Vec<PropertyName>,
    /// `-o PROP=VALUE`: set these on the received dataset.
    pub set: Vec<(PropertyName, String)>,
}

/// What the received snapshot must be, checked after a successful receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedSnapshot {
    /// The snapshot that must now exist on the receiver.
    pub snapshot: SnapshotName,
    /// Its guid as the sender listed it.
    pub guid: u64,
}

/// A running `zfs recv`: write the stream into it, then [`Receive::finish`].
/// Dropping it early kills and reaps the child (ZFS then keeps resumable state with `-s`).
#[derive(Debug)]
pub struct Receive {
    process: ChildProcess,
    stdin: Option<ChildStdin>,
    zfs: Zfs,
}

impl Receive {
    /// Closes the stream, waits for `zfs recv`, and (when given) checks that `expected`
    /// exists with the expected guid.
    pub async fn finish(mut self, expected: Option<&ExpectedSnapshot>) -> Result<(), ZfsError> {
        drop(self.stdin.take());
        self.process.wait().await?;
        if let Some(e) = expected {
            let actual = self.zfs.guid_of(&e.snapshot.to_string()).await?;
            if actual != e.guid {
                return Err(ZfsError::ReceivedGuidMismatch {
                    snapshot: e.snapshot.to_string(),
                    actual,
                    expected: e.guid,
                });
            }
        }
        Ok(())
    }

    /// Kills `zfs recv` and reaps it (what dropping does, but awaited).
    pub async fn cancel(mut self) {
        drop(self.stdin.take());
        self.process.kill().await;
    }

    /// The child's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.id()
    }
}

fn closed() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::BrokenPipe,
        "receive input already closed",
    )
}

impl AsyncWrite for Receive {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.stdin.as_mut() {
            Some(s) => Pin::new(s).poll_write(cx, buf),
            None => Poll::Ready(Err(closed())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.stdin.as_mut() {
            Some(s) => Pin::new(s).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.stdin.as_mut() {
            Some(s) => Pin::new(s).poll_shutdown(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl Zfs {
    /// Starts `zfs recv` into `target` (a filesystem; with `snapshot_name`, the received
    /// snapshot is named `target@snapshot_name`).
    pub async fn receive(
        &self,
        target: &DatasetPath,
        snapshot_name: Option<&str>,
        options: &ReceiveOptions,
    ) -> Result<Receive, ZfsError> {
        let mut line = CommandLine::zfs(["receive"]);
        for (on, flag) in [
            (options.resumable, "-s"),
            (options.no_mount, "-u"),
            (options.force, "-F"),
        ] {
            if on {
                line.arg(flag);
            }
        }
        for p in &options.exclude {
            line.arg("-x").arg(p.as_str());
        }
        for (p, v) in &options.set {
            line.arg("-o").arg(format!("{p}={v}"));
        }
        match snapshot_name {
            Some(name) => line.arg(target.snapshot(name)?.to_string()),
            None => line.arg(target.as_str()),
        };
        let mut process = ChildProcess::spawn(&self.runner, &line, true)?;
        let stdin = process.child_mut().and_then(|c| c.stdin.take());
        if let Some(s) = &stdin {
            enlarge_pipe(s);
        }
        Ok(Receive {
            process,
            stdin,
            zfs: self.clone(),
        })
    }
}
