//! `zfs send`: streams as `AsyncRead`, and dry-run size estimates.

use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::unix::pipe;

use crate::command::CommandLine;
use crate::driver::Zfs;
use crate::error::ZfsError;
use crate::name::{BookmarkName, DatasetPath, SnapshotName};
use crate::stream::{ChildProcess, enlarge_pipe};

/// The base of an incremental send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFrom {
    /// From a snapshot of the same filesystem.
    Snapshot(SnapshotName),
    /// From a bookmark (never with intermediates).
    Bookmark(BookmarkName),
}

impl SendFrom {
    fn full_name(&self) -> String {
        match self {
            SendFrom::Snapshot(s) => s.to_string(),
            SendFrom::Bookmark(b) => b.to_string(),
        }
    }
}

/// Stream flags (each maps to one `zfs send` option).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendFlags {
    /// `-w`: raw (encrypted data stays encrypted).
    pub raw: bool,
    /// `-p`: include properties.
    pub properties: bool,
    /// `-b`: send received properties as received (backup).
    pub backup: bool,
    /// `-L`: large blocks.
    pub large_blocks: bool,
    /// `-c`: compressed blocks as on disk.
    pub compressed: bool,
    /// `-e`: embedded blocks.
    pub embedded: bool,
}

impl SendFlags {
    fn args(self) -> Vec<&'static str> {
        [
            (self.raw, "-w"),
            (self.properties, "-p"),
            (self.backup, "-b"),
            (self.large_blocks, "-L"),
            (self.compressed, "-c"),
            (self.embedded, "-e"),
        ]
        .into_iter()
        .filter_map(|(on, flag)| on.then_some(flag))
        .collect()
    }
}

/// What to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendRequest {
    /// A full (no `from`) or incremental stream up to `to`.
    Snapshot {
        /// The target snapshot.
        to: SnapshotName,
        /// The incremental base, if any.
        from: Option<SendFrom>,
        /// `-I` instead of `-i`: also send the snapshots between `from` and `to`.
        intermediates: bool,
        /// Stream flags.
        flags: SendFlags,
    },
    /// Resume an interrupted stream (`-t TOKEN`; its flags come from the token).
    Resume {
        /// The receiver's `receive_resume_token`.
        token: String,
    },
    /// Send the partially received state of a filesystem (`-S`, OpenZFS ≥ 2.1).
    Saved {
        /// The filesystem holding saved receive state.
        dataset: DatasetPath,
    },
}

impl SendRequest {
    /// A full stream of `to` with no flags.
    pub fn full(to: SnapshotName) -> SendRequest {
        SendRequest::Snapshot {
            to,
            from: None,
            intermediates: false,
            flags: SendFlags::default(),
        }
    }

    /// An `-i` stream from `from` to `to` with no flags.
    pub fn incremental(from: SendFrom, to: SnapshotName) -> SendRequest {
        SendRequest::Snapshot {
            to,
            from: Some(from),
            intermediates: false,
            flags: SendFlags::default(),
        }
    }

    /// Appends the send arguments (after `send` and any `-n -v -P`).
    fn push_args(&self, line: &mut CommandLine) {
        match self {
            SendRequest::Snapshot {
                to,
                from,
                intermediates,
                flags,
            } => {
                for f in flags.args() {
                    line.arg(f);
                }
                if let Some(from) = from {
                    line.arg(if *intermediates { "-I" } else { "-i" });
                    line.arg(from.full_name());
                }
                line.arg(to.to_string());
            }
            SendRequest::Resume { token } => {
                line.arg("-t").arg(token);
            }
            SendRequest::Saved { dataset } => {
                line.arg("-S").arg(dataset.as_str());
            }
        }
    }
}

/// A dry-run size estimate (`zfs send -nvP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendEstimate {
    /// Estimated stream size in bytes.
    pub total_bytes: u64,
    /// Per-step estimates: `(from, to, bytes)`; `from` is `None` for a full stream. With `-I`
    /// OpenZFS prints each step's `from` as the short snapshot name.
    pub steps: Vec<(Option<String>, String, u64)>,
}

/// A running `zfs send`: read the stream, then call [`SendStream::wait`] for the outcome.
/// Dropping it early kills and reaps the child.
#[derive(Debug)]
pub struct SendStream {
    process: ChildProcess,
    /// The read end of the child's stdout; `None` after [`SendStream::wait`] closed it. Shared
    /// only with short-lived users of [`SendStream::pipe`].
    stdout: Option<Arc<pipe::Receiver>>,
}

impl SendStream {
    /// Waits for the child, normally after the stream was read to its end. The read end is
    /// closed first, so a child that still had data to write fails (broken pipe) instead of
    /// blocking forever. A failure carries the classified stderr.
    pub async fn wait(mut self) -> Result<(), ZfsError> {
        drop(self.stdout.take());
        self.process.wait().await
    }

    /// Kills the child and reaps it (what dropping does, but awaited).
    pub async fn cancel(mut self) {
        self.process.kill().await;
    }

    /// The child's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.id()
    }

    /// The command line, for messages.
    pub fn command(&self) -> &str {
        &self.process.command
    }

    /// The pipe the stream is read from, for consumers that move its bytes with `splice(2)`
    /// instead of reading them. Weak, so that it never keeps the pipe open on its own: once the
    /// stream is waited for or dropped, it no longer upgrades. Whoever splices from it must
    /// still read this stream once the pipe is exhausted, so that its end is checked.
    pub fn pipe(&self) -> Option<Weak<pipe::Receiver>> {
        self.stdout.as_ref().map(Arc::downgrade)
    }
}

impl AsyncRead for SendStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let Some(out) = self.stdout.as_ref() else {
            return Poll::Ready(Ok(()));
        };
        loop {
            ready!(out.poll_read_ready(cx))?;
            match out.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl Zfs {
    /// Starts `zfs send`; its stdout (with a pipe enlarged to 1 MiB where allowed) is the
    /// returned stream.
    pub async fn send(&self, request: &SendRequest) -> Result<SendStream, ZfsError> {
        let mut line = CommandLine::zfs(["send"]);
        request.push_args(&mut line);
        let mut process = ChildProcess::spawn(&self.runner, &line, false)?;
        let stdout = process
            .child_mut()
            .and_then(|c| c.stdout.take())
            .ok_or_else(|| ZfsError::Io {
                command: line.display(),
                source: std::io::Error::other("child has no stdout"),
            })?;
        enlarge_pipe(&stdout);
        let stdout = stdout
            .into_owned_fd()
            .and_then(pipe::Receiver::from_owned_fd)
            .map_err(|source| ZfsError::Io {
                command: line.display(),
                source,
            })?;
        Ok(SendStream {
            process,
            stdout: Some(Arc::new(stdout)),
        })
    }

    /// Estimates the stream size with `zfs send -nvP`.
    pub async fn estimate_send(&self, request: &SendRequest) -> Result<SendEstimate, ZfsError> {
        let mut line = CommandLine::zfs(["send", "-n", "-v", "-P"]);
        request.push_args(&mut line);
        let stdout = self.runner.run(&line).await?;
        parse_estimate(&stdout).ok_or_else(|| ZfsError::Parse {
            command: line.display(),
            detail: format!("no size line in {stdout:?}"),
        })
    }
}

/// Parses the parsable dry-run lines; other lines (resume token contents) are skipped.
fn parse_estimate(stdout: &str) -> Option<SendEstimate> {
    let mut total = None;
    let mut steps = Vec::new();
    for row in stdout.lines() {
        let f: Vec<&str> = row.split('\t').collect();
        match f.as_slice() {
            ["size", n] => total = n.parse().ok(),
            ["full", to, n] => steps.push((None, (*to).to_owned(), n.parse().ok()?)),
            ["incremental", from, to, n] => {
                steps.push((Some((*from).to_owned()), (*to).to_owned(), n.parse().ok()?));
            }
            _ => {}
        }
    }
    Some(SendEstimate {
        total_bytes: total?,
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dry_run_output() {
        let out =
            "incremental\ts1\tp/c@s2\t402584\nincremental\ts2\tp/c@s3\t271328\nsize\t673912\n";
        let e = parse_estimate(out).expect("parses");
        assert_eq!(e.total_bytes, 673912);
        assert_eq!(e.steps.len(), 2);
        assert_eq!(e.steps[0], (Some("s1".into()), "p/c@s2".into(), 402584));
        let full = parse_estimate("full\tp/c@s2\t407704\nsize\t407704\n").expect("parses");
        assert_eq!(full.steps[0].0, None);
        assert_eq!(parse_estimate("nothing\n"), None);
    }

    #[test]
    fn builds_arguments() {
        let to = SnapshotName::parse("p/a@s2").expect("valid");
        let from = SendFrom::Bookmark(BookmarkName::parse("p/a#b1").expect("valid"));
        let req = SendRequest::Snapshot {
            to,
            from: Some(from),
            intermediates: false,
            flags: SendFlags {
                raw: true,
                large_blocks: true,
                ..SendFlags::default()
            },
        };
        let mut line = CommandLine::zfs(["send"]);
        req.push_args(&mut line);
        assert_eq!(line.display(), "zfs send -w -L -i p/a#b1 p/a@s2");
    }
}
