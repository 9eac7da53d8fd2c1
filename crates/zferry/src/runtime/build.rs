//! Building each configured job: its endpoints, transports, snapshotter and tasks.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{Notify, watch};
use zferry_repl::abstractions::Lane;
use zferry_repl::endpoint::{EndpointError, Receiver, Sender};
use zferry_repl::executor::ReplicationOptions;
use zferry_repl::local::{LocalReceiver, LocalSender};
use zferry_rpc::ClientIdentity;
use zferry_rpc::access::SourceAccess;
use zferry_rpc::client::{ClientOptions, RemoteEndpoint};
use zferry_rpc::server::{ServerOptions, Service};
use zferry_zfs::{DatasetPath, Zfs};

use super::transport::{admitted_identities, connector, listener, peer_name};
use crate::config::Job;
use crate::config::global::Global;
use crate::config::job::{Interval, PruningSenderReceiver};
use crate::config::monitor::Monitor;
use crate::config::snapshotting::Snapshotting;
use crate::daemon::metrics::Metrics;
use crate::daemon::status::{JobState, JobType};
use crate::jobs::JobHandle;
use crate::jobs::active::ActiveJob;
use crate::jobs::datasets::{existing_dataset, filter_roots, list_pools};
use crate::jobs::options::{
    hooks, keep_rules, limiter, recv_options, replication_options, send_options,
};
use crate::jobs::passive::serve_until;
use crate::jobs::shared::JobShared;
use crate::jobs::snap::SnapPruner;
use crate::jobs::snapshotter::Snapshotter;
use crate::jobs::trigger::{Trigger, trigger};

/// A task of a job.
pub type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What building needs from the daemon.
pub struct BuildContext<'a> {
    /// The ZFS driver.
    pub zfs: &'a Zfs,
    /// The metrics.
    pub metrics: &'a Arc<Metrics>,
    /// Turns true on shutdown.
    pub shutdown: &'a watch::Receiver<bool>,
    /// The global settings.
    pub global: &'a Global,
}

/// The job type in the status model.
pub fn job_type(job: &Job) -> JobType {
    match job {
        Job::Push(_) => JobType::Push,
        Job::Sink(_) => JobType::Sink,
        Job::Pull(_) => JobType::Pull,
        Job::Source(_) => JobType::Source,
        Job::Snap(_) => JobType::Snap,
    }
}

/// A built job: its handle and the tasks to spawn.
pub struct Built {
    /// For the control server.
    pub handle: JobHandle,
    /// To spawn.
    pub tasks: Vec<Task>,
}

fn dataset(path: &str, what: &str) -> Result<DatasetPath, String> {
    DatasetPath::new(path).map_err(|e| format!("{what} {path:?}: {e}"))
}

/// A receiving job's `root_fs`, which must exist: zferry creates what goes below it (a sink's
/// client directories, placeholders), never the root itself, so a mistyped `root_fs` cannot
/// silently grow a new tree of placeholders (zrepl refuses it too).
///
/// The root is looked up by its own name; only when that fails are the pools listed, to say
/// which part is missing (listing every pool first made the setup depend on other pools, which
/// may be changing at that moment, and cost a `zfs` call per receiving job).
async fn existing_root(zfs: &Zfs, root_fs: &str) -> Result<DatasetPath, String> {
    let root = dataset(root_fs, "root_fs")?;
    if existing_dataset(zfs, root_fs).await.is_ok() {
        return Ok(root);
    }
    let pool = root_fs.split('/').next().unwrap_or(root_fs);
    let pools = list_pools(zfs).await?;
    if !pools.iter().any(|p| p.as_str() == pool) {
        return Err(format!("root_fs {root_fs}: the pool {pool} does not exist"));
    }
    Err(format!(
        "root_fs {root_fs} does not exist; zferry does not create it (`zfs create -p -o mountpoint=none {root_fs}`)"
    ))
}

/// Runs `task` until shutdown (for tasks that never end by themselves, like snapshotters).
fn until_shutdown(
    task: impl Future<Output = ()> + Send + 'static,
    mut shutdown: watch::Receiver<bool>,
) -> Task {
    Box::pin(async move {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => {}
            () = task => {}
        }
    })
}

fn snapshotter(
    name: &str,
    ctx: &BuildContext<'_>,
    roots: Vec<DatasetPath>,
    filter: &crate::config::filesystems::FilesystemsFilter,
    config: &Snapshotting,
    shared: &Arc<JobShared>,
    after_round: Option<Trigger>,
) -> Result<Task, String> {
    let namer = config.namer().transpose()?;
    let s = Snapshotter {
        job: name.to_string(),
        zfs: ctx.zfs.clone(),
        roots,
        filter: filter.clone(),
        config: config.clone(),
        namer,
        hooks: hooks(config.hooks())?,
        shared: Arc::clone(shared),
        after_round,
    };
    Ok(until_shutdown(s.run(), ctx.shutdown.clone()))
}

/// The parts of a push or pull job.
struct Active<'a> {
    job_type: JobType,
    sender: Arc<dyn Sender>,
    receiver: Arc<dyn Receiver>,
    options: ReplicationOptions,
    pruning: &'a PruningSenderReceiver,
    interval: Option<std::time::Duration>,
    monitor: &'a Monitor,
    snapshotting: Option<&'a Snapshotting>,
}

impl Active<'_> {
    /// The job's handle and run loop, and the trigger its snapshotter wakes.
    fn build(self, name: &str, ctx: &BuildContext<'_>) -> (Built, Trigger) {
        let shared = Arc::new(JobShared::new(self.job_type, JobState::Idle));
        shared.enable_monitor(self.monitor.clone(), true);
        let (wake, rx) = trigger();
        let reset = Arc::new(Notify::new());
        let active = ActiveJob {
            name: name.to_string(),
            sender: self.sender,
            receiver: self.receiver,
            options: self.options,
            keep_sender: keep_rules(&self.pruning.keep_sender),
            keep_receiver: keep_rules(&self.pruning.keep_receiver),
            interval: self.interval,
            shared: Arc::clone(&shared),
            metrics: Arc::clone(ctx.metrics),
            monitor: self.monitor.clone(),
            snapshotting: self.snapshotting.cloned(),
        };
        let run = active.run_loop(rx, Arc::clone(&reset), ctx.shutdown.clone());
        let built = Built {
            handle: JobHandle {
                name: name.to_string(),
                type_name: if self.job_type == JobType::Push {
                    "push"
                } else {
                    "pull"
                },
                shared,
                trigger: Some(wake.clone()),
                reset: Some(reset),
            },
            tasks: vec![Box::pin(run)],
        };
        (built, wake)
    }
}

/// Builds one job; an error is the job's setup error.
pub async fn build(job: &Job, ctx: &BuildContext<'_>) -> Result<Built, String> {
    let name = job.name().to_string();
    match job {
        Job::Push(p) => {
            let roots = filter_roots(ctx.zfs, &p.filesystems).await?;
            let lane = Lane::new(&name, peer_name(&p.connect));
            let sender: Arc<dyn Sender> = Arc::new(LocalSender::new(
                ctx.zfs.clone(),
                roots.clone(),
                p.filesystems.filter(),
                lane,
                send_options(&p.send),
            ));
            let receiver: Arc<dyn Receiver> = Arc::new(RemoteEndpoint::new(
                connector(&p.connect)?,
                ClientOptions {
                    limiter: limiter(&p.send.bandwidth_limit),
                    ..ClientOptions::default()
                },
            ));
            let active = Active {
                job_type: JobType::Push,
                sender,
                receiver,
                options: replication_options(&p.replication, &p.conflict_resolution),
                pruning: &p.pruning,
                interval: None,
                monitor: &p.monitor,
                snapshotting: Some(&p.snapshotting),
            };
            let (mut built, wake) = active.build(&name, ctx);
            built.tasks.push(snapshotter(
                &name,
                ctx,
                roots,
                &p.filesystems,
                &p.snapshotting,
                &built.handle.shared,
                Some(wake),
            )?);
            Ok(built)
        }
        Job::Pull(p) => {
            let root = existing_root(ctx.zfs, &p.root_fs).await?;
            let lane = Lane::new(&name, peer_name(&p.connect));
            let sender: Arc<dyn Sender> = Arc::new(RemoteEndpoint::new(
                connector(&p.connect)?,
                ClientOptions {
                    limiter: limiter(&p.recv.bandwidth_limit),
                    ..ClientOptions::default()
                },
            ));
            let receiver: Arc<dyn Receiver> = Arc::new(LocalReceiver::new(
                ctx.zfs.clone(),
                root,
                lane,
                recv_options(&p.recv)?,
            ));
            let active = Active {
                job_type: JobType::Pull,
                sender,
                receiver,
                options: replication_options(&p.replication, &p.conflict_resolution),
                pruning: &p.pruning,
                interval: match p.interval {
                    Interval::Manual => None,
                    Interval::Every(d) => Some(d.as_std()),
                },
                monitor: &p.monitor,
                snapshotting: None,
            };
            Ok(active.build(&name, ctx).0)
        }
        Job::Sink(s) => {
            let root = dataset(&s.root_fs, "root_fs")?;
            let recv = recv_options(&s.recv)?;
            let zfs = ctx.zfs.clone();
            let job = name.clone();
            let factory =
                move |identity: &ClientIdentity| -> Result<Arc<dyn Receiver>, EndpointError> {
                    let root = root
                        .join(identity.as_str())
                        .map_err(|e| EndpointError::access_denied(e.to_string()))?;
                    Ok(Arc::new(LocalReceiver::new(
                        zfs.clone(),
                        root,
                        Lane::new(&job, identity.as_str()),
                        recv.clone(),
                    )))
                };
            let listener = listener(&s.serve, ctx.global).await?;
            existing_root(ctx.zfs, &s.root_fs).await?;
            let options = ServerOptions {
                limiter: limiter(&s.recv.bandwidth_limit),
                ..ServerOptions::default()
            };
            let task = serve_until(
                name.clone(),
                listener,
                Service::Sink(Arc::new(factory)),
                options,
                ctx.shutdown.clone(),
            );
            Ok(Built {
                handle: JobHandle {
                    name,
                    type_name: "sink",
                    shared: Arc::new(JobShared::new(JobType::Sink, JobState::Serving)),
                    trigger: None,
                    reset: None,
                },
                tasks: vec![Box::pin(task)],
            })
        }
        Job::Source(s) => {
            let roots = filter_roots(ctx.zfs, &s.filesystems).await?;
            let filter = s.filesystems.filter();
            let send = send_options(&s.send);
            let zfs = ctx.zfs.clone();
            let job = name.clone();
            let sender_roots = roots.clone();
            let sender_filter = filter.clone();
            let factory =
                move |identity: &ClientIdentity| -> Result<Arc<dyn Sender>, EndpointError> {
                    Ok(Arc::new(LocalSender::new(
                        zfs.clone(),
                        sender_roots.clone(),
                        sender_filter.clone(),
                        Lane::new(&job, identity.as_str()),
                        send,
                    )))
                };
            let access = SourceAccess {
                clients: admitted_identities(&s.serve),
                filter: Arc::new(move |fs| filter.matches(fs.as_str())),
            };
            let listener = listener(&s.serve, ctx.global).await?;
            let options = ServerOptions {
                limiter: limiter(&s.send.bandwidth_limit),
                ..ServerOptions::default()
            };
            let shared = Arc::new(JobShared::new(JobType::Source, JobState::Serving));
            let snap = snapshotter(
                &name,
                ctx,
                roots,
                &s.filesystems,
                &s.snapshotting,
                &shared,
                None,
            )?;
            let task = serve_until(
                name.clone(),
                listener,
                Service::Source {
                    senders: Arc::new(factory),
                    access,
                },
                options,
                ctx.shutdown.clone(),
            );
            Ok(Built {
                handle: JobHandle {
                    name,
                    type_name: "source",
                    shared,
                    trigger: None,
                    reset: None,
                },
                tasks: vec![Box::pin(task), snap],
            })
        }
        Job::Snap(s) => {
            let roots = filter_roots(ctx.zfs, &s.filesystems).await?;
            let shared = Arc::new(JobShared::new(JobType::Snap, JobState::Idle));
            shared.enable_monitor(s.monitor.clone(), true);
            let endpoint = Arc::new(LocalSender::new(
                ctx.zfs.clone(),
                roots.clone(),
                s.filesystems.filter(),
                Lane::new(&name, ""),
                Default::default(),
            ));
            let (wake, rx) = trigger();
            let pruner = SnapPruner {
                name: name.clone(),
                endpoint,
                keep: keep_rules(&s.pruning.keep),
                monitor: s.monitor.clone(),
                snapshotting: s.snapshotting.clone(),
                shared: Arc::clone(&shared),
                metrics: Arc::clone(ctx.metrics),
            };
            let snap = snapshotter(
                &name,
                ctx,
                roots,
                &s.filesystems,
                &s.snapshotting,
                &shared,
                Some(wake.clone()),
            )?;
            let run = pruner.run_loop(rx, ctx.shutdown.clone());
            Ok(Built {
                handle: JobHandle {
                    name,
                    type_name: "snap",
                    shared,
                    trigger: Some(wake),
                    reset: None,
                },
                tasks: vec![Box::pin(run), snap],
            })
        }
    }
}

/// The handle of a job whose setup failed.
pub fn failed(job: &Job, error: String) -> JobHandle {
    JobHandle {
        name: job.name().to_string(),
        type_name: job.type_name(),
        shared: Arc::new(JobShared::setup_failed(job_type(job), error)),
        trigger: None,
        reset: None,
    }
}
