//! Errors from ZFS commands, classified from their stderr text.
//!
//! The patterns are the messages OpenZFS 2.1-2.3 prints (checked against 2.3.2 in the
//! contract suite); anything unrecognised is [`ZfsErrorKind::Unknown`] and keeps its text.

use std::fmt;
use std::io;

use crate::name::NameError;

/// Most stderr bytes kept from one command.
pub const STDERR_LIMIT: usize = 64 * 1024;

/// The class of a ZFS failure, the part callers branch on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ZfsErrorKind {
    /// The dataset, snapshot, bookmark or pool does not exist.
    DoesNotExist,
    /// The dataset is busy: held snapshot, mounted and in use, or an operation in progress.
    Busy,
    /// The dataset, bookmark or hold tag already exists.
    Exists,
    /// A `zfs recv -s` failed and left a resumable state; `token` resumes it with `send -t`.
    ResumableReceiveFailed {
        /// The `receive_resume_token` printed by `zfs recv`.
        token: String,
    },
    /// `zfs recv -F` refused to destroy or overwrite an encrypted filesystem.
    RecvForceIntoEncrypted,
    /// The incremental source does not match the receiver's most recent snapshot.
    IncrementalSourceMismatch,
    /// The receiver was modified (or has newer snapshots) since its most recent snapshot.
    DestinationModified,
    /// Out of space.
    NoSpace,
    /// Permission denied.
    Permission,
    /// Anything else.
    Unknown,
}

impl ZfsErrorKind {
    /// Classifies a command's stderr.
    pub fn classify(stderr: &str) -> ZfsErrorKind {
        // Messages wrap lines at varying places; compare with whitespace collapsed.
        let lower = stderr
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_ascii_lowercase();
        let has = |needle: &str| lower.contains(needle);
        if let Some(token) = resume_token_in(stderr) {
            ZfsErrorKind::ResumableReceiveFailed { token }
        } else if has("cannot be used to destroy an encrypted filesystem")
            || has("overwrite an unencrypted one with an encrypted one")
        {
            ZfsErrorKind::RecvForceIntoEncrypted
        } else if has("does not match incremental source") {
            ZfsErrorKind::IncrementalSourceMismatch
        } else if has("has been modified") {
            ZfsErrorKind::DestinationModified
        } else if has("does not exist")
            || has("no such pool")
            || has("no such dataset")
            || has("could not find any snapshots")
            || has("no such file or directory")
            || has("no such tag on this dataset")
            || has("no longer exists")
            || has("does not have any resumable receive state")
        {
            ZfsErrorKind::DoesNotExist
        } else if has("is busy") || has("being held") || has("dataset busy") || has("device busy") {
            ZfsErrorKind::Busy
        } else if has("already exists")
            || has("bookmark exists")
            || has("must specify -f to overwrite")
            || has("destination has snapshots")
        {
            ZfsErrorKind::Exists
        } else if has("out of space") || has("no space left") {
            ZfsErrorKind::NoSpace
        } else if has("permission denied") || has("operation not permitted") {
            ZfsErrorKind::Permission
        } else {
            ZfsErrorKind::Unknown
        }
    }
}

/// Extracts the token from the `zfs send -t <token>` hint `zfs recv -s` prints on failure.
fn resume_token_in(stderr: &str) -> Option<String> {
    let (_, rest) = stderr.split_once("zfs send -t ")?;
    let token: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    (!token.is_empty()).then_some(token)
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit code {c}"),
            ExitStatus::Signal(s) => write!(f, "signal {s}"),
        }
    }
}

impl From<std::process::ExitStatus> for ExitStatus {
    fn from(s: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (s.code(), s.signal()) {
            (Some(code), _) => ExitStatus::Code(code),
            (None, Some(sig)) => ExitStatus::Signal(sig),
            (None, None) => ExitStatus::Code(-1),
        }
    }
}

/// An error from the ZFS layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ZfsError {
    /// A `zfs`/`zpool` command exited unsuccessfully.
    #[error("`{command}` failed ({status}): {}", stderr.trim_end())]
    Command {
        /// The command line, shell-quoted for reading.
        command: String,
        /// How it ended.
        status: ExitStatus,
        /// Its stderr, at most [`STDERR_LIMIT`] bytes.
        stderr: String,
        /// The classification of `stderr`.
        kind: ZfsErrorKind,
    },
    /// The command could not be started or its pipes failed.
    #[error("`{command}`: {source}")]
    Io {
        /// The command line.
        command: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The command succeeded but printed something this driver does not understand.
    #[error("`{command}`: unexpected output: {detail}")]
    Parse {
        /// The command line.
        command: String,
        /// What was wrong.
        detail: String,
    },
    /// A name was invalid.
    #[error(transparent)]
    Name(#[from] NameError),
    /// A bookmark with this name exists but refers to a different snapshot.
    #[error("bookmark {bookmark} exists with guid {existing}, expected guid {expected}")]
    BookmarkGuidMismatch {
        /// The bookmark's full name.
        bookmark: String,
        /// The guid it has.
        existing: u64,
        /// The guid it should have had.
        expected: u64,
    },
    /// After a receive, the received snapshot's guid is not the one that was sent.
    #[error("received {snapshot} has guid {actual}, expected guid {expected}")]
    ReceivedGuidMismatch {
        /// The received snapshot's full name.
        snapshot: String,
        /// Its guid.
        actual: u64,
        /// The guid the sender announced.
        expected: u64,
    },
}

impl ZfsError {
    /// The failure class. Errors that are not command failures classify as
    /// [`ZfsErrorKind::Unknown`], except a missing binary (permission / not found are mapped).
    pub fn kind(&self) -> ZfsErrorKind {
        match self {
            ZfsError::Command { kind, .. } => kind.clone(),
            ZfsError::Io { source, .. } if source.kind() == io::ErrorKind::PermissionDenied => {
                ZfsErrorKind::Permission
            }
            ZfsError::BookmarkGuidMismatch { .. } => ZfsErrorKind::Exists,
            _ => ZfsErrorKind::Unknown,
        }
    }

    /// The stderr of a failed command, if this is one.
    pub fn stderr(&self) -> Option<&str> {
        match self {
            ZfsError::Command { stderr, .. } => Some(stderr),
            _ => None,
        }
    }

    /// Builds a [`ZfsError::Command`] and classifies its stderr.
    pub fn command_failed(command: String, status: ExitStatus, stderr: String) -> ZfsError {
        let kind = ZfsErrorKind::classify(&stderr);
        ZfsError::Command {
            command,
            status,
            stderr,
            kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_openzfs_messages() {
        let cases = [
            (
                "cannot open 'src/x': dataset does not exist\n",
                ZfsErrorKind::DoesNotExist,
            ),
            (
                "cannot destroy snapshot src/a@s: dataset is busy\n",
                ZfsErrorKind::Busy,
            ),
            (
                "cannot create 'src/a': dataset already exists\n",
                ZfsErrorKind::Exists,
            ),
            (
                "cannot receive new filesystem stream: out of space\n",
                ZfsErrorKind::NoSpace,
            ),
            ("cannot hold: permission denied\n", ZfsErrorKind::Permission),
            (
                "cannot receive new filesystem stream: zfs receive -F cannot be used to destroy an encrypted filesystem or overwrite an unencrypted one with an encrypted one\n",
                ZfsErrorKind::RecvForceIntoEncrypted,
            ),
            (
                "cannot receive incremental stream: most recent snapshot of dst/a does not\nmatch incremental source\n",
                ZfsErrorKind::IncrementalSourceMismatch,
            ),
            (
                "cannot receive incremental stream: destination dst/a has been modified\nsince most recent snapshot\n",
                ZfsErrorKind::DestinationModified,
            ),
            ("something odd\n", ZfsErrorKind::Unknown),
            (
                "cannot destroy snapshot p/c@d2: it's being held. Run 'zfs holds -r p/c@d2' to see holders.\n",
                ZfsErrorKind::Busy,
            ),
            (
                "cannot create bookmark 'p/c#b1': bookmark exists\n",
                ZfsErrorKind::Exists,
            ),
            (
                "cannot receive new filesystem stream: destination 'd/c' exists\nmust specify -F to overwrite it\n",
                ZfsErrorKind::Exists,
            ),
        ];
        for (text, kind) in cases {
            assert_eq!(ZfsErrorKind::classify(text), kind, "{text}");
        }
    }

    #[test]
    fn extracts_resume_token() {
        let text = "cannot receive resume stream: checksum mismatch or incomplete stream.\n\
            Partially received snapshot is saved.\n\
            A resuming stream can be generated on the sending system by running:\n    \
            zfs send -t 1-e604ea4bf-e0-789c63\n";
        assert_eq!(
            ZfsErrorKind::classify(text),
            ZfsErrorKind::ResumableReceiveFailed {
                token: "1-e604ea4bf-e0-789c63".into()
            }
        );
    }

    #[test]
    fn message_names_command_and_stderr() {
        let e = ZfsError::command_failed(
            "zfs destroy src/a@s".into(),
            ExitStatus::Code(1),
            "cannot destroy snapshot src/a@s: dataset is busy\n".into(),
        );
        assert_eq!(
            e.to_string(),
            "`zfs destroy src/a@s` failed (exit code 1): cannot destroy snapshot src/a@s: dataset is busy"
        );
        assert_eq!(e.kind(), ZfsErrorKind::Busy);
    }
}
