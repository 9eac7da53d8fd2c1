//! Mapping the configuration onto the engine's option types (replication, send, receive,
//! keep rules) and the hooks onto the daemon's hook implementations.

use std::sync::Arc;

use zferry_repl::endpoint::Protection;
use zferry_repl::executor::ReplicationOptions;
use zferry_repl::local::{PlaceholderEncryption, RecvOptions, SendOptions};
use zferry_repl::planner::{InitialReplication, PlanOptions, ProtectionOptions};
use zferry_repl::prune::{GridInterval, GridKeep, KeepRule};
use zferry_rpc::bandwidth::BandwidthLimiter;
use zferry_zfs::PropertyName;

use crate::config::filesystems::FilesystemsFilter;
use crate::config::job::{self, BandwidthLimit, ConflictResolution, ProtectionLevel, Replication};
use crate::config::pruning;
use crate::config::snapshotting::Hook as HookConfig;
use crate::daemon::hooks::command::CommandHook;
use crate::daemon::hooks::mysql::MysqlLockTablesHook;
use crate::daemon::hooks::postgres::PostgresCheckpointHook;
use crate::daemon::hooks::{Hook, HookSettings};

fn protection(level: ProtectionLevel) -> Protection {
    match level {
        ProtectionLevel::GuaranteeResumability => Protection::GuaranteeResumability,
        ProtectionLevel::GuaranteeIncremental => Protection::GuaranteeIncremental,
        ProtectionLevel::GuaranteeNothing => Protection::GuaranteeNothing,
    }
}

/// The engine options of a push or pull job.
pub fn replication_options(
    replication: &Replication,
    conflict: &ConflictResolution,
) -> ReplicationOptions {
    let initial = match conflict.initial_replication {
        job::InitialReplication::MostRecent => InitialReplication::MostRecent,
        job::InitialReplication::All => InitialReplication::All,
        job::InitialReplication::Fail => InitialReplication::Fail,
    };
    ReplicationOptions {
        plan: PlanOptions {
            initial,
            protection: ProtectionOptions {
                initial: protection(replication.protection.initial),
                incremental: protection(replication.protection.incremental),
            },
            ..PlanOptions::default()
        },
        concurrency_steps: replication.concurrency.steps.max(1) as usize,
        concurrency_size_estimates: replication.concurrency.size_estimates.max(1) as usize,
        ..ReplicationOptions::default()
    }
}

/// The send options of a push or source job.
pub fn send_options(send: &job::SendOptions) -> SendOptions {
    SendOptions {
        encrypted: send.encrypted,
        raw: send.raw,
        properties: send.send_properties,
        backup_properties: send.backup_properties,
        large_blocks: send.large_blocks,
        compressed: send.compressed,
        embedded_data: send.embedded_data,
    }
}

/// The receive options of a sink or pull job.
pub fn recv_options(recv: &job::RecvOptions) -> Result<RecvOptions, String> {
    let prop = |name: &str| PropertyName::new(name).map_err(|e| format!("property {name:?}: {e}"));
    Ok(RecvOptions {
        placeholder_encryption: match recv.placeholder.encryption {
            job::PlaceholderEncryption::Unspecified => PlaceholderEncryption::Unspecified,
            job::PlaceholderEncryption::Inherit => PlaceholderEncryption::Inherit,
            job::PlaceholderEncryption::Off => PlaceholderEncryption::Off,
        },
        properties_override: recv
            .properties
            .override_
            .iter()
            .map(|(k, v)| Ok((prop(k)?, v.clone())))
            .collect::<Result<_, String>>()?,
        properties_inherit: recv
            .properties
            .inherit
            .iter()
            .map(|k| prop(k))
            .collect::<Result<_, String>>()?,
    })
}

/// A job's bandwidth limiter, `None` when unlimited.
pub fn limiter(limit: &BandwidthLimit) -> Option<BandwidthLimiter> {
    limit
        .max_bytes_per_second()
        .map(|rate| BandwidthLimiter::new(rate, limit.bucket_capacity_bytes().max(1)))
}

/// The engine's keep rules for the configured ones.
pub fn keep_rules(rules: &[pruning::KeepRule]) -> Vec<KeepRule> {
    rules
        .iter()
        .map(|rule| match rule {
            pruning::KeepRule::NotReplicated(r) => KeepRule::NotReplicated {
                keep_snapshot_at_cursor: r.keep_snapshot_at_cursor,
            },
            pruning::KeepRule::LastN(r) => KeepRule::LastN {
                count: r.count as usize,
                regex: r.regex.as_ref().map(|p| p.regex().clone()),
            },
            pruning::KeepRule::Grid(r) => KeepRule::Grid {
                intervals: r
                    .grid
                    .intervals()
                    .map(|(length, keep)| GridInterval {
                        length: length.as_std(),
                        keep: match keep {
                            pruning::GridKeep::All => GridKeep::All,
                            pruning::GridKeep::Count(n) => GridKeep::Count(n as usize),
                        },
                    })
                    .collect(),
                regex: r.regex.regex().clone(),
            },
            pruning::KeepRule::Regex(r) => KeepRule::Regex {
                regex: r.regex.regex().clone(),
                negate: r.negate,
            },
        })
        .collect()
}

/// The hooks of a snapshotter.
pub fn hooks(configs: &[HookConfig]) -> Result<Vec<Arc<dyn Hook>>, String> {
    let settings = |timeout: std::time::Duration, fs: &FilesystemsFilter, fatal: bool| {
        let filter = fs.filter();
        HookSettings {
            err_is_fatal: fatal,
            timeout,
            filesystems: Some(Arc::new(move |name: &str| filter.matches(name))),
        }
    };
    configs
        .iter()
        .map(|h| -> Result<Arc<dyn Hook>, String> {
            Ok(match h {
                HookConfig::Command(c) => Arc::new(CommandHook::new(
                    c.path.clone(),
                    settings(c.timeout.as_std(), &c.filesystems, c.err_is_fatal),
                )),
                HookConfig::PostgresCheckpoint(d) => Arc::new(
                    PostgresCheckpointHook::new(
                        &d.dsn,
                        settings(d.timeout.as_std(), &d.filesystems, d.err_is_fatal),
                    )
                    .map_err(|e| format!("postgres-checkpoint hook: {e}"))?,
                ),
                HookConfig::MysqlLockTables(d) => Arc::new(
                    MysqlLockTablesHook::new(
                        &d.dsn,
                        settings(d.timeout.as_std(), &d.filesystems, d.err_is_fatal),
                    )
                    .map_err(|e| format!("mysql-lock-tables hook: {e}"))?,
                ),
            })
        })
        .collect()
}
