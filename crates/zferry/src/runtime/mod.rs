//! The daemon supervisor: builds every job from the configuration, starts their tasks, serves the
//! control socket and the Prometheus endpoints, and shuts everything down within a bound.
//!
//! Startup: each job is built on its own ([`build::build`]); a job whose setup fails (it cannot
//! listen, a certificate is unreadable, ...) is logged and reported in the status as
//! `setup_failed`, and the other jobs run. The control socket is required: without it the daemon
//! cannot be controlled, so failing to bind it ends the daemon with an error. A Prometheus
//! listener that cannot bind is logged and skipped.
//!
//! Readiness: once the control socket, every job's listener and the metrics endpoints are bound,
//! the daemon tells systemd `READY=1` (and pings its watchdog when asked to; see
//! [`crate::daemon::systemd`]).
//!
//! Shutdown: when the `shutdown` future completes, every job stops scheduling, running
//! replications are cancelled (their `zfs send`/`recv` children are killed; receives are
//! resumable, so the next start continues where they stopped), servers stop accepting, and the
//! supervisor waits at most [`DaemonOptions::shutdown_grace`] for the tasks before aborting them.

pub mod build;
pub mod control;
pub mod logging;
pub mod transport;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;
use zferry_zfs::{Zfs, ZfsConfig};

use crate::config::Config;
use crate::config::global::Monitoring;
use crate::daemon::control::server::serve_control;
use crate::daemon::control::socket::bind_control_socket;
use crate::daemon::metrics::{Metrics, ZfsCommandStats, serve_metrics};
use crate::daemon::systemd;
use build::{BuildContext, build, failed};
use control::JobSet;

/// How the daemon runs, beyond the configuration.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// The ZFS programs and their environment.
    pub zfs: ZfsConfig,
    /// How long shutdown waits for tasks before aborting them.
    pub shutdown_grace: Duration,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            zfs: ZfsConfig::default(),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// The driver's per-verb counters, for the metrics.
struct DriverStats(Zfs);

impl ZfsCommandStats for DriverStats {
    fn verb_stats(&self) -> Vec<(String, u64, Duration)> {
        self.0
            .stats()
            .snapshot()
            .into_iter()
            .map(|(verb, s)| (verb, s.count, s.total_time))
            .collect()
    }
}

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The control socket could not be bound.
    #[error("control socket: {0}")]
    Control(#[from] crate::daemon::control::socket::SocketError),
}

/// Runs the daemon until `shutdown` completes.
pub async fn run(
    config: Config,
    options: DaemonOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let started_at = Timestamp::now();
    let zfs = Zfs::new(options.zfs.clone());
    let metrics = Arc::new(Metrics::new(started_at, Arc::new(DriverStats(zfs.clone()))));
    let (stop, stopped) = watch::channel(false);
    let stop_future = {
        let stopped = stopped.clone();
        move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        }
    };

    let control_listener = bind_control_socket(&config.global.control.sockpath).await?;

    let ctx = BuildContext {
        zfs: &zfs,
        metrics: &metrics,
        shutdown: &stopped,
        global: &config.global,
    };
    let mut tasks = JoinSet::new();
    let mut handles = Vec::new();
    for job in &config.jobs {
        // Every line a job logs, while it is set up and in its tasks (also the `zfs` debug
        // lines and a passive job's connections), carries the job's name.
        let span = tracing::info_span!("job", job = %job.name());
        match build(job, &ctx).instrument(span.clone()).await {
            Ok(built) => {
                tracing::info!(job = %job.name(), r#type = job.type_name(), "job started");
                for task in built.tasks {
                    tasks.spawn(task.instrument(span.clone()));
                }
                handles.push(built.handle);
            }
            Err(error) => {
                tracing::error!(job = %job.name(), %error, "job setup failed; the other jobs run");
                handles.push(failed(job, error));
            }
        }
    }

    let jobs = Arc::new(JobSet::new(started_at, handles));
    tasks.spawn({
        let done = stop_future();
        let path = config.global.control.sockpath.clone();
        async move {
            if let Err(e) = serve_control(control_listener, jobs, done).await {
                tracing::error!(error = %e, "control socket failed");
            }
            let _ = std::fs::remove_file(&path);
        }
    });
    for monitoring in &config.global.monitoring {
        let Monitoring::Prometheus(p) = monitoring;
        let address = transport::listen_address(&p.listen);
        match tokio::net::TcpListener::bind(&address).await {
            Ok(listener) => {
                let metrics = Arc::clone(&metrics);
                let done = stop_future();
                tasks.spawn(async move {
                    if let Err(e) = serve_metrics(listener, metrics, done).await {
                        tracing::error!(error = %e, "metrics endpoint failed");
                    }
                });
            }
            Err(e) => {
                tracing::error!(listen = %address, error = %e, "cannot serve metrics");
            }
        }
    }
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        jobs = config.jobs.len(),
        "daemon running"
    );
    systemd::notify_ready();
    if let Some(interval) = systemd::watchdog_ping_interval() {
        tasks.spawn(systemd::ping_watchdog(interval, stopped.clone()));
    }

    shutdown.await;
    tracing::info!("shutting down");
    systemd::notify_stopping();
    let _ = stop.send(true);
    let drained = tokio::time::timeout(options.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            grace = ?options.shutdown_grace,
            "tasks did not stop in time; aborting them"
        );
        tasks.shutdown().await;
    }
    let _ = std::fs::remove_file(&config.global.control.sockpath);
    tracing::info!("daemon stopped");
    Ok(())
}
