//! Checks across jobs and files: unique job names (also across included files) and receiving
//! jobs that would write into the same datasets.
//!
//! zrepl (since 0.7) drops its overlap check and leaves it to the administrator to keep
//! receiving jobs apart, "considering all possible `root_fs/<client identity>`" of sinks. zferry
//! checks exactly that rule: a sink owns `root_fs/<identity>` for each identity it accepts, a
//! pull job owns its `root_fs`, and no owned subtree may be, contain or lie below another job's.
//! So several sinks may share a `root_fs` (or a pull job may receive beside a sink's clients)
//! as long as their client identities keep the subtrees disjoint.

use std::path::PathBuf;

use super::error::{ConfigError, DecodeError, Pos};
use super::job::Job;
use super::transport::{Connect, Serve};

/// A job together with where it was defined.
pub(crate) struct Placed {
    pub(crate) job: Job,
    pub(crate) file: PathBuf,
    /// `jobs[i]` within its file.
    pub(crate) path: String,
    pub(crate) name_pos: Pos,
    pub(crate) root_fs_pos: Pos,
}

fn at(p: &Placed, pos: Pos, field: &str, problem: String) -> ConfigError {
    DecodeError::new(pos, format!("{}.{field}", p.path), problem).in_file(&p.file)
}

fn location(p: &Placed, pos: Pos) -> String {
    format!("{}:{}:{}", p.file.display(), pos.line, pos.column)
}

pub(crate) fn check(jobs: &[Placed]) -> Result<(), ConfigError> {
    for (i, later) in jobs.iter().enumerate() {
        if let Some(first) = jobs[..i].iter().find(|j| j.job.name() == later.job.name()) {
            return Err(at(
                later,
                later.name_pos,
                "name",
                format!(
                    "duplicate job name `{}`, expected a name not used by another job (first used at {})",
                    later.job.name(),
                    location(first, first.name_pos)
                ),
            ));
        }
    }
    let subtrees: Vec<Vec<Subtree>> = jobs.iter().map(|p| owned_subtrees(&p.job, jobs)).collect();
    for (i, later) in jobs.iter().enumerate() {
        for (first, first_subtrees) in jobs[..i].iter().zip(&subtrees) {
            let clash = subtrees[i].iter().find_map(|mine| {
                first_subtrees
                    .iter()
                    .find(|t| mine.overlaps(t))
                    .map(|t| (mine, t))
            });
            if let Some((mine, theirs)) = clash {
                return Err(at(
                    later,
                    later.root_fs_pos,
                    "root_fs",
                    format!(
                        "found `{}`, whose {mine} overlaps the {theirs} of job `{}` ({}); receiving jobs need separate filesystems (sinks may share a root_fs when their client identities differ)",
                        later.job.root_fs().unwrap_or_default(),
                        first.job.name(),
                        location(first, first.root_fs_pos)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A dataset subtree a receiving job writes into: a pull job's `root_fs`, or a sink's
/// `root_fs/<identity>` for each client identity it accepts. A tcp sink's CIDR entry names many
/// identities with one `*` (replaced by the client's address); its subtree's last component is
/// then that pattern.
#[derive(Debug)]
struct Subtree {
    components: Vec<String>,
    /// The client identity (sinks only), to say which one clashes.
    identity: Option<String>,
}

impl Subtree {
    fn new(root_fs: &str, identity: Option<&str>) -> Subtree {
        let mut components: Vec<String> = root_fs.split('/').map(str::to_owned).collect();
        components.extend(identity.map(str::to_owned));
        Subtree {
            components,
            identity: identity.map(str::to_owned),
        }
    }

    /// Whether one subtree can contain the other (the same dataset, or one below the other).
    fn overlaps(&self, other: &Subtree) -> bool {
        self.components
            .iter()
            .zip(&other.components)
            .all(|(a, b)| components_may_be_equal(a, b))
    }
}

impl std::fmt::Display for Subtree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.components.join("/");
        match &self.identity {
            Some(identity) => write!(f, "client subtree `{path}` (identity `{identity}`)"),
            None => write!(f, "root filesystem `{path}`"),
        }
    }
}

/// Whether two name components can be the same name; either may contain one `*` standing for
/// any text (a tcp CIDR identity), which matches a literal with its prefix and suffix.
fn components_may_be_equal(a: &str, b: &str) -> bool {
    match (a.split_once('*'), b.split_once('*')) {
        (None, None) => a == b,
        (Some((prefix, suffix)), None) => matches_pattern(b, prefix, suffix),
        (None, Some((prefix, suffix))) => matches_pattern(a, prefix, suffix),
        (Some((p1, s1)), Some((p2, s2))) => {
            (p1.starts_with(p2) || p2.starts_with(p1)) && (s1.ends_with(s2) || s2.ends_with(s1))
        }
    }
}

fn matches_pattern(literal: &str, prefix: &str, suffix: &str) -> bool {
    literal.len() >= prefix.len() + suffix.len()
        && literal.starts_with(prefix)
        && literal.ends_with(suffix)
}

/// The subtrees `job` receives into (none for sending jobs). A `local` sink's identities are the
/// `client_identity` of the push jobs that connect to its listener.
fn owned_subtrees(job: &Job, jobs: &[Placed]) -> Vec<Subtree> {
    match job {
        Job::Pull(pull) => vec![Subtree::new(&pull.root_fs, None)],
        Job::Sink(sink) => client_identities(&sink.serve, jobs)
            .into_iter()
            .map(|identity| Subtree::new(&sink.root_fs, Some(identity)))
            .collect(),
        _ => Vec::new(),
    }
}

fn client_identities<'a>(serve: &'a Serve, jobs: &'a [Placed]) -> Vec<&'a str> {
    match serve {
        Serve::Tcp(tcp) => tcp.clients.values().map(String::as_str).collect(),
        Serve::Tls(tls) => tls.client_cns.iter().map(String::as_str).collect(),
        Serve::Stdinserver(s) => s.client_identities.iter().map(String::as_str).collect(),
        Serve::Local(local) => jobs
            .iter()
            .filter_map(|p| match &p.job {
                Job::Push(push) => match &push.connect {
                    Connect::Local(c) if c.listener_name == local.listener_name => {
                        Some(c.client_identity.as_str())
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::{Subtree, components_may_be_equal};

    #[test]
    fn literal_components_must_be_equal() {
        assert!(components_may_be_equal("laptop", "laptop"));
        assert!(!components_may_be_equal("laptop", "desktop"));
    }

    #[test]
    fn a_cidr_identity_pattern_matches_the_addresses_it_can_produce() {
        assert!(components_may_be_equal("host-*", "host-10.0.0.5"));
        assert!(components_may_be_equal("10.0.0.5-nas", "*-nas"));
        assert!(!components_may_be_equal("host-*", "laptop"));
        assert!(!components_may_be_equal("a*b", "ab-"));
        assert!(components_may_be_equal("net-*", "net-10-*"));
        assert!(!components_may_be_equal("a-*", "b-*"));
        assert!(!components_may_be_equal("*-x", "*-y"));
    }

    #[test]
    fn subtrees_overlap_when_one_contains_the_other() {
        let sink = Subtree::new("pool/backup", Some("server"));
        assert!(sink.overlaps(&Subtree::new("pool/backup/server", None)));
        assert!(sink.overlaps(&Subtree::new("pool/backup/server/x", None)));
        assert!(sink.overlaps(&Subtree::new("pool", None)));
        assert!(!sink.overlaps(&Subtree::new("pool/backup/other", None)));
        assert!(!sink.overlaps(&Subtree::new("pool/backup", Some("laptop"))));
        assert!(sink.overlaps(&Subtree::new("pool/backup", Some("server"))));
    }
}
