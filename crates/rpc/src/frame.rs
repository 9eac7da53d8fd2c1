//! Frames: the unit on the wire after the greeting.
//!
//! Every frame is a 5-byte header, `kind: u8` then `length: u32` (big endian), followed by
//! `length` payload bytes. Each kind has its own maximum length, checked *before* any buffer is
//! allocated, so a hostile or broken peer cannot make us allocate more than the limit.

use crate::error::RpcError;

/// Length of a frame header in bytes.
pub const HEADER_LEN: usize = 5;
/// Largest payload of a data frame (uncompressed, and also the largest decompressed size).
pub const MAX_DATA_FRAME: usize = 1 << 20;
/// Largest payload of a compressed data frame (zstd's worst case for [`MAX_DATA_FRAME`] fits).
pub const MAX_COMPRESSED_FRAME: usize = MAX_DATA_FRAME + (MAX_DATA_FRAME >> 7) + 1024;
/// Largest payload of one control frame; longer messages are split into parts.
pub const MAX_CONTROL_FRAME: usize = 1 << 20;
/// Largest control message after joining its parts (JSON).
pub const MAX_CONTROL_MESSAGE: usize = 128 << 20;
/// Largest error trailer (JSON).
pub const MAX_ERROR_FRAME: usize = 64 << 10;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// The last (or only) part of a JSON control message.
    Control,
    /// A non-final part of a JSON control message.
    ControlPart,
    /// A chunk of a data stream.
    Data,
    /// A zstd-compressed chunk of a data stream.
    DataZstd,
    /// The end of a data stream; payload: total uncompressed bytes as u64 big endian.
    End,
    /// An error trailer (JSON [`crate::error::RemoteError`]); ends the current exchange.
    Error,
    /// Liveness only; never surfaces to the application.
    Heartbeat,
}

impl FrameKind {
    /// The byte on the wire.
    pub fn to_byte(self) -> u8 {
        match self {
            FrameKind::Control => 0x01,
            FrameKind::ControlPart => 0x02,
            FrameKind::Data => 0x03,
            FrameKind::DataZstd => 0x04,
            FrameKind::End => 0x05,
            FrameKind::Error => 0x06,
            FrameKind::Heartbeat => 0x07,
        }
    }

    /// Decodes the kind byte.
    pub fn from_byte(byte: u8) -> Result<Self, RpcError> {
        Ok(match byte {
            0x01 => FrameKind::Control,
            0x02 => FrameKind::ControlPart,
            0x03 => FrameKind::Data,
            0x04 => FrameKind::DataZstd,
            0x05 => FrameKind::End,
            0x06 => FrameKind::Error,
            0x07 => FrameKind::Heartbeat,
            other => return Err(RpcError::UnknownFrameKind(other)),
        })
    }

    /// The kind's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            FrameKind::Control => "control",
            FrameKind::ControlPart => "control-part",
            FrameKind::Data => "data",
            FrameKind::DataZstd => "data-zstd",
            FrameKind::End => "end",
            FrameKind::Error => "error",
            FrameKind::Heartbeat => "heartbeat",
        }
    }

    /// The largest payload a frame of this kind may announce.
    pub fn max_len(self) -> usize {
        match self {
            FrameKind::Control | FrameKind::ControlPart => MAX_CONTROL_FRAME,
            FrameKind::Data => MAX_DATA_FRAME,
            FrameKind::DataZstd => MAX_COMPRESSED_FRAME,
            FrameKind::End => 8,
            FrameKind::Error => MAX_ERROR_FRAME,
            FrameKind::Heartbeat => 0,
        }
    }

    /// The only length this kind may have, where it has exactly one.
    fn exact_len(self) -> Option<usize> {
        match self {
            FrameKind::End => Some(8),
            FrameKind::Heartbeat => Some(0),
            _ => None,
        }
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The frame's kind.
    pub kind: FrameKind,
    /// The payload length (already checked against the kind's limit).
    pub len: usize,
}

/// Encodes a header.
pub fn encode_header(kind: FrameKind, len: usize) -> [u8; HEADER_LEN] {
    let len = u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes();
    [kind.to_byte(), len[0], len[1], len[2], len[3]]
}

/// Decodes and validates a header: unknown kinds and lengths beyond the kind's limit are refused.
pub fn decode_header(bytes: [u8; HEADER_LEN]) -> Result<Header, RpcError> {
    let kind = FrameKind::from_byte(bytes[0])?;
    let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
    if len > kind.max_len() {
        return Err(RpcError::FrameTooLarge {
            kind: kind.name(),
            len: len as u64,
            max: kind.max_len() as u64,
        });
    }
    if let Some(exact) = kind.exact_len()
        && len != exact
    {
        return Err(RpcError::Protocol(format!(
            "{} frame must carry {exact} bytes, not {len}",
            kind.name()
        )));
    }
    Ok(Header { kind, len })
}

/// Encodes a whole frame into a new vector (control path; the data path writes in place).
pub fn encode_frame(kind: FrameKind, payload: &[u8]) -> Result<Vec<u8>, RpcError> {
    if payload.len() > kind.max_len() {
        return Err(RpcError::FrameTooLarge {
            kind: kind.name(),
            len: payload.len() as u64,
            max: kind.max_len() as u64,
        });
    }
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&encode_header(kind, payload.len()));
    out.extend_from_slice(payload);
    Ok(out)
}

/// A frame decoded from a byte slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedFrame<'a> {
    /// The frame's kind.
    pub kind: FrameKind,
    /// Its payload.
    pub payload: &'a [u8],
    /// Bytes the frame occupied (header and payload).
    pub consumed: usize,
}

/// Decodes one frame from the front of `input` (a pure function, used by tests and fuzzing; the
/// connection reads frames incrementally with the same header check).
///
/// Returns `Ok(None)` when `input` holds only part of a frame.
pub fn decode_frame(input: &[u8]) -> Result<Option<DecodedFrame<'_>>, RpcError> {
    let Some(head) = input.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let header = decode_header(*head)?;
    let end = HEADER_LEN + header.len;
    Ok(input.get(HEADER_LEN..end).map(|payload| DecodedFrame {
        kind: header.kind,
        payload,
        consumed: end,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let h = decode_header(encode_header(FrameKind::Data, 4096)).expect("valid");
        assert_eq!(
            h,
            Header {
                kind: FrameKind::Data,
                len: 4096
            }
        );
    }

    #[test]
    fn oversized_header_is_refused_before_allocation() {
        let err = decode_header(encode_header(FrameKind::Data, MAX_DATA_FRAME + 1)).unwrap_err();
        assert!(
            matches!(err, RpcError::FrameTooLarge { kind: "data", .. }),
            "{err}"
        );
        let err = decode_header([0x01, 0xff, 0xff, 0xff, 0xff]).unwrap_err();
        assert!(
            matches!(
                err,
                RpcError::FrameTooLarge {
                    kind: "control",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn unknown_kind_and_wrong_fixed_length_are_refused() {
        assert!(matches!(
            decode_header([0x99, 0, 0, 0, 0]),
            Err(RpcError::UnknownFrameKind(0x99))
        ));
        assert!(decode_header(encode_header(FrameKind::End, 3)).is_err());
        assert!(decode_header(encode_header(FrameKind::Heartbeat, 1)).is_err());
    }

    #[test]
    fn partial_input_asks_for_more() {
        let frame = encode_frame(FrameKind::Control, b"{}").expect("small");
        for cut in 0..frame.len() {
            assert_eq!(decode_frame(&frame[..cut]).expect("no error"), None);
        }
        assert_eq!(
            decode_frame(&frame).expect("whole"),
            Some(DecodedFrame {
                kind: FrameKind::Control,
                payload: &b"{}"[..],
                consumed: frame.len()
            })
        );
    }
}
