//! `zferry demo`: a push job replicating to a sink over the `local` transport, run by a real
//! daemon (in-process, same code as `zferry daemon`) on simulated pools in a temporary directory.
//! It writes files, takes snapshots, wakes the push job, shows snapshots and status after each
//! round, prunes by policy and finally proves, file by file, that the replica holds the same data.
//! With `--real` the same runs on real ZFS, in datasets created below the pools the user names.

mod files;
mod sim;
mod world;

pub use sim::run_as_simulator;

use std::time::Duration;

use anyhow::{Context, bail};
use zferry_zfs::ZfsConfig;

use crate::config::{self, LoadOptions};
use crate::daemon::control::client::ControlClient;
use crate::daemon::status_ui::view::dump_text;
use crate::runtime::{self, DaemonOptions};
use world::World;

/// What `zferry demo` does.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Real ZFS: `(source pool or dataset, target pool or dataset)`; `None`: the simulator.
    pub real: Option<(String, String)>,
    /// Snapshot-and-replicate rounds.
    pub rounds: u32,
    /// Keep the temporary directory (and, with `--real`, the datasets).
    pub keep: bool,
}

const LISTENER: &str = "demo";
const CLIENT: &str = "laptop";
const PUSH_JOB: &str = "demo_push";

fn config_text(sockpath: &str, source: &str, root_fs: &str) -> String {
    format!(
        r#"global:
  logging:
    - type: stdout
      level: warn
      format: human
  control:
    sockpath: {sockpath}
jobs:
  - name: demo_sink
    type: sink
    root_fs: {root_fs}
    serve:
      type: local
      listener_name: {LISTENER}
  - name: {PUSH_JOB}
    type: push
    connect:
      type: local
      listener_name: {LISTENER}
      client_identity: {CLIENT}
    filesystems:
      "{source}<": true
    snapshotting:
      type: manual
    pruning:
      keep_sender:
        - type: not_replicated
        - type: last_n
          count: 2
      keep_receiver:
        - type: last_n
          count: 3
"#
    )
}

/// Runs the demo.
pub fn run(options: &DemoOptions) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("zferry-demo-")
        .tempdir()
        .context("creating a temporary directory")?;
    let base = tmp.path().to_path_buf();
    let world = match &options.real {
        None => {
            let bin = base.join("bin");
            sim::install_links(&bin).context("linking the simulator programs")?;
            let state = base.join("sim");
            std::fs::create_dir_all(&state)?;
            let zfs = ZfsConfig {
                zfs_bin: bin.join("zfs"),
                zpool_bin: bin.join("zpool"),
                env: vec![("ZFS_SIM_DIR".into(), state.into_os_string())],
            };
            println!(
                "== zferry demo on the ZFS simulator (state in {})",
                base.display()
            );
            World::simulated(zfs)?
        }
        Some((src, dst)) => {
            println!("== zferry demo on real ZFS: {src}/zferry-demo -> {dst}/zferry-demo");
            World::real(ZfsConfig::default(), src, dst)?
        }
    };
    let result = demo(options, &world, &base);
    if options.keep {
        let kept = tmp.keep();
        println!("kept {}", kept.display());
    } else if let Err(e) = world.cleanup() {
        eprintln!("cleanup: {e:#}");
    }
    result
}

fn demo(options: &DemoOptions, world: &World, base: &std::path::Path) -> anyhow::Result<()> {
    let source = world.source_root();
    let home = format!("{source}/home");
    let root_fs = world.target_root();
    world.create(&source)?;
    world.create(&home)?;
    // The sink's root must exist: zferry creates only what goes below it.
    world.create(&root_fs)?;
    println!("created {source}, {home} and the sink's root {root_fs}");

    let sockpath = base.join("run/control");
    let text = config_text(&sockpath.to_string_lossy(), &source, &root_fs);
    let config_path = base.join("zferry.yml");
    std::fs::write(&config_path, &text)?;
    let cfg = config::load_source(&text, &config_path, LoadOptions::default())
        .context("the demo configuration")?;
    println!("configuration: {}", config_path.display());

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon_zfs = world.zfs_config().clone();
    let daemon = std::thread::spawn(move || -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        rt.block_on(runtime::run(
            cfg,
            DaemonOptions {
                zfs: daemon_zfs,
                shutdown_grace: Duration::from_secs(5),
            },
            async move {
                let _ = stopped.await;
            },
        ))?;
        Ok(())
    });
    let result = rounds(options, world, &sockpath, &source, &home, &root_fs);
    let _ = stop.send(());
    match daemon.join() {
        Ok(r) => r.context("the daemon")?,
        Err(_) => bail!("the daemon thread panicked"),
    }
    result
}

fn rounds(
    options: &DemoOptions,
    world: &World,
    sockpath: &std::path::Path,
    source: &str,
    home: &str,
    root_fs: &str,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = ControlClient::new(sockpath);
    wait_for_daemon(&rt, &client)?;
    let replica = format!("{root_fs}/{CLIENT}/{source}");
    for round in 1..=options.rounds.max(1) {
        println!("\n-- round {round}");
        world.write_round(source, home, round)?;
        let snap = format!("demo-{round}");
        world.snapshot(&[source, home], &snap)?;
        println!("snapshot @{snap} of {source} and {home}");
        let outcome = rt
            .block_on(client.wakeup(PUSH_JOB, true))
            .context("waking up the push job")?;
        if outcome.succeeded != Some(true) {
            bail!(
                "replication round {round} failed: {}",
                outcome.error.unwrap_or_default()
            );
        }
        println!("replicated and pruned");
        println!(
            "  sender   {source}: {}",
            world.snapshots(source)?.join(" ")
        );
        println!(
            "  receiver {replica}: {}",
            world.snapshots(&replica)?.join(" ")
        );
    }

    let status = rt.block_on(client.status()).context("reading the status")?;
    println!(
        "\n-- zferry status --mode dump\n{}",
        dump_text(&status, jiff::Timestamp::now())
    );

    println!("-- verifying the replica");
    let mut files = 0;
    let home_replica = format!("{replica}/home");
    let skip_source = [world.mountpoint(home)?];
    // Parents before children, as `zfs mount -a` does.
    world.mount_replica(&replica)?;
    let home_copy = world.mount_replica(&home_replica)?;
    let skip_copy = [home_copy];
    for (fs, target, skip_src, skip_dst) in [
        (source, replica.as_str(), &skip_source[..], &skip_copy[..]),
        (home, home_replica.as_str(), &[][..], &[][..]),
    ] {
        let original = files::checksums(&world.mountpoint(fs)?, skip_src)?;
        let copy_dir = world.mount_replica(target)?;
        let copy = files::checksums(&copy_dir, skip_dst)?;
        for (path, sum) in &original {
            let ok = copy.get(path) == Some(sum);
            println!(
                "  {} {:>10}  {}/{}",
                if ok { "ok  " } else { "DIFF" },
                &sum[..10],
                target,
                path.display()
            );
            if !ok {
                bail!("{target}/{} differs from the source", path.display());
            }
        }
        if copy.len() != original.len() {
            bail!(
                "{target} has {} files, the source {}",
                copy.len(),
                original.len()
            );
        }
        files += original.len();
    }
    println!("all {files} files of the replica match the source (SHA-256)");
    Ok(())
}

fn wait_for_daemon(rt: &tokio::runtime::Runtime, client: &ControlClient) -> anyhow::Result<()> {
    for _ in 0..100 {
        if rt.block_on(client.version()).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("the daemon did not come up")
}
