//! Server side of `ssh+stdinserver`: one unix socket per client identity.
//!
//! The daemon listens on `sockdir/<identity>` for every identity of the job. sshd authenticates
//! the client by its key and runs the forced command `zferry stdinserver IDENTITY`, which calls
//! [`stdinserver_relay`]: it connects to that identity's socket and relays stdin and stdout. The
//! sockets are protected only by file permissions, so the directory must not be accessible to
//! other users: we create it with mode 0700 and refuse an existing one that grants anything to
//! "other".

use super::{Accepted, BoxStream, Incoming, Listener};
use crate::error::{Result, RpcError};
use crate::identity::ClientIdentity;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Relay buffer size.
const RELAY_BUFFER: usize = 256 << 10;

/// Creates `sockdir` (mode 0700) or checks that an existing one is not world-accessible.
pub fn check_sockdir(sockdir: &Path) -> Result<()> {
    match std::fs::metadata(sockdir) {
        Ok(meta) => {
            if !meta.is_dir() {
                return Err(RpcError::Config(format!(
                    "stdinserver sockdir {} is not a directory",
                    sockdir.display()
                )));
            }
            let mode = meta.permissions().mode();
            if mode & 0o007 != 0 {
                return Err(RpcError::Config(format!(
                    "stdinserver sockdir {} is world-accessible (mode {:o}); chmod o-rwx it",
                    sockdir.display(),
                    mode & 0o777
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(sockdir)
            .map_err(|e| RpcError::io("creating the stdinserver sockdir", e)),
        Err(e) => Err(RpcError::io("checking the stdinserver sockdir", e)),
    }
}

fn socket_path(sockdir: &Path, identity: &ClientIdentity) -> PathBuf {
    sockdir.join(identity.as_str())
}

/// Listens on one socket per identity.
pub struct StdinserverServer {
    sockdir: PathBuf,
    incoming: mpsc::Receiver<(UnixStream, ClientIdentity)>,
    tasks: Vec<JoinHandle<()>>,
    paths: Vec<PathBuf>,
}

impl StdinserverServer {
    /// Checks the directory and binds a socket for every identity (replacing stale sockets).
    pub fn bind(sockdir: &Path, identities: &[ClientIdentity]) -> Result<Self> {
        check_sockdir(sockdir)?;
        let (tx, rx) = mpsc::channel(16);
        let mut tasks = Vec::new();
        let mut paths = Vec::new();
        for identity in identities {
            let path = socket_path(sockdir, identity);
            if let Ok(meta) = std::fs::symlink_metadata(&path)
                && meta.file_type().is_socket()
            {
                std::fs::remove_file(&path)
                    .map_err(|e| RpcError::io("removing a stale stdinserver socket", e))?;
            }
            let listener = UnixListener::bind(&path)
                .map_err(|e| RpcError::io("binding a stdinserver socket", e))?;
            paths.push(path);
            let tx = tx.clone();
            let identity = identity.clone();
            tasks.push(tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    if tx.send((stream, identity.clone())).await.is_err() {
                        break;
                    }
                }
            }));
        }
        Ok(StdinserverServer {
            sockdir: sockdir.to_path_buf(),
            incoming: rx,
            tasks,
            paths,
        })
    }
}

impl Drop for StdinserverServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for path in &self.paths {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[async_trait::async_trait]
impl Listener for StdinserverServer {
    async fn accept(&mut self) -> Result<Incoming> {
        let (stream, identity) = self.incoming.recv().await.ok_or(RpcError::Closed)?;
        Ok(Incoming::new(None, async move {
            Ok(Accepted {
                stream: Box::new(stream) as BoxStream,
                peer: format!("stdinserver {identity}"),
                identity,
            })
        }))
    }

    fn describe(&self) -> String {
        format!("stdinserver {}", self.sockdir.display())
    }
}

/// What `zferry stdinserver IDENTITY` runs: relays this process's stdin and stdout to the
/// daemon's socket for `identity`, until the daemon closes it.
pub async fn stdinserver_relay(sockdir: &Path, identity: &ClientIdentity) -> Result<()> {
    relay(sockdir, identity, tokio::io::stdin(), tokio::io::stdout()).await
}

/// [`stdinserver_relay`] over any input and output.
pub async fn relay<I, O>(
    sockdir: &Path,
    identity: &ClientIdentity,
    input: I,
    output: O,
) -> Result<()>
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    check_sockdir(sockdir)?;
    let socket = UnixStream::connect(socket_path(sockdir, identity))
        .await
        .map_err(|e| RpcError::io("connecting to the daemon's stdinserver socket", e))?;
    let (from_daemon, to_daemon) = socket.into_split();
    let upstream = pump(input, to_daemon);
    let downstream = pump(from_daemon, output);
    tokio::pin!(upstream, downstream);
    // The session ends when the daemon closes its side; the end of our input only half-closes
    // the socket, so the daemon can still answer.
    let mut input_done = false;
    loop {
        tokio::select! {
            down = &mut downstream => return down,
            up = &mut upstream, if !input_done => {
                up?;
                input_done = true;
            }
        }
    }
}

/// Copies until end of input, then shuts the output down.
async fn pump<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(mut from: R, mut to: W) -> Result<()> {
    let mut buf = vec![0u8; RELAY_BUFFER];
    loop {
        let n = from
            .read(&mut buf)
            .await
            .map_err(|e| RpcError::io("relaying", e))?;
        if n == 0 {
            break;
        }
        to.write_all(&buf[..n])
            .await
            .map_err(|e| RpcError::io("relaying", e))?;
        to.flush().await.map_err(|e| RpcError::io("relaying", e))?;
    }
    to.shutdown().await.map_err(|e| RpcError::io("relaying", e))
}
