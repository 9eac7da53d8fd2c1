//! The [`Zfs`] handle every operation hangs off (the operations live in their own modules).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use crate::command::{CommandLine, InvocationStats, Runner, ZfsConfig};
use crate::error::ZfsError;

/// The production ZFS driver: runs `zfs`/`zpool` as child processes.
///
/// Cheap to clone; clones share the invocation counters and what was learned about
/// unsupported properties.
#[derive(Debug, Clone, Default)]
pub struct Zfs {
    pub(crate) runner: Runner,
    /// Properties this `zfs` rejected as unknown (older OpenZFS), left out of later listings.
    unsupported_props: Arc<Mutex<BTreeSet<String>>>,
}

impl Zfs {
    /// A driver for the given programs and environment.
    pub fn new(config: ZfsConfig) -> Zfs {
        Zfs {
            runner: Runner {
                config,
                stats: Arc::default(),
            },
            unsupported_props: Arc::default(),
        }
    }

    /// The configuration this driver runs with.
    pub fn config(&self) -> &ZfsConfig {
        &self.runner.config
    }

    /// Invocation counts and timings per verb, for metrics and benchmarks.
    pub fn stats(&self) -> &InvocationStats {
        &self.runner.stats
    }

    /// Runs `zfs` with a list of properties, dropping (and remembering) each property this
    /// `zfs` reports as invalid and retrying, so one listing degrades instead of failing on
    /// older OpenZFS. `build` gets the usable properties and makes the command line.
    pub(crate) async fn run_with_props(
        &self,
        wanted: &[&str],
        build: impl Fn(&str) -> CommandLine,
    ) -> Result<(crate::command::Finished, Vec<String>), ZfsError> {
        loop {
            let props: Vec<String> = {
                let unsupported = self.unsupported();
                wanted
                    .iter()
                    .filter(|p| !unsupported.contains(**p))
                    .map(|p| (*p).to_owned())
                    .collect()
            };
            let line = build(&props.join(","));
            let out = self.runner.output(&line).await?;
            match invalid_property(&out.stderr) {
                Some(bad) if !out.success() && props.contains(&bad) => {
                    tracing::debug!(property = %bad, "property unsupported by this zfs; dropping it");
                    self.unsupported_props
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(bad);
                }
                _ => return Ok((out, props)),
            }
        }
    }

    fn unsupported(&self) -> BTreeSet<String> {
        self.unsupported_props
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The property named in `bad property list: invalid property 'x'`.
fn invalid_property(stderr: &str) -> Option<String> {
    let (_, rest) = stderr.split_once("invalid property '")?;
    let (name, _) = rest.split_once('\'')?;
    Some(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_invalid_property() {
        let text = "bad property list: invalid property 'snapshots_changed'\nusage:\n";
        assert_eq!(invalid_property(text).as_deref(), Some("snapshots_changed"));
        assert_eq!(
            invalid_property("cannot open 'x': dataset does not exist"),
            None
        );
    }

    #[tokio::test]
    async fn degrades_when_a_property_is_unknown() {
        let script = "case \"$1\" in *snapshots_changed*) echo \"bad property list: invalid property 'snapshots_changed'\" >&2; exit 2;; esac; echo \"$1\"";
        let zfs = Zfs::new(ZfsConfig {
            zfs_bin: "sh".into(),
            ..ZfsConfig::default()
        });
        let build = |props: &str| CommandLine::zfs(["-c", script, "sh", props]);
        let (out, used) = zfs
            .run_with_props(&["name", "snapshots_changed"], build)
            .await
            .expect("runs");
        assert_eq!(out.stdout, "name\n");
        assert_eq!(used, ["name"]);
        // Remembered: the second listing does not try again.
        zfs.stats().reset();
        zfs.run_with_props(&["name", "snapshots_changed"], build)
            .await
            .expect("runs");
        assert_eq!(zfs.stats().total_count(), 1);
    }
}
