//! Data streams over a [`Connection`]: `zfs send` output in large frames.
//!
//! The sending side reads big chunks from its source straight into pooled frame buffers (header
//! space reserved in front, so each frame is one write), optionally compresses them with zstd,
//! charges the bandwidth limit and queues them for the writer task. It ends the stream with an
//! end frame carrying the byte count, or with an error trailer when its source fails. While it
//! sends, it watches the connection: an error trailer from the receiving side stops it at once,
//! and the receiver's message becomes its error.
//!
//! The receiving side takes pooled buffers from the reader task (which reads ahead while the
//! sink writes: a pipeline), decompresses if needed, charges the bandwidth limit and writes them
//! to the sink. When the sink fails it sends its error to the sender and returns.
//!
//! After a stream that ended in an error, the connection is out of step and must be dropped.

use crate::bandwidth::BandwidthLimiter;
use crate::conn::{Connection, Inbound, InboundPart, Outbound};
use crate::error::{ErrorClass, RemoteError, Result, RpcError};
use crate::frame::{self, FrameKind, HEADER_LEN};
use crate::handshake::FEATURE_ZSTD;
use crate::pool::PooledBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use zferry_repl::bytestream::FailureReport;
use zferry_repl::endpoint::ByteStream;

/// The longest a data frame waits to fill up once its first byte has arrived.
const MAX_FRAME_DELAY: std::time::Duration = std::time::Duration::from_millis(50);
/// How long the receiving side keeps reading after it told the sender to stop.
const DRAIN_AFTER_ABORT: std::time::Duration = std::time::Duration::from_secs(2);
/// zstd level for stream compression: fast, since the link is the bottleneck we try to widen.
const ZSTD_LEVEL: i32 = 1;

/// Per-stream choices.
#[derive(Debug, Clone, Default)]
pub struct StreamConfig {
    /// Compress data frames with zstd (used only if the peer supports it).
    pub compress: bool,
    /// A bandwidth limit shared with the job's other streams.
    pub limiter: Option<BandwidthLimiter>,
}

/// What a finished stream moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Payload bytes (uncompressed).
    pub bytes: u64,
    /// Bytes of frame payload on the wire (after compression).
    pub wire_bytes: u64,
}

impl Connection {
    /// Sends everything `source` yields as a data stream and ends it.
    ///
    /// Returns [`RpcError::Remote`] with the receiver's message if the receiver aborts, and
    /// [`RpcError::LocalStream`] if `source` fails (the receiver is told).
    pub async fn send_stream<R: AsyncRead + Unpin>(
        &mut self,
        source: &mut R,
        config: &StreamConfig,
    ) -> Result<StreamStats> {
        let compress = config.compress && self.features() & FEATURE_ZSTD != 0;
        let (out, pool, inbound) = self.parts();
        let pump = async {
            let mut compressor = if compress {
                Some(
                    zstd::bulk::Compressor::new(ZSTD_LEVEL)
                        .map_err(|e| RpcError::LocalStream(format!("cannot start zstd: {e}")))?,
                )
            } else {
                None
            };
            let mut stats = StreamStats::default();
            loop {
                let mut buf = pool.acquire().await;
                let room = HEADER_LEN + frame::MAX_DATA_FRAME;
                let n = match fill(source, &mut buf.space()[HEADER_LEN..room]).await {
                    Ok(n) => n,
                    Err(e) => {
                        let message = format!("reading the stream source: {e}");
                        let _ = out.send(Outbound::Bytes(error_frame(&message)?)).await;
                        return Err(RpcError::LocalStream(message));
                    }
                };
                if n == 0 {
                    break;
                }
                stats.bytes += n as u64;
                let frame = match compressor.as_mut() {
                    Some(z) => compress_frame(z, buf, n, pool).await?,
                    None => seal(buf, FrameKind::Data, n),
                };
                stats.wire_bytes += (frame.len() - HEADER_LEN) as u64;
                if let Some(limiter) = &config.limiter {
                    limiter.consume(frame.len()).await;
                }
                out.send(Outbound::Pooled(frame))
                    .await
                    .map_err(|_| RpcError::Closed)?;
            }
            end_stream(out, stats).await
        };
        watching_receiver(inbound, pump).await
    }

    /// Receives a data stream into `sink` until its end frame.
    ///
    /// If `sink` fails, the sender is told why (an error trailer) and
    /// [`RpcError::LocalStream`] is returned; an error trailer from the sender becomes
    /// [`RpcError::Remote`].
    pub async fn recv_stream<W: AsyncWrite + Unpin>(
        &mut self,
        sink: &mut W,
        config: &StreamConfig,
    ) -> Result<StreamStats> {
        let mut decoder = FrameDecoder::default();
        let mut stats = StreamStats::default();
        loop {
            let item = self.recv().await?;
            let Some(chunk) = decoder.take(item, &mut stats)? else {
                break;
            };
            let chunk = decoder.bytes(&chunk);
            if let Some(limiter) = &config.limiter {
                limiter.consume(chunk.len()).await;
            }
            if let Err(e) = sink.write_all(chunk).await {
                let message = format!("writing the received stream: {e}");
                self.send_error(&RemoteError::new(ErrorClass::Permanent, message.clone()))
                    .await?;
                return Err(RpcError::LocalStream(message));
            }
        }
        if let Err(e) = sink.flush().await {
            let message = format!("writing the received stream: {e}");
            self.send_error(&RemoteError::new(ErrorClass::Permanent, message.clone()))
                .await?;
            return Err(RpcError::LocalStream(message));
        }
        Ok(stats)
    }

    /// Turns the connection into an [`AsyncRead`] of the data stream that comes next.
    pub fn into_incoming(self, config: StreamConfig) -> IncomingStream {
        IncomingStream::new(Arc::new(Mutex::new(self)), config)
    }

    /// Turns the connection into the [`ByteStream`] that comes next, with a [`FailureReport`]
    /// that sends the consumer's error to the sender. If the stream is dropped before its end
    /// and the report is never used, the sender is told that the receiving side gave up.
    pub fn into_byte_stream(self, config: StreamConfig) -> ByteStream {
        let incoming = self.into_incoming(config);
        let report = AbortTrailer {
            conn: incoming.conn.clone(),
            ended: incoming.ended.clone(),
            sent: false,
        };
        ByteStream::new(incoming).with_failure_report(Box::new(report))
    }
}

/// Sends the end frame of a stream that moved `stats.bytes`.
pub(crate) async fn end_stream(
    out: &tokio::sync::mpsc::Sender<Outbound>,
    stats: StreamStats,
) -> Result<StreamStats> {
    let end = frame::encode_frame(FrameKind::End, &stats.bytes.to_be_bytes())?;
    out.send(Outbound::Bytes(end))
        .await
        .map_err(|_| RpcError::Closed)?;
    Ok(stats)
}

/// Runs the sending side of a stream (`pump`) while watching the connection: an error trailer
/// from the receiver stops it at once and becomes its error, and a closed connection reports
/// why it closed.
pub(crate) async fn watching_receiver<T>(
    mut inbound: InboundPart<'_>,
    pump: impl Future<Output = Result<T>>,
) -> Result<T> {
    let result = tokio::select! {
        biased;
        interrupt = inbound.recv() => Err(match interrupt {
            Ok(Inbound::Error(e)) => RpcError::Remote(e),
            Ok(other) => RpcError::Protocol(format!(
                "the receiver sent {} in the middle of a data stream", other.describe()
            )),
            Err(e) => e,
        }),
        done = pump => done,
    };
    match result {
        Err(RpcError::Closed) => Err(inbound.failure()),
        other => other,
    }
}

/// Reads until the space (a whole data frame) is full, the source ends, or `MAX_FRAME_DELAY` has
/// passed since the frame's first byte arrived.
///
/// Full frames rather than "whatever arrived": a `zfs send` pipe rarely holds more than a few
/// records at once, and every frame costs a queue hand-over, a socket write and, on the receiving
/// side, a header read and another hand-over. The delay bound keeps a trickling source (a slow
/// `zfs send`, a throttled stream) moving: its data reaches the receiver, and with it the
/// receiver's resume state, within `MAX_FRAME_DELAY` instead of after a whole frame. One timer per
/// frame, not per read; cancelling a pending `read` loses no data.
async fn fill<R: AsyncRead + Unpin>(source: &mut R, space: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    let first = source.read(space).await?;
    if first == 0 {
        return Ok(0);
    }
    filled += first;
    let deadline = tokio::time::sleep(MAX_FRAME_DELAY);
    tokio::pin!(deadline);
    while filled < space.len() {
        let n = tokio::select! {
            biased;
            n = source.read(&mut space[filled..]) => n?,
            () = &mut deadline => break,
        };
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// Writes the header in front of `len` payload bytes.
fn seal(mut buf: PooledBuf, kind: FrameKind, len: usize) -> PooledBuf {
    buf.space()[..HEADER_LEN].copy_from_slice(&frame::encode_header(kind, len));
    buf.set_len(HEADER_LEN + len);
    buf
}

/// Compresses the payload of `plain` into a second pooled buffer; keeps `plain` if that is smaller.
async fn compress_frame(
    z: &mut zstd::bulk::Compressor<'static>,
    plain: PooledBuf,
    len: usize,
    pool: &crate::pool::BufferPool,
) -> Result<PooledBuf> {
    let mut packed = pool.acquire().await;
    let input = &plain_payload(&plain)[..len];
    match z.compress_to_buffer(input, &mut packed.space()[HEADER_LEN..]) {
        Ok(n) if n < len => Ok(seal(packed, FrameKind::DataZstd, n)),
        _ => Ok(seal(plain, FrameKind::Data, len)),
    }
}

fn plain_payload(buf: &PooledBuf) -> &[u8] {
    // The payload starts after the header space reserved in front.
    buf.whole().get(HEADER_LEN..).unwrap_or_default()
}

/// An error trailer of class temporary carrying `message`.
pub(crate) fn error_frame(message: &str) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(&RemoteError::new(ErrorClass::Temporary, message))
        .map_err(|e| RpcError::Protocol(e.to_string()))?;
    frame::encode_frame(
        FrameKind::Error,
        &json[..json.len().min(frame::MAX_ERROR_FRAME)],
    )
}

/// Turns inbound frames into payload chunks (decompressing where needed).
#[derive(Default)]
struct FrameDecoder {
    decompressor: Option<zstd::bulk::Decompressor<'static>>,
    unpacked: Vec<u8>,
}

/// A chunk ready to be consumed: a received buffer, or the decoder's decompression buffer.
enum Chunk {
    Received(PooledBuf),
    Unpacked(usize),
}

impl FrameDecoder {
    /// Accepts the next frame of a stream: a chunk, or `None` at a valid end.
    fn take(&mut self, item: Inbound, stats: &mut StreamStats) -> Result<Option<Chunk>> {
        match item {
            Inbound::Data(buf) => {
                stats.bytes += buf.len() as u64;
                stats.wire_bytes += buf.len() as u64;
                Ok(Some(Chunk::Received(buf)))
            }
            Inbound::DataZstd(buf) => {
                let z = match &mut self.decompressor {
                    Some(z) => z,
                    None => {
                        self.decompressor
                            .insert(zstd::bulk::Decompressor::new().map_err(|e| {
                                RpcError::LocalStream(format!("cannot start zstd: {e}"))
                            })?)
                    }
                };
                self.unpacked.resize(frame::MAX_DATA_FRAME, 0);
                let n = z
                    .decompress_to_buffer(&buf[..], &mut self.unpacked[..])
                    .map_err(|e| RpcError::Protocol(format!("bad zstd frame: {e}")))?;
                stats.bytes += n as u64;
                stats.wire_bytes += buf.len() as u64;
                Ok(Some(Chunk::Unpacked(n)))
            }
            Inbound::End(total) if total == stats.bytes => Ok(None),
            Inbound::End(total) => Err(RpcError::Protocol(format!(
                "the sender counted {total} bytes, {} arrived",
                stats.bytes
            ))),
            Inbound::Error(e) => Err(RpcError::Remote(e)),
            Inbound::Control(_) => Err(RpcError::Protocol(
                "a control message arrived in the middle of a data stream".into(),
            )),
        }
    }

    /// The bytes of a chunk.
    fn bytes<'a>(&'a self, chunk: &'a Chunk) -> &'a [u8] {
        match chunk {
            Chunk::Received(buf) => buf,
            Chunk::Unpacked(n) => &self.unpacked[..*n],
        }
    }
}

/// The data stream that arrives on a connection, as an [`AsyncRead`].
///
/// Reads end (return 0) at the end frame. The connection is shared so that a server can hand
/// the stream to a receiver that consumes it and still answer on the connection afterwards.
pub struct IncomingStream {
    conn: Arc<Mutex<Connection>>,
    decoder: FrameDecoder,
    stats: StreamStats,
    current: Option<Chunk>,
    pos: usize,
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
    config: StreamConfig,
    /// Set once the end frame has been read.
    ended: Arc<AtomicBool>,
}

impl IncomingStream {
    /// Reads the next data stream of a shared connection.
    pub fn new(conn: Arc<Mutex<Connection>>, config: StreamConfig) -> Self {
        IncomingStream {
            conn,
            decoder: FrameDecoder::default(),
            stats: StreamStats::default(),
            current: None,
            pos: 0,
            wait: None,
            config,
            ended: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the end frame has been read.
    pub fn is_done(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Bytes received so far.
    pub fn stats(&self) -> StreamStats {
        self.stats
    }
}

/// Tells the sender of an incoming stream why the receiving side gave up on it: with the
/// consumer's message when it is reported, with a generic one when it is dropped unused. Nothing
/// once the stream has ended.
struct AbortTrailer {
    conn: Arc<Mutex<Connection>>,
    ended: Arc<AtomicBool>,
    sent: bool,
}

impl AbortTrailer {
    fn send(&mut self, message: &str) {
        if self.sent || self.ended.load(Ordering::Acquire) {
            return;
        }
        self.sent = true;
        lock(&self.conn).try_send_error(&RemoteError::new(ErrorClass::Permanent, message));
        // Keep reading what the sender still has in flight for a moment, so that closing does
        // not reset the connection before the sender has read the trailer.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let conn = self.conn.clone();
            runtime.spawn(async move {
                let drain = async {
                    while std::future::poll_fn(|cx| lock(&conn).poll_recv(cx))
                        .await
                        .is_ok()
                    {}
                };
                let _ = tokio::time::timeout(DRAIN_AFTER_ABORT, drain).await;
            });
        }
    }
}

impl FailureReport for AbortTrailer {
    fn report(mut self: Box<Self>, message: &str) {
        self.send(&format!("the receiving side failed: {message}"));
    }
}

impl Drop for AbortTrailer {
    fn drop(&mut self) {
        self.send("the receiving side closed the stream before its end");
    }
}

fn lock(conn: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AsyncRead for IncomingStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            if let Some(wait) = &mut this.wait {
                ready!(wait.as_mut().poll(cx));
                this.wait = None;
            }
            if let Some(chunk) = &this.current {
                let bytes = this.decoder.bytes(chunk);
                let rest = &bytes[this.pos..];
                let n = rest.len().min(out.remaining());
                out.put_slice(&rest[..n]);
                this.pos += n;
                if this.pos == bytes.len() {
                    this.current = None;
                    this.pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.ended.load(Ordering::Acquire) {
                return Poll::Ready(Ok(()));
            }
            let item = match ready!(lock(&this.conn).poll_recv(cx)) {
                Ok(item) => item,
                Err(e) => return Poll::Ready(Err(std::io::Error::other(e))),
            };
            match this.decoder.take(item, &mut this.stats) {
                Ok(None) => this.ended.store(true, Ordering::Release),
                Ok(Some(chunk)) => {
                    if let Some(limiter) = &this.config.limiter {
                        let wait = limiter.reserve(this.decoder.bytes(&chunk).len());
                        if !wait.is_zero() {
                            this.wait = Some(Box::pin(tokio::time::sleep(wait)));
                        }
                    }
                    this.current = Some(chunk);
                }
                Err(e) => return Poll::Ready(Err(std::io::Error::other(e))),
            }
        }
    }
}
