//! [`ByteStream`]: a `zfs send` stream on its way from a sender to a receiver.
//!
//! Mostly it is just something to read. When its bytes come straight out of a pipe (the stdout of
//! `zfs send`), the stream also says which pipe, so that a transport can move them into a socket
//! with `splice(2)` instead of copying them through user memory twice. Progress observers see the
//! bytes either way: reads report themselves, splicers report through [`ByteStream::spliced`].

use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::unix::pipe;

/// Something told how many bytes of a stream have moved on.
pub type ProgressObserver = Arc<dyn Fn(u64) + Send + Sync>;

/// Tells a stream's producer why its consumer gave up on the stream.
///
/// A producer on the far side of a connection (a source serving a pull) otherwise learns only
/// that the stream was dropped early. Dropping an unused report is allowed: it then says just
/// that, if the stream had not ended.
pub trait FailureReport: Send {
    /// Sends `message` to the producer (once; nothing if the stream had ended).
    fn report(self: Box<Self>, message: &str);
}

/// A `zfs send` byte stream handed between the endpoints and the engine.
pub struct ByteStream {
    reader: Pin<Box<dyn AsyncRead + Send>>,
    pipe: Option<Weak<pipe::Receiver>>,
    observers: Vec<ProgressObserver>,
    failure_report: Option<Box<dyn FailureReport>>,
}

impl ByteStream {
    /// A stream of whatever `reader` yields.
    pub fn new(reader: impl AsyncRead + Send + 'static) -> Self {
        ByteStream {
            reader: Box::pin(reader),
            pipe: None,
            observers: Vec::new(),
            failure_report: None,
        }
    }

    /// Attaches the way to tell the producer why the stream was given up.
    pub fn with_failure_report(mut self, report: Box<dyn FailureReport>) -> Self {
        self.failure_report = Some(report);
        self
    }

    /// Takes the stream's [`FailureReport`], if it has one: whoever hands the stream to a consumer
    /// keeps it, and reports the consumer's error after the consumer has dropped the stream.
    pub fn take_failure_report(&mut self) -> Option<Box<dyn FailureReport>> {
        self.failure_report.take()
    }

    /// Declares that the reader reads `pipe` and nothing else, without reading ahead, so that a
    /// consumer may take bytes from the pipe directly. Such a consumer must read through the
    /// stream once the pipe is exhausted: that read is where the reader checks how its producer
    /// ended (a failed `zfs send` becomes a read error there).
    pub fn with_pipe(mut self, pipe: Weak<pipe::Receiver>) -> Self {
        self.pipe = Some(pipe);
        self
    }

    /// The pipe the stream's bytes can be spliced from, while it is open.
    pub fn pipe(&self) -> Option<Arc<pipe::Receiver>> {
        self.pipe.as_ref().and_then(Weak::upgrade)
    }

    /// Adds an observer of the bytes that move on (read or spliced).
    pub fn observe(mut self, observer: ProgressObserver) -> Self {
        self.observers.push(observer);
        self
    }

    /// Reports bytes a consumer moved out of [`ByteStream::pipe`] without reading them.
    pub fn spliced(&mut self, bytes: u64) {
        self.notify(bytes);
    }

    fn notify(&self, bytes: u64) {
        for observer in &self.observers {
            observer(bytes);
        }
    }
}

impl AsyncRead for ByteStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = self.reader.as_mut().poll_read(cx, buf);
        let read = (buf.filled().len() - before) as u64;
        if read > 0 {
            self.notify(read);
        }
        result
    }
}

impl std::fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteStream")
            .field("pipe", &self.pipe().is_some())
            .field("observers", &self.observers.len())
            .field("failure_report", &self.failure_report.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn observers_see_read_and_spliced_bytes() {
        let seen = Arc::new(AtomicU64::new(0));
        let counter = seen.clone();
        let mut stream =
            ByteStream::new(std::io::Cursor::new(vec![7u8; 1000])).observe(Arc::new(move |n| {
                counter.fetch_add(n, Ordering::Relaxed);
            }));
        let mut out = Vec::new();
        stream.read_to_end(&mut out).await.expect("reads");
        assert_eq!(out.len(), 1000);
        stream.spliced(24);
        assert_eq!(seen.load(Ordering::Relaxed), 1024);
    }

    #[tokio::test]
    async fn the_pipe_is_offered_only_while_its_owner_keeps_it_open() {
        let (_tx, rx) = pipe::pipe().expect("pipe");
        let owner = Arc::new(rx);
        let stream = ByteStream::new(tokio::io::empty()).with_pipe(Arc::downgrade(&owner));
        assert!(stream.pipe().is_some());
        drop(owner);
        assert!(stream.pipe().is_none(), "a closed pipe is not offered");
        assert!(ByteStream::new(tokio::io::empty()).pipe().is_none());
    }
}
