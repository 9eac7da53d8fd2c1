//! The simulator's send-stream format (its own, not OpenZFS's DMU records).
//!
//! A stream is one or more *sub-streams* (one per snapshot; `send -I` concatenates several).
//! Each sub-stream is a sequence of records `tag: u8, len: u32 LE, payload`:
//!
//! | tag | payload |
//! | --- | --- |
//! | `B` begin | magic `ZSIMSND1`, flags u32, fromguid u64, toguid u64, creation i64, toname, fromname, kind u8, properties, encryption |
//! | `D` | directory path |
//! | `F` | mode u32, size u64, path; followed by `W` records carrying `size` bytes |
//! | `W` | up to 128 KiB of the preceding file's data |
//! | `L` | symlink path, target |
//! | `X` | path deleted since the incremental source |
//! | `E` end | SHA-256 of every byte of the sub-stream before this record, zero-padded |
//!
//! The begin and end records are padded to the 312 bytes of OpenZFS's `dmu_replay_record_t`,
//! so a stream's first and last records sit at the same offsets as in a real stream (what a
//! receive keeps when its stream is cut depends on them, see `recv`).
//!
//! Strings are `u32 LE length + bytes`. Entries come in sorted path order, so the same snapshot
//! always yields the same bytes: a resumed stream (`send -t`, which starts with an `R` record
//! naming the guids and the offset) continues exactly where the interrupted one stopped.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::data::{Entry, walk};

/// Magic at the start of every begin record.
pub const MAGIC: &[u8; 8] = b"ZSIMSND1";
/// Minimum payload size of the begin and end records (with the 5-byte record header, the 312
/// bytes of OpenZFS's records).
const RECORD_SIZE: usize = 307;
/// Size of an OpenZFS record header: a resumable receive keeps nothing until this many bytes
/// after the begin record have arrived (see `recv`).
pub const HEADER_SIZE: usize = 312;
/// Data carried per `W` record: OpenZFS's default `recordsize`, so that a receive cut inside a
/// file keeps as much of it as real ZFS would (it applies whole records only).
pub const CHUNK: usize = 128 << 10;

/// Send flags recorded in the stream (and in resume tokens).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `-w`: raw (encrypted) stream.
    pub raw: bool,
    /// `-p`: properties included.
    pub props: bool,
    /// `-c`: compressed blocks.
    pub compressed: bool,
    /// `-L`: large blocks.
    pub large_blocks: bool,
    /// `-e`: embedded data.
    pub embed: bool,
}

impl Flags {
    /// As a bit set.
    pub fn bits(&self) -> u32 {
        u32::from(self.raw)
            | u32::from(self.props) << 1
            | u32::from(self.compressed) << 2
            | u32::from(self.large_blocks) << 3
            | u32::from(self.embed) << 4
    }

    /// From a bit set.
    pub fn from_bits(b: u32) -> Flags {
        Flags {
            raw: b & 1 != 0,
            props: b & 2 != 0,
            compressed: b & 4 != 0,
            large_blocks: b & 8 != 0,
            embed: b & 16 != 0,
        }
    }
}

/// Encryption parameters carried by a raw stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCrypt {
    /// Algorithm.
    pub algorithm: String,
    /// Key format.
    pub format: String,
    /// PBKDF2 iterations.
    pub iters: u64,
    /// Fingerprint of the wrapping key.
    pub fingerprint: String,
}

/// The begin record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    /// Flags.
    pub flags: Flags,
    /// Incremental source guid, 0 for a full stream.
    pub fromguid: u64,
    /// Guid of the snapshot carried.
    pub toguid: u64,
    /// Its creation time.
    pub creation: i64,
    /// Its full name on the sender.
    pub toname: String,
    /// Full name of the incremental source (snapshot or bookmark), empty for full.
    pub fromname: String,
    /// True for a volume.
    pub volume: bool,
    /// Properties (`-p`): name and value.
    pub props: Vec<(String, String)>,
    /// Encryption of a raw stream.
    pub crypt: Option<StreamCrypt>,
}

/// The resume record that starts a `send -t` stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeHeader {
    /// Guid of the snapshot being sent.
    pub toguid: u64,
    /// Incremental source guid.
    pub fromguid: u64,
    /// Offset in the original stream where this one continues.
    pub offset: u64,
}

/// One record read back from a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Begin of a sub-stream.
    Begin(Begin),
    /// A directory.
    Dir(PathBuf),
    /// A file whose data follows in `W` records.
    File {
        /// Path.
        path: PathBuf,
        /// Mode bits.
        mode: u32,
        /// Size in bytes.
        size: u64,
    },
    /// File data.
    Data(Vec<u8>),
    /// A symlink.
    Symlink(PathBuf, PathBuf),
    /// A deletion.
    Delete(PathBuf),
    /// End with the checksum of the sub-stream.
    End([u8; 32]),
    /// Start of a resumed stream.
    Resume(ResumeHeader),
}

fn put_str(b: &mut Vec<u8>, s: &[u8]) {
    b.extend_from_slice(&(s.len() as u32).to_le_bytes());
    b.extend_from_slice(s);
}

fn path_bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_encoded_bytes()
}

/// Serialises the begin record's payload.
fn begin_payload(b: &Begin) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(MAGIC);
    p.extend_from_slice(&b.flags.bits().to_le_bytes());
    p.extend_from_slice(&b.fromguid.to_le_bytes());
    p.extend_from_slice(&b.toguid.to_le_bytes());
    p.extend_from_slice(&b.creation.to_le_bytes());
    put_str(&mut p, b.toname.as_bytes());
    put_str(&mut p, b.fromname.as_bytes());
    p.push(u8::from(b.volume));
    p.extend_from_slice(&(b.props.len() as u32).to_le_bytes());
    for (k, v) in &b.props {
        put_str(&mut p, k.as_bytes());
        put_str(&mut p, v.as_bytes());
    }
    match &b.crypt {
        None => p.push(0),
        Some(c) => {
            p.push(1);
            put_str(&mut p, c.algorithm.as_bytes());
            put_str(&mut p, c.format.as_bytes());
            p.extend_from_slice(&c.iters.to_le_bytes());
            put_str(&mut p, c.fingerprint.as_bytes());
        }
    }
    // Padded to the size of OpenZFS's begin record, so streams have a realistic minimum.
    if p.len() < RECORD_SIZE {
        p.resize(RECORD_SIZE, 0);
    }
    p
}

/// Writes records of one sub-stream, hashing them for the end record.
pub struct Encoder<W: Write> {
    out: W,
    hash: Sha256,
    written: u64,
}

impl<W: Write> Encoder<W> {
    /// An encoder writing to `out`.
    pub fn new(out: W) -> Encoder<W> {
        Encoder {
            out,
            hash: Sha256::new(),
            written: 0,
        }
    }

    fn record(&mut self, tag: u8, payload: &[u8]) -> io::Result<()> {
        let mut head = [0u8; 5];
        head[0] = tag;
        head[1..].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        self.hash.update(head);
        self.hash.update(payload);
        self.out.write_all(&head)?;
        self.out.write_all(payload)?;
        self.written += 5 + payload.len() as u64;
        Ok(())
    }

    /// Writes the begin record.
    pub fn begin(&mut self, b: &Begin) -> io::Result<()> {
        self.record(b'B', &begin_payload(b))
    }

    /// Writes the entries of `to` (relative to the tree `from`, if incremental).
    pub fn entries(&mut self, to: &Path, from: Option<&Path>) -> io::Result<()> {
        let to_entries = walk(to, &[])?;
        if let Some(from) = from {
            let from_entries = walk(from, &[])?;
            // Deletions: topmost removed (or changed-kind) paths only.
            let mut deleted: Vec<&PathBuf> = Vec::new();
            for (p, e) in &from_entries {
                let gone = match to_entries.get(p) {
                    None => true,
                    Some(n) => std::mem::discriminant(n) != std::mem::discriminant(e),
                };
                if gone && !deleted.iter().any(|d| p.starts_with(d)) {
                    deleted.push(p);
                }
            }
            for p in deleted {
                self.record(b'X', path_bytes(p))?;
            }
            for (p, e) in &to_entries {
                let same = match (from_entries.get(p), e) {
                    (Some(Entry::Dir), Entry::Dir) => true,
                    (Some(Entry::Symlink(a)), Entry::Symlink(b)) => a == b,
                    (Some(Entry::File(ma)), Entry::File(mb)) => {
                        ma == mb && same_content(&from.join(p), &to.join(p))?
                    }
                    _ => false,
                };
                if !same {
                    self.entry(to, p, e)?;
                }
            }
        } else {
            for (p, e) in &to_entries {
                self.entry(to, p, e)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, root: &Path, p: &Path, e: &Entry) -> io::Result<()> {
        match e {
            Entry::Dir => self.record(b'D', path_bytes(p)),
            Entry::Symlink(t) => {
                let mut pl = Vec::new();
                put_str(&mut pl, path_bytes(p));
                put_str(&mut pl, path_bytes(t));
                self.record(b'L', &pl)
            }
            Entry::File(mode) => {
                let mut f = fs::File::open(root.join(p))?;
                let size = f.metadata()?.len();
                let mut pl = Vec::new();
                pl.extend_from_slice(&mode.to_le_bytes());
                pl.extend_from_slice(&size.to_le_bytes());
                pl.extend_from_slice(path_bytes(p));
                self.record(b'F', &pl)?;
                let mut left = size;
                let mut buf = vec![0u8; CHUNK.min(size as usize)];
                while left > 0 {
                    let n = (left as usize).min(CHUNK);
                    f.read_exact(&mut buf[..n])?;
                    self.record(b'W', &buf[..n])?;
                    left -= n as u64;
                }
                Ok(())
            }
        }
    }

    /// Writes the end record; returns the sink and the sub-stream's length.
    pub fn end(mut self) -> io::Result<(W, u64)> {
        let mut sum = self.hash.clone().finalize().to_vec();
        sum.resize(RECORD_SIZE, 0);
        self.record(b'E', &sum)?;
        Ok((self.out, self.written))
    }
}

fn same_content(a: &Path, b: &Path) -> io::Result<bool> {
    let (ma, mb) = (fs::metadata(a)?, fs::metadata(b)?);
    if ma.len() != mb.len() {
        return Ok(false);
    }
    Ok(fs::read(a)? == fs::read(b)?)
}

/// Serialises a resume record (written before the continued bytes).
pub fn resume_record(r: &ResumeHeader) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(MAGIC);
    p.extend_from_slice(&r.toguid.to_le_bytes());
    p.extend_from_slice(&r.fromguid.to_le_bytes());
    p.extend_from_slice(&r.offset.to_le_bytes());
    let mut out = vec![b'R'];
    out.extend_from_slice(&(p.len() as u32).to_le_bytes());
    out.extend_from_slice(&p);
    out
}

/// Why reading a stream failed.
#[derive(Debug)]
pub enum ReadError {
    /// The input ended in the middle of a sub-stream.
    Truncated,
    /// The bytes are not a valid stream.
    Invalid(String),
    /// Reading failed.
    Io(io::Error),
}

/// Reads records, hashing the bytes of the current sub-stream and counting them.
pub struct Decoder<R: Read> {
    input: R,
    hash: Sha256,
    /// Bytes of the current sub-stream consumed so far (complete records only once a record
    /// has been read whole).
    pub consumed: u64,
    /// Bytes read ahead of the records ([`Decoder::prefetch`]), consumed first.
    ahead: Vec<u8>,
    /// Where a resumable receive keeps the records it has read, and the sub-stream offset from
    /// which records go there (those before are in the file already: a resumed receive replays
    /// them).
    journal: Option<(fs::File, u64)>,
}

impl<R: Read> Decoder<R> {
    /// A decoder over `input`.
    pub fn new(input: R) -> Decoder<R> {
        Decoder {
            input,
            hash: Sha256::new(),
            consumed: 0,
            ahead: Vec::new(),
            journal: None,
        }
    }

    /// Appends every record of this sub-stream that starts at or after offset `from` to
    /// `file` once it has been read whole, before it is returned: a receive killed at any
    /// instant has every record it acted on in the file.
    pub fn journal(&mut self, file: fs::File, from: u64) {
        self.journal = Some((file, from));
    }

    /// Reads ahead until `n` bytes past the current position are buffered; `Ok(false)` when
    /// the input ends before.
    pub fn prefetch(&mut self, n: usize) -> Result<bool, ReadError> {
        let mut buf = [0u8; 4096];
        while self.ahead.len() < n {
            let want = (n - self.ahead.len()).min(buf.len());
            match self.input.read(&mut buf[..want]) {
                Ok(0) => return Ok(false),
                Ok(got) => self.ahead.extend_from_slice(&buf[..got]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
        Ok(true)
    }

    /// Gives back the underlying reader.
    pub fn into_inner(self) -> R {
        self.input
    }

    /// Starts a new sub-stream (resets hash and counter, ends the journal).
    pub fn reset(&mut self) {
        self.hash = Sha256::new();
        self.consumed = 0;
        self.journal = None;
    }

    /// Fills `buf` completely; `Ok(false)` on a clean end of input before the first byte.
    fn fill(&mut self, buf: &mut [u8]) -> Result<bool, ReadError> {
        let mut got = self.ahead.len().min(buf.len());
        buf[..got].copy_from_slice(&self.ahead[..got]);
        self.ahead.drain(..got);
        while got < buf.len() {
            match self.input.read(&mut buf[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => return Err(ReadError::Truncated),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
        self.consumed += buf.len() as u64;
        Ok(true)
    }

    /// Appends a record read whole to the journal (when it starts at or after its offset).
    fn keep(&mut self, head: &[u8], payload: &[u8]) -> Result<(), ReadError> {
        let start = self.consumed - (head.len() + payload.len()) as u64;
        if let Some((file, from)) = self.journal.as_mut()
            && start >= *from
        {
            file.write_all(head).map_err(ReadError::Io)?;
            file.write_all(payload).map_err(ReadError::Io)?;
        }
        Ok(())
    }

    /// Reads the next record; `Ok(None)` at a clean end of input (between records).
    pub fn read_record(&mut self) -> Result<Option<Record>, ReadError> {
        let mut head = [0u8; 5];
        if !self.fill(&mut head)? {
            return Ok(None);
        }
        let tag = head[0];
        let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > CHUNK + 4096 && tag != b'B' {
            return Err(ReadError::Invalid(format!(
                "record too large ({len} bytes)"
            )));
        }
        if len > 64 << 20 {
            return Err(ReadError::Invalid(format!(
                "record too large ({len} bytes)"
            )));
        }
        let mut payload = vec![0u8; len];
        if len > 0 && !self.fill(&mut payload)? {
            return Err(ReadError::Truncated);
        }
        self.keep(&head, &payload)?;
        if tag == b'E' {
            let sum: [u8; 32] = self.hash.clone().finalize().into();
            self.hash.update(head);
            self.hash.update(&payload);
            if payload.get(..32) != Some(sum.as_slice()) {
                return Err(ReadError::Invalid("checksum mismatch".into()));
            }
            return Ok(Some(Record::End(sum)));
        }
        if tag != b'R' {
            self.hash.update(head);
            self.hash.update(&payload);
        }
        parse_record(tag, &payload).map(Some)
    }
}

struct Cursor<'a> {
    b: &'a [u8],
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ReadError> {
        if self.b.len() < n {
            return Err(ReadError::Invalid("short record".into()));
        }
        let (a, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, ReadError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> Result<u64, ReadError> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }
    fn bytes(&mut self) -> Result<Vec<u8>, ReadError> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn string(&mut self) -> Result<String, ReadError> {
        String::from_utf8(self.bytes()?).map_err(|_| ReadError::Invalid("bad string".into()))
    }
}

fn to_path(b: Vec<u8>) -> Result<PathBuf, ReadError> {
    use std::os::unix::ffi::OsStringExt;
    let p = PathBuf::from(std::ffi::OsString::from_vec(b));
    if p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(ReadError::Invalid("unsafe path in stream".into()));
    }
    Ok(p)
}

fn parse_record(tag: u8, payload: &[u8]) -> Result<Record, ReadError> {
    let mut c = Cursor { b: payload };
    match tag {
        b'B' => {
            if c.take(8)? != MAGIC {
                return Err(ReadError::Invalid(
                    "invalid stream (bad magic number)".into(),
                ));
            }
            let flags = Flags::from_bits(c.u32()?);
            let fromguid = c.u64()?;
            let toguid = c.u64()?;
            let creation = c.u64()? as i64;
            let toname = c.string()?;
            let fromname = c.string()?;
            let volume = c.take(1)?[0] != 0;
            let n = c.u32()?;
            let mut props = Vec::new();
            for _ in 0..n {
                props.push((c.string()?, c.string()?));
            }
            let crypt = if c.take(1)?[0] != 0 {
                Some(StreamCrypt {
                    algorithm: c.string()?,
                    format: c.string()?,
                    iters: c.u64()?,
                    fingerprint: c.string()?,
                })
            } else {
                None
            };
            Ok(Record::Begin(Begin {
                flags,
                fromguid,
                toguid,
                creation,
                toname,
                fromname,
                volume,
                props,
                crypt,
            }))
        }
        b'D' => Ok(Record::Dir(to_path(payload.to_vec())?)),
        b'F' => {
            let mode = c.u32()?;
            let size = c.u64()?;
            Ok(Record::File {
                path: to_path(c.b.to_vec())?,
                mode,
                size,
            })
        }
        b'W' => Ok(Record::Data(payload.to_vec())),
        b'L' => {
            let p = to_path(c.bytes()?)?;
            let t = c.bytes()?;
            use std::os::unix::ffi::OsStringExt;
            Ok(Record::Symlink(
                p,
                PathBuf::from(std::ffi::OsString::from_vec(t)),
            ))
        }
        b'X' => Ok(Record::Delete(to_path(payload.to_vec())?)),
        b'R' => {
            if c.take(8)? != MAGIC {
                return Err(ReadError::Invalid(
                    "invalid stream (bad magic number)".into(),
                ));
            }
            Ok(Record::Resume(ResumeHeader {
                toguid: c.u64()?,
                fromguid: c.u64()?,
                offset: c.u64()?,
            }))
        }
        t => Err(ReadError::Invalid(format!("invalid record type 0x{t:x}"))),
    }
}

/// Applies the entry records of a sub-stream to the tree at `root`, until the end record.
/// After each data record, calls `on_data` with the sub-stream bytes read through it (a
/// resumable receive records there how far it got). Returns the checksum from the end record.
pub fn apply<R: Read>(
    dec: &mut Decoder<R>,
    root: &Path,
    mut on_data: impl FnMut(u64) -> Result<(), ReadError>,
) -> Result<[u8; 32], ReadError> {
    use std::os::unix::fs::PermissionsExt;
    let io = ReadError::Io;
    let mut open: Option<(fs::File, u64)> = None;
    loop {
        let Some(rec) = dec.read_record()? else {
            return Err(ReadError::Truncated);
        };
        if let Some((_, left)) = &open
            && *left > 0
            && !matches!(rec, Record::Data(_))
        {
            return Err(ReadError::Invalid("file data missing".into()));
        }
        match rec {
            Record::Dir(p) => fs::create_dir_all(root.join(p)).map_err(io)?,
            Record::File { path, mode, size } => {
                let full = root.join(&path);
                remove_any(&full).map_err(io)?;
                if let Some(parent) = full.parent() {
                    fs::create_dir_all(parent).map_err(io)?;
                }
                let f = fs::File::create(&full).map_err(io)?;
                f.set_permissions(fs::Permissions::from_mode(mode))
                    .map_err(io)?;
                open = Some((f, size));
            }
            Record::Data(d) => {
                let Some((f, left)) = open.as_mut() else {
                    return Err(ReadError::Invalid("data without file".into()));
                };
                if d.len() as u64 > *left {
                    return Err(ReadError::Invalid("too much file data".into()));
                }
                f.write_all(&d).map_err(io)?;
                *left -= d.len() as u64;
                on_data(dec.consumed)?;
            }
            Record::Symlink(p, t) => {
                let full = root.join(p);
                remove_any(&full).map_err(io)?;
                std::os::unix::fs::symlink(t, full).map_err(io)?;
            }
            Record::Delete(p) => remove_any(&root.join(p)).map_err(io)?,
            Record::End(sum) => return Ok(sum),
            Record::Begin(_) | Record::Resume(_) => {
                return Err(ReadError::Invalid("unexpected begin record".into()));
            }
        }
    }
}

fn remove_any(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn begin(fromguid: u64) -> Begin {
        Begin {
            flags: Flags {
                props: true,
                ..Flags::default()
            },
            fromguid,
            toguid: 42,
            creation: 7,
            toname: "p/a@s2".into(),
            fromname: if fromguid == 0 {
                String::new()
            } else {
                "p/a@s1".into()
            },
            volume: false,
            props: vec![("user:x".into(), "1".into())],
            crypt: None,
        }
    }

    fn encode(to: &Path, from: Option<&Path>, b: &Begin) -> Vec<u8> {
        let mut enc = Encoder::new(Vec::new());
        enc.begin(b).unwrap();
        enc.entries(to, from).unwrap();
        enc.end().unwrap().0
    }

    #[test]
    fn full_and_incremental_streams_reproduce_the_tree() {
        let t = tempfile::tempdir().unwrap();
        let (a, b, out) = (t.path().join("a"), t.path().join("b"), t.path().join("out"));
        fs::create_dir_all(a.join("d")).unwrap();
        fs::write(a.join("d/f"), b"one").unwrap();
        fs::write(a.join("gone"), b"x").unwrap();
        fs::create_dir_all(b.join("d")).unwrap();
        fs::write(b.join("d/f"), vec![7u8; CHUNK + 10]).unwrap();
        fs::write(b.join("new"), b"n").unwrap();
        std::os::unix::fs::symlink("d/f", b.join("ln")).unwrap();

        let full = encode(&a, None, &begin(0));
        assert_eq!(full, encode(&a, None, &begin(0)), "deterministic");
        let mut dec = Decoder::new(full.as_slice());
        let Some(Record::Begin(got)) = dec.read_record().unwrap() else {
            panic!()
        };
        assert_eq!(got, begin(0));
        apply(&mut dec, &out, |_| Ok(())).unwrap();
        assert!(dec.read_record().unwrap().is_none());
        assert!(!crate::data::differs(&a, &out));

        let inc = encode(&b, Some(&a), &begin(5));
        assert!(inc.len() < CHUNK + 1000, "incremental carries only changes");
        let mut dec = Decoder::new(inc.as_slice());
        dec.read_record().unwrap();
        apply(&mut dec, &out, |_| Ok(())).unwrap();
        assert!(!crate::data::differs(&b, &out));
    }

    #[test]
    fn truncated_and_corrupted_streams_are_detected() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("f"), b"data").unwrap();
        let s = encode(t.path(), None, &begin(0));
        let cut = &s[..s.len() - 3];
        let mut dec = Decoder::new(cut);
        dec.read_record().unwrap();
        assert!(matches!(
            apply(&mut dec, &t.path().join("o"), |_| Ok(())),
            Err(ReadError::Truncated)
        ));
        let mut bad = s.clone();
        // The last byte of the file data, just before the (312-byte) end record.
        let n = bad.len() - 313;
        bad[n] ^= 1;
        let mut dec = Decoder::new(bad.as_slice());
        let r = dec
            .read_record()
            .and_then(|_| apply(&mut dec, &t.path().join("o2"), |_| Ok(())));
        assert!(matches!(r, Err(ReadError::Invalid(_))));
    }
}
