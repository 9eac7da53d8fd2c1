//! The spliced data path: a stream that comes out of a pipe (`zfs send`'s stdout) is moved into
//! the connection's socket with `splice(2)`, so its bytes never pass through our memory.
//!
//! The wire format is the same as on the copying path ([`crate::stream`]): data frames, then an
//! end frame or an error trailer; the receiving side cannot tell the difference. For each frame the
//! sender asks the pipe how many bytes it holds (`FIONREAD`), writes a header announcing exactly
//! that many and splices them behind it. Nothing else reads the pipe, so the announced bytes stay
//! there until they are moved.
//!
//! The writer task owns the socket; while a stream is spliced it leases the socket to the data
//! path ([`Outbound::Lease`]) and writes nothing itself. The data path then sends the heartbeats
//! while it waits for a slow producer, and bounds every frame by the idle timeout, as the writer
//! would. The end frame and any error trailer go through the writer again, after the lease ends.
//!
//! Used when the transport offers its raw socket (tcp, unix sockets; see
//! [`crate::transport::Stream::raw_socket`]), the stream offers its pipe, and the stream is not
//! compressed; everything else takes the copying path.

use crate::conn::{Connection, Outbound, written_within};
use crate::error::{Result, RpcError};
use crate::frame::{self, FrameKind, HEADER_LEN};
use crate::handshake::FEATURE_ZSTD;
use crate::stream::{StreamConfig, StreamStats, end_stream, error_frame, watching_receiver};
use crate::transport::RawSocket;
use rustix::event::{PollFd, PollFlags, Timespec};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, Interest};
use tokio::net::unix::pipe;
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{mpsc, oneshot};
use zferry_repl::endpoint::ByteStream;

/// The longest a frame waits to grow once the pipe holds its first byte (as on the copying path).
const MAX_FRAME_DELAY: Duration = Duration::from_millis(50);

/// A second handle on a connection's socket, registered with the runtime, for splicing into it.
pub(crate) enum SpliceSocket {
    /// A tcp connection.
    Tcp(TcpStream),
    /// A unix socket connection.
    Unix(UnixStream),
}

impl SpliceSocket {
    /// Duplicates the descriptor of `raw` (the original stays with the connection's halves).
    pub(crate) fn second_handle(raw: RawSocket<'_>) -> io::Result<Self> {
        Ok(match raw {
            RawSocket::Tcp(s) => {
                SpliceSocket::Tcp(TcpStream::from_std(s.as_fd().try_clone_to_owned()?.into())?)
            }
            RawSocket::Unix(s) => SpliceSocket::Unix(UnixStream::from_std(
                s.as_fd().try_clone_to_owned()?.into(),
            )?),
        })
    }

    async fn writable(&self) -> io::Result<()> {
        match self {
            SpliceSocket::Tcp(s) => s.writable().await,
            SpliceSocket::Unix(s) => s.writable().await,
        }
    }

    /// Runs a non-blocking write on the socket; `WouldBlock` clears its write readiness.
    fn try_write_with<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> io::Result<R>) -> io::Result<R> {
        match self {
            SpliceSocket::Tcp(s) => s.try_io(Interest::WRITABLE, || f(s.as_fd())),
            SpliceSocket::Unix(s) => s.try_io(Interest::WRITABLE, || f(s.as_fd())),
        }
    }

    /// Writes all of `bytes`; `more` tells the kernel that data follows at once (the payload of
    /// a header), so both leave in the same segments.
    async fn write_all(&self, mut bytes: &[u8], more: bool) -> io::Result<()> {
        let flags = if more {
            rustix::net::SendFlags::MORE
        } else {
            rustix::net::SendFlags::empty()
        };
        while !bytes.is_empty() {
            self.writable().await?;
            match self.try_write_with(|fd| Ok(rustix::net::send(fd, bytes, flags)?)) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Moves exactly `len` bytes, which the pipe is known to hold, into the socket.
    async fn splice_from(&self, pipe: &pipe::Receiver, mut len: usize) -> io::Result<()> {
        let flags = rustix::pipe::SpliceFlags::NONBLOCK | rustix::pipe::SpliceFlags::MORE;
        while len > 0 {
            self.writable().await?;
            // The pipe holds the bytes, so `WouldBlock` can only mean that the socket is full.
            let moved = self.try_write_with(|fd| {
                Ok(rustix::pipe::splice(
                    pipe.as_fd(),
                    None,
                    fd,
                    None,
                    len,
                    flags,
                )?)
            });
            match moved {
                Ok(0) => return Err(io::Error::other("the pipe ended before its counted bytes")),
                Ok(n) => len -= n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// One data frame: a header announcing `len` bytes, then those bytes out of the pipe.
    async fn send_frame(&self, pipe: &pipe::Receiver, len: usize) -> io::Result<()> {
        self.write_all(&frame::encode_header(FrameKind::Data, len), true)
            .await?;
        self.splice_from(pipe, len).await
    }
}

/// What the pipe holds next.
enum PipeState {
    /// This many bytes (at least one).
    Bytes(usize),
    /// Nothing, and its writers are gone.
    Ended,
}

/// Looks at the pipe without reading: `WouldBlock` when it is empty but still open.
fn pipe_state(pipe: &pipe::Receiver) -> io::Result<PipeState> {
    // Whether the writers are gone is checked before counting: no byte arrives after that.
    let mut fds = [PollFd::new(pipe, PollFlags::IN)];
    rustix::event::poll(&mut fds, Some(&Timespec::default()))?;
    let hung_up = fds[0].revents().contains(PollFlags::HUP);
    let held = rustix::io::ioctl_fionread(pipe.as_fd())?;
    match usize::try_from(held).unwrap_or(usize::MAX) {
        0 if hung_up => Ok(PipeState::Ended),
        0 => Err(io::ErrorKind::WouldBlock.into()),
        n => Ok(PipeState::Bytes(n)),
    }
}

/// Lends the socket to the data path until dropped.
struct Lease {
    _release: oneshot::Sender<()>,
}

impl Lease {
    /// Asks the writer for the socket; resolves once everything queued before is written.
    async fn take(out: &mpsc::Sender<Outbound>) -> Result<Lease> {
        let (granted, granted_rx) = oneshot::channel();
        let (release, released) = oneshot::channel();
        out.send(Outbound::Lease { granted, released })
            .await
            .map_err(|_| RpcError::Closed)?;
        granted_rx.await.map_err(|_| RpcError::Closed)?;
        Ok(Lease { _release: release })
    }
}

/// Timing of a spliced stream.
struct Timing {
    heartbeat: Duration,
    idle: Duration,
}

/// Waits until the pipe holds a frame's worth (`target` bytes, or whatever arrived within
/// [`MAX_FRAME_DELAY`] of the first byte) or has ended; sends heartbeats while it is empty.
async fn next_frame(
    pipe: &pipe::Receiver,
    socket: &SpliceSocket,
    target: usize,
    timing: &Timing,
) -> Result<Option<usize>> {
    let source = |e: io::Error| RpcError::LocalStream(format!("reading the stream source: {e}"));
    let mut first_byte: Option<tokio::time::Instant> = None;
    loop {
        let state = match first_byte {
            None => {
                tokio::select! {
                    biased;
                    ready = pipe.readable() => ready.map_err(source)?,
                    () = tokio::time::sleep(timing.heartbeat) => {
                        let beat = frame::encode_header(FrameKind::Heartbeat, 0);
                        written_within(timing.idle, socket.write_all(&beat, false)).await?;
                        continue;
                    }
                }
                pipe.try_io(|| pipe_state(pipe))
            }
            Some(since) => {
                let deadline = since + MAX_FRAME_DELAY;
                match tokio::time::timeout_at(deadline, pipe.readable()).await {
                    Ok(ready) => {
                        ready.map_err(source)?;
                        pipe.try_io(|| pipe_state(pipe))
                    }
                    // Out of patience: send what is there.
                    Err(_) => pipe_state(pipe),
                }
            }
        };
        match state {
            Ok(PipeState::Ended) => return Ok(None),
            Ok(PipeState::Bytes(n)) if n >= target => return Ok(Some(target)),
            Ok(PipeState::Bytes(n)) => {
                let since = *first_byte.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() >= MAX_FRAME_DELAY {
                    return Ok(Some(n));
                }
                // Wait for more: readiness fires again on the producer's next write.
                let _ = pipe.try_io(|| -> io::Result<()> { Err(io::ErrorKind::WouldBlock.into()) });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(source(e)),
        }
    }
}

impl Connection {
    /// Sends a [`ByteStream`] as a data stream and ends it: spliced from its pipe into the socket
    /// when both offer themselves and the stream is not compressed, copied otherwise
    /// ([`Connection::send_stream`]). Errors as there.
    pub async fn send_byte_stream(
        &mut self,
        stream: &mut ByteStream,
        config: &StreamConfig,
    ) -> Result<StreamStats> {
        let compress = config.compress && self.features() & FEATURE_ZSTD != 0;
        let pipe = stream.pipe();
        match (compress, self.socket(), pipe) {
            (false, Some(socket), Some(pipe)) => {
                self.splice_stream(stream, pipe, &socket, config).await
            }
            _ => self.send_stream(stream, config).await,
        }
    }

    async fn splice_stream(
        &mut self,
        stream: &mut ByteStream,
        pipe: Arc<pipe::Receiver>,
        socket: &SpliceSocket,
        config: &StreamConfig,
    ) -> Result<StreamStats> {
        let timing = Timing {
            heartbeat: self.options().heartbeat_interval,
            idle: self.options().idle_timeout,
        };
        let capacity = rustix::pipe::fcntl_getpipe_size(pipe.as_fd()).unwrap_or(64 << 10);
        let target = capacity.clamp(1, frame::MAX_DATA_FRAME);
        let (out, _, inbound) = self.parts();
        let pump = async {
            let mut stats = StreamStats::default();
            let lease = Lease::take(out).await?;
            let moved = async {
                while let Some(len) = next_frame(&pipe, socket, target, &timing).await? {
                    if let Some(limiter) = &config.limiter {
                        limiter.consume(HEADER_LEN + len).await;
                    }
                    written_within(timing.idle, socket.send_frame(&pipe, len)).await?;
                    stats.bytes += len as u64;
                    stats.wire_bytes += len as u64;
                    stream.spliced(len as u64);
                }
                Ok(())
            }
            .await;
            drop(lease);
            drop(pipe);
            // The pipe is exhausted; the stream's own end check (e.g. how `zfs send` exited)
            // happens on its next read.
            let end = match moved {
                Ok(()) => read_to_end_check(stream).await,
                Err(e) => Err(e),
            };
            if let Err(e) = end {
                if let RpcError::LocalStream(message) = &e {
                    let _ = out.send(Outbound::Bytes(error_frame(message)?)).await;
                }
                return Err(e);
            }
            end_stream(out, stats).await
        };
        watching_receiver(inbound, pump).await
    }
}

/// Reads the stream once its pipe is exhausted: it must end there, and may fail there.
async fn read_to_end_check(stream: &mut ByteStream) -> Result<()> {
    let mut probe = [0u8; 1];
    match stream.read(&mut probe).await {
        Ok(0) => Ok(()),
        Ok(_) => Err(RpcError::LocalStream(
            "the stream source went on after its pipe ended".into(),
        )),
        Err(e) => Err(RpcError::LocalStream(format!(
            "reading the stream source: {e}"
        ))),
    }
}
