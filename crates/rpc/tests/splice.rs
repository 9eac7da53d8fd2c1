//! The spliced data path: streams that come out of a child's pipe, as `zfs send` streams do, are
//! moved into tcp and unix sockets with splice(2). Each test checks that the bytes took that path
//! (none were read through the stream) and arrived intact, and that failures on either side and a
//! stalled producer behave as on the copying path.

mod common;

use common::*;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, ReadBuf};
use zferry_repl::endpoint::{ByteStream, ErrorKind, Receiver};
use zferry_rpc::conn::{ConnOptions, Connection};
use zferry_rpc::stream::StreamConfig;
use zferry_rpc::transport::clientmap::ClientMap;
use zferry_rpc::transport::tcp::{TcpClient, TcpServer};
use zferry_zfs::{SendRequest, SendStream, Zfs, ZfsConfig};

/// A `zfs send` stand-in's stream, with counters of how its bytes left.
struct Piped {
    stream: ByteStream,
    /// Bytes that were read through the stream (the copying path).
    read_through: Arc<AtomicU64>,
    /// Bytes the stream's observers were told about (either path).
    observed: Arc<AtomicU64>,
}

/// Starts `script` (a shell script standing in for `zfs`) the way the driver starts `zfs send`.
/// With `fail_at_end`, the stream reports a failure when its pipe is exhausted, as a failed
/// `zfs send` does.
async fn piped(dir: &Path, script: &str, fail_at_end: bool) -> Piped {
    let zfs_bin = dir.join("zfs");
    std::fs::write(&zfs_bin, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(
        &zfs_bin,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let zfs = Zfs::new(ZfsConfig {
        zfs_bin,
        ..ZfsConfig::default()
    });
    let send = zfs
        .send(&SendRequest::full("pool/fs@s".parse().unwrap()))
        .await
        .unwrap();
    let pipe = send.pipe().expect("a running send offers its pipe");
    let read_through = Arc::new(AtomicU64::new(0));
    let observed = Arc::new(AtomicU64::new(0));
    let seen = observed.clone();
    let stream = ByteStream::new(Checked {
        send,
        read: read_through.clone(),
        fail_at_end,
    })
    .with_pipe(pipe)
    .observe(Arc::new(move |n| {
        seen.fetch_add(n, Ordering::Relaxed);
    }));
    Piped {
        stream,
        read_through,
        observed,
    }
}

/// Reads a send stream, counting what is read, optionally failing at its end.
struct Checked {
    send: SendStream,
    read: Arc<AtomicU64>,
    fail_at_end: bool,
}

impl AsyncRead for Checked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.send).poll_read(cx, buf))?;
        let n = (buf.filled().len() - before) as u64;
        if n == 0 && self.fail_at_end {
            return Poll::Ready(Err(std::io::Error::other("simulated zfs send failure")));
        }
        self.read.fetch_add(n, Ordering::Relaxed);
        Poll::Ready(Ok(()))
    }
}

/// Writes `data` to a file in `dir` and returns its path.
fn data_file(dir: &Path, data: &[u8]) -> String {
    let path = dir.join("data");
    std::fs::write(&path, data).unwrap();
    path.display().to_string()
}

async fn tcp_sink(log: Arc<Log>, fail_after: Option<usize>, conn: ConnOptions) -> TcpClient {
    let server = TcpServer::bind(
        "127.0.0.1:0",
        ClientMap::new([("127.0.0.1", "pusher")]).unwrap(),
    )
    .await
    .unwrap();
    let addr = server.local_addr().unwrap();
    let stop = serve_with(
        server,
        sink(log, fail_after),
        zferry_rpc::server::ServerOptions {
            conn,
            ..Default::default()
        },
    );
    // The server runs as long as the test's runtime.
    std::mem::forget(stop);
    TcpClient {
        address: addr.to_string(),
        dial_timeout: Duration::from_secs(5),
    }
}

fn remote(connector: TcpClient, conn: ConnOptions) -> zferry_rpc::client::RemoteEndpoint {
    zferry_rpc::client::RemoteEndpoint::new(
        Arc::new(connector),
        zferry_rpc::client::ClientOptions {
            conn,
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn a_pipe_is_spliced_into_tcp_and_arrives_intact() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(20 << 20);
    let file = data_file(dir.path(), &data);
    let source = piped(dir.path(), &format!("exec cat {file}"), false).await;
    let log = Arc::new(Log::default());
    let connector = tcp_sink(log.clone(), None, ConnOptions::default()).await;
    remote(connector, ConnOptions::default())
        .receive(receive_request("pool/fs"), source.stream)
        .await
        .expect("receive");
    assert_eq!(log.received.lock().unwrap().len(), data.len());
    assert!(*log.received.lock().unwrap() == data, "bytes differ");
    assert_eq!(
        source.read_through.load(Ordering::Relaxed),
        0,
        "no byte was copied through user memory"
    );
    assert_eq!(source.observed.load(Ordering::Relaxed), data.len() as u64);
}

#[tokio::test]
async fn a_source_failing_at_its_end_fails_the_spliced_stream() {
    let dir = tempfile::tempdir().unwrap();
    let file = data_file(dir.path(), &test_data(2 << 20));
    let source = piped(dir.path(), &format!("exec cat {file}"), true).await;
    let log = Arc::new(Log::default());
    let connector = tcp_sink(log.clone(), None, ConnOptions::default()).await;
    let err = remote(connector, ConnOptions::default())
        .receive(receive_request("pool/fs"), source.stream)
        .await
        .expect_err("the source failed");
    assert!(
        err.message.contains("simulated zfs send failure"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_receiver_error_stops_a_spliced_sender() {
    let dir = tempfile::tempdir().unwrap();
    let file = data_file(dir.path(), &test_data(64 << 20));
    let source = piped(dir.path(), &format!("exec cat {file}"), false).await;
    let log = Arc::new(Log::default());
    let connector = tcp_sink(log.clone(), Some(3 << 20), ConnOptions::default()).await;
    let started = Instant::now();
    let err = remote(connector, ConnOptions::default())
        .receive(receive_request("pool/fs"), source.stream)
        .await
        .expect_err("the sink fails");
    assert_eq!(err.message, "cannot receive: out of space (mock)");
    assert_eq!(err.kind, ErrorKind::Permanent);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(log.received.lock().unwrap().len() < 64 << 20);
}

#[tokio::test]
async fn heartbeats_keep_a_spliced_stream_alive_while_its_producer_stalls() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(1 << 20);
    let file = data_file(dir.path(), &data);
    // Half the data, a pause of more than twice the idle timeout, the rest.
    let script = format!("head -c 524288 {file}; sleep 2; tail -c +524289 {file}");
    let source = piped(dir.path(), &script, false).await;
    let fast = ConnOptions {
        heartbeat_interval: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(800),
        ..ConnOptions::default()
    };
    let log = Arc::new(Log::default());
    let connector = tcp_sink(log.clone(), None, fast.clone()).await;
    remote(connector, fast)
        .receive(receive_request("pool/fs"), source.stream)
        .await
        .expect("the stalled stream completes");
    assert!(*log.received.lock().unwrap() == data, "bytes differ");
    assert_eq!(source.read_through.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn unix_socket_connections_splice_too() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(9 << 20);
    let file = data_file(dir.path(), &data);
    let mut source = piped(dir.path(), &format!("exec cat {file}"), false).await;
    let (a, b) = tokio::net::UnixStream::pair().unwrap();
    let (a, b) = tokio::join!(
        Connection::establish(a, ConnOptions::default()),
        Connection::establish(b, ConnOptions::default())
    );
    let (mut a, mut b) = (a.unwrap(), b.unwrap());
    let mut received = Vec::new();
    let config = StreamConfig::default();
    let (sent, got) = tokio::join!(
        a.send_byte_stream(&mut source.stream, &config),
        b.recv_stream(&mut received, &config)
    );
    assert_eq!(sent.unwrap().bytes, data.len() as u64);
    assert_eq!(got.unwrap().bytes, data.len() as u64);
    assert!(received == data, "bytes differ");
    assert_eq!(source.read_through.load(Ordering::Relaxed), 0);
}
