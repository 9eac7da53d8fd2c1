//! The simulator's persistent state: pools, datasets, snapshots, bookmarks, holds, properties.
//!
//! Stored in one compact line-oriented text file, `$ZFS_SIM_DIR/state`: one tab-separated record
//! per line, child records (properties, holds, crypto, resume state) following their owner.
//! Parsing a million snapshot records takes a fraction of a second; read-only commands never
//! write the file; writers replace it atomically (write + rename) under the exclusive lock.
//!
//! ```text
//! V 1
//! P name guid txg altroot creation
//! D name kind guid createtxg creation flags      flags: m = mounted, i = inconsistent
//! c encryption-algorithm encryptionroot          (of the last D)
//! k keyformat keylocation pbkdf2iters fingerprint loaded   (of the last D, an encryption root)
//! r toguid fromguid toname bytes flags           (resumable partial receive of the last D)
//! S name guid createtxg creation referenced defer
//! h tag time                                     (hold on the last S)
//! B name guid createtxg creation
//! p name local|received value                    (property of the last D or S)
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::errors::{Result, SimError};

/// A storage pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// Pool name (also the name of its root dataset).
    pub name: String,
    /// Pool guid.
    pub guid: u64,
    /// Last transaction group number handed out.
    pub txg: u64,
    /// Alternate root prefixed to every mountpoint.
    pub altroot: String,
    /// Creation time (unix seconds).
    pub creation: i64,
}

/// Kind of a filesystem-like dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A filesystem (has a data directory).
    Filesystem,
    /// A volume (no data directory in the simulator).
    Volume,
}

impl Kind {
    /// `filesystem` or `volume`, as in the `type` property.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Filesystem => "filesystem",
            Kind::Volume => "volume",
        }
    }
}

/// A property value set on a dataset or snapshot, by `zfs set` (local) and/or by a receive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PropEntry {
    /// Value set locally (`zfs set`, `recv -o`, `create -o`).
    pub local: Option<String>,
    /// Value received in a send stream with properties.
    pub received: Option<String>,
    /// The received value is overridden by inheritance (`recv -x`, `zfs inherit`).
    pub masked: bool,
}

/// Encryption of a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypt {
    /// Algorithm, e.g. `aes-256-gcm`.
    pub algorithm: String,
    /// Name of the encryption root.
    pub root: String,
    /// Key settings; present only on an encryption root.
    pub key: Option<KeyInfo>,
}

/// Wrapping-key settings of an encryption root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// `passphrase`, `hex` or `raw`.
    pub format: String,
    /// `prompt` or `file:///path`.
    pub location: String,
    /// PBKDF2 iterations (passphrase keys), else 0.
    pub iters: u64,
    /// Fingerprint of the key material that unlocks this root (hex).
    pub fingerprint: String,
    /// Whether the key is loaded.
    pub loaded: bool,
}

/// State of an interrupted resumable receive (`recv -s`) into a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// Guid of the snapshot being received.
    pub toguid: u64,
    /// Guid of the incremental source, 0 for a full stream.
    pub fromguid: u64,
    /// Full name of the snapshot on the sending side.
    pub toname: String,
    /// Bytes of the stream received so far (saved in the partial file).
    pub bytes: u64,
    /// Stream flags (see [`crate::stream::Flags`]), as a bit set.
    pub flags: u32,
}

/// A snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Short name (after `@`).
    pub name: String,
    /// Snapshot guid.
    pub guid: u64,
    /// Transaction group of creation.
    pub createtxg: u64,
    /// Creation time (unix seconds).
    pub creation: i64,
    /// Bytes referenced by the frozen data.
    pub referenced: u64,
    /// Marked for deferred destruction (`destroy -d` while held).
    pub defer_destroy: bool,
    /// User holds: tag and time (unix seconds).
    pub holds: Vec<(String, i64)>,
    /// Properties set on the snapshot (user properties).
    pub props: BTreeMap<String, PropEntry>,
}

/// A bookmark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bookmark {
    /// Short name (after `#`).
    pub name: String,
    /// Guid of the snapshot it was created from.
    pub guid: u64,
    /// Creation txg of that snapshot.
    pub createtxg: u64,
    /// Creation time of that snapshot.
    pub creation: i64,
}

/// A filesystem or volume with its snapshots and bookmarks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// Full name.
    pub name: String,
    /// Filesystem or volume.
    pub kind: Kind,
    /// Dataset guid.
    pub guid: u64,
    /// Transaction group of creation.
    pub createtxg: u64,
    /// Creation time (unix seconds).
    pub creation: i64,
    /// Whether its data directory currently sits at its mountpoint.
    pub mounted: bool,
    /// Partially received, not yet usable (a new dataset of an interrupted `recv -s`).
    pub inconsistent: bool,
    /// Encryption, if any.
    pub crypt: Option<Crypt>,
    /// Interrupted resumable receive, if any.
    pub resume: Option<Resume>,
    /// Properties set on this dataset.
    pub props: BTreeMap<String, PropEntry>,
    /// Snapshots in creation order.
    pub snapshots: Vec<Snapshot>,
    /// Bookmarks in creation order.
    pub bookmarks: Vec<Bookmark>,
}

impl Dataset {
    /// A new, empty dataset.
    pub fn new(name: &str, kind: Kind, guid: u64, createtxg: u64, creation: i64) -> Dataset {
        Dataset {
            name: name.to_string(),
            kind,
            guid,
            createtxg,
            creation,
            mounted: false,
            inconsistent: false,
            crypt: None,
            resume: None,
            props: BTreeMap::new(),
            snapshots: Vec::new(),
            bookmarks: Vec::new(),
        }
    }

    /// The snapshot with short name `name`.
    pub fn snapshot(&self, name: &str) -> Option<&Snapshot> {
        self.snapshots.iter().find(|s| s.name == name)
    }

    /// The snapshot with short name `name`, mutable.
    pub fn snapshot_mut(&mut self, name: &str) -> Option<&mut Snapshot> {
        self.snapshots.iter_mut().find(|s| s.name == name)
    }

    /// The bookmark with short name `name`.
    pub fn bookmark(&self, name: &str) -> Option<&Bookmark> {
        self.bookmarks.iter().find(|b| b.name == name)
    }

    /// The newest snapshot.
    pub fn newest_snapshot(&self) -> Option<&Snapshot> {
        self.snapshots.iter().max_by_key(|s| s.createtxg)
    }
}

/// All pools and datasets of one simulated world.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// Pools by name.
    pub pools: BTreeMap<String, Pool>,
    /// Filesystems and volumes by full name.
    pub datasets: BTreeMap<String, Dataset>,
}

impl State {
    /// The pool a dataset name belongs to.
    pub fn pool_of(&self, name: &str) -> Option<&Pool> {
        let pool = name.split(['/', '@', '#']).next().unwrap_or(name);
        self.pools.get(pool)
    }

    /// Hands out the next transaction group of `pool` (each change gets a new, higher txg).
    pub fn next_txg(&mut self, pool: &str) -> u64 {
        match self.pools.get_mut(pool) {
            Some(p) => {
                p.txg += 1;
                p.txg
            }
            None => 0,
        }
    }

    /// Names of `name`'s descendants (filesystems/volumes), in name order.
    pub fn descendants(&self, name: &str) -> Vec<String> {
        let prefix = format!("{name}/");
        self.datasets
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Names of `name`'s direct children.
    pub fn children(&self, name: &str) -> Vec<String> {
        let depth = name.matches('/').count() + 1;
        self.descendants(name)
            .into_iter()
            .filter(|c| c.matches('/').count() == depth)
            .collect()
    }

    /// The dataset `name` or the standard "does not exist" error.
    pub fn get(&self, name: &str) -> Result<&Dataset> {
        self.datasets
            .get(name)
            .ok_or_else(|| SimError::no_such_dataset(name))
    }

    /// Loads the state from `dir` (an empty state when the file does not exist yet).
    pub fn load(dir: &Path) -> Result<State> {
        let path = dir.join("state");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
            Err(e) => return Err(SimError::io("read state", e)),
        };
        parse(&text).map_err(|e| SimError::new(format!("zfs-sim: corrupt state file: {e}")))
    }

    /// Writes the state to `dir` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let tmp = dir.join("state.tmp");
        let mut out = Vec::with_capacity(4096);
        render(self, &mut out);
        let mut f = fs::File::create(&tmp).map_err(|e| SimError::io("write state", e))?;
        f.write_all(&out)
            .map_err(|e| SimError::io("write state", e))?;
        drop(f);
        fs::rename(&tmp, dir.join("state")).map_err(|e| SimError::io("replace state", e))
    }
}

/// Escapes tabs, newlines and backslashes of a field.
fn esc(s: &str) -> String {
    if !s.contains(['\t', '\n', '\\', '\r']) {
        return s.to_string();
    }
    let mut o = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        match c {
            '\t' => o.push_str("\\t"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\\' => o.push_str("\\\\"),
            c => o.push(c),
        }
    }
    o
}

fn unesc(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut o = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('t') => o.push('\t'),
                Some('n') => o.push('\n'),
                Some('r') => o.push('\r'),
                Some(c) => o.push(c),
                None => {}
            }
        } else {
            o.push(c);
        }
    }
    o
}

fn render(st: &State, out: &mut Vec<u8>) {
    use std::fmt::Write as _;
    let mut s = String::new();
    s.push_str("V\t1\n");
    for p in st.pools.values() {
        let _ = writeln!(
            s,
            "P\t{}\t{}\t{}\t{}\t{}",
            esc(&p.name),
            p.guid,
            p.txg,
            esc(&p.altroot),
            p.creation
        );
    }
    for d in st.datasets.values() {
        let mut flags = String::new();
        if d.mounted {
            flags.push('m');
        }
        if d.inconsistent {
            flags.push('i');
        }
        let kind = match d.kind {
            Kind::Filesystem => "f",
            Kind::Volume => "v",
        };
        let _ = writeln!(
            s,
            "D\t{}\t{kind}\t{}\t{}\t{}\t{flags}",
            esc(&d.name),
            d.guid,
            d.createtxg,
            d.creation
        );
        if let Some(c) = &d.crypt {
            let _ = writeln!(s, "c\t{}\t{}", esc(&c.algorithm), esc(&c.root));
            if let Some(k) = &c.key {
                let _ = writeln!(
                    s,
                    "k\t{}\t{}\t{}\t{}\t{}",
                    esc(&k.format),
                    esc(&k.location),
                    k.iters,
                    k.fingerprint,
                    u8::from(k.loaded)
                );
            }
        }
        if let Some(r) = &d.resume {
            let _ = writeln!(
                s,
                "r\t{}\t{}\t{}\t{}\t{}",
                r.toguid,
                r.fromguid,
                esc(&r.toname),
                r.bytes,
                r.flags
            );
        }
        render_props(&d.props, &mut s);
        for b in &d.bookmarks {
            let _ = writeln!(
                s,
                "B\t{}\t{}\t{}\t{}",
                esc(&b.name),
                b.guid,
                b.createtxg,
                b.creation
            );
        }
        for sn in &d.snapshots {
            let _ = writeln!(
                s,
                "S\t{}\t{}\t{}\t{}\t{}\t{}",
                esc(&sn.name),
                sn.guid,
                sn.createtxg,
                sn.creation,
                sn.referenced,
                u8::from(sn.defer_destroy)
            );
            for (tag, t) in &sn.holds {
                let _ = writeln!(s, "h\t{}\t{t}", esc(tag));
            }
            render_props(&sn.props, &mut s);
        }
        if s.len() > 1 << 20 {
            out.extend_from_slice(s.as_bytes());
            s.clear();
        }
    }
    out.extend_from_slice(s.as_bytes());
}

fn render_props(props: &BTreeMap<String, PropEntry>, s: &mut String) {
    use std::fmt::Write as _;
    for (k, e) in props {
        if let Some(v) = &e.local {
            let _ = writeln!(s, "p\t{}\tlocal\t{}", esc(k), esc(v));
        }
        if let Some(v) = &e.received {
            let _ = writeln!(s, "p\t{}\treceived\t{}", esc(k), esc(v));
        }
        if e.masked {
            let _ = writeln!(s, "p\t{}\tmasked\t", esc(k));
        }
    }
}

/// Where the next `p`/`h` record belongs.
enum Owner {
    None,
    Dataset,
    Snapshot,
}

fn parse(text: &str) -> std::result::Result<State, String> {
    let mut st = State::default();
    let mut cur: Option<Dataset> = None;
    let mut owner = Owner::None;
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        let bad = || format!("line {}: {line:?}", n + 1);
        let num = |i: usize| -> std::result::Result<u64, String> {
            f.get(i).and_then(|v| v.parse().ok()).ok_or_else(bad)
        };
        let inum = |i: usize| -> std::result::Result<i64, String> {
            f.get(i).and_then(|v| v.parse().ok()).ok_or_else(bad)
        };
        let field = |i: usize| -> std::result::Result<String, String> {
            f.get(i).map(|v| unesc(v)).ok_or_else(bad)
        };
        match f[0] {
            "V" => {}
            "P" => {
                let p = Pool {
                    name: field(1)?,
                    guid: num(2)?,
                    txg: num(3)?,
                    altroot: field(4)?,
                    creation: inum(5)?,
                };
                st.pools.insert(p.name.clone(), p);
            }
            "D" => {
                if let Some(d) = cur.take() {
                    st.datasets.insert(d.name.clone(), d);
                }
                let kind = if field(2)? == "v" {
                    Kind::Volume
                } else {
                    Kind::Filesystem
                };
                let mut d = Dataset::new(&field(1)?, kind, num(3)?, num(4)?, inum(5)?);
                let flags = field(6)?;
                d.mounted = flags.contains('m');
                d.inconsistent = flags.contains('i');
                cur = Some(d);
                owner = Owner::Dataset;
            }
            "c" => {
                let d = cur.as_mut().ok_or_else(bad)?;
                d.crypt = Some(Crypt {
                    algorithm: field(1)?,
                    root: field(2)?,
                    key: None,
                });
            }
            "k" => {
                let c = cur
                    .as_mut()
                    .and_then(|d| d.crypt.as_mut())
                    .ok_or_else(bad)?;
                c.key = Some(KeyInfo {
                    format: field(1)?,
                    location: field(2)?,
                    iters: num(3)?,
                    fingerprint: field(4)?,
                    loaded: field(5)? == "1",
                });
            }
            "r" => {
                let d = cur.as_mut().ok_or_else(bad)?;
                d.resume = Some(Resume {
                    toguid: num(1)?,
                    fromguid: num(2)?,
                    toname: field(3)?,
                    bytes: num(4)?,
                    flags: num(5)? as u32,
                });
            }
            "S" => {
                let d = cur.as_mut().ok_or_else(bad)?;
                d.snapshots.push(Snapshot {
                    name: field(1)?,
                    guid: num(2)?,
                    createtxg: num(3)?,
                    creation: inum(4)?,
                    referenced: num(5)?,
                    defer_destroy: field(6)? == "1",
                    holds: Vec::new(),
                    props: BTreeMap::new(),
                });
                owner = Owner::Snapshot;
            }
            "h" => {
                let s = cur
                    .as_mut()
                    .and_then(|d| d.snapshots.last_mut())
                    .ok_or_else(bad)?;
                s.holds.push((field(1)?, inum(2)?));
            }
            "B" => {
                let d = cur.as_mut().ok_or_else(bad)?;
                d.bookmarks.push(Bookmark {
                    name: field(1)?,
                    guid: num(2)?,
                    createtxg: num(3)?,
                    creation: inum(4)?,
                });
            }
            "p" => {
                let d = cur.as_mut().ok_or_else(bad)?;
                let props = match owner {
                    Owner::Dataset => &mut d.props,
                    Owner::Snapshot => &mut d.snapshots.last_mut().ok_or_else(bad)?.props,
                    Owner::None => return Err(bad()),
                };
                let e = props.entry(field(1)?).or_default();
                match field(2)?.as_str() {
                    "received" => e.received = Some(field(3)?),
                    "masked" => e.masked = true,
                    _ => e.local = Some(field(3)?),
                }
            }
            _ => return Err(bad()),
        }
    }
    if let Some(d) = cur.take() {
        st.datasets.insert(d.name.clone(), d);
    }
    Ok(st)
}

/// Paths of the simulator's state directory.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// The state directory (`ZFS_SIM_DIR`).
    pub root: PathBuf,
}

impl Dirs {
    /// Default altroot of pools created without `-R`.
    pub fn default_altroot(&self) -> PathBuf {
        self.root.join("mnt")
    }
    /// Where an unmounted filesystem keeps its data.
    pub fn store(&self, guid: u64) -> PathBuf {
        self.root.join("store").join(format!("{guid:016x}"))
    }
    /// Frozen data of snapshot `snap` of dataset `ds` (absent means empty). Also kept for a
    /// bookmark after its snapshot is gone, so incremental sends from the bookmark still work.
    pub fn snapdata(&self, ds: u64, snap: u64) -> PathBuf {
        self.root
            .join("snaps")
            .join(format!("{ds:016x}-{snap:016x}"))
    }
    /// Saved bytes of an interrupted resumable receive into dataset `guid`.
    pub fn partial(&self, guid: u64) -> PathBuf {
        self.root.join("partial").join(format!("{guid:016x}"))
    }
    /// Scratch space (same filesystem as the rest, so renames work).
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// A name for this process's private scratch tree of `kind` (`send`: pinned snapshot data;
    /// `recv`: the staging tree), `tmp/<kind>-<pid>-<random>`, not created yet. The trees of
    /// that kind left by processes that are gone are removed first: a `zfs send` or `zfs recv`
    /// killed by SIGKILL (as zferry kills them when a step is aborted) runs no cleanup, and its
    /// hard links would keep destroyed snapshots' data on disk forever.
    pub fn scratch(&self, kind: &str) -> PathBuf {
        self.remove_orphaned_scratch(kind);
        self.tmp().join(format!(
            "{kind}-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        ))
    }

    /// Removes the scratch trees of `kind` whose process no longer exists.
    fn remove_orphaned_scratch(&self, kind: &str) {
        let Ok(entries) = fs::read_dir(self.tmp()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let owner = name
                .to_str()
                .and_then(|n| n.strip_prefix(kind)?.strip_prefix('-')?.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok());
            if owner.is_some_and(|pid| !process_exists(pid)) {
                let _ = crate::data::remove_tree(&entry.path());
            }
        }
    }
}

/// Whether process `pid` exists (a pid reused by another process counts: a scratch tree then
/// waits for that one to end, which is harmless).
pub fn process_exists(pid: u32) -> bool {
    i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .is_some_and(|pid| {
            !matches!(
                rustix::process::test_kill_process(pid),
                Err(rustix::io::Errno::SRCH)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_text() {
        let mut st = State::default();
        st.pools.insert(
            "p".into(),
            Pool {
                name: "p".into(),
                guid: 7,
                txg: 9,
                altroot: "/r".into(),
                creation: 1,
            },
        );
        let mut d = Dataset::new("p/a b", Kind::Filesystem, 1, 2, 3);
        d.mounted = true;
        d.props.insert(
            "user:x".into(),
            PropEntry {
                local: Some("a\tb\\c\nd".into()),
                received: Some("r".into()),
                masked: false,
            },
        );
        d.crypt = Some(Crypt {
            algorithm: "aes-256-gcm".into(),
            root: "p/a b".into(),
            key: Some(KeyInfo {
                format: "passphrase".into(),
                location: "file:///k".into(),
                iters: 350000,
                fingerprint: "ab".into(),
                loaded: true,
            }),
        });
        d.resume = Some(Resume {
            toguid: 5,
            fromguid: 0,
            toname: "q/x@s".into(),
            bytes: 100,
            flags: 3,
        });
        d.snapshots.push(Snapshot {
            name: "s1".into(),
            guid: 11,
            createtxg: 4,
            creation: 5,
            referenced: 6,
            defer_destroy: true,
            holds: vec![("t 1".into(), 8)],
            props: [(
                "user:y".into(),
                PropEntry {
                    local: Some("v".into()),
                    received: None,
                    masked: false,
                },
            )]
            .into(),
        });
        d.bookmarks.push(Bookmark {
            name: "b".into(),
            guid: 11,
            createtxg: 4,
            creation: 5,
        });
        st.datasets.insert(d.name.clone(), d);
        let mut out = Vec::new();
        render(&st, &mut out);
        let back = parse(std::str::from_utf8(&out).unwrap()).unwrap();
        assert_eq!(back, st);
    }
}
