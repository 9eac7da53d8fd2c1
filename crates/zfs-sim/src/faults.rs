//! Fault injection, from environment variables or `$ZFS_SIM_DIR/faults.env` (same keys,
//! `KEY=VALUE` lines, read at every invocation so tests can change the behaviour of programs
//! started by an already-running daemon; the environment wins over the file):
//!
//! | key | effect |
//! | --- | --- |
//! | `ZFS_SIM_SEND_FAIL_AFTER=N` | `zfs send` writes N bytes of the stream, then fails (exit 1) |
//! | `ZFS_SIM_RECV_NOSPACE=1` | `zfs receive` fails with "out of space" after reading the stream header |
//! | `ZFS_SIM_STREAM_RATE=B` | `zfs send` writes at most B bytes per second |
//! | `ZFS_SIM_DELAY_MS=N` | every command sleeps N ms before doing anything |

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// The faults in effect for this invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Fail `send` after this many bytes.
    pub send_fail_after: Option<u64>,
    /// Make `recv` fail with no space.
    pub recv_nospace: bool,
    /// Throttle streams to this many bytes per second.
    pub stream_rate: Option<u64>,
    /// Delay every command by this many milliseconds.
    pub delay_ms: Option<u64>,
}

impl Faults {
    /// Reads the faults from `dir/faults.env` and the environment.
    pub fn load(dir: &Path) -> Faults {
        let mut kv: BTreeMap<String, String> = BTreeMap::new();
        if let Ok(text) = std::fs::read_to_string(dir.join("faults.env")) {
            for line in text.lines() {
                let line = line.trim();
                if line.starts_with('#') {
                    continue;
                }
                if let Some((k, v)) = line.split_once('=') {
                    kv.insert(k.trim().to_string(), v.trim().to_string());
                }
            }
        }
        for k in [
            "ZFS_SIM_SEND_FAIL_AFTER",
            "ZFS_SIM_RECV_NOSPACE",
            "ZFS_SIM_STREAM_RATE",
            "ZFS_SIM_DELAY_MS",
        ] {
            if let Ok(v) = std::env::var(k) {
                kv.insert(k.to_string(), v);
            }
        }
        let num = |k: &str| kv.get(k).and_then(|v| v.parse::<u64>().ok());
        Faults {
            send_fail_after: num("ZFS_SIM_SEND_FAIL_AFTER"),
            recv_nospace: kv
                .get("ZFS_SIM_RECV_NOSPACE")
                .is_some_and(|v| !v.is_empty() && v != "0"),
            stream_rate: num("ZFS_SIM_STREAM_RATE").filter(|r| *r > 0),
            delay_ms: num("ZFS_SIM_DELAY_MS"),
        }
    }

    /// Sleeps for the configured command delay.
    pub fn delay(&self) {
        if let Some(ms) = self.delay_ms {
            std::thread::sleep(Duration::from_millis(ms));
        }
    }
}

/// A writer applying the send faults: stops with an error after `fail_after` bytes and
/// throttles to `rate` bytes per second.
pub struct FaultyWriter<W: Write> {
    inner: W,
    written: u64,
    fail_after: Option<u64>,
    rate: Option<u64>,
    start: Instant,
}

impl<W: Write> FaultyWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W, faults: &Faults) -> FaultyWriter<W> {
        FaultyWriter {
            inner,
            written: 0,
            fail_after: faults.send_fail_after,
            rate: faults.stream_rate,
            start: Instant::now(),
        }
    }
}

/// The error of an injected send failure.
pub fn injected(n: u64) -> io::Error {
    io::Error::other(format!("injected send failure after {n} bytes"))
}

impl<W: Write> Write for FaultyWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut n = buf.len();
        if let Some(limit) = self.fail_after {
            if self.written >= limit {
                self.inner.flush()?;
                return Err(injected(limit));
            }
            n = n.min((limit - self.written) as usize);
        }
        if let Some(rate) = self.rate {
            n = n.min((rate as usize / 10).max(1));
            let due = Duration::from_secs_f64((self.written + n as u64) as f64 / rate as f64);
            let elapsed = self.start.elapsed();
            if due > elapsed {
                std::thread::sleep(due - elapsed);
            }
        }
        let n = self.inner.write(&buf[..n])?;
        self.written += n as u64;
        if self.rate.is_some() {
            // A throttled stream trickles out as it is produced, like a slow `zfs send`,
            // instead of waiting in a buffer in front of the pipe.
            self.inner.flush()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_slows_the_stream() {
        let f = Faults {
            stream_rate: Some(2000),
            ..Faults::default()
        };
        let start = Instant::now();
        let mut out = Vec::new();
        FaultyWriter::new(&mut out, &f)
            .write_all(&[0u8; 1000])
            .unwrap();
        assert_eq!(out.len(), 1000);
        assert!(
            start.elapsed() >= Duration::from_millis(400),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn file_and_failure_after_n_bytes() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(
            t.path().join("faults.env"),
            "ZFS_SIM_SEND_FAIL_AFTER=10\nZFS_SIM_RECV_NOSPACE=1\n",
        )
        .unwrap();
        let f = Faults::load(t.path());
        assert_eq!(f.send_fail_after, Some(10));
        assert!(f.recv_nospace);
        let mut out = Vec::new();
        let mut w = FaultyWriter::new(&mut out, &f);
        let r = w.write_all(&[1u8; 100]);
        assert!(r.is_err());
        assert_eq!(out.len(), 10);
    }
}
