//! A job's `monitor` section (a zferry addition to zrepl's schema): the limits `zferry status`,
//! the metrics and `zferry check` compare replication lag, the age of the newest snapshot and the
//! time since the last successful run against.
//!
//! ```yaml
//! monitor:
//!   lag: {warn: 15m, crit: 1h}            # push, pull, sink, source
//!   last_success: {warn: 2h, crit: 1d}    # push, pull, snap
//!   snapshots:                            # push, source, snap: newest snapshot per prefix
//!     - {prefix: zrepl_, warn: 30m, crit: 2h}
//!   overrides:                            # the first whose filter matches a filesystem wins
//!     - filesystems: {"tank/db<": true}
//!       lag: {warn: 5m, crit: 15m}
//! ```
//!
//! Which keys a job type accepts follows from what its host can know: only an active job (push,
//! pull) runs, so only it has a last success; only a job on the sending host (push, source,
//! snap) takes the snapshots whose age `snapshots` watches; every job that replicates has a lag.

use serde::Serialize;

use super::decode::{DResult, Fields, Path, fail, list_of, non_empty, parsed};
use super::duration::{POSITIVE_DURATION_EXPECTED, PositiveDuration};
use super::filesystems::{FilesystemsFilter, decode_filesystems};
use super::yaml::Node;

/// A warning and a critical limit; either may be absent (that level is never reached).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Above this age the state is WARNING.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn: Option<PositiveDuration>,
    /// Above this age the state is CRITICAL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crit: Option<PositiveDuration>,
}

/// Limits on the age of the newest snapshot whose name starts with `prefix`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PrefixLimits {
    /// The snapshot name prefix (`zrepl_`; `""` for every snapshot).
    pub prefix: String,
    /// The limits.
    #[serde(flatten)]
    pub limits: Limits,
}

/// Limits for the filesystems a filter matches, instead of the job's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MonitorOverride {
    /// Which filesystems (sender-side names).
    pub filesystems: FilesystemsFilter,
    /// Their lag limits (absent: the job's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<Limits>,
    /// Their snapshot age limits (empty: the job's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<PrefixLimits>,
}

/// A job's `monitor` section; the default monitors nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Monitor {
    /// Age of the newest sender snapshot present on the receiver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<Limits>,
    /// Time since the end of the last fully successful run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<Limits>,
    /// Age of the newest snapshot per prefix.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<PrefixLimits>,
    /// Per-filesystem overrides.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<MonitorOverride>,
}

impl Monitor {
    /// Nothing is monitored (the section is absent).
    pub fn is_empty(&self) -> bool {
        *self == Monitor::default()
    }

    /// The lag limits of `filesystem` (sender-side name).
    pub fn lag_for(&self, filesystem: &str) -> Option<Limits> {
        self.override_for(filesystem)
            .and_then(|o| o.lag)
            .or(self.lag)
    }

    /// The snapshot age limits of `filesystem`.
    pub fn snapshots_for(&self, filesystem: &str) -> &[PrefixLimits] {
        match self.override_for(filesystem) {
            Some(o) if !o.snapshots.is_empty() => &o.snapshots,
            _ => &self.snapshots,
        }
    }

    fn override_for(&self, filesystem: &str) -> Option<&MonitorOverride> {
        self.overrides
            .iter()
            .find(|o| o.filesystems.filter().matches(filesystem))
    }
}

/// What a job type may monitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Allowed {
    /// `lag` (jobs that replicate).
    pub(crate) lag: bool,
    /// `last_success` (jobs that run: push, pull, snap).
    pub(crate) last_success: bool,
    /// `snapshots` (jobs on the host that snapshots: push, source, snap).
    pub(crate) snapshots: bool,
}

fn duration(node: &Node, path: &Path) -> DResult<PositiveDuration> {
    parsed(
        node,
        path,
        POSITIVE_DURATION_EXPECTED,
        PositiveDuration::parse,
    )
}

/// `warn` and `crit` of a mapping that may hold more fields (`prefix`).
fn limits_of(f: &Fields<'_>) -> DResult<Limits> {
    let limits = Limits {
        warn: f.opt("warn", duration)?,
        crit: f.opt("crit", duration)?,
    };
    match (limits.warn, limits.crit) {
        (None, None) => fail(
            f.node(),
            f.path(),
            "missing both `warn` and `crit`, expected at least one limit",
        ),
        (Some(warn), Some(crit)) if warn > crit => {
            let (n, p) = f.get("warn").unwrap_or((f.node(), f.path().clone()));
            fail(
                n,
                &p,
                format!("found `{warn}`, expected at most the `crit` limit `{crit}`"),
            )
        }
        _ => Ok(limits),
    }
}

fn limits(node: &Node, path: &Path) -> DResult<Limits> {
    limits_of(&Fields::new(node, path, &["warn", "crit"])?)
}

fn prefix_limits(node: &Node, path: &Path) -> DResult<PrefixLimits> {
    let f = Fields::new(node, path, &["prefix", "warn", "crit"])?;
    Ok(PrefixLimits {
        prefix: f.req("prefix", |n, p| {
            // An empty prefix is allowed: it stands for every snapshot.
            if matches!(&n.kind, super::yaml::Kind::Scalar { text, .. } if text.is_empty()) {
                return Ok(String::new());
            }
            non_empty(n, p)
        })?,
        limits: limits_of(&f)?,
    })
}

fn prefix_list(node: &Node, path: &Path) -> DResult<Vec<PrefixLimits>> {
    list_of(node, path, true, prefix_limits)
}

/// Fails at `key` of `f` when the job type does not allow it.
fn refuse_unless(f: &Fields<'_>, key: &str, allowed: bool, job_type: &str) -> DResult<()> {
    match f.get(key) {
        Some((n, p)) if !allowed => fail(
            n,
            &p,
            format!("a {job_type} job cannot monitor `{key}`: {}", why(key)),
        ),
        _ => Ok(()),
    }
}

fn why(key: &str) -> &'static str {
    match key {
        "lag" => "it does not replicate",
        "last_success" => "it only serves requests and has no runs of its own",
        _ => "it does not take the snapshots (they are taken on the sending host)",
    }
}

fn decode_override(
    node: &Node,
    path: &Path,
    allowed: Allowed,
    job_type: &str,
) -> DResult<MonitorOverride> {
    let f = Fields::new(node, path, &["filesystems", "lag", "snapshots"])?;
    refuse_unless(&f, "lag", allowed.lag, job_type)?;
    refuse_unless(&f, "snapshots", allowed.snapshots, job_type)?;
    let o = MonitorOverride {
        filesystems: f.req("filesystems", decode_filesystems)?,
        lag: f.opt("lag", limits)?,
        snapshots: f.or("snapshots", Vec::new(), prefix_list)?,
    };
    if o.lag.is_none() && o.snapshots.is_empty() {
        return fail(
            node,
            path,
            "missing `lag` or `snapshots`, expected a limit to override",
        );
    }
    Ok(o)
}

/// Decodes `monitor` of a job of `job_type`.
pub(crate) fn decode_monitor(
    node: &Node,
    path: &Path,
    job_type: &str,
    allowed: Allowed,
) -> DResult<Monitor> {
    let f = Fields::new(
        node,
        path,
        &["lag", "last_success", "snapshots", "overrides"],
    )?;
    refuse_unless(&f, "lag", allowed.lag, job_type)?;
    refuse_unless(&f, "last_success", allowed.last_success, job_type)?;
    refuse_unless(&f, "snapshots", allowed.snapshots, job_type)?;
    Ok(Monitor {
        lag: f.opt("lag", limits)?,
        last_success: f.opt("last_success", limits)?,
        snapshots: f.or("snapshots", Vec::new(), prefix_list)?,
        overrides: f.or("overrides", Vec::new(), |n, p| {
            list_of(n, p, true, |n, p| decode_override(n, p, allowed, job_type))
        })?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::parse;

    const ALL: Allowed = Allowed {
        lag: true,
        last_success: true,
        snapshots: true,
    };

    fn decode(src: &str, allowed: Allowed) -> DResult<Monitor> {
        let node = parse(src).expect("yaml").expect("content");
        decode_monitor(&node, &Path::default().key("monitor"), "push", allowed)
    }

    #[test]
    fn overrides_win_for_the_filesystems_they_match() {
        let m = decode(
            "lag: {warn: 15m, crit: 1h}\nsnapshots: [{prefix: zrepl_, crit: 2h}]\noverrides:\n  - filesystems: {\"tank/db<\": true}\n    lag: {warn: 5m}\n",
            ALL,
        )
        .expect("valid");
        assert_eq!(
            m.lag_for("tank/db/x")
                .and_then(|l| l.warn)
                .map(|d| d.to_string()),
            Some("5m".into())
        );
        assert_eq!(m.lag_for("tank/db/x").and_then(|l| l.crit), None);
        assert_eq!(
            m.lag_for("tank/other")
                .and_then(|l| l.crit)
                .map(|d| d.to_string()),
            Some("1h".into())
        );
        assert_eq!(m.snapshots_for("tank/db")[0].prefix, "zrepl_");
    }

    #[test]
    fn warn_above_crit_is_an_error_at_warn() {
        let e = decode("lag:\n  warn: 2h\n  crit: 1h\n", ALL).expect_err("invalid");
        assert_eq!(e.path, "monitor.lag.warn");
        assert_eq!(e.pos.line, 2);
        assert_eq!(
            e.problem,
            "found `2h`, expected at most the `crit` limit `1h`"
        );
    }

    #[test]
    fn a_key_the_job_type_cannot_know_is_refused() {
        let none = Allowed {
            lag: false,
            last_success: false,
            snapshots: false,
        };
        let e = decode("last_success: {crit: 1h}\n", none).expect_err("refused");
        assert_eq!(e.path, "monitor.last_success");
        assert!(e.problem.contains("no runs of its own"), "{}", e.problem);
        assert!(decode("lag: {}\n", ALL).is_err());
    }
}
