//! Creating datasets (including placeholders), rollback, and aborting resumable receives.

use crate::command::CommandLine;
use crate::driver::Zfs;
use crate::error::{ZfsError, ZfsErrorKind};
use crate::list::PLACEHOLDER_PROPERTY;
use crate::name::{DatasetPath, PropertyName, SnapshotName};

/// Options for [`Zfs::create`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateOptions {
    /// Create missing parents (`-p`).
    pub parents: bool,
    /// Make a placeholder: `mountpoint=none` and `zferry:placeholder=on`.
    pub placeholder: bool,
    /// Force `encryption=off` (so a raw encrypted stream can be received below an encrypted
    /// parent's child, or to keep a placeholder unencrypted).
    pub encryption_off: bool,
    /// Further `-o name=value` properties.
    pub properties: Vec<(PropertyName, String)>,
}

impl Zfs {
    /// Creates a filesystem.
    pub async fn create(
        &self,
        dataset: &DatasetPath,
        options: &CreateOptions,
    ) -> Result<(), ZfsError> {
        let mut line = CommandLine::zfs(["create"]);
        if options.parents {
            line.arg("-p");
        }
        if options.placeholder {
            line.arg("-o").arg("mountpoint=none");
            line.arg("-o").arg(format!("{PLACEHOLDER_PROPERTY}=on"));
        }
        if options.encryption_off {
            line.arg("-o").arg("encryption=off");
        }
        for (p, v) in &options.properties {
            line.arg("-o").arg(format!("{p}={v}"));
        }
        line.arg(dataset.as_str());
        self.runner.run(&line).await.map(drop)
    }

    /// Rolls a filesystem back to `snapshot`; with `destroy_newer` (`-r`) later snapshots and
    /// bookmarks are destroyed, else their existence is an error.
    pub async fn rollback(
        &self,
        snapshot: &SnapshotName,
        destroy_newer: bool,
    ) -> Result<(), ZfsError> {
        let mut line = CommandLine::zfs(["rollback"]);
        if destroy_newer {
            line.arg("-r");
        }
        line.arg(snapshot.to_string());
        self.runner.run(&line).await.map(drop)
    }

    /// Discards the partial state of an interrupted `recv -s` (`zfs recv -A`). Having no
    /// such state (or no dataset) counts as success.
    pub async fn abort_resumable_receive(&self, dataset: &DatasetPath) -> Result<(), ZfsError> {
        let line = CommandLine::zfs(["receive", "-A", dataset.as_str()]);
        match self.runner.run(&line).await {
            Err(e) if e.kind() != ZfsErrorKind::DoesNotExist => Err(e),
            _ => Ok(()),
        }
    }
}
