//! The greeting both ends send first: magic, protocol version, feature bits.
//!
//! Both sides write their greeting immediately and then read the peer's, so *both* learn about a
//! version mismatch and can name both versions in their error.

use crate::error::{Result, RpcError};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The protocol version this build speaks. Bump on any incompatible change of frames or messages.
pub const PROTOCOL_VERSION: u32 = 1;
/// Identifies a zferry endpoint; anything else is refused before reading further.
pub const MAGIC: [u8; 8] = *b"ZFERRY\0\n";
/// Length of the greeting on the wire.
pub const GREETING_LEN: usize = 16;

/// Feature bit: the endpoint can decode zstd-compressed data frames.
pub const FEATURE_ZSTD: u32 = 1;
/// Every feature this build supports.
pub const ALL_FEATURES: u32 = FEATURE_ZSTD;

/// What an endpoint announces about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Greeting {
    /// Protocol version (must be equal on both sides).
    pub version: u32,
    /// Feature bits; the connection uses the intersection.
    pub features: u32,
}

impl Default for Greeting {
    fn default() -> Self {
        Greeting {
            version: PROTOCOL_VERSION,
            features: ALL_FEATURES,
        }
    }
}

impl Greeting {
    fn encode(&self) -> [u8; GREETING_LEN] {
        let mut out = [0u8; GREETING_LEN];
        out[..8].copy_from_slice(&MAGIC);
        out[8..12].copy_from_slice(&self.version.to_be_bytes());
        out[12..].copy_from_slice(&self.features.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8; GREETING_LEN]) -> Result<Self> {
        if bytes[..8] != MAGIC {
            return Err(RpcError::NotZferry);
        }
        let word = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        Ok(Greeting {
            version: word(8),
            features: word(12),
        })
    }
}

/// Exchanges greetings on a fresh stream; returns the negotiated feature bits.
pub async fn handshake<S>(stream: &mut S, ours: Greeting, timeout: Duration) -> Result<u32>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let exchange = async {
        stream
            .write_all(&ours.encode())
            .await
            .map_err(|e| RpcError::io("sending the greeting", e))?;
        stream
            .flush()
            .await
            .map_err(|e| RpcError::io("sending the greeting", e))?;
        let mut theirs = [0u8; GREETING_LEN];
        stream.read_exact(&mut theirs).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                RpcError::Truncated("the greeting")
            } else {
                RpcError::io("reading the greeting", e)
            }
        })?;
        Greeting::decode(&theirs)
    };
    let peer = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| RpcError::Timeout {
            what: "the peer's greeting",
            after: timeout,
        })??;
    if peer.version != ours.version {
        return Err(RpcError::VersionMismatch {
            ours: ours.version,
            peer: peer.version,
        });
    }
    Ok(ours.features & peer.features)
}
