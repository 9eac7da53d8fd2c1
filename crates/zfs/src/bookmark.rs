//! Idempotent bookmark creation.

use crate::command::CommandLine;
use crate::driver::Zfs;
use crate::error::{ZfsError, ZfsErrorKind};
use crate::name::BookmarkName;
use crate::version::Version;

impl Zfs {
    /// Creates `bookmark` from `source` (a snapshot, or a bookmark where OpenZFS supports
    /// bookmark copies). If the bookmark already exists with `source`'s guid this is success;
    /// with another guid it is [`ZfsError::BookmarkGuidMismatch`].
    pub async fn bookmark(
        &self,
        source: &Version,
        bookmark: &BookmarkName,
    ) -> Result<(), ZfsError> {
        let line = CommandLine::zfs([
            "bookmark".to_owned(),
            source.full_name(),
            bookmark.to_string(),
        ]);
        match self.runner.run(&line).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ZfsErrorKind::Exists => {
                let existing = self.guid_of(&bookmark.to_string()).await?;
                if existing == source.guid {
                    Ok(())
                } else {
                    Err(ZfsError::BookmarkGuidMismatch {
                        bookmark: bookmark.to_string(),
                        existing,
                        expected: source.guid,
                    })
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The `guid` of a dataset, snapshot or bookmark.
    pub async fn guid_of(&self, name: &str) -> Result<u64, ZfsError> {
        let line = CommandLine::zfs(["get", "-H", "-p", "-o", "value", "guid", name]);
        let out = self.runner.run(&line).await?;
        out.trim_end().parse().map_err(|_| ZfsError::Parse {
            command: line.display(),
            detail: format!("guid {out:?} is not a number"),
        })
    }
}
