//! Talking to ZFS: typed names, versions, and the `zfs` command-line driver.
//!
//! [`Zfs`] runs the `zfs`/`zpool` programs (configurable, see [`ZfsConfig`]) over
//! `tokio::process`. Every call is logged with `tracing::debug!` and counted per verb
//! ([`Zfs::stats`]); failures carry the command line and bounded stderr and are classified
//! ([`ZfsErrorKind`]). Listings are one `zfs list` per call, never one per dataset.

mod command;
mod driver;
mod stream;

mod bookmark;
pub mod dataset;
pub mod destroy;
pub mod error;
pub mod features;
pub mod holds;
pub mod list;
pub mod name;
pub mod props;
pub mod recv;
pub mod resume_token;
pub mod send;
mod snapshot;
pub mod version;

pub use command::{InvocationStats, VerbStats, ZfsConfig};
pub use dataset::CreateOptions;
pub use destroy::{DestroyReport, Undestroyed};
pub use driver::Zfs;
pub use error::{ZfsError, ZfsErrorKind};
pub use features::{Features, PoolFeature, ZfsVersion};
pub use holds::Hold;
pub use list::{DatasetInfo, DatasetType, KeyStatus, ListedVersion, VersionQuery};
pub use name::{BookmarkName, DatasetPath, HoldTag, NameError, PropertyName, SnapshotName};
pub use props::{PropertySource, PropertyValue};
pub use recv::{ExpectedSnapshot, Receive, ReceiveOptions};
pub use resume_token::{ResumeTokenContents, TokenError, decode as decode_resume_token};
pub use send::{SendEstimate, SendFlags, SendFrom, SendRequest, SendStream};
pub use stream::PIPE_SIZE;
pub use version::{Version, VersionKind};
