//! Binding the control socket safely: a private directory, and no stale socket file.

use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

/// Why the control socket cannot be bound.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The path has no parent directory.
    #[error("control socket path {0:?} has no parent directory")]
    NoParent(PathBuf),
    /// The directory is accessible to other users.
    #[error(
        "control socket directory {dir:?} has mode {mode:o}: it must not be accessible to others (chmod o-rwx)"
    )]
    WorldAccessible {
        /// The directory.
        dir: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A non-socket file is in the way.
    #[error("{0:?} exists and is not a socket")]
    NotASocket(PathBuf),
    /// Another process is serving on the socket.
    #[error("{0:?} is in use by a running daemon")]
    InUse(PathBuf),
    /// A file-system error.
    #[error("{what} {path:?}: {source}")]
    Io {
        /// What was attempted.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SocketError {
    let path = path.to_path_buf();
    move |source| SocketError::Io { what, path, source }
}

/// Binds the control socket at `path`: creates its directory with mode 0700 if missing, refuses a
/// directory others can access, and replaces a stale socket left by a dead daemon (but not one a
/// live daemon is serving on).
pub async fn bind_control_socket(path: &Path) -> Result<UnixListener, SocketError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .ok_or_else(|| SocketError::NoParent(path.to_path_buf()))?;
    match std::fs::metadata(dir) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o007 != 0 {
                return Err(SocketError::WorldAccessible {
                    dir: dir.to_path_buf(),
                    mode,
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io("create directory", dir))?;
            // The umask may have cleared bits but never adds any; set exactly 0700 anyway.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io("chmod", dir))?;
        }
        Err(e) => return Err(io("stat", dir)(e)),
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if tokio::net::UnixStream::connect(path).await.is_ok() {
                return Err(SocketError::InUse(path.to_path_buf()));
            }
            std::fs::remove_file(path).map_err(io("remove stale socket", path))?;
        }
        Ok(_) => return Err(SocketError::NotASocket(path.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("stat", path)(e)),
    }
    UnixListener::bind(path).map_err(io("bind", path))
}
