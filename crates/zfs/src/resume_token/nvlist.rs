//! Reading a packed nvlist, the name/value list OpenZFS serialises with `nvlist_pack`, as far as
//! resume tokens need it: pairs of type boolean, uint64 and string; every other type is skipped
//! over by its declared size. Both encodings are read:
//!
//! * **native** (what the kernel uses for tokens, `fnvlist_pack`): a 4-byte header (encoding 0,
//!   endianness 1 = little, 0 = big, two reserved bytes), the list's `version` and `nvflag`
//!   (4 bytes each), then each pair as its in-memory `nvpair_t`: `size` (i32, the whole pair),
//!   `name_sz` (i16, with the NUL), a reserved i16, `value_elem` (i32), `type` (i32), the name,
//!   then the value at the next 8-byte boundary. A `size` of 0 ends the list.
//! * **XDR** (encoding 1): big-endian 4-byte units; each pair is `encoded size`, `decoded size`,
//!   the name as an XDR string (length, bytes padded to 4), `type`, `nelem`, then the value
//!   (uint64 as 8 bytes, a string as an XDR string). Two zero words end the list.
//!
//! Every length is checked against the bytes that remain before it is used, so a hostile
//! input can make the reader refuse, never read out of bounds or allocate beyond the input.

/// `DATA_TYPE_BOOLEAN`: a flag whose presence is its value.
const TYPE_BOOLEAN: i32 = 1;
/// `DATA_TYPE_UINT64`.
const TYPE_UINT64: i32 = 8;
/// `DATA_TYPE_STRING`.
const TYPE_STRING: i32 = 9;
/// Size of a native `nvpair_t` header before its name.
const NATIVE_PAIR_HEADER: usize = 16;
/// The only nvlist version OpenZFS writes (`NV_VERSION`).
const NV_VERSION: i32 = 0;

/// One value of a pair, as far as resume tokens use them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `DATA_TYPE_BOOLEAN` (no payload).
    Flag,
    /// `DATA_TYPE_UINT64`.
    U64(u64),
    /// `DATA_TYPE_STRING`.
    Str(String),
    /// Any other type, skipped.
    Other,
}

/// Why a packed nvlist could not be read (what `nvlist_unpack` would fail on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnpackError(pub String);

fn fail<T>(what: impl Into<String>) -> Result<T, UnpackError> {
    Err(UnpackError(what.into()))
}

/// Reads a packed nvlist into its pairs, in stream order.
pub fn unpack(bytes: &[u8]) -> Result<Vec<(String, Value)>, UnpackError> {
    let Some((header, body)) = bytes.split_first_chunk::<4>() else {
        return fail("shorter than its header");
    };
    match (header[0], header[1]) {
        (0, 1) => Native { little: true }.pairs(body),
        (0, 0) => Native { little: false }.pairs(body),
        (0, e) => fail(format!("unknown byte order {e}")),
        (1, _) => xdr_pairs(body),
        (e, _) => fail(format!("unknown encoding {e}")),
    }
}

/// A cursor over bytes that refuses to read past their end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], UnpackError> {
        match self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
        {
            Some(end) => {
                let slice = &self.bytes[self.at..end];
                self.at = end;
                Ok(slice)
            }
            None => fail(format!("truncated in {what}")),
        }
    }

    fn take4(&mut self, what: &str) -> Result<[u8; 4], UnpackError> {
        Ok(self.take(4, what)?.try_into().expect("4 bytes"))
    }

    fn take8(&mut self, what: &str) -> Result<[u8; 8], UnpackError> {
        Ok(self.take(8, what)?.try_into().expect("8 bytes"))
    }
}

/// Native encoding in one byte order.
struct Native {
    little: bool,
}

impl Native {
    fn i32(&self, b: [u8; 4]) -> i32 {
        if self.little {
            i32::from_le_bytes(b)
        } else {
            i32::from_be_bytes(b)
        }
    }

    fn u64(&self, b: [u8; 8]) -> u64 {
        if self.little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        }
    }

    fn pairs(&self, body: &[u8]) -> Result<Vec<(String, Value)>, UnpackError> {
        let mut c = Cursor { bytes: body, at: 0 };
        let version = self.i32(c.take4("the list header")?);
        if version != NV_VERSION {
            return fail(format!("nvlist version {version}"));
        }
        c.take4("the list header")?; // nvflag: uniqueness rules, irrelevant to reading
        let mut out = Vec::new();
        loop {
            let size = self.i32(c.take4("a pair size")?);
            if size == 0 {
                return Ok(out);
            }
            let size = usize::try_from(size)
                .ok()
                .filter(|s| *s >= NATIVE_PAIR_HEADER)
                .ok_or_else(|| UnpackError(format!("pair size {size}")))?;
            let start = c.at - 4;
            c.at = start;
            let pair = c.take(size, "a pair")?;
            out.push(self.pair(pair)?);
        }
    }

    fn pair(&self, pair: &[u8]) -> Result<(String, Value), UnpackError> {
        let word = |at: usize| self.i32(pair[at..at + 4].try_into().expect("4 bytes"));
        let name_sz = if self.little {
            i16::from_le_bytes([pair[4], pair[5]])
        } else {
            i16::from_be_bytes([pair[4], pair[5]])
        };
        let kind = word(12);
        let name_end = usize::try_from(name_sz)
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| NATIVE_PAIR_HEADER + n)
            .filter(|end| *end <= pair.len())
            .ok_or_else(|| UnpackError(format!("name size {name_sz}")))?;
        let name = c_string(&pair[NATIVE_PAIR_HEADER..name_end], "a pair name")?;
        let value_at = name_end.next_multiple_of(8).min(pair.len());
        let data = &pair[value_at..];
        let value = match kind {
            TYPE_BOOLEAN => Value::Flag,
            TYPE_UINT64 => match data.first_chunk::<8>() {
                Some(b) => Value::U64(self.u64(*b)),
                None => return fail(format!("{name}: truncated uint64")),
            },
            TYPE_STRING => Value::Str(c_string(data, &name)?),
            _ => Value::Other,
        };
        Ok((name, value))
    }
}

/// A NUL-terminated UTF-8 string at the start of `bytes`.
fn c_string(bytes: &[u8], what: &str) -> Result<String, UnpackError> {
    let Some(nul) = bytes.iter().position(|b| *b == 0) else {
        return fail(format!("{what}: string without its NUL"));
    };
    String::from_utf8(bytes[..nul].to_vec())
        .or_else(|_| fail(format!("{what}: string is not UTF-8")))
}

fn be32(b: [u8; 4]) -> i32 {
    i32::from_be_bytes(b)
}

/// An XDR string: length, bytes, padding to 4.
fn xdr_string(c: &mut Cursor<'_>, what: &str) -> Result<String, UnpackError> {
    let len = u32::from_be_bytes(c.take4(what)?) as usize;
    let bytes = c.take(len, what)?;
    c.take(len.next_multiple_of(4) - len, what)?;
    String::from_utf8(bytes.to_vec()).or_else(|_| fail(format!("{what}: string is not UTF-8")))
}

fn xdr_pairs(body: &[u8]) -> Result<Vec<(String, Value)>, UnpackError> {
    let mut c = Cursor { bytes: body, at: 0 };
    let version = be32(c.take4("the list header")?);
    if version != NV_VERSION {
        return fail(format!("nvlist version {version}"));
    }
    c.take4("the list header")?;
    let mut out = Vec::new();
    loop {
        let encoded = be32(c.take4("a pair size")?);
        let decoded = be32(c.take4("a pair size")?);
        if encoded == 0 && decoded == 0 {
            return Ok(out);
        }
        let encoded = usize::try_from(encoded)
            .ok()
            .filter(|s| *s > 8)
            .ok_or_else(|| UnpackError(format!("pair size {encoded}")))?;
        let pair = c.take(encoded - 8, "a pair")?;
        let mut p = Cursor { bytes: pair, at: 0 };
        let name = xdr_string(&mut p, "a pair name")?;
        let kind = be32(p.take4(&name)?);
        p.take4(&name)?; // nelem: 1 for the scalar types read here
        let value = match kind {
            TYPE_BOOLEAN => Value::Flag,
            TYPE_UINT64 => Value::U64(u64::from_be_bytes(p.take8(&name)?)),
            TYPE_STRING => Value::Str(xdr_string(&mut p, &name)?),
            _ => Value::Other,
        };
        out.push((name, value));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Packs pairs the way the kernel's native little-endian `nvlist_pack` lays them out.
    pub(crate) fn native_le(pairs: &[(&str, Value)]) -> Vec<u8> {
        let mut out = vec![0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
        for (name, value) in pairs {
            let name_sz = name.len() + 1;
            let value_at = (NATIVE_PAIR_HEADER + name_sz).next_multiple_of(8);
            let (kind, data): (i32, Vec<u8>) = match value {
                Value::Flag => (TYPE_BOOLEAN, vec![]),
                Value::U64(v) => (TYPE_UINT64, v.to_le_bytes().to_vec()),
                Value::Str(s) => (TYPE_STRING, [s.as_bytes(), &[0]].concat()),
                Value::Other => (TYPE_UINT64 + 100, vec![7; 8]),
            };
            let size = (value_at + data.len()).next_multiple_of(8);
            let mut pair = vec![0u8; size];
            pair[0..4].copy_from_slice(&(size as i32).to_le_bytes());
            pair[4..6].copy_from_slice(&(name_sz as i16).to_le_bytes());
            let elems = i32::from(!matches!(value, Value::Flag));
            pair[8..12].copy_from_slice(&elems.to_le_bytes());
            pair[12..16].copy_from_slice(&kind.to_le_bytes());
            pair[16..16 + name.len()].copy_from_slice(name.as_bytes());
            pair[value_at..value_at + data.len()].copy_from_slice(&data);
            out.extend(pair);
        }
        out.extend([0; 4]);
        out
    }

    fn xdr_str(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as u32).to_be_bytes());
        out.extend(s.as_bytes());
        out.resize(out.len().next_multiple_of(4), 0);
    }

    fn xdr(pairs: &[(&str, Value)]) -> Vec<u8> {
        let mut out = vec![1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        for (name, value) in pairs {
            let mut p = Vec::new();
            xdr_str(&mut p, name);
            let kind = match value {
                Value::Flag => TYPE_BOOLEAN,
                Value::U64(_) => TYPE_UINT64,
                Value::Str(_) => TYPE_STRING,
                Value::Other => 16,
            };
            p.extend(kind.to_be_bytes());
            p.extend(1i32.to_be_bytes());
            match value {
                Value::Flag => {}
                Value::U64(v) => p.extend(v.to_be_bytes()),
                Value::Str(s) => xdr_str(&mut p, s),
                Value::Other => p.extend([0; 12]),
            }
            out.extend(((p.len() + 8) as i32).to_be_bytes());
            out.extend(64i32.to_be_bytes());
            out.extend(p);
        }
        out.extend([0; 8]);
        out
    }

    fn sample() -> Vec<(&'static str, Value)> {
        vec![
            ("fromguid", Value::U64(0x20d3_2173_9bd5_9063)),
            ("object", Value::U64(2)),
            ("toname", Value::Str("p/a b@s3".into())),
            ("redact_snaps", Value::Other),
            ("embedok", Value::Flag),
        ]
    }

    fn owned(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn reads_native_and_xdr_alike() {
        let pairs = sample();
        assert_eq!(unpack(&native_le(&pairs)).unwrap(), owned(&pairs));
        assert_eq!(unpack(&xdr(&pairs)).unwrap(), owned(&pairs));
    }

    #[test]
    fn every_truncation_is_refused_without_panicking() {
        for packed in [native_le(&sample()), xdr(&sample())] {
            for len in 0..packed.len() {
                assert!(unpack(&packed[..len]).is_err(), "prefix of {len} bytes");
            }
        }
    }

    #[test]
    fn refuses_bad_sizes_versions_and_encodings() {
        let mut big = native_le(&sample());
        big[12..16].copy_from_slice(&i32::MAX.to_le_bytes());
        assert!(unpack(&big).unwrap_err().0.contains("truncated"));
        let mut negative = native_le(&sample());
        negative[12..16].copy_from_slice(&(-8i32).to_le_bytes());
        assert!(unpack(&negative).unwrap_err().0.contains("pair size"));
        let mut name = native_le(&sample());
        name[16..18].copy_from_slice(&500i16.to_le_bytes());
        assert!(unpack(&name).unwrap_err().0.contains("name size"));
        let mut version = native_le(&sample());
        version[4] = 3;
        assert!(unpack(&version).unwrap_err().0.contains("version"));
        assert!(unpack(&[7, 0, 0, 0]).unwrap_err().0.contains("encoding"));
    }
}
