//! Talking to ZFS: typed names, versions, and the `zfs` command-line driver.

pub mod error;
pub mod name;
pub mod version;

pub use error::{ZfsError, ZfsErrorKind};
pub use name::{BookmarkName, DatasetPath, HoldTag, NameError, PropertyName, SnapshotName};
pub use version::{Version, VersionKind};
