//! Connection-level behaviour: greeting, frames, streams, heartbeats, limits.

mod common;

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use zferry_rpc::conn::{ConnOptions, Connection};
use zferry_rpc::frame::{self, FrameKind};
use zferry_rpc::handshake::{self, Greeting};
use zferry_rpc::stream::StreamConfig;
use zferry_rpc::{Inbound, RpcError};

fn fast() -> ConnOptions {
    ConnOptions {
        heartbeat_interval: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(800),
        handshake_timeout: Duration::from_secs(2),
        ..ConnOptions::default()
    }
}

async fn pair() -> (Connection, Connection) {
    let (a, b) = tokio::io::duplex(1 << 20);
    let (a, b) = tokio::join!(
        Connection::establish(a, fast()),
        Connection::establish(b, fast())
    );
    (a.expect("a"), b.expect("b"))
}

/// A raw peer that has greeted properly and then does what the test says.
async fn raw_peer() -> (Connection, DuplexStream) {
    let (a, mut b) = tokio::io::duplex(64 << 10);
    let (conn, greeted) = tokio::join!(
        Connection::establish(a, fast()),
        handshake::handshake(&mut b, Greeting::default(), Duration::from_secs(2))
    );
    greeted.expect("raw greeting");
    (conn.expect("conn"), b)
}

#[tokio::test]
async fn version_mismatch_is_refused_on_both_sides_naming_both_versions() {
    let (a, b) = tokio::io::duplex(4096);
    let newer = ConnOptions {
        greeting: Greeting {
            version: handshake::PROTOCOL_VERSION + 1,
            features: 0,
        },
        ..fast()
    };
    let (a, b) = tokio::join!(
        Connection::establish(a, fast()),
        Connection::establish(b, newer)
    );
    let (a, b) = (a.err().expect("a refuses"), b.err().expect("b refuses"));
    let v = handshake::PROTOCOL_VERSION;
    assert_eq!(
        a.to_string(),
        format!(
            "protocol version mismatch: we speak version {v}, the peer speaks version {}",
            v + 1
        )
    );
    assert!(matches!(b, RpcError::VersionMismatch { ours, peer } if ours == v + 1 && peer == v));
}

#[tokio::test]
async fn a_peer_that_is_not_zferry_is_refused() {
    let (a, mut b) = tokio::io::duplex(4096);
    b.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await.unwrap();
    let err = Connection::establish(a, fast())
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, RpcError::NotZferry), "{err}");
}

#[tokio::test]
async fn control_messages_round_trip_including_multi_frame_ones() {
    let (a, mut b) = pair().await;
    let big: Vec<String> = (0..150_000).map(|i| format!("pool/fs{i:08}")).collect();
    assert!(serde_json::to_vec(&big).unwrap().len() > 2 * frame::MAX_CONTROL_FRAME);
    a.send_message(&big).await.unwrap();
    let back: Vec<String> = b.recv_message().await.unwrap();
    assert_eq!(back, big);
}

async fn stream_round_trip(compress: bool) -> zferry_rpc::stream::StreamStats {
    let (mut a, mut b) = pair().await;
    let data = common::test_data(9 << 20);
    let config = StreamConfig {
        compress,
        limiter: None,
    };
    let mut source = &data[..];
    let mut sink = Vec::new();
    let (sent, got) = tokio::join!(
        a.send_stream(&mut source, &config),
        b.recv_stream(&mut sink, &config)
    );
    let (sent, got) = (sent.expect("sent"), got.expect("received"));
    assert_eq!(sink, data);
    assert_eq!(sent.bytes, data.len() as u64);
    assert_eq!(got.bytes, data.len() as u64);
    got
}

#[tokio::test]
async fn data_streams_arrive_intact_plain_and_compressed() {
    let plain = stream_round_trip(false).await;
    assert_eq!(plain.wire_bytes, plain.bytes);
    let packed = stream_round_trip(true).await;
    assert!(packed.wire_bytes < packed.bytes * 3 / 4, "{packed:?}");
}

#[tokio::test]
async fn incoming_stream_reads_as_async_read_and_ends_at_the_end_frame() {
    let (mut a, b) = pair().await;
    let data = common::test_data(3 << 20);
    let mut source = &data[..];
    let send = async { a.send_stream(&mut source, &StreamConfig::default()).await };
    let receive = async {
        let mut incoming = b.into_incoming(StreamConfig::default());
        let mut out = Vec::new();
        incoming
            .read_to_end(&mut out)
            .await
            .map(|_| (out, incoming.is_done()))
    };
    let (sent, received) = tokio::join!(send, receive);
    sent.expect("sent");
    let (out, done) = received.expect("received");
    assert!(done);
    assert_eq!(out, data);
}

/// Consumes part of an endless stream through a [`zferry_repl::endpoint::ByteStream`] as a pull
/// does, gives up, and returns what the sender learned.
async fn give_up_on_a_pulled_stream(report: Option<&str>) -> RpcError {
    let (mut a, b) = pair().await;
    let send = async { a.send_stream(&mut Endless, &StreamConfig::default()).await };
    let consume = async {
        let mut stream = b.into_byte_stream(StreamConfig::default());
        let failure = stream.take_failure_report();
        let mut buf = vec![0u8; 3 << 20];
        stream.read_exact(&mut buf).await.expect("first bytes");
        drop(stream);
        if let (Some(failure), Some(message)) = (failure, report) {
            failure.report(message);
        }
    };
    let (sent, ()) = tokio::join!(send, consume);
    sent.expect_err("the receiving side gave up")
}

#[tokio::test]
async fn a_pulling_consumer_s_error_reaches_the_sender_in_its_own_words() {
    let err =
        give_up_on_a_pulled_stream(Some("cannot receive new filesystem stream: out of space"))
            .await;
    let RpcError::Remote(remote) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        remote.message,
        "the receiving side failed: cannot receive new filesystem stream: out of space"
    );
}

#[tokio::test]
async fn a_stream_dropped_without_a_report_still_stops_the_sender() {
    let err = give_up_on_a_pulled_stream(None).await;
    let RpcError::Remote(remote) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        remote.message,
        "the receiving side closed the stream before its end"
    );
}

/// Yields zeros forever.
struct Endless;
impl tokio::io::AsyncRead for Endless {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = buf.remaining();
        buf.put_slice(&vec![0u8; n]);
        std::task::Poll::Ready(Ok(()))
    }
}

/// Accepts `limit` bytes, then fails like a full disk.
struct FailingSink {
    taken: usize,
    limit: usize,
}
impl tokio::io::AsyncWrite for FailingSink {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.taken >= self.limit {
            return std::task::Poll::Ready(Err(std::io::Error::other(
                "No space left on device (test)",
            )));
        }
        self.taken += buf.len();
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn receiver_error_mid_stream_stops_the_sender_with_the_receivers_message() {
    let (mut a, mut b) = pair().await;
    let started = Instant::now();
    let mut sink = FailingSink {
        taken: 0,
        limit: 5 << 20,
    };
    let config = StreamConfig::default();
    let mut endless = Endless;
    let (sent, got) = tokio::join!(
        a.send_stream(&mut endless, &config),
        b.recv_stream(&mut sink, &config)
    );
    let got = got.expect_err("receiver fails");
    assert!(
        matches!(&got, RpcError::LocalStream(m) if m.contains("No space left on device (test)")),
        "{got}"
    );
    match sent.expect_err("sender stops") {
        RpcError::Remote(e) => assert!(e.message.contains("No space left on device (test)"), "{e}"),
        other => panic!("sender got {other}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped promptly"
    );
}

#[tokio::test]
async fn sender_source_failure_reaches_the_receiver() {
    struct Broken;
    impl tokio::io::AsyncRead for Broken {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Err(std::io::Error::other("zfs send exited with status 1")))
        }
    }
    let (mut a, mut b) = pair().await;
    let mut sink = Vec::new();
    let config = StreamConfig::default();
    let mut broken = Broken;
    let (sent, got) = tokio::join!(
        a.send_stream(&mut broken, &config),
        b.recv_stream(&mut sink, &config)
    );
    assert!(matches!(sent, Err(RpcError::LocalStream(_))));
    match got.expect_err("receiver learns") {
        RpcError::Remote(e) => assert!(e.message.contains("zfs send exited with status 1"), "{e}"),
        other => panic!("receiver got {other}"),
    }
}

#[tokio::test]
async fn heartbeat_timeout_when_the_peer_stops_reading() {
    let (mut conn, raw) = raw_peer().await;
    // The peer keeps sending heartbeats but never reads.
    let (_read, mut write) = tokio::io::split(raw);
    let beats = tokio::spawn(async move {
        let beat = frame::encode_header(FrameKind::Heartbeat, 0);
        while write.write_all(&beat).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let started = Instant::now();
    let err = conn
        .send_stream(&mut Endless, &StreamConfig::default())
        .await
        .expect_err("must time out");
    assert!(
        matches!(err, RpcError::Timeout { what, .. } if what.contains("stopped reading")),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    beats.abort();
}

#[tokio::test]
async fn idle_timeout_when_the_peer_goes_silent() {
    let (mut conn, _raw) = raw_peer().await;
    let err = conn.recv().await.err().expect("silence is fatal");
    assert!(matches!(err, RpcError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn heartbeats_keep_an_idle_connection_alive() {
    let (a, mut b) = pair().await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // almost 2x the idle timeout
    a.send_message("still here").await.unwrap();
    let got: String = b.recv_message().await.unwrap();
    assert_eq!(got, "still here");
}

#[tokio::test]
async fn oversized_frame_is_refused_before_allocating() {
    let (mut conn, mut raw) = raw_peer().await;
    raw.write_all(&[0x03, 0xff, 0xff, 0xff, 0xff])
        .await
        .unwrap();
    let err = conn.recv().await.err().expect("refused");
    assert!(
        matches!(
            err,
            RpcError::FrameTooLarge {
                kind: "data",
                len: 4294967295,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn oversized_control_message_is_refused_across_parts() {
    let (mut conn, raw) = raw_peer().await;
    let (_r, mut w) = tokio::io::split(raw);
    let writer = tokio::spawn(async move {
        let part = vec![b' '; frame::MAX_CONTROL_FRAME];
        let header = frame::encode_header(FrameKind::ControlPart, part.len());
        for _ in 0..(frame::MAX_CONTROL_MESSAGE / frame::MAX_CONTROL_FRAME + 1) {
            if w.write_all(&header).await.is_err() || w.write_all(&part).await.is_err() {
                break;
            }
        }
    });
    let err = conn.recv().await.err().expect("refused");
    assert!(
        matches!(
            err,
            RpcError::FrameTooLarge {
                kind: "control message",
                ..
            }
        ),
        "{err}"
    );
    writer.abort();
}

#[tokio::test]
async fn truncated_frame_is_refused() {
    let (mut conn, mut raw) = raw_peer().await;
    raw.write_all(&frame::encode_header(FrameKind::Control, 100))
        .await
        .unwrap();
    raw.write_all(b"{\"op\":").await.unwrap();
    drop(raw);
    let err = conn.recv().await.err().expect("refused");
    assert!(matches!(err, RpcError::Truncated(_)), "{err}");
}

#[tokio::test]
async fn unknown_frame_kind_is_refused() {
    let (mut conn, mut raw) = raw_peer().await;
    raw.write_all(&[0x42, 0, 0, 0, 0]).await.unwrap();
    let err = conn.recv().await.err().expect("refused");
    assert!(matches!(err, RpcError::UnknownFrameKind(0x42)), "{err}");
}

#[tokio::test]
async fn wrong_byte_count_at_stream_end_is_refused() {
    let (mut conn, mut raw) = raw_peer().await;
    raw.write_all(&frame::encode_frame(FrameKind::Data, b"abc").unwrap())
        .await
        .unwrap();
    raw.write_all(&frame::encode_frame(FrameKind::End, &5u64.to_be_bytes()).unwrap())
        .await
        .unwrap();
    let mut sink = Vec::new();
    let err = conn
        .recv_stream(&mut sink, &StreamConfig::default())
        .await
        .expect_err("refused");
    assert!(
        err.to_string().contains("counted 5 bytes, 3 arrived"),
        "{err}"
    );
}

#[tokio::test]
async fn inbound_frames_reach_the_application_in_order() {
    let (mut conn, mut raw) = raw_peer().await;
    raw.write_all(&frame::encode_frame(FrameKind::Heartbeat, &[]).unwrap())
        .await
        .unwrap();
    raw.write_all(&frame::encode_frame(FrameKind::Control, b"1").unwrap())
        .await
        .unwrap();
    raw.write_all(&frame::encode_frame(FrameKind::End, &0u64.to_be_bytes()).unwrap())
        .await
        .unwrap();
    assert!(matches!(conn.recv().await.unwrap(), Inbound::Control(v) if v == b"1"));
    assert!(matches!(conn.recv().await.unwrap(), Inbound::End(0)));
}
