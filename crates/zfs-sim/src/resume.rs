//! Resume tokens of interrupted resumable receives (`receive_resume_token`) and their decoding
//! for `zfs send -t` / `zfs send -nvt`.
//!
//! Tokens have OpenZFS's exact format, so that code reading tokens natively (as a receiving host
//! must, since only the sending host can run `zfs send -nvt`) is exercised by the simulator too:
//! `1-<fletcher-4 first word, hex>-<packed length, hex>-<hex of the zlib-compressed nvlist>`, the
//! nvlist packed in native little-endian encoding with the kernel's pair names (`fromguid`,
//! `object`, `offset`, `bytes`, `toguid`, `toname`, the `...ok` flags). One pair is the
//! simulator's own: `zfs_sim_props` records `-p`, which the simulator needs to regenerate the
//! same stream bytes on resume (real ZFS resumes by object and offset instead).
//!
//! The nvlist writer and reader here are the simulator's own, independent of zferry's decoder,
//! so that each checks the other.

use std::io::{Read, Write};

use crate::errors::{Result, SimError};
use crate::state::{Dataset, Resume};
use crate::stream::Flags;

/// The decoded fields of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Incremental source guid (0: full stream).
    pub fromguid: u64,
    /// Stream offset to resume at (bytes already received).
    pub bytes: u64,
    /// Guid of the snapshot being sent.
    pub toguid: u64,
    /// Name of the snapshot on the sending side.
    pub toname: String,
    /// Stream flags.
    pub flags: u32,
}

/// nvpair type numbers (`data_type_t`).
const BOOLEAN: i32 = 1;
const UINT64: i32 = 8;
const STRING: i32 = 9;

/// One pair's value.
enum Val<'a> {
    Flag,
    U64(u64),
    Str(&'a str),
}

/// Appends one native little-endian nvpair: header, name, value at the next 8-byte boundary.
fn push_pair(out: &mut Vec<u8>, name: &str, value: Val<'_>) {
    let name_sz = name.len() + 1;
    let value_at = (16 + name_sz).next_multiple_of(8);
    let (kind, elems, data): (i32, i32, Vec<u8>) = match value {
        Val::Flag => (BOOLEAN, 0, Vec::new()),
        Val::U64(v) => (UINT64, 1, v.to_le_bytes().to_vec()),
        Val::Str(s) => (STRING, 1, [s.as_bytes(), &[0]].concat()),
    };
    let size = (value_at + data.len()).next_multiple_of(8);
    let start = out.len();
    out.resize(start + size, 0);
    let pair = &mut out[start..];
    pair[0..4].copy_from_slice(&(size as i32).to_le_bytes());
    pair[4..6].copy_from_slice(&(name_sz as i16).to_le_bytes());
    pair[8..12].copy_from_slice(&elems.to_le_bytes());
    pair[12..16].copy_from_slice(&kind.to_le_bytes());
    pair[16..16 + name.len()].copy_from_slice(name.as_bytes());
    pair[value_at..value_at + data.len()].copy_from_slice(&data);
}

/// The token's pairs, in the kernel's order, packed natively (little-endian).
fn pack(r: &Resume) -> Vec<u8> {
    // Header: native encoding, little-endian; nvl_version 0, nvl_nvflag NV_UNIQUE_NAME.
    let mut out = vec![0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
    let f = Flags::from_bits(r.flags);
    if r.fromguid != 0 {
        push_pair(&mut out, "fromguid", Val::U64(r.fromguid));
    }
    push_pair(&mut out, "object", Val::U64(u64::from(r.bytes > 0)));
    push_pair(&mut out, "offset", Val::U64(r.bytes));
    push_pair(&mut out, "bytes", Val::U64(r.bytes));
    push_pair(&mut out, "toguid", Val::U64(r.toguid));
    push_pair(&mut out, "toname", Val::Str(&r.toname));
    for (on, name) in [
        (f.large_blocks, "largeblockok"),
        (f.embed, "embedok"),
        (f.compressed, "compressok"),
        (f.raw, "rawok"),
        (f.props, "zfs_sim_props"),
    ] {
        if on {
            push_pair(&mut out, name, Val::Flag);
        }
    }
    out.extend([0; 4]);
    out
}

/// The sum of the little-endian 32-bit words: fletcher-4's first word, all a token keeps.
fn fletcher4_a(bytes: &[u8]) -> u64 {
    bytes
        .chunks_exact(4)
        .map(|w| u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]])))
        .fold(0, u64::wrapping_add)
}

/// The token text for a dataset's interrupted receive.
pub fn encode_token(r: &Resume, _d: &Dataset) -> String {
    let packed = pack(r);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    z.write_all(&packed).expect("compressing into memory");
    let compressed = z.finish().expect("compressing into memory");
    format!(
        "1-{:x}-{:x}-{}",
        fletcher4_a(&compressed),
        packed.len(),
        hex::encode(&compressed)
    )
}

fn corrupt(what: &str) -> SimError {
    SimError::new(format!(
        "cannot resume send: resume token is corrupt ({what})"
    ))
}

/// Reads the pairs of a native little-endian nvlist into a token.
fn unpack(packed: &[u8]) -> Option<Token> {
    let word = |at: usize| -> Option<i32> {
        Some(i32::from_le_bytes(packed.get(at..at + 4)?.try_into().ok()?))
    };
    if packed.get(..2)? != [0, 1] {
        return None;
    }
    let mut t = Token {
        fromguid: 0,
        bytes: 0,
        toguid: 0,
        toname: String::new(),
        flags: 0,
    };
    let mut f = Flags::from_bits(0);
    let mut at = 12;
    loop {
        let size = usize::try_from(word(at)?).ok()?;
        if size == 0 {
            break;
        }
        let pair = packed.get(at..at.checked_add(size)?)?;
        let name_sz = usize::try_from(i16::from_le_bytes([*pair.get(4)?, *pair.get(5)?])).ok()?;
        let name = std::str::from_utf8(pair.get(16..16 + name_sz.checked_sub(1)?)?).ok()?;
        let value = pair.get((16 + name_sz).next_multiple_of(8)..)?;
        let u64_value = || Some(u64::from_le_bytes(value.get(..8)?.try_into().ok()?));
        match name {
            "fromguid" => t.fromguid = u64_value()?,
            "bytes" => t.bytes = u64_value()?,
            "toguid" => t.toguid = u64_value()?,
            "toname" => {
                let nul = value.iter().position(|b| *b == 0)?;
                t.toname = std::str::from_utf8(&value[..nul]).ok()?.to_string();
            }
            "largeblockok" => f.large_blocks = true,
            "embedok" => f.embed = true,
            "compressok" => f.compressed = true,
            "rawok" => f.raw = true,
            "zfs_sim_props" => f.props = true,
            _ => {}
        }
        at += size;
    }
    t.flags = f.bits();
    Some(t)
}

/// Decodes a token; errors carry OpenZFS's texts.
pub fn decode(token: &str) -> Result<Token> {
    let mut parts = token.splitn(4, '-');
    let (Some(v), Some(sum), Some(len), Some(hexp)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(corrupt("invalid format"));
    };
    let (Ok(v), Ok(sum), Ok(len)) = (
        v.parse::<u32>(),
        u64::from_str_radix(sum, 16),
        usize::from_str_radix(len, 16),
    ) else {
        return Err(corrupt("invalid format"));
    };
    if v != 1 {
        return Err(corrupt(&format!("invalid version {v}")));
    }
    let compressed = hex::decode(hexp).map_err(|_| corrupt("payload is not hex-encoded"))?;
    if fletcher4_a(&compressed) != sum {
        return Err(corrupt("incorrect checksum"));
    }
    let mut packed = Vec::new();
    let inflated = flate2::read::ZlibDecoder::new(&compressed[..])
        .take(len as u64 + 1)
        .read_to_end(&mut packed);
    if inflated.is_err() || packed.len() != len {
        return Err(corrupt("decompression failed"));
    }
    unpack(&packed).ok_or_else(|| corrupt("nvlist_unpack failed"))
}

/// The `resume token contents:` block `zfs send -nvt` prints (OpenZFS's nvlist layout).
pub fn describe(t: &Token) -> String {
    let mut s = String::from("resume token contents:\nnvlist version: 0\n");
    if t.fromguid != 0 {
        s.push_str(&format!("\tfromguid = 0x{:x}\n", t.fromguid));
    }
    s.push_str(&format!(
        "\tobject = 0x{:x}\n",
        if t.bytes > 0 { 1 } else { 0 }
    ));
    s.push_str(&format!("\toffset = 0x{:x}\n", t.bytes));
    s.push_str(&format!("\tbytes = 0x{:x}\n", t.bytes));
    s.push_str(&format!("\ttoguid = 0x{:x}\n", t.toguid));
    s.push_str(&format!("\ttoname = {}\n", t.toname));
    let f = Flags::from_bits(t.flags);
    if f.large_blocks {
        s.push_str("\tlargeblockok = 1\n");
    }
    if f.embed {
        s.push_str("\tembedok = 1\n");
    }
    if f.compressed {
        s.push_str("\tcompressok = 1\n");
    }
    if f.raw {
        s.push_str("\trawok = 1\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Kind;

    #[test]
    fn token_round_trips_and_detects_tampering() {
        let r = Resume {
            toguid: 0xabc,
            fromguid: 7,
            toname: "p/a b@s".into(),
            bytes: 1234,
            flags: 3,
        };
        let d = Dataset::new("q/x", Kind::Filesystem, 1, 1, 1);
        let tok = encode_token(&r, &d);
        assert!(tok.starts_with("1-"));
        let t = decode(&tok).unwrap();
        assert_eq!(
            t,
            Token {
                fromguid: 7,
                bytes: 1234,
                toguid: 0xabc,
                toname: "p/a b@s".into(),
                flags: 3
            }
        );
        let mut bad = tok.clone().into_bytes();
        let mid = bad.len() - 6;
        bad[mid] = if bad[mid] == b'0' { b'1' } else { b'0' };
        let bad = String::from_utf8(bad).unwrap();
        assert!(
            decode(&bad)
                .unwrap_err()
                .message
                .contains("incorrect checksum")
        );
        assert!(
            decode("garbage")
                .unwrap_err()
                .message
                .contains("invalid format")
        );
    }
}
