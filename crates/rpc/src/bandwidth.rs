//! A token bucket shared by all streams of a job (zrepl's `bandwidth_limit`).
//!
//! Tokens are bytes. The bucket refills at `max` bytes per second up to `bucket_capacity`. A
//! stream takes the tokens for each chunk before passing it on; when the bucket runs into debt,
//! the stream sleeps until the debt is paid. Because every stream of a job draws from the same
//! bucket, their sum stays at the limit however many streams run.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// A shared bandwidth limit; clones draw from the same bucket.
#[derive(Debug, Clone)]
pub struct BandwidthLimiter {
    bucket: Arc<Mutex<Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl BandwidthLimiter {
    /// A limit of `bytes_per_second`, with bursts up to `bucket_capacity` bytes (at least 1).
    pub fn new(bytes_per_second: u64, bucket_capacity: u64) -> Self {
        let capacity = bucket_capacity.max(1) as f64;
        BandwidthLimiter {
            bucket: Arc::new(Mutex::new(Bucket {
                rate: bytes_per_second.max(1) as f64,
                capacity,
                tokens: capacity,
                last: Instant::now(),
            })),
        }
    }

    /// Takes `bytes` tokens now and says how long the caller must wait before using them.
    pub fn reserve(&self, bytes: usize) -> Duration {
        let mut b = self.bucket.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.last = now;
        b.tokens = (b.tokens + elapsed * b.rate).min(b.capacity);
        b.tokens -= bytes as f64;
        if b.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.tokens / b.rate)
        }
    }

    /// Takes `bytes` tokens, sleeping as long as the bucket is in debt.
    pub async fn consume(&self, bytes: usize) {
        let wait = self.reserve(bytes);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn two_streams_share_one_rate() {
        let limit = BandwidthLimiter::new(1 << 20, 64 << 10);
        let start = Instant::now();
        let a = {
            let limit = limit.clone();
            tokio::spawn(async move {
                for _ in 0..16 {
                    limit.consume(128 << 10).await;
                }
            })
        };
        for _ in 0..16 {
            limit.consume(128 << 10).await;
        }
        a.await.expect("task");
        // 4 MiB at 1 MiB/s with a 64 KiB head start: just under 4 s.
        let took = start.elapsed().as_secs_f64();
        assert!((3.8..4.3).contains(&took), "took {took}s");
    }
}
