//! A framed connection: greeting, then a reader task and a writer task around the byte stream.
//!
//! The writer task owns the write half. It sends what the application queues and, whenever the
//! queue stays empty for a heartbeat interval, a heartbeat frame. Every write must make progress
//! within the idle timeout, so a peer that stops reading is detected even while it still sends
//! heartbeats itself.
//!
//! The reader task owns the read half. It checks each header against the limits of its kind
//! before allocating, drops heartbeats, joins control parts, reads data payloads into buffers of a
//! fixed pool (the memory bound of a stream), and hands everything else to the application. Every
//! read must make progress within the idle timeout.
//!
//! The first failure of either task is recorded and reported to the application by every later
//! call; the connection is then dead and must be dropped.

use crate::error::{RemoteError, Result, RpcError};
use crate::frame::{self, FrameKind, HEADER_LEN};
use crate::handshake::{self, Greeting};
use crate::pool::{BufferPool, PooledBuf};
use crate::splice::SpliceSocket;
use crate::transport::Stream;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

/// Timing and memory knobs of a connection.
#[derive(Debug, Clone)]
pub struct ConnOptions {
    /// How long the writer may stay silent before it sends a heartbeat.
    pub heartbeat_interval: Duration,
    /// How long a read or a write may make no progress before the connection is declared dead.
    pub idle_timeout: Duration,
    /// Bound for the greeting exchange.
    pub handshake_timeout: Duration,
    /// Number of data buffers per direction (each [`frame::MAX_DATA_FRAME`] plus a header).
    pub buffers: usize,
    /// What we announce in the greeting.
    pub greeting: Greeting,
}

impl Default for ConnOptions {
    fn default() -> Self {
        ConnOptions {
            heartbeat_interval: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(20),
            buffers: 4,
            greeting: Greeting::default(),
        }
    }
}

/// Something the reader task hands to the application.
pub enum Inbound {
    /// A complete control message (JSON bytes).
    Control(Vec<u8>),
    /// A chunk of a data stream.
    Data(PooledBuf),
    /// A zstd-compressed chunk of a data stream.
    DataZstd(PooledBuf),
    /// End of a data stream with the sender's count of uncompressed bytes.
    End(u64),
    /// The peer's error trailer.
    Error(RemoteError),
}

impl Inbound {
    /// A short name for protocol error messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Inbound::Control(_) => "a control message",
            Inbound::Data(_) | Inbound::DataZstd(_) => "a data frame",
            Inbound::End(_) => "an end-of-stream frame",
            Inbound::Error(_) => "an error frame",
        }
    }
}

/// Something the application queues for the writer task.
pub(crate) enum Outbound {
    /// A frame built on the heap (control path), header included.
    Bytes(Vec<u8>),
    /// A frame built in place in a pooled buffer (data path); `len` covers header + payload.
    Pooled(PooledBuf),
    /// Hands the socket to the application: once everything queued before is written, the writer
    /// says so through `granted` and then writes nothing, heartbeats included, until `released`
    /// fires or is dropped. Used by the spliced data path, which writes to the socket itself.
    Lease {
        granted: oneshot::Sender<()>,
        released: oneshot::Receiver<()>,
    },
}

/// The first failure of a connection, shared by its tasks and the application.
#[derive(Default)]
struct Failure(Mutex<Option<RpcError>>);

impl Failure {
    fn set(&self, err: RpcError) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(err);
        }
    }

    fn get(&self) -> RpcError {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or(RpcError::Closed)
    }
}

/// A live, framed connection after a successful greeting.
pub struct Connection {
    out: mpsc::Sender<Outbound>,
    inbound: mpsc::Receiver<Inbound>,
    failure: Arc<Failure>,
    reader: AbortHandle,
    send_pool: BufferPool,
    /// A second handle on the socket under the stream, where it has one (see [`Stream::raw_socket`]).
    socket: Option<Arc<SpliceSocket>>,
    features: u32,
    options: ConnOptions,
}

impl Drop for Connection {
    fn drop(&mut self) {
        // The writer finishes what is queued (e.g. a final error frame) and then shuts down.
        self.reader.abort();
    }
}

impl Connection {
    /// Greets the peer and starts the reader and writer tasks.
    pub async fn establish<S: Stream>(mut stream: S, options: ConnOptions) -> Result<Connection> {
        let features =
            handshake::handshake(&mut stream, options.greeting, options.handshake_timeout).await?;
        let socket = stream
            .raw_socket()
            .and_then(|raw| SpliceSocket::second_handle(raw).ok())
            .map(Arc::new);
        let (read_half, write_half) = tokio::io::split(stream);
        let failure = Arc::new(Failure::default());
        let (out_tx, out_rx) = mpsc::channel(options.buffers.max(1));
        let (in_tx, in_rx) = mpsc::channel(options.buffers.max(1));
        let recv_pool = BufferPool::new(options.buffers, frame::MAX_COMPRESSED_FRAME);
        let reader = tokio::spawn(read_loop(
            read_half,
            in_tx,
            recv_pool,
            options.idle_timeout,
            failure.clone(),
        ))
        .abort_handle();
        tokio::spawn(write_loop(
            write_half,
            out_rx,
            options.clone(),
            failure.clone(),
            reader.clone(),
        ));
        Ok(Connection {
            out: out_tx,
            inbound: in_rx,
            failure,
            reader,
            send_pool: BufferPool::new(options.buffers, HEADER_LEN + frame::MAX_COMPRESSED_FRAME),
            socket,
            features,
            options,
        })
    }

    /// The feature bits both ends support.
    pub fn features(&self) -> u32 {
        self.features
    }

    /// The options the connection was established with.
    pub fn options(&self) -> &ConnOptions {
        &self.options
    }

    /// The socket under the connection, for splicing into it while the writer is leased.
    pub(crate) fn socket(&self) -> Option<Arc<SpliceSocket>> {
        self.socket.clone()
    }

    /// Queues a control message (JSON), split into frames of at most [`frame::MAX_CONTROL_FRAME`].
    pub async fn send_message<T: Serialize + ?Sized>(&self, message: &T) -> Result<()> {
        let json = serde_json::to_vec(message)
            .map_err(|e| RpcError::Protocol(format!("cannot encode a message: {e}")))?;
        if json.len() > frame::MAX_CONTROL_MESSAGE {
            return Err(RpcError::FrameTooLarge {
                kind: "control message",
                len: json.len() as u64,
                max: frame::MAX_CONTROL_MESSAGE as u64,
            });
        }
        let mut chunks = json.chunks(frame::MAX_CONTROL_FRAME).peekable();
        if chunks.peek().is_none() {
            return self
                .queue(Outbound::Bytes(frame::encode_frame(
                    FrameKind::Control,
                    &[],
                )?))
                .await;
        }
        while let Some(chunk) = chunks.next() {
            let kind = if chunks.peek().is_some() {
                FrameKind::ControlPart
            } else {
                FrameKind::Control
            };
            self.queue(Outbound::Bytes(frame::encode_frame(kind, chunk)?))
                .await?;
        }
        Ok(())
    }

    /// Queues an error trailer. The message is cut to fit [`frame::MAX_ERROR_FRAME`].
    pub async fn send_error(&self, error: &RemoteError) -> Result<()> {
        self.queue(Outbound::Bytes(encode_error(error)?)).await
    }

    /// Queues an error trailer without waiting (best effort, for drop paths).
    pub(crate) fn try_send_error(&self, error: &RemoteError) {
        if let Ok(bytes) = encode_error(error) {
            let _ = self.out.try_send(Outbound::Bytes(bytes));
        }
    }

    pub(crate) async fn queue(&self, item: Outbound) -> Result<()> {
        self.out.send(item).await.map_err(|_| self.failure.get())
    }

    /// Waits for the next frame the application must see.
    pub async fn recv(&mut self) -> Result<Inbound> {
        match self.inbound.recv().await {
            Some(item) => Ok(item),
            None => Err(self.failure.get()),
        }
    }

    /// Polls for the next frame (for `AsyncRead` adapters).
    pub(crate) fn poll_recv(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<Inbound>> {
        self.inbound
            .poll_recv(cx)
            .map(|item| item.ok_or_else(|| self.failure.get()))
    }

    /// Splits borrows for the data path: the outbound queue, the send pool and the inbound queue.
    pub(crate) fn parts(&mut self) -> (&mpsc::Sender<Outbound>, &BufferPool, InboundPart<'_>) {
        (
            &self.out,
            &self.send_pool,
            InboundPart {
                inbound: &mut self.inbound,
                failure: &self.failure,
            },
        )
    }

    /// Waits for a control message and decodes it; an error trailer becomes [`RpcError::Remote`].
    pub async fn recv_message<T: DeserializeOwned>(&mut self) -> Result<T> {
        match self.recv().await? {
            Inbound::Control(json) => decode_message(&json),
            Inbound::Error(e) => Err(RpcError::Remote(e)),
            other => Err(RpcError::Protocol(format!(
                "expected a control message, got {}",
                other.describe()
            ))),
        }
    }
}

/// The inbound half of a connection, borrowed separately from the outbound half.
pub(crate) struct InboundPart<'a> {
    inbound: &'a mut mpsc::Receiver<Inbound>,
    failure: &'a Failure,
}

impl InboundPart<'_> {
    /// Waits for the next inbound frame.
    pub(crate) async fn recv(&mut self) -> Result<Inbound> {
        match self.inbound.recv().await {
            Some(item) => Ok(item),
            None => Err(self.failure.get()),
        }
    }

    /// The connection's failure.
    pub(crate) fn failure(&self) -> RpcError {
        self.failure.get()
    }
}

/// Tells a client that the transport refused it, then closes: greeting, an error trailer of
/// class `denied`, shutdown. Used where the transport itself cannot tell (plain tcp); bounded by
/// the handshake timeout.
pub async fn refuse<S: Stream>(mut stream: S, options: &ConnOptions, why: &RpcError) {
    let told = async {
        handshake::handshake(&mut stream, options.greeting, options.handshake_timeout).await?;
        let error = RemoteError::new(crate::error::ErrorClass::Denied, why.to_string());
        stream
            .write_all(&encode_error(&error)?)
            .await
            .map_err(|e| RpcError::io("refusing a client", e))?;
        stream
            .shutdown()
            .await
            .map_err(|e| RpcError::io("refusing a client", e))
    };
    let _ = tokio::time::timeout(options.handshake_timeout, told).await;
}

/// Decodes a control message.
pub fn decode_message<T: DeserializeOwned>(json: &[u8]) -> Result<T> {
    serde_json::from_slice(json)
        .map_err(|e| RpcError::Protocol(format!("cannot decode a control message: {e}")))
}

/// Encodes an error trailer, cutting the message to fit [`frame::MAX_ERROR_FRAME`].
pub(crate) fn encode_error(error: &RemoteError) -> Result<Vec<u8>> {
    let mut error = error.clone();
    // Leave room for the JSON around the message and for escapes.
    let budget = frame::MAX_ERROR_FRAME / 8;
    if error.message.len() > budget {
        let mut cut = budget;
        while !error.message.is_char_boundary(cut) {
            cut -= 1;
        }
        error.message.truncate(cut);
        error.message.push_str(" [...]");
    }
    let json = serde_json::to_vec(&error)
        .map_err(|e| RpcError::Protocol(format!("cannot encode an error: {e}")))?;
    frame::encode_frame(FrameKind::Error, &json)
}

async fn write_loop<W: AsyncWrite>(
    mut writer: WriteHalf<W>,
    mut queue: mpsc::Receiver<Outbound>,
    options: ConnOptions,
    failure: Arc<Failure>,
    reader: AbortHandle,
) {
    let heartbeat = frame::encode_header(FrameKind::Heartbeat, 0);
    loop {
        let item = match tokio::time::timeout(options.heartbeat_interval, queue.recv()).await {
            Ok(Some(Outbound::Lease { granted, released })) => {
                if granted.send(()).is_ok() {
                    let _ = released.await;
                }
                continue;
            }
            Ok(Some(item)) => Some(item),
            Ok(None) => break,
            Err(_) => None,
        };
        let bytes = match &item {
            None => &heartbeat[..],
            Some(Outbound::Bytes(v)) => v,
            Some(Outbound::Pooled(b)) => b,
            Some(Outbound::Lease { .. }) => continue,
        };
        if let Err(e) = write_all_progressing(&mut writer, bytes, options.idle_timeout).await {
            failure.set(e);
            reader.abort();
            return;
        }
    }
    let _ = tokio::time::timeout(options.idle_timeout, writer.shutdown()).await;
}

/// Writes a whole frame and flushes it, within `idle`.
///
/// One timer per frame rather than per write call: transports such as TLS accept a frame in many
/// small writes, and a timer for each would cost more than the copy. A frame is at most about
/// 1 MiB, so requiring it to leave within the idle timeout is still a progress check.
async fn write_all_progressing<W: AsyncWrite + Unpin>(
    writer: &mut W,
    bytes: &[u8],
    idle: Duration,
) -> Result<()> {
    written_within(idle, async {
        writer.write_all(bytes).await?;
        writer.flush().await
    })
    .await
}

/// Bounds the writing of one frame by the idle timeout and classifies its failure (shared by the
/// writer task and the spliced data path, which writes while it holds the socket).
pub(crate) async fn written_within(
    idle: Duration,
    write: impl Future<Output = std::io::Result<()>>,
) -> Result<()> {
    match tokio::time::timeout(idle, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::WriteZero => Err(RpcError::Closed),
        Ok(Err(e)) => Err(RpcError::io("writing to the peer", e)),
        Err(_) => Err(RpcError::Timeout {
            what: "the peer to read (it stopped reading)",
            after: idle,
        }),
    }
}

async fn read_loop<R: AsyncRead>(
    mut reader: ReadHalf<R>,
    queue: mpsc::Sender<Inbound>,
    pool: BufferPool,
    idle: Duration,
    failure: Arc<Failure>,
) {
    if let Err(e) = read_frames(&mut reader, &queue, &pool, idle).await {
        failure.set(e);
    }
}

async fn read_frames<R: AsyncRead + Unpin>(
    reader: &mut R,
    queue: &mpsc::Sender<Inbound>,
    pool: &BufferPool,
    idle: Duration,
) -> Result<()> {
    let mut control = Vec::new();
    loop {
        let mut head = [0u8; HEADER_LEN];
        if !read_exact_progressing(reader, &mut head, idle, true).await? {
            return Err(RpcError::Closed);
        }
        let header = frame::decode_header(head)?;
        let item = match header.kind {
            FrameKind::Heartbeat => continue,
            FrameKind::Data | FrameKind::DataZstd => {
                let mut buf = pool.acquire().await;
                read_exact_progressing(reader, &mut buf.space()[..header.len], idle, false).await?;
                buf.set_len(header.len);
                if header.kind == FrameKind::Data {
                    Inbound::Data(buf)
                } else {
                    Inbound::DataZstd(buf)
                }
            }
            FrameKind::Control | FrameKind::ControlPart => {
                if control.len() + header.len > frame::MAX_CONTROL_MESSAGE {
                    return Err(RpcError::FrameTooLarge {
                        kind: "control message",
                        len: (control.len() + header.len) as u64,
                        max: frame::MAX_CONTROL_MESSAGE as u64,
                    });
                }
                let start = control.len();
                control.resize(start + header.len, 0);
                read_exact_progressing(reader, &mut control[start..], idle, false).await?;
                if header.kind == FrameKind::ControlPart {
                    continue;
                }
                Inbound::Control(std::mem::take(&mut control))
            }
            FrameKind::End => {
                let mut total = [0u8; 8];
                read_exact_progressing(reader, &mut total, idle, false).await?;
                Inbound::End(u64::from_be_bytes(total))
            }
            FrameKind::Error => {
                let mut json = vec![0u8; header.len];
                read_exact_progressing(reader, &mut json, idle, false).await?;
                Inbound::Error(decode_message(&json)?)
            }
        };
        if queue.send(item).await.is_err() {
            return Ok(());
        }
    }
}

/// Fills `buf` within `idle` (one timer per call, see [`write_all_progressing`]). Returns
/// `Ok(false)` on a clean end of stream before the first byte when `eof_ok`, an error for an end
/// in the middle.
async fn read_exact_progressing<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut [u8],
    idle: Duration,
    eof_ok: bool,
) -> Result<bool> {
    let fill = async {
        let mut filled = 0;
        while filled < buf.len() {
            let n = reader.read(&mut buf[filled..]).await?;
            if n == 0 {
                return Ok(filled);
            }
            filled += n;
        }
        Ok(filled)
    };
    let filled = tokio::time::timeout(idle, fill)
        .await
        .map_err(|_| RpcError::Timeout {
            what: "the peer (no data and no heartbeat)",
            after: idle,
        })?
        .map_err(|e: std::io::Error| RpcError::io("reading from the peer", e))?;
    if filled == buf.len() {
        Ok(true)
    } else if filled == 0 && eof_ok {
        Ok(false)
    } else {
        Err(RpcError::Truncated("a frame"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;

    #[test]
    fn long_error_messages_are_cut_to_fit_one_frame() {
        let error = RemoteError::new(ErrorClass::Permanent, "\u{e9}\"".repeat(100_000));
        let bytes = encode_error(&error).expect("encodes");
        let decoded = frame::decode_frame(&bytes).expect("valid").expect("whole");
        assert_eq!(decoded.kind, FrameKind::Error);
        let back: RemoteError = decode_message(decoded.payload).expect("valid json");
        assert!(back.message.ends_with(" [...]"));
        assert!(back.message.len() < error.message.len());
    }
}
