//! Bounded capture of a hook's output: the last `limit` bytes are kept, older bytes are counted
//! and dropped, so a chatty hook cannot exhaust memory while the end of its output (where errors
//! usually are) survives.

use std::collections::VecDeque;

/// The default capture limit per hook invocation (stdout and stderr combined).
pub const DEFAULT_OUTPUT_LIMIT: usize = 64 * 1024;

/// A ring buffer of the most recent output bytes.
#[derive(Debug)]
pub struct OutputTail {
    limit: usize,
    bytes: VecDeque<u8>,
    dropped: u64,
}

impl OutputTail {
    /// An empty buffer keeping at most `limit` bytes.
    pub fn new(limit: usize) -> OutputTail {
        OutputTail {
            limit,
            bytes: VecDeque::with_capacity(limit.min(8192)),
            dropped: 0,
        }
    }

    /// Appends output, dropping the oldest bytes beyond the limit.
    pub fn push(&mut self, data: &[u8]) {
        let keep_from = data.len().saturating_sub(self.limit);
        self.dropped += keep_from as u64;
        self.bytes.extend(&data[keep_from..]);
        let excess = self.bytes.len().saturating_sub(self.limit);
        self.bytes.drain(..excess);
        self.dropped += excess as u64;
    }

    /// The kept output (invalid UTF-8 replaced) and how many earlier bytes were dropped.
    pub fn finish(&self) -> CapturedOutput {
        let (a, b) = self.bytes.as_slices();
        let mut all = Vec::with_capacity(a.len() + b.len());
        all.extend_from_slice(a);
        all.extend_from_slice(b);
        CapturedOutput {
            text: String::from_utf8_lossy(&all).into_owned(),
            dropped_bytes: self.dropped,
        }
    }
}

/// What a hook printed, bounded.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CapturedOutput {
    /// The last bytes of combined stdout and stderr.
    pub text: String,
    /// How many bytes before `text` were dropped.
    pub dropped_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_below_the_limit() {
        let mut tail = OutputTail::new(10);
        tail.push(b"abc");
        tail.push(b"def");
        assert_eq!(
            tail.finish(),
            CapturedOutput {
                text: "abcdef".into(),
                dropped_bytes: 0
            }
        );
    }

    #[test]
    fn keeps_the_last_bytes_and_counts_the_rest() {
        let mut tail = OutputTail::new(4);
        tail.push(b"abc");
        tail.push(b"defgh");
        tail.push(b"0123456789");
        assert_eq!(
            tail.finish(),
            CapturedOutput {
                text: "6789".into(),
                dropped_bytes: 14
            }
        );
    }
}
