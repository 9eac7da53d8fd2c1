//! Feature probes: ZFS version and what this ZFS can do.

use std::fmt;

use crate::command::CommandLine;
use crate::driver::Zfs;
use crate::error::{ZfsError, ZfsErrorKind};
use crate::name::DatasetPath;

/// An OpenZFS userland version such as 2.3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ZfsVersion {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
}

impl ZfsVersion {
    /// Parses the first `zfs-X.Y.Z...` word of `zfs version` output.
    pub fn parse(output: &str) -> Option<ZfsVersion> {
        let first = output.lines().next()?.trim();
        let rest = first.strip_prefix("zfs-").unwrap_or(first);
        let mut nums = rest.split(['.', '-', '~', '_']).map(|p| p.parse::<u32>());
        Some(ZfsVersion {
            major: nums.next()?.ok()?,
            minor: nums.next()?.ok()?,
            patch: nums.next().and_then(Result::ok).unwrap_or(0),
        })
    }

    const fn at_least(self, major: u32, minor: u32) -> bool {
        self.major > major || (self.major == major && self.minor >= minor)
    }
}

impl fmt::Display for ZfsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// What the local ZFS supports, derived from its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// The userland version.
    pub version: ZfsVersion,
    /// `recv -s` / `send -t` (OpenZFS ≥ 0.7).
    pub resumable: bool,
    /// Native encryption and raw sends (≥ 0.8).
    pub encryption: bool,
    /// `zfs destroy fs@a,b,c` (every supported OpenZFS).
    pub comma_destroy: bool,
    /// `zfs bookmark fs#a fs#b` (≥ 2.0).
    pub bookmark_copy: bool,
    /// `snapshots_changed` property (≥ 2.2).
    pub snapshots_changed: bool,
}

/// State of a pool feature (`zpool get feature@NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolFeature {
    /// Enabled and in use.
    Active,
    /// Enabled, not yet used.
    Enabled,
    /// Supported but not enabled.
    Disabled,
    /// This ZFS does not know the feature.
    Unsupported,
}

impl Zfs {
    /// The userland version, from `zfs version` (falling back to `zfs -V`).
    pub async fn version(&self) -> Result<ZfsVersion, ZfsError> {
        let mut last = String::new();
        for arg in ["version", "-V"] {
            let line = CommandLine::zfs([arg]);
            let out = self.runner.output(&line).await?;
            if out.success()
                && let Some(v) = ZfsVersion::parse(&out.stdout)
            {
                return Ok(v);
            }
            last = format!("{}{}", out.stdout, out.stderr);
        }
        Err(ZfsError::Parse {
            command: "zfs version".into(),
            detail: format!("no version in {last:?}"),
        })
    }

    /// Probes the local ZFS's features.
    pub async fn features(&self) -> Result<Features, ZfsError> {
        let version = self.version().await?;
        Ok(Features {
            version,
            resumable: version.at_least(0, 7),
            encryption: version.at_least(0, 8),
            comma_destroy: true,
            bookmark_copy: version.at_least(2, 0),
            snapshots_changed: version.at_least(2, 2),
        })
    }

    /// The names of all imported pools (`zpool list -H -o name`).
    pub async fn list_pools(&self) -> Result<Vec<DatasetPath>, ZfsError> {
        let line = CommandLine::zpool(["list", "-H", "-o", "name"]);
        let out = self.runner.run(&line).await?;
        out.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| DatasetPath::new(l).map_err(ZfsError::from))
            .collect()
    }

    /// The state of pool feature `feature` (e.g. `extensible_dataset`) on `pool`.
    pub async fn pool_feature(&self, pool: &str, feature: &str) -> Result<PoolFeature, ZfsError> {
        let prop = format!("feature@{feature}");
        let line = CommandLine::zpool(["get", "-H", "-p", "-o", "value", &prop, pool]);
        match self.runner.run(&line).await {
            Ok(out) => Ok(match out.trim() {
                "active" => PoolFeature::Active,
                "enabled" => PoolFeature::Enabled,
                "disabled" => PoolFeature::Disabled,
                _ => PoolFeature::Unsupported,
            }),
            Err(e)
                if e.kind() == ZfsErrorKind::Unknown
                    && e.stderr().is_some_and(|s| s.contains("invalid property")) =>
            {
                Ok(PoolFeature::Unsupported)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        let v = ZfsVersion::parse("zfs-2.3.2-2~bpo12+2\nzfs-kmod-2.3.2-2~bpo12+2\n").expect("v");
        assert_eq!(v.to_string(), "2.3.2");
        assert!(v.at_least(2, 2) && !v.at_least(2, 4));
        assert_eq!(ZfsVersion::parse("zfs-0.8.6-1\n").map(|v| v.minor), Some(8));
        assert_eq!(ZfsVersion::parse("2.1.11\n").map(|v| v.patch), Some(11));
        assert_eq!(ZfsVersion::parse("garbage"), None);
    }
}
