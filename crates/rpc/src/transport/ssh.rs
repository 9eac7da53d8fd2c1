//! Client side of `ssh+stdinserver`: the system `ssh` carries the connection.
//!
//! We run `ssh` in batch mode with the job's identity file, port and options, and an environment
//! emptied of everything but what ssh itself needs (`HOME`, `USER`, `LOGNAME`, `PATH`). The
//! remote account's `authorized_keys` entry forces the command `zferry stdinserver IDENTITY`,
//! which relays the session to the daemon's socket for that identity; whatever command we ask
//! for is ignored by the forced command. The child's stdout and stdin are the byte stream; the
//! child is killed when the stream is dropped.

use super::{BoxStream, Connector};
use crate::error::{Result, RpcError};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, BufReader, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Environment variables passed through to `ssh`.
const KEPT_ENV: [&str; 4] = ["HOME", "USER", "LOGNAME", "PATH"];
/// How much of ssh's stderr is kept for error messages.
const STDERR_LIMIT: usize = 16 << 10;

/// Settings of an `ssh+stdinserver` client.
#[derive(Debug, Clone)]
pub struct SshClient {
    /// The remote host.
    pub host: String,
    /// The remote user.
    pub user: String,
    /// The remote port.
    pub port: u16,
    /// The private key (`-i`).
    pub identity_file: PathBuf,
    /// Extra `-o` options (`Name=value`).
    pub options: Vec<String>,
    /// The `ssh` program (`ssh` from PATH by default).
    pub ssh_program: PathBuf,
    /// Bound for the session to come up (first byte of the server's greeting).
    pub dial_timeout: Duration,
}

impl SshClient {
    /// A client with the default `ssh` program and a 30 s dial timeout.
    pub fn new(host: &str, user: &str, port: u16, identity_file: PathBuf) -> Self {
        SshClient {
            host: host.into(),
            user: user.into(),
            port,
            identity_file,
            options: Vec::new(),
            ssh_program: PathBuf::from("ssh"),
            dial_timeout: Duration::from_secs(30),
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.ssh_program);
        cmd.env_clear();
        for key in KEPT_ENV {
            if let Some(value) = std::env::var_os(key) {
                cmd.env(key, value);
            }
        }
        cmd.arg("-p")
            .arg(self.port.to_string())
            .arg("-i")
            .arg(&self.identity_file)
            .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-T"]);
        for option in &self.options {
            cmd.arg("-o").arg(option);
        }
        cmd.arg("-l")
            .arg(&self.user)
            .arg("--")
            .arg(&self.host)
            .arg("zferry stdinserver")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }
}

#[async_trait::async_trait]
impl Connector for SshClient {
    async fn connect(&self) -> Result<BoxStream> {
        let mut child = self
            .command()
            .spawn()
            .map_err(|e| RpcError::io("starting ssh", e))?;
        let (Some(stdin), Some(stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(RpcError::LocalStream("ssh started without pipes".into()));
        };
        let errors = Arc::new(Mutex::new(Vec::new()));
        let collected = errors.clone();
        let stderr_done = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut all = collected.lock().unwrap_or_else(PoisonError::into_inner);
                let room = STDERR_LIMIT.saturating_sub(all.len());
                all.extend_from_slice(&buf[..n.min(room)]);
            }
        });
        let mut stdout = BufReader::with_capacity(64 << 10, stdout);
        // The server greets at once; no byte means the session did not come up.
        let first = tokio::time::timeout(self.dial_timeout, stdout.fill_buf()).await;
        let came_up = matches!(&first, Ok(Ok(buf)) if !buf.is_empty());
        if !came_up {
            let _ = child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
            // ssh has exited, so its stderr ends; wait for the collector to see the end.
            let _ = tokio::time::timeout(Duration::from_secs(2), stderr_done).await;
            let stderr =
                String::from_utf8_lossy(&errors.lock().unwrap_or_else(PoisonError::into_inner))
                    .trim()
                    .to_string();
            return Err(RpcError::Io {
                context: "connecting over ssh",
                kind: std::io::ErrorKind::ConnectionRefused,
                message: match first {
                    Err(_) => format!(
                        "no answer within {:?}; ssh said: {stderr}",
                        self.dial_timeout
                    ),
                    Ok(Err(e)) => format!("{e}; ssh said: {stderr}"),
                    Ok(Ok(_)) => format!("the session closed at once; ssh said: {stderr}"),
                },
            });
        }
        Ok(Box::new(SshStream {
            stdout,
            stdin,
            _child: child,
        }))
    }

    fn describe(&self) -> String {
        format!("ssh {}@{}:{}", self.user, self.host, self.port)
    }
}

/// The ssh child's stdout and stdin as one duplex stream; owns the child.
struct SshStream {
    stdout: BufReader<ChildStdout>,
    stdin: ChildStdin,
    _child: Child,
}

impl AsyncRead for SshStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdout).poll_read(cx, buf)
    }
}

impl super::Stream for SshStream {}

impl AsyncWrite for SshStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stdin).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_shutdown(cx)
    }
}
