//! Reading `receive_resume_token`s natively, with no `zfs` call.
//!
//! Why natively: the token lives on the receiving host, but `zfs send -nvt TOKEN` only decodes it
//! where the sending dataset exists (OpenZFS 2.3.2 exits 255 with `cannot resume send: ... no
//! longer exists` anywhere else). A receiver asking its own `zfs` would find every token
//! "undecodable" and abort a resumable receive that its sender could have finished. Each host
//! may ask ZFS only about its own datasets; the token's contents are plain data and are read here.
//!
//! The format, as the kernel writes it (`dsl_dataset.c`) and libzfs reads it:
//! `<version>-<checksum>-<packed length>-<payload>` where `version` is decimal (only 1 exists),
//! `checksum` is hex, the first word of the fletcher-4 checksum of the compressed bytes (the sum of
//! their little-endian 32-bit words, modulo 2^64; a trailing partial word does not count),
//! `packed length` is the hex length of the nvlist before compression, and `payload` is the hex
//! of the zlib-compressed packed nvlist ([`nvlist`]; the kernel packs it in native encoding, XDR
//! is read too).
//!
//! Tokens cross the wire (a receiver lists them, a sender checks them before `zfs send -t`), so
//! the decoder is attack surface: every length is capped before anything is allocated, and a
//! corrupt token is refused with the reason OpenZFS would give, never a panic.

pub mod nvlist;

use std::io::Read;

use nvlist::{UnpackError, Value};

/// Longest token accepted, in characters (real ones are a few hundred).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Largest packed nvlist accepted, in bytes, as the token declares it.
pub const MAX_PACKED_LEN: u64 = 64 * 1024;
/// The only token version OpenZFS defines (`ZFS_SEND_RESUME_TOKEN_VERSION`).
const TOKEN_VERSION: u32 = 1;

/// What a resume token says about the interrupted receive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResumeTokenContents {
    /// The snapshot being received, named as on the sending side (`toname`).
    pub to_name: String,
    /// Its guid.
    pub to_guid: u64,
    /// The incremental base's guid; `None` for a full stream.
    pub from_guid: Option<u64>,
    /// Bytes received so far.
    pub bytes: u64,
    /// Object where the stream resumes.
    pub object: u64,
    /// Offset within `object`.
    pub offset: u64,
    /// The stream was raw (`-w`).
    pub raw: bool,
    /// Compressed blocks (`-c`).
    pub compressed: bool,
    /// Embedded blocks (`-e`).
    pub embedded: bool,
    /// Large blocks (`-L`).
    pub large_blocks: bool,
    /// The stream sends a partially received dataset's saved state (`-S`).
    pub saved: bool,
}

/// Why a token was refused. The texts follow libzfs's `resume token is corrupt (...)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not `<version>-<checksum>-<length>-<payload>`.
    #[error("resume token is corrupt (invalid format)")]
    Format,
    /// A version other than 1.
    #[error("resume token is corrupt (invalid version {0})")]
    Version(u32),
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("resume token is corrupt (longer than {MAX_TOKEN_LEN} characters)")]
    TooLong,
    /// The payload has a character that is not a hex digit, or an odd count of them.
    #[error("resume token is corrupt (payload is not hex-encoded)")]
    NotHex,
    /// The checksum does not match the payload.
    #[error("resume token is corrupt (incorrect checksum)")]
    Checksum,
    /// The declared packed length is over [`MAX_PACKED_LEN`].
    #[error("resume token is corrupt (declared length {0} is over {MAX_PACKED_LEN} bytes)")]
    TooLarge(u64),
    /// The payload is not zlib data of exactly the declared length.
    #[error("resume token is corrupt (decompression failed)")]
    Decompression,
    /// The nvlist could not be read.
    #[error("resume token is corrupt (nvlist_unpack failed: {0})")]
    Unpack(#[from] UnpackError),
    /// A field every token has (`toname`, `toguid`) is absent or of the wrong type.
    #[error("resume token is corrupt (no {0})")]
    Missing(&'static str),
}

/// Decodes a `receive_resume_token`.
pub fn decode(token: &str) -> Result<ResumeTokenContents, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    let mut parts = token.trim().splitn(4, '-');
    let (Some(version), Some(checksum), Some(packed_len), Some(payload)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Format);
    };
    let version: u32 = version.parse().map_err(|_| TokenError::Format)?;
    let checksum = u64::from_str_radix(checksum, 16).map_err(|_| TokenError::Format)?;
    let packed_len = u64::from_str_radix(packed_len, 16).map_err(|_| TokenError::Format)?;
    if version != TOKEN_VERSION {
        return Err(TokenError::Version(version));
    }
    let compressed = from_hex(payload)?;
    if fletcher4_first_word(&compressed) != checksum {
        return Err(TokenError::Checksum);
    }
    if packed_len > MAX_PACKED_LEN {
        return Err(TokenError::TooLarge(packed_len));
    }
    let packed = inflate(&compressed, packed_len)?;
    contents(nvlist::unpack(&packed)?)
}

fn from_hex(hex: &str) -> Result<Vec<u8>, TokenError> {
    if !hex.len().is_multiple_of(2) {
        return Err(TokenError::NotHex);
    }
    hex.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or(TokenError::NotHex)
        })
        .collect()
}

/// The first word of fletcher-4 (`a`, the running sum of 32-bit little-endian words): the only
/// word a token carries.
pub fn fletcher4_first_word(bytes: &[u8]) -> u64 {
    bytes
        .chunks_exact(4)
        .map(|w| u64::from(u32::from_le_bytes(w.try_into().expect("4 bytes"))))
        .fold(0u64, u64::wrapping_add)
}

/// zlib-inflates exactly `len` bytes; more or fewer is corruption. Reads at most `len + 1`
/// bytes, so a small payload cannot expand into a large allocation.
fn inflate(compressed: &[u8], len: u64) -> Result<Vec<u8>, TokenError> {
    let mut out = Vec::with_capacity(len as usize);
    flate2::read::ZlibDecoder::new(compressed)
        .take(len + 1)
        .read_to_end(&mut out)
        .map_err(|_| TokenError::Decompression)?;
    if out.len() as u64 != len {
        return Err(TokenError::Decompression);
    }
    Ok(out)
}

fn contents(pairs: Vec<(String, Value)>) -> Result<ResumeTokenContents, TokenError> {
    let mut t = ResumeTokenContents::default();
    let (mut has_name, mut has_guid) = (false, false);
    for (name, value) in pairs {
        match (name.as_str(), value) {
            ("toname", Value::Str(s)) => {
                t.to_name = s;
                has_name = true;
            }
            ("toguid", Value::U64(v)) => {
                t.to_guid = v;
                has_guid = true;
            }
            ("fromguid", Value::U64(v)) => t.from_guid = Some(v),
            ("bytes", Value::U64(v)) => t.bytes = v,
            ("object", Value::U64(v)) => t.object = v,
            ("offset", Value::U64(v)) => t.offset = v,
            ("rawok", Value::Flag) => t.raw = true,
            ("compressok", Value::Flag) => t.compressed = true,
            ("embedok", Value::Flag) => t.embedded = true,
            ("largeblockok", Value::Flag) => t.large_blocks = true,
            ("savedok", Value::Flag) => t.saved = true,
            _ => {}
        }
    }
    match (has_name, has_guid) {
        (false, _) => Err(TokenError::Missing("toname")),
        (_, false) => Err(TokenError::Missing("toguid")),
        _ => Ok(t),
    }
}

#[cfg(test)]
mod tests;
