//! A fixed-size pool of large buffers: the whole memory a data stream may use.
//!
//! A stream never holds more than `count` buffers of `size` bytes at once; a producer that wants
//! another buffer waits until a consumer has returned one (backpressure). Buffers are reused, so
//! the data path allocates nothing per frame.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A pool of at most `count` buffers of `size` bytes each.
#[derive(Clone)]
pub struct BufferPool {
    inner: Arc<Inner>,
}

struct Inner {
    free: Mutex<Vec<Vec<u8>>>,
    permits: Arc<Semaphore>,
    size: usize,
}

impl BufferPool {
    /// Creates a pool; no buffer is allocated until first use.
    pub fn new(count: usize, size: usize) -> Self {
        BufferPool {
            inner: Arc::new(Inner {
                free: Mutex::new(Vec::with_capacity(count)),
                permits: Arc::new(Semaphore::new(count.max(1))),
                size,
            }),
        }
    }

    /// The size of each buffer.
    pub fn buffer_size(&self) -> usize {
        self.inner.size
    }

    /// Waits for a free buffer. Its length is the pool's buffer size; contents are unspecified.
    pub async fn acquire(&self) -> PooledBuf {
        // The pool never closes its semaphore, so acquiring only fails if that changes; then the
        // buffer is handed out without a permit rather than panicking.
        let permit = self.inner.permits.clone().acquire_owned().await.ok();
        let buf = self
            .inner
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_else(|| vec![0; self.inner.size]);
        PooledBuf {
            buf,
            len: 0,
            pool: self.inner.clone(),
            _permit: permit,
        }
    }
}

/// A buffer borrowed from a [`BufferPool`]; it goes back to the pool when dropped.
///
/// `len` marks how many bytes at the front are meaningful; the full capacity is always
/// addressable through [`PooledBuf::space`].
pub struct PooledBuf {
    buf: Vec<u8>,
    len: usize,
    pool: Arc<Inner>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl PooledBuf {
    /// The whole buffer, for filling.
    pub fn space(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// The whole buffer, read-only.
    pub fn whole(&self) -> &[u8] {
        &self.buf
    }

    /// Marks the first `len` bytes as filled (clamped to the buffer size).
    pub fn set_len(&mut self, len: usize) {
        self.len = len.min(self.buf.len());
    }
}

impl Deref for PooledBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl DerefMut for PooledBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.len]
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        self.pool
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn pool_bounds_the_number_of_buffers_and_reuses_them() {
        let pool = BufferPool::new(2, 16);
        let mut a = pool.acquire().await;
        a.space()[0] = 7;
        let _b = pool.acquire().await;
        let third = tokio::time::timeout(Duration::from_millis(50), pool.acquire()).await;
        assert!(third.is_err(), "a third buffer must wait");
        let ptr = a.space().as_ptr();
        drop(a);
        let mut c = pool.acquire().await;
        assert_eq!(c.space().as_ptr(), ptr, "the returned buffer is reused");
        assert_eq!(c.space().len(), 16);
    }
}
