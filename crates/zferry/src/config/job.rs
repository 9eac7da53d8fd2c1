//! Jobs: `push`, `sink`, `pull`, `source` and `snap`, with their send/receive options,
//! replication and conflict-resolution settings.

use serde::Serialize;
use std::collections::BTreeMap;

use super::decode::{
    Ctx, DResult, Fields, Path, checked, choice, fail, list_of, parsed, string, string_map,
    type_tag, unsigned,
};
use super::duration::{POSITIVE_DURATION_EXPECTED, PositiveDuration};
use super::filesystems::{FilesystemsFilter, decode_filesystems};
use super::monitor::{Allowed, Monitor, decode_monitor};
use super::names;
use super::pruning::{KeepRule, RuleSide, decode_rules};
use super::size::{DataSize, SIZE_EXPECTED};
use super::snapshotting::{Snapshotting, decode_snapshotting};
use super::transport::{Connect, Serve, decode_connect, decode_serve};
use super::yaml::Node;

/// A job.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Job {
    /// Snapshots, replicates to a sink, prunes both sides.
    Push(PushJob),
    /// Receives from push jobs into `root_fs/<client identity>/…`.
    Sink(SinkJob),
    /// Replicates from a source into `root_fs/…`, prunes both sides.
    Pull(PullJob),
    /// Serves its filesystems to pull jobs; snapshots.
    Source(SourceJob),
    /// Snapshots and prunes locally.
    Snap(SnapJob),
}

impl Job {
    /// The job's name.
    pub fn name(&self) -> &str {
        match self {
            Job::Push(j) => &j.name,
            Job::Sink(j) => &j.name,
            Job::Pull(j) => &j.name,
            Job::Source(j) => &j.name,
            Job::Snap(j) => &j.name,
        }
    }

    /// The job type as written in the configuration.
    pub fn type_name(&self) -> &'static str {
        match self {
            Job::Push(_) => "push",
            Job::Sink(_) => "sink",
            Job::Pull(_) => "pull",
            Job::Source(_) => "source",
            Job::Snap(_) => "snap",
        }
    }

    /// The job's `monitor` section.
    pub fn monitor(&self) -> &Monitor {
        match self {
            Job::Push(j) => &j.monitor,
            Job::Sink(j) => &j.monitor,
            Job::Pull(j) => &j.monitor,
            Job::Source(j) => &j.monitor,
            Job::Snap(j) => &j.monitor,
        }
    }

    /// The root filesystem of a receiving job (sink, pull).
    pub fn root_fs(&self) -> Option<&str> {
        match self {
            Job::Sink(j) => Some(&j.root_fs),
            Job::Pull(j) => Some(&j.root_fs),
            _ => None,
        }
    }
}

/// `type: push`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PushJob {
    /// Unique job name.
    pub name: String,
    /// How to reach the sink.
    pub connect: Connect,
    /// Filesystems to replicate.
    pub filesystems: FilesystemsFilter,
    /// `zfs send` options.
    pub send: SendOptions,
    /// When to snapshot.
    pub snapshotting: Snapshotting,
    /// What to keep on both sides.
    pub pruning: PruningSenderReceiver,
    /// Protection and concurrency.
    pub replication: Replication,
    /// How to resolve conflicts.
    pub conflict_resolution: ConflictResolution,
    /// Limits for status, metrics and `zferry check` (zferry's addition).
    #[serde(skip_serializing_if = "Monitor::is_empty")]
    pub monitor: Monitor,
}

/// `type: sink`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SinkJob {
    /// Unique job name.
    pub name: String,
    /// How clients reach this job.
    pub serve: Serve,
    /// Filesystem below which each client's data lands in `<root_fs>/<client identity>`.
    pub root_fs: String,
    /// `zfs recv` options.
    pub recv: RecvOptions,
    /// Limits for status, metrics and `zferry check` (zferry's addition).
    #[serde(skip_serializing_if = "Monitor::is_empty")]
    pub monitor: Monitor,
}

/// `type: pull`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PullJob {
    /// Unique job name.
    pub name: String,
    /// How to reach the source.
    pub connect: Connect,
    /// Filesystem below which the source's filesystems land.
    pub root_fs: String,
    /// How often to pull (`manual`: only on `zferry signal wakeup`).
    pub interval: Interval,
    /// `zfs recv` options.
    pub recv: RecvOptions,
    /// What to keep on both sides.
    pub pruning: PruningSenderReceiver,
    /// Protection and concurrency.
    pub replication: Replication,
    /// How to resolve conflicts.
    pub conflict_resolution: ConflictResolution,
    /// Limits for status, metrics and `zferry check` (zferry's addition).
    #[serde(skip_serializing_if = "Monitor::is_empty")]
    pub monitor: Monitor,
}

/// `type: source`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SourceJob {
    /// Unique job name.
    pub name: String,
    /// How clients reach this job.
    pub serve: Serve,
    /// Filesystems served.
    pub filesystems: FilesystemsFilter,
    /// `zfs send` options.
    pub send: SendOptions,
    /// When to snapshot.
    pub snapshotting: Snapshotting,
    /// Limits for status, metrics and `zferry check` (zferry's addition).
    #[serde(skip_serializing_if = "Monitor::is_empty")]
    pub monitor: Monitor,
}

/// `type: snap`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SnapJob {
    /// Unique job name.
    pub name: String,
    /// Filesystems to snapshot and prune.
    pub filesystems: FilesystemsFilter,
    /// When to snapshot.
    pub snapshotting: Snapshotting,
    /// What to keep.
    pub pruning: PruningLocal,
    /// Limits for status, metrics and `zferry check` (zferry's addition).
    #[serde(skip_serializing_if = "Monitor::is_empty")]
    pub monitor: Monitor,
}

/// A pull job's `interval`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    /// Only when woken up by `zferry signal wakeup`.
    Manual,
    /// Every so often.
    Every(PositiveDuration),
}

impl Serialize for Interval {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Interval::Manual => s.serialize_str("manual"),
            Interval::Every(d) => d.serialize(s),
        }
    }
}

/// `pruning` of push and pull jobs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PruningSenderReceiver {
    /// Rules for the sending side.
    pub keep_sender: Vec<KeepRule>,
    /// Rules for the receiving side.
    pub keep_receiver: Vec<KeepRule>,
}

/// `pruning` of snap jobs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PruningLocal {
    /// Rules.
    pub keep: Vec<KeepRule>,
}

/// `send` options (all off by default, no bandwidth limit).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SendOptions {
    /// Send encrypted filesystems raw and refuse unencrypted ones (`zfs send -w`).
    pub encrypted: bool,
    /// Send raw (`-w`) whether encrypted or not.
    pub raw: bool,
    /// Include properties (`-p`).
    pub send_properties: bool,
    /// Include properties, backup style (`-b`).
    pub backup_properties: bool,
    /// Large blocks (`-L`).
    pub large_blocks: bool,
    /// Compressed blocks as on disk (`-c`).
    pub compressed: bool,
    /// Embedded data blocks (`-e`).
    pub embedded_data: bool,
    /// Send a partially received (saved) state (`-S`).
    pub saved: bool,
    /// Send bandwidth limit.
    pub bandwidth_limit: BandwidthLimit,
}

/// `recv` options.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecvOptions {
    /// Property handling on receive.
    pub properties: RecvProperties,
    /// Receive bandwidth limit.
    pub bandwidth_limit: BandwidthLimit,
    /// How missing parent filesystems (placeholders) are created.
    pub placeholder: Placeholder,
}

impl Default for RecvOptions {
    fn default() -> Self {
        Self {
            properties: RecvProperties::default(),
            bandwidth_limit: BandwidthLimit::default(),
            placeholder: Placeholder {
                encryption: PlaceholderEncryption::Unspecified,
            },
        }
    }
}

/// `recv.properties`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RecvProperties {
    /// Properties received as inherited (`zfs recv -x`).
    pub inherit: Vec<String>,
    /// Properties set on receive (`zfs recv -o`).
    #[serde(rename = "override")]
    pub override_: BTreeMap<String, String>,
}

/// `recv.placeholder`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Placeholder {
    /// Encryption of created placeholders.
    pub encryption: PlaceholderEncryption,
}

/// `recv.placeholder.encryption`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceholderEncryption {
    /// Fail if a placeholder would need creating (the administrator must decide).
    Unspecified,
    /// Inherit encryption from the parent.
    Inherit,
    /// Create placeholders unencrypted.
    Off,
}

/// `bandwidth_limit`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BandwidthLimit {
    /// Maximum rate per second; negative means unlimited (default `-1 B`).
    pub max: DataSize,
    /// Token bucket size (default `128 KiB`).
    pub bucket_capacity: DataSize,
}

impl Default for BandwidthLimit {
    fn default() -> Self {
        Self {
            max: DataSize::literal(-8.0, "-1 B"),
            bucket_capacity: DataSize::literal(128.0 * 1024.0 * 8.0, "128 KiB"),
        }
    }
}

impl BandwidthLimit {
    /// The limit in bytes per second, `None` if unlimited.
    pub fn max_bytes_per_second(&self) -> Option<u64> {
        self.max.whole_bytes()
    }

    /// The bucket capacity in bytes.
    pub fn bucket_capacity_bytes(&self) -> u64 {
        self.bucket_capacity.whole_bytes().unwrap_or(0)
    }
}

/// `replication`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Replication {
    /// What each step guarantees.
    pub protection: Protection,
    /// How much runs in parallel.
    pub concurrency: Concurrency,
}

impl Default for Replication {
    fn default() -> Self {
        Self {
            protection: Protection {
                initial: ProtectionLevel::GuaranteeResumability,
                incremental: ProtectionLevel::GuaranteeResumability,
            },
            concurrency: Concurrency {
                steps: 1,
                size_estimates: 4,
            },
        }
    }
}

/// `replication.protection`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Protection {
    /// For the first (full) step of a filesystem (default `guarantee_resumability`).
    pub initial: ProtectionLevel,
    /// For incremental steps (default `guarantee_resumability`).
    pub incremental: ProtectionLevel,
}

/// A replication protection level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtectionLevel {
    /// Holds on both snapshots of a step: an interrupted step can always resume.
    GuaranteeResumability,
    /// Bookmarks: the next step can always be incremental.
    GuaranteeIncremental,
    /// No extra protection.
    GuaranteeNothing,
}

/// `replication.concurrency`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Concurrency {
    /// Parallel replication steps (default 1).
    pub steps: u32,
    /// Parallel size estimates (default 4).
    pub size_estimates: u32,
}

/// `conflict_resolution`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConflictResolution {
    /// What to send when the receiver has nothing yet (default `most_recent`).
    pub initial_replication: InitialReplication,
}

/// `conflict_resolution.initial_replication`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialReplication {
    /// Only the newest snapshot.
    MostRecent,
    /// All snapshots.
    All,
    /// Refuse; the administrator decides.
    Fail,
}

fn job_name(node: &Node, path: &Path) -> DResult<String> {
    checked(node, path, "a job name", names::job_name)
}

fn root_fs(node: &Node, path: &Path) -> DResult<String> {
    checked(
        node,
        path,
        "a dataset path like `pool/backups`",
        names::dataset_path,
    )
}

fn size(node: &Node, path: &Path) -> DResult<DataSize> {
    parsed(node, path, SIZE_EXPECTED, DataSize::parse)
}

fn bandwidth_limit(node: &Node, path: &Path) -> DResult<BandwidthLimit> {
    let f = Fields::new(node, path, &["max", "bucket_capacity"])?;
    let d = BandwidthLimit::default();
    let limit = BandwidthLimit {
        max: f.or("max", d.max, size)?,
        bucket_capacity: f.or("bucket_capacity", d.bucket_capacity, size)?,
    };
    if let Some(bytes) = limit.max.whole_bytes()
        && bytes == 0
        && limit.max.bits() > 0.0
        && let Some((n, p)) = f.get("max")
    {
        return fail(
            n,
            &p,
            format!(
                "found `{}`, expected at least one byte per second",
                limit.max
            ),
        );
    }
    if limit.bucket_capacity.whole_bytes().unwrap_or(0) == 0 {
        let (n, p) = f
            .get("bucket_capacity")
            .unwrap_or((f.node(), f.path().clone()));
        return fail(
            n,
            &p,
            format!(
                "found `{}`, expected a bucket capacity of at least one byte",
                limit.bucket_capacity
            ),
        );
    }
    Ok(limit)
}

fn send_options(node: &Node, path: &Path) -> DResult<SendOptions> {
    let f = Fields::new(
        node,
        path,
        &[
            "encrypted",
            "raw",
            "send_properties",
            "backup_properties",
            "large_blocks",
            "compressed",
            "embedded_data",
            "saved",
            "bandwidth_limit",
        ],
    )?;
    Ok(SendOptions {
        encrypted: f.flag("encrypted", false)?,
        raw: f.flag("raw", false)?,
        send_properties: f.flag("send_properties", false)?,
        backup_properties: f.flag("backup_properties", false)?,
        large_blocks: f.flag("large_blocks", false)?,
        compressed: f.flag("compressed", false)?,
        embedded_data: f.flag("embedded_data", false)?,
        saved: f.flag("saved", false)?,
        bandwidth_limit: f.or(
            "bandwidth_limit",
            BandwidthLimit::default(),
            bandwidth_limit,
        )?,
    })
}

fn property(node: &Node, path: &Path) -> DResult<String> {
    checked(node, path, "a ZFS property name", names::property)
}

fn recv_options(node: &Node, path: &Path) -> DResult<RecvOptions> {
    let f = Fields::new(
        node,
        path,
        &["properties", "bandwidth_limit", "placeholder"],
    )?;
    Ok(RecvOptions {
        properties: f.or("properties", RecvProperties::default(), |n, p| {
            let f = Fields::new(n, p, &["inherit", "override"])?;
            Ok(RecvProperties {
                inherit: f.or("inherit", Vec::new(), |n, p| list_of(n, p, false, property))?,
                override_: f.or("override", BTreeMap::new(), |n, p| {
                    string_map(n, p, |k, v, p| {
                        property(k, p)?;
                        string(v, p)
                    })
                })?,
            })
        })?,
        bandwidth_limit: f.or(
            "bandwidth_limit",
            BandwidthLimit::default(),
            bandwidth_limit,
        )?,
        placeholder: f.or("placeholder", RecvOptions::default().placeholder, |n, p| {
            let f = Fields::new(n, p, &["encryption"])?;
            Ok(Placeholder {
                encryption: f.or("encryption", PlaceholderEncryption::Unspecified, |n, p| {
                    choice(
                        n,
                        p,
                        &[
                            ("unspecified", PlaceholderEncryption::Unspecified),
                            ("inherit", PlaceholderEncryption::Inherit),
                            ("off", PlaceholderEncryption::Off),
                        ],
                    )
                })?,
            })
        })?,
    })
}

fn replication(node: &Node, path: &Path) -> DResult<Replication> {
    let f = Fields::new(node, path, &["protection", "concurrency"])?;
    let d = Replication::default();
    let levels = [
        (
            "guarantee_resumability",
            ProtectionLevel::GuaranteeResumability,
        ),
        (
            "guarantee_incremental",
            ProtectionLevel::GuaranteeIncremental,
        ),
        ("guarantee_nothing", ProtectionLevel::GuaranteeNothing),
    ];
    let positive = |n: &Node, p: &Path| -> DResult<u32> {
        let v: u32 = unsigned(n, p, "a positive number")?;
        if v == 0 {
            return fail(n, p, "found `0`, expected a positive number");
        }
        Ok(v)
    };
    Ok(Replication {
        protection: f.or("protection", d.protection.clone(), |n, p| {
            let f = Fields::new(n, p, &["initial", "incremental"])?;
            Ok(Protection {
                initial: f.or("initial", d.protection.initial, |n, p| {
                    choice(n, p, &levels)
                })?,
                incremental: f.or("incremental", d.protection.incremental, |n, p| {
                    choice(n, p, &levels)
                })?,
            })
        })?,
        concurrency: f.or("concurrency", d.concurrency.clone(), |n, p| {
            let f = Fields::new(n, p, &["steps", "size_estimates"])?;
            Ok(Concurrency {
                steps: f.or("steps", d.concurrency.steps, positive)?,
                size_estimates: f.or("size_estimates", d.concurrency.size_estimates, positive)?,
            })
        })?,
    })
}

fn conflict_resolution(node: &Node, path: &Path) -> DResult<ConflictResolution> {
    let f = Fields::new(node, path, &["initial_replication"])?;
    Ok(ConflictResolution {
        initial_replication: f.or(
            "initial_replication",
            InitialReplication::MostRecent,
            |n, p| {
                choice(
                    n,
                    p,
                    &[
                        ("most_recent", InitialReplication::MostRecent),
                        ("all", InitialReplication::All),
                        ("fail", InitialReplication::Fail),
                    ],
                )
            },
        )?,
    })
}

fn pruning_sender_receiver(node: &Node, path: &Path) -> DResult<PruningSenderReceiver> {
    let f = Fields::new(node, path, &["keep_sender", "keep_receiver"])?;
    Ok(PruningSenderReceiver {
        keep_sender: f.req("keep_sender", |n, p| decode_rules(n, p, RuleSide::Sender))?,
        keep_receiver: f.req("keep_receiver", |n, p| {
            decode_rules(n, p, RuleSide::Receiver)
        })?,
    })
}

/// `replication` and `conflict_resolution`, shared by push and pull jobs.
struct ActiveFields {
    replication: Replication,
    conflict_resolution: ConflictResolution,
}

fn active_fields(f: &Fields<'_>) -> DResult<ActiveFields> {
    Ok(ActiveFields {
        replication: f.or("replication", Replication::default(), replication)?,
        conflict_resolution: f.or(
            "conflict_resolution",
            ConflictResolution {
                initial_replication: InitialReplication::MostRecent,
            },
            conflict_resolution,
        )?,
    })
}

/// `monitor` of a job of `job_type`, with the keys that job type can know about.
fn monitor(f: &Fields<'_>, job_type: &str) -> DResult<Monitor> {
    let allowed = Allowed {
        lag: job_type != "snap",
        last_success: matches!(job_type, "push" | "pull" | "snap"),
        snapshots: matches!(job_type, "push" | "source" | "snap"),
    };
    f.or("monitor", Monitor::default(), |n, p| {
        decode_monitor(n, p, job_type, allowed)
    })
}

/// Decodes one job.
pub(crate) fn decode_job(node: &Node, path: &Path, ctx: &mut Ctx) -> DResult<Job> {
    let ty = type_tag(node, path, &["push", "sink", "pull", "source", "snap"])?;
    Ok(match ty.as_str() {
        "push" => {
            let f = Fields::new(
                node,
                path,
                &[
                    "type",
                    "name",
                    "connect",
                    "filesystems",
                    "send",
                    "snapshotting",
                    "pruning",
                    "replication",
                    "conflict_resolution",
                    "monitor",
                ],
            )?;
            let active = active_fields(&f)?;
            Job::Push(PushJob {
                name: f.req("name", job_name)?,
                monitor: monitor(&f, "push")?,
                connect: f.req("connect", |n, p| decode_connect(n, p, ctx))?,
                filesystems: f.req("filesystems", decode_filesystems)?,
                send: f.or("send", SendOptions::default(), send_options)?,
                snapshotting: f.req("snapshotting", decode_snapshotting)?,
                pruning: f.req("pruning", pruning_sender_receiver)?,
                replication: active.replication,
                conflict_resolution: active.conflict_resolution,
            })
        }
        "sink" => {
            let f = Fields::new(
                node,
                path,
                &["type", "name", "serve", "root_fs", "recv", "monitor"],
            )?;
            Job::Sink(SinkJob {
                name: f.req("name", job_name)?,
                monitor: monitor(&f, "sink")?,
                serve: f.req("serve", |n, p| decode_serve(n, p, ctx))?,
                root_fs: f.req("root_fs", root_fs)?,
                recv: f.or("recv", RecvOptions::default(), recv_options)?,
            })
        }
        "pull" => {
            let f = Fields::new(
                node,
                path,
                &[
                    "type",
                    "name",
                    "connect",
                    "root_fs",
                    "interval",
                    "recv",
                    "pruning",
                    "replication",
                    "conflict_resolution",
                    "monitor",
                ],
            )?;
            let active = active_fields(&f)?;
            Job::Pull(PullJob {
                name: f.req("name", job_name)?,
                monitor: monitor(&f, "pull")?,
                connect: f.req("connect", |n, p| decode_connect(n, p, ctx))?,
                root_fs: f.req("root_fs", root_fs)?,
                interval: f.req("interval", |n, p| {
                    if string(n, p)? == "manual" {
                        return Ok(Interval::Manual);
                    }
                    parsed(
                        n,
                        p,
                        &format!("`manual` or {POSITIVE_DURATION_EXPECTED}"),
                        PositiveDuration::parse,
                    )
                    .map(Interval::Every)
                })?,
                recv: f.or("recv", RecvOptions::default(), recv_options)?,
                pruning: f.req("pruning", pruning_sender_receiver)?,
                replication: active.replication,
                conflict_resolution: active.conflict_resolution,
            })
        }
        "source" => {
            let f = Fields::new(
                node,
                path,
                &[
                    "type",
                    "name",
                    "serve",
                    "filesystems",
                    "send",
                    "snapshotting",
                    "monitor",
                ],
            )?;
            Job::Source(SourceJob {
                name: f.req("name", job_name)?,
                monitor: monitor(&f, "source")?,
                serve: f.req("serve", |n, p| decode_serve(n, p, ctx))?,
                filesystems: f.req("filesystems", decode_filesystems)?,
                send: f.or("send", SendOptions::default(), send_options)?,
                snapshotting: f.req("snapshotting", decode_snapshotting)?,
            })
        }
        _ => {
            let f = Fields::new(
                node,
                path,
                &[
                    "type",
                    "name",
                    "filesystems",
                    "snapshotting",
                    "pruning",
                    "monitor",
                ],
            )?;
            Job::Snap(SnapJob {
                name: f.req("name", job_name)?,
                monitor: monitor(&f, "snap")?,
                filesystems: f.req("filesystems", decode_filesystems)?,
                snapshotting: f.req("snapshotting", decode_snapshotting)?,
                pruning: f.req("pruning", |n, p| {
                    let f = Fields::new(n, p, &["keep"])?;
                    Ok(PruningLocal {
                        keep: f.req("keep", |n, p| decode_rules(n, p, RuleSide::Local))?,
                    })
                })?,
            })
        }
    })
}
