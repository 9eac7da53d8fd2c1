//! Transport benchmark: streams N bytes from a child process through each transport on loopback
//! into a discarding receiver, against a baseline measured in the same run: `splice` from a child
//! into a plain tcp socket. Run by `scripts/bench-transport`.
//!
//! The child is `head -c N /dev/zero` in both cases. For the transports it is started the way
//! production starts `zfs send` (`zferry_zfs::Zfs::send` with a stand-in `zfs` that execs `head`)
//! and handed over as the pipe-backed `ByteStream` a sender hands out.
//!
//! Usage: `transport-bench --size BYTES [--rounds N] [--only TRANSPORT]
//! [--ssh PORT KEY USER SOCKDIR IDENTITY]` (`--only tcp|tls|local|ssh` measures the baseline and
//! that one transport, for profiling)
//!
//! Each round measures the baseline and then every transport; the table gives medians over the
//! rounds (default 3), each transport's ratio taken against its own round's baseline, the range of
//! those ratios, and the largest peak memory growth of the process while one stream ran (both
//! ends of the stream are in this process, so this bounds the memory of one stream on each side
//! together).

use async_trait::async_trait;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use zferry_repl::endpoint::*;
use zferry_rpc::ClientIdentity;
use zferry_rpc::client::{ClientOptions, RemoteEndpoint};
use zferry_rpc::server::{ServerOptions, Service, serve};
use zferry_rpc::transport::clientmap::ClientMap;
use zferry_rpc::transport::local::{LocalClient, LocalServer};
use zferry_rpc::transport::ssh::SshClient;
use zferry_rpc::transport::stdinserver::StdinserverServer;
use zferry_rpc::transport::tcp::{TcpClient, TcpServer};
use zferry_rpc::transport::tls::{TlsClient, TlsClientOptions, TlsServer, TlsServerOptions, Trust};
use zferry_rpc::transport::{Connector, Listener};

const PIPE_SIZE: usize = 1 << 20;

struct SshArgs {
    port: u16,
    key: PathBuf,
    user: String,
    sockdir: PathBuf,
    identity: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut size: u64 = 2 << 30;
    let mut ssh = None;
    let mut only: Option<String> = None;
    let mut round_count = 3;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--size" => {
                size = args.get(i + 1).ok_or("--size needs a value")?.parse()?;
                i += 2;
            }
            "--rounds" => {
                round_count = args.get(i + 1).ok_or("--rounds needs a value")?.parse()?;
                i += 2;
            }
            "--only" => {
                only = Some(args.get(i + 1).ok_or("--only needs a transport")?.clone());
                i += 2;
            }
            "--ssh" => {
                let v = args
                    .get(i + 1..i + 6)
                    .ok_or("--ssh needs PORT KEY USER SOCKDIR IDENTITY")?;
                ssh = Some(SshArgs {
                    port: v[0].parse()?,
                    key: v[1].clone().into(),
                    user: v[2].clone(),
                    sockdir: v[3].clone().into(),
                    identity: v[4].clone(),
                });
                i += 6;
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let rt = tokio::runtime::Runtime::new()?;
    let mut runs: Vec<&str> = vec!["tcp", "tls (pinned identities)", "local"];
    if ssh.is_some() {
        runs.push("ssh+stdinserver");
    }
    if let Some(only) = &only {
        runs.retain(|name| name.starts_with(only.as_str()));
    }
    // Rounds interleave the baseline with every transport, so that a slow phase of a shared
    // machine weighs on both sides of a ratio; each ratio is taken within its round.
    let mut base_rounds = Vec::new();
    let mut rounds: Vec<Vec<(Cost, f64)>> = runs.iter().map(|_| Vec::new()).collect();
    for _ in 0..round_count {
        let base = measure(|| baseline(size))?;
        for (name, results) in runs.iter().zip(&mut rounds) {
            let cost = measure(|| rt.block_on(transport_run(name, size, ssh.as_ref())))?;
            let ratio = base.secs / cost.secs;
            results.push((cost, ratio));
        }
        base_rounds.push((base, 1.0));
    }
    println!(
        "| transport | MB/s | ratio to baseline (median) | ratio range | CPU s per GiB (both ends) | peak memory growth (MiB) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    print_row("baseline: splice into tcp", size, &base_rounds);
    for (name, results) in runs.iter().zip(&rounds) {
        print_row(name, size, results);
    }
    Ok(())
}

/// One table row: medians over the rounds, the range of the ratios, the largest memory growth.
fn print_row(name: &str, size: u64, rounds: &[(Cost, f64)]) {
    let gib = size as f64 / f64::from(1u32 << 30);
    let rate = median(rounds.iter().map(|(c, _)| size as f64 / c.secs / 1e6));
    let ratio = median(rounds.iter().map(|(_, r)| *r));
    let low = rounds.iter().map(|(_, r)| *r).fold(f64::INFINITY, f64::min);
    let high = rounds.iter().map(|(_, r)| *r).fold(0.0, f64::max);
    let cpu = median(rounds.iter().map(|(c, _)| c.cpu / gib));
    let memory = rounds.iter().map(|(c, _)| c.memory).max().unwrap_or(0);
    println!(
        "| {name} | {rate:.0} | {ratio:.2} | {low:.2}-{high:.2} | {cpu:.2} | {:.1} |",
        memory as f64 / 1048576.0
    );
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// What one run cost.
struct Cost {
    /// Wall-clock seconds.
    secs: f64,
    /// CPU seconds (user + system) of this process: both ends of the stream, not the generator.
    cpu: f64,
    /// Growth of peak RSS while it ran, bytes.
    memory: u64,
}

/// Runs `f` and measures it.
fn measure<F: FnOnce() -> Result<(), Box<dyn std::error::Error>>>(
    f: F,
) -> Result<Cost, Box<dyn std::error::Error>> {
    // Reset the peak-RSS counter so that each run reports its own peak.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kib("VmRSS:")?;
    let cpu_before = cpu_seconds()?;
    let start = Instant::now();
    f()?;
    let secs = start.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:")?;
    Ok(Cost {
        secs,
        cpu: cpu_seconds()? - cpu_before,
        memory: peak.saturating_sub(before) * 1024,
    })
}

/// User + system CPU seconds of this process so far (from /proc/self/stat, 100 ticks/s).
fn cpu_seconds() -> Result<f64, Box<dyn std::error::Error>> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after_name = stat.rsplit_once(')').ok_or("bad stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `after_name` starts at field 3.
    let ticks: u64 = fields.get(11).ok_or("bad stat")?.parse::<u64>()?
        + fields.get(12).ok_or("bad stat")?.parse::<u64>()?;
    Ok(ticks as f64 / 100.0)
}

fn status_kib(field: &str) -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .ok_or("no such field")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or("bad status line")?
        .parse()?)
}

fn generator(size: u64) -> std::process::Command {
    let mut cmd = std::process::Command::new("head");
    cmd.arg("-c").arg(size.to_string()).arg("/dev/zero");
    cmd
}

/// splice(child stdout -> tcp socket), read and discarded by a second thread.
fn baseline(size: u64) -> Result<(), Box<dyn std::error::Error>> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let sink = std::thread::spawn(move || -> std::io::Result<u64> {
        let (mut s, _) = listener.accept()?;
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
        }
    });
    let socket = std::net::TcpStream::connect(addr)?;
    let mut child = generator(size).stdout(Stdio::piped()).spawn()?;
    let out = child.stdout.take().ok_or("no stdout")?;
    let _ = rustix::pipe::fcntl_setpipe_size(out.as_fd(), PIPE_SIZE);
    loop {
        let n = rustix::pipe::splice(
            out.as_fd(),
            None,
            socket.as_fd(),
            None,
            PIPE_SIZE,
            rustix::pipe::SpliceFlags::MOVE | rustix::pipe::SpliceFlags::MORE,
        )?;
        if n == 0 {
            break;
        }
    }
    drop(socket);
    child.wait()?;
    let total = sink.join().map_err(|_| "sink thread panicked")??;
    if total != size {
        return Err(format!("baseline moved {total} of {size} bytes").into());
    }
    Ok(())
}

/// A receiver that reads and discards the stream.
struct Discard {
    bytes: Arc<AtomicU64>,
}

#[async_trait]
impl Endpoint for Discard {
    async fn list_filesystems(&self) -> Result<Vec<FilesystemInfo>, EndpointError> {
        Ok(Vec::new())
    }
    async fn list_versions(
        &self,
        _: ListVersionsRequest,
    ) -> Result<ListVersionsResponse, EndpointError> {
        Ok(ListVersionsResponse::default())
    }
    async fn destroy_snapshots(
        &self,
        _: DestroySnapshotsRequest,
    ) -> Result<DestroySnapshotsResponse, EndpointError> {
        Ok(DestroySnapshotsResponse::default())
    }
    async fn ping(&self) -> Result<(), EndpointError> {
        Ok(())
    }
}

#[async_trait]
impl Receiver for Discard {
    async fn receive(
        &self,
        request: ReceiveRequest,
        mut stream: ByteStream,
    ) -> Result<ReceiveResponse, EndpointError> {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = stream
                .read(&mut buf)
                .await
                .map_err(|e| EndpointError::temporary(e.to_string()))?;
            if n == 0 {
                break;
            }
            self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(ReceiveResponse {
            received: request.to,
        })
    }
    async fn hold_last_received(&self, _: HintRequest) -> Result<(), EndpointError> {
        Ok(())
    }
    async fn clear_resume_token(&self, _: ClearResumeTokenRequest) -> Result<(), EndpointError> {
        Ok(())
    }
}

/// The stream a sender hands out, made as in production (`zferry_zfs::Zfs::send` and a pipe-backed
/// [`ByteStream`]) but from a `zfs` stand-in that writes `size` zero bytes (`head -c`).
async fn zfs_send(
    dir: &std::path::Path,
    size: u64,
) -> Result<ByteStream, Box<dyn std::error::Error>> {
    let script = dir.join("zfs");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nexec head -c {size} /dev/zero\n"),
    )?;
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let zfs = zferry_zfs::Zfs::new(zferry_zfs::ZfsConfig {
        zfs_bin: script,
        ..zferry_zfs::ZfsConfig::default()
    });
    let send = zfs
        .send(&zferry_zfs::SendRequest::full("bench/fs@s".parse()?))
        .await?;
    let pipe = send.pipe().ok_or("zfs send has no pipe")?;
    Ok(ByteStream::new(send).with_pipe(pipe))
}

async fn transport_run(
    name: &str,
    size: u64,
    ssh: Option<&SshArgs>,
) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = Arc::new(AtomicU64::new(0));
    let counted = bytes.clone();
    let service = Service::Sink(Arc::new(move |_: &ClientIdentity| {
        Ok(Arc::new(Discard {
            bytes: counted.clone(),
        }) as Arc<dyn Receiver>)
    }));
    let dir = tempfile::tempdir()?;
    let (listener, connector): (Box<dyn Listener>, Box<dyn Connector>) = match name {
        "tcp" => {
            let server =
                TcpServer::bind("127.0.0.1:0", ClientMap::new([("127.0.0.1", "bench")])?).await?;
            let address = server.local_addr()?.to_string();
            (
                Box::new(server),
                Box::new(TcpClient {
                    address,
                    dial_timeout: Duration::from_secs(5),
                }),
            )
        }
        "tls (pinned identities)" => {
            let a = zferry_rpc::certs::init(&dir.path().join("a"), "bench-a")?;
            let b = zferry_rpc::certs::init(&dir.path().join("b"), "bench-b")?;
            let server = TlsServer::bind(TlsServerOptions {
                listen: "127.0.0.1:0".into(),
                trust: Trust::Pinned(vec![a.files.cert.clone()]),
                identity: b.files.clone(),
                client_cns: Vec::new(),
                handshake_timeout: Duration::from_secs(5),
            })
            .await?;
            let address = server.local_addr()?.to_string();
            let client = TlsClient::new(TlsClientOptions {
                address,
                trust: Trust::Pinned(vec![b.files.cert.clone()]),
                identity: a.files.clone(),
                server_cn: "bench-b".into(),
                dial_timeout: Duration::from_secs(5),
            })?;
            (Box::new(server), Box::new(client))
        }
        "local" => (
            Box::new(LocalServer::bind("bench")?),
            Box::new(LocalClient {
                listener_name: "bench".into(),
                client_identity: ClientIdentity::new("bench")?,
            }),
        ),
        "ssh+stdinserver" => {
            let ssh = ssh.ok_or("no ssh arguments")?;
            let server = StdinserverServer::bind(
                &ssh.sockdir,
                &[ClientIdentity::new(ssh.identity.as_str())?],
            )?;
            let mut client = SshClient::new("127.0.0.1", &ssh.user, ssh.port, ssh.key.clone());
            client.options = vec![
                "StrictHostKeyChecking=no".into(),
                "UserKnownHostsFile=/dev/null".into(),
                "LogLevel=ERROR".into(),
            ];
            (Box::new(server), Box::new(client))
        }
        other => return Err(format!("unknown transport {other}").into()),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        service,
        ServerOptions::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let remote = RemoteEndpoint::new(Arc::from(connector), ClientOptions::default());
    let stream = zfs_send(dir.path(), size).await?;
    let request = ReceiveRequest {
        filesystem: FsPath::new("bench/fs")?,
        from: None,
        to: FsVersion {
            kind: VersionKind::Snapshot,
            name: "s".into(),
            guid: 1,
            createtxg: 1,
            creation: None,
            userrefs: None,
        },
        resume_token: None,
        flags: StreamFlags::default(),
        rollback: false,
    };
    // The active side runs in a runtime task, as in the daemon (a job is a task), not in the
    // `block_on` thread, which would need a cross-thread wakeup for every readiness event.
    tokio::spawn(async move { remote.receive(request, stream).await }).await??;
    let _ = stop.send(());
    let _ = server.await;
    let moved = bytes.load(Ordering::Relaxed);
    if moved != size {
        return Err(format!("{name} moved {moved} of {size} bytes").into());
    }
    Ok(())
}
