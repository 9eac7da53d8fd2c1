//! Prometheus metrics and the `/metrics` HTTP endpoint (OpenMetrics text format).
//!
//! All names start with `zferry_`. The job label is `zferry_job` because Prometheus reserves `job`
//! for the scrape job (it would rename ours to `exported_job`).
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `zferry_daemon_start_time_seconds` | gauge | | Unix time the daemon started |
//! | `zferry_build_info` | gauge (1) | `version` | the daemon's version |
//! | `zferry_replication_state_duration_seconds` | histogram | `zferry_job`, `state` | time spent per replication state (`planning`, `stepping`, ...) |
//! | `zferry_replication_bytes_total` | counter | `zferry_job`, `filesystem` | bytes replicated |
//! | `zferry_replication_filesystem_errors` | gauge | `zferry_job` | filesystems that failed in the last attempt |
//! | `zferry_replication_last_success_timestamp_seconds` | gauge | `zferry_job` | end of the last fully successful run |
//! | `zferry_pruning_duration_seconds` | histogram | `zferry_job`, `side` | duration of pruning runs (`sender`, `receiver`, `local`) |
//! | `zferry_zfs_commands_total` | counter | `verb` | `zfs`/`zpool` invocations (`zfs list`, `zfs send`, ...) |
//! | `zferry_zfs_command_seconds_total` | counter | `verb` | summed wall time of those invocations |
//! | `zferry_receiver_newest_snapshot_timestamp_seconds` | gauge | `zferry_job`, `filesystem` | creation time of the newest sender snapshot present on the receiver (by guid) |
//! | `zferry_replication_lag_seconds` | gauge | `zferry_job`, `filesystem` | age of that snapshot at scrape time |
//!
//! The last two carry exactly the filesystems the job replicates, as of its last observation
//! (a filesystem the job stops replicating disappears).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use jiff::Timestamp;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

/// Per-verb invocation statistics of the ZFS driver, read at every scrape.
pub trait ZfsCommandStats: Send + Sync {
    /// For each verb (`"zfs list"`, ...): number of invocations and their summed wall time.
    fn verb_stats(&self) -> Vec<(String, u64, Duration)>;
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    zferry_job: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobStateLabels {
    zferry_job: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobSideLabels {
    zferry_job: String,
    side: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobFsLabels {
    zferry_job: String,
    filesystem: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerbLabels {
    verb: String,
}

type NewestSnapshots = Arc<Mutex<BTreeMap<(String, String), Timestamp>>>;

/// The daemon's metrics; cheap to share behind an `Arc`, every method takes `&self`.
pub struct Metrics {
    registry: Registry,
    state_durations: Family<JobStateLabels, Histogram>,
    bytes: Family<JobFsLabels, Counter>,
    fs_errors: Family<JobLabels, Gauge>,
    last_success: Family<JobLabels, Gauge<f64, AtomicU64>>,
    pruning: Family<JobSideLabels, Histogram>,
    newest_on_receiver: NewestSnapshots,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn duration_histogram() -> Histogram {
    // 10 ms .. ~11 h
    Histogram::new(exponential_buckets(0.01, 4.0, 12))
}

fn unix_seconds(t: Timestamp) -> f64 {
    t.as_millisecond() as f64 / 1000.0
}

impl Metrics {
    /// Registers all metrics. `started_at` is the daemon's start; `zfs` supplies the command
    /// counters.
    pub fn new(started_at: Timestamp, zfs: Arc<dyn ZfsCommandStats>) -> Metrics {
        let mut registry = Registry::with_prefix("zferry");

        let start = Gauge::<f64, AtomicU64>::default();
        start.set(unix_seconds(started_at));
        registry.register(
            "daemon_start_time_seconds",
            "Unix time the daemon started",
            start,
        );
        let build = Family::<VersionLabels, Gauge>::default();
        build
            .get_or_create(&VersionLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        registry.register("build_info", "The daemon's version (always 1)", build);

        let state_durations = Family::<JobStateLabels, Histogram>::new_with_constructor(
            duration_histogram as fn() -> Histogram,
        );
        registry.register(
            "replication_state_duration_seconds",
            "Time spent in each replication state",
            state_durations.clone(),
        );
        let bytes = Family::<JobFsLabels, Counter>::default();
        registry.register(
            "replication_bytes",
            "Bytes replicated per filesystem",
            bytes.clone(),
        );
        let fs_errors = Family::<JobLabels, Gauge>::default();
        registry.register(
            "replication_filesystem_errors",
            "Filesystems that failed in the last replication attempt",
            fs_errors.clone(),
        );
        let last_success = Family::<JobLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "replication_last_success_timestamp_seconds",
            "Unix time the last fully successful run ended",
            last_success.clone(),
        );
        let pruning = Family::<JobSideLabels, Histogram>::new_with_constructor(
            duration_histogram as fn() -> Histogram,
        );
        registry.register(
            "pruning_duration_seconds",
            "Duration of pruning runs per side",
            pruning.clone(),
        );
        let newest_on_receiver = NewestSnapshots::default();
        registry.register_collector(Box::new(DynamicCollector {
            zfs,
            newest_on_receiver: Arc::clone(&newest_on_receiver),
        }));
        Metrics {
            registry,
            state_durations,
            bytes,
            fs_errors,
            last_success,
            pruning,
            newest_on_receiver,
        }
    }

    /// Records time a job's replication spent in `state`.
    pub fn observe_replication_state(&self, job: &str, state: &str, took: Duration) {
        self.state_durations
            .get_or_create(&JobStateLabels {
                zferry_job: job.to_string(),
                state: state.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// Adds replicated bytes of one filesystem.
    pub fn add_bytes_replicated(&self, job: &str, filesystem: &str, bytes: u64) {
        self.bytes
            .get_or_create(&JobFsLabels {
                zferry_job: job.to_string(),
                filesystem: filesystem.to_string(),
            })
            .inc_by(bytes);
    }

    /// Sets the number of filesystems that failed in the job's last attempt.
    pub fn set_filesystem_errors(&self, job: &str, failed: u64) {
        self.fs_errors
            .get_or_create(&JobLabels {
                zferry_job: job.to_string(),
            })
            .set(i64::try_from(failed).unwrap_or(i64::MAX));
    }

    /// Records the end of a fully successful run.
    pub fn set_last_success(&self, job: &str, at: Timestamp) {
        self.last_success
            .get_or_create(&JobLabels {
                zferry_job: job.to_string(),
            })
            .set(unix_seconds(at));
    }

    /// Records a pruning run of one side (`sender`, `receiver` or `local`).
    pub fn observe_pruning(&self, job: &str, side: &str, took: Duration) {
        self.pruning
            .get_or_create(&JobSideLabels {
                zferry_job: job.to_string(),
                side: side.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// Replaces the job's filesystems and, per filesystem, the creation time of the newest
    /// sender snapshot present on the receiver (`None`: none yet, no sample); the lag is computed
    /// from it at every scrape.
    pub fn set_replicated_newest(&self, job: &str, newest: &BTreeMap<String, Option<Timestamp>>) {
        if let Ok(mut map) = self.newest_on_receiver.lock() {
            map.retain(|(j, _), _| j != job);
            for (fs, at) in newest {
                if let Some(at) = at {
                    map.insert((job.to_string(), fs.clone()), *at);
                }
            }
        }
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Metrics computed at scrape time: zfs command counters and replication lag.
struct DynamicCollector {
    zfs: Arc<dyn ZfsCommandStats>,
    newest_on_receiver: NewestSnapshots,
}

impl std::fmt::Debug for DynamicCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicCollector").finish_non_exhaustive()
    }
}

/// Writes one metric family whose samples are computed at scrape time.
fn encode_samples<L: EncodeLabelSet, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    (name, help): (&str, &str),
    metric_type: prometheus_client::metrics::MetricType,
    samples: impl IntoIterator<Item = (L, M)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, metric_type)?;
    for (labels, metric) in samples {
        metric.encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for DynamicCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.zfs.verb_stats();
        let verb = |v: &String| VerbLabels { verb: v.clone() };
        let counter = ConstCounter::new(0u64).metric_type();
        encode_samples(
            &mut encoder,
            ("zfs_commands", "zfs/zpool invocations per verb"),
            counter,
            stats
                .iter()
                .map(|(v, count, _)| (verb(v), ConstCounter::new(*count))),
        )?;
        encode_samples(
            &mut encoder,
            (
                "zfs_command_seconds",
                "Summed wall time of zfs/zpool invocations per verb",
            ),
            counter,
            stats
                .iter()
                .map(|(v, _, took)| (verb(v), ConstCounter::new(took.as_secs_f64()))),
        )?;

        let newest: Vec<_> = self
            .newest_on_receiver
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        let labels = |(job, filesystem): &(String, String)| JobFsLabels {
            zferry_job: job.clone(),
            filesystem: filesystem.clone(),
        };
        let gauge = ConstGauge::new(0.0f64).metric_type();
        encode_samples(
            &mut encoder,
            (
                "receiver_newest_snapshot_timestamp_seconds",
                "Creation time of the newest snapshot on the receiver",
            ),
            gauge,
            newest
                .iter()
                .map(|(key, at)| (labels(key), ConstGauge::new(unix_seconds(*at)))),
        )?;
        let now = unix_seconds(Timestamp::now());
        encode_samples(
            &mut encoder,
            (
                "replication_lag_seconds",
                "Age of the newest snapshot on the receiver",
            ),
            gauge,
            newest.iter().map(|(key, at)| {
                (
                    labels(key),
                    ConstGauge::new((now - unix_seconds(*at)).max(0.0)),
                )
            }),
        )
    }
}

/// The router with `GET /metrics`.
pub fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(metrics)
}

async fn scrape(State(metrics): State<Arc<Metrics>>) -> axum::response::Response {
    match metrics.encode() {
        Ok(text) => (
            [(
                CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Serves `/metrics` on `listener` (the prometheus `listen` address) until `shutdown`.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, metrics_router(metrics))
        .with_graceful_shutdown(shutdown)
        .await
}
