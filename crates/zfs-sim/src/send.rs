//! `zfs send`: full, `-i`/`-I` incremental (from a snapshot or bookmark), `-w` raw, `-p`
//! properties, dry-run size estimates (`-nv`, `-nvP`), and resume (`-t token`, `-nvt`).
//!
//! The data to send is hard-linked into a private directory under the shared lock, then the lock
//! is released and the stream is written: a slow receiver never blocks other commands.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::errors::{Result, SimError};
use crate::faults::{Faults, FaultyWriter};
use crate::format::nicebytes;
use crate::names::Name;
use crate::props::{self, Prop, Reader, Source};
use crate::resume::{self, Token};
use crate::sim::Sim;
use crate::state::{Dataset, Dirs, State};
use crate::stream::{Begin, Encoder, Flags, ResumeHeader, StreamCrypt};

/// Options of `zfs send`.
#[derive(Debug, Clone, Default)]
pub struct SendOpts {
    /// `-i`/`-I` source (`@s`, `fs@s`, `#b`, `fs#b`).
    pub from: Option<String>,
    /// `-I`: include intermediate snapshots.
    pub intermediates: bool,
    /// Stream flags.
    pub flags: Flags,
    /// `-n`.
    pub dry_run: bool,
    /// `-v`.
    pub verbose: bool,
    /// `-P`.
    pub parsable: bool,
    /// `-t token`.
    pub token: Option<String>,
}

/// One sub-stream to produce.
struct Step {
    begin: Begin,
    /// Frozen data of the target snapshot.
    to: PathBuf,
    /// Frozen data of the incremental source.
    from: Option<PathBuf>,
    /// Name of the source as printed by `-v` (`None` for a full stream).
    shown_from: Option<String>,
}

/// Runs `zfs send`; returns the exit code.
pub fn send(sim: &Sim, target: Option<&str>, o: &SendOpts, faults: &Faults) -> Result<u8> {
    if !o.dry_run && io::stdout().is_terminal() {
        return Err(SimError::new(
            "Error: Stream can not be written to a terminal.\nYou must redirect standard output.",
        ));
    }
    let private = sim.dirs.scratch("send");
    let result = run(sim, target, o, faults, &private);
    let _ = crate::data::remove_tree(&private);
    result
}

fn run(
    sim: &Sim,
    target: Option<&str>,
    o: &SendOpts,
    faults: &Faults,
    private: &Path,
) -> Result<u8> {
    let (steps, skip, token) = {
        let (_lock, st) = sim.read()?;
        let (steps, skip, token) = match &o.token {
            Some(t) => {
                let tok = resume::decode(t)?;
                let step = plan_resume(&st, &sim.dirs, &tok)?;
                (vec![step], tok.bytes, Some(tok))
            }
            None => {
                let target = target.ok_or_else(|| SimError::usage(USAGE))?;
                (plan(&st, &sim.dirs, target, o)?, 0, None)
            }
        };
        // Pin the data: hard links survive a concurrent destroy.
        let mut pinned = Vec::new();
        for (i, s) in steps.into_iter().enumerate() {
            let to = private.join(format!("{i}-to"));
            crate::data::link_tree(&s.to, &to).map_err(|e| SimError::io("pin snapshot data", e))?;
            let from = match &s.from {
                Some(f) => {
                    let p = private.join(format!("{i}-from"));
                    crate::data::link_tree(f, &p)
                        .map_err(|e| SimError::io("pin snapshot data", e))?;
                    Some(p)
                }
                None => None,
            };
            pinned.push(Step { to, from, ..s });
        }
        (pinned, skip, token)
    };
    if o.verbose {
        let sizes: Vec<u64> = steps
            .iter()
            .map(|s| stream_len(s).map(|n| n.saturating_sub(skip)))
            .collect::<io::Result<_>>()
            .map_err(|e| SimError::io("estimate stream size", e))?;
        let mut text = String::new();
        if let Some(t) = &token {
            text.push_str(&resume::describe(t));
        }
        for (s, size) in steps.iter().zip(&sizes) {
            text.push_str(&verbose_line(s, *size, o.parsable));
        }
        let total: u64 = sizes.iter().sum();
        if o.parsable {
            text.push_str(&format!("size\t{total}\n"));
        } else {
            text.push_str(&format!("total estimated size is {}\n", nicebytes(total)));
        }
        if o.dry_run {
            print!("{text}");
        } else {
            eprint!("{text}");
        }
    }
    if o.dry_run {
        return Ok(0);
    }
    let stdout = io::stdout().lock();
    let mut out = FaultyWriter::new(
        io::BufWriter::with_capacity(1 << 20, crate::journal::Counted(stdout)),
        faults,
    );
    let written = (|| -> io::Result<()> {
        if let Some(t) = &token {
            out.write_all(&crate::stream::resume_record(&ResumeHeader {
                toguid: t.toguid,
                fromguid: t.fromguid,
                offset: t.bytes,
            }))?;
        }
        for s in &steps {
            let sink = Skip {
                inner: &mut out,
                skip,
            };
            let mut enc = Encoder::new(sink);
            enc.begin(&s.begin)?;
            enc.entries(&s.to, s.from.as_deref())?;
            enc.end()?;
        }
        out.flush()
    })();
    match written {
        Ok(()) => Ok(0),
        // The real `zfs send` dies of SIGPIPE silently when the reader goes away.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(1),
        Err(e) => {
            let name = steps
                .first()
                .map(|s| s.begin.toname.clone())
                .unwrap_or_default();
            Err(SimError::new(format!("warning: cannot send '{name}': {e}")))
        }
    }
}

/// Usage text of `zfs send`.
pub const USAGE: &str = "usage:\n\tsend [-DLPbcehnpsVvw] [-i|-I snapshot]\n\t    [-R [-X dataset[,dataset]...]]     <snapshot>\n\tsend [-DnVvPLecw] [-i snapshot|bookmark] <filesystem|volume|snapshot>\n\tsend [-PnVv] --saved filesystem\n\tsend [-PnVv] -t <receive_resume_token>\n\nFor the property list, run: zfs set|get\n\nFor the delegated permission list, run: zfs allow|unallow\n\nFor further help on a command or topic, run: zfs help [<topic>]";

/// A writer dropping the first `skip` bytes (for resumed streams).
struct Skip<'a, W: Write> {
    inner: &'a mut W,
    skip: u64,
}

impl<W: Write> Write for Skip<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.skip >= buf.len() as u64 {
            self.skip -= buf.len() as u64;
            return Ok(buf.len());
        }
        let from = self.skip as usize;
        self.skip = 0;
        self.inner.write_all(&buf[from..])?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Exact length of a step's stream (the size estimate).
fn stream_len(s: &Step) -> io::Result<u64> {
    let mut enc = Encoder::new(io::sink());
    enc.begin(&s.begin)?;
    enc.entries(&s.to, s.from.as_deref())?;
    Ok(enc.end()?.1)
}

fn verbose_line(s: &Step, size: u64, parsable: bool) -> String {
    let to = &s.begin.toname;
    if parsable {
        return match &s.shown_from {
            Some(f) => format!("incremental\t{f}\t{to}\t{size}\n"),
            None => format!("full\t{to}\t{size}\n"),
        };
    }
    let head = match &s.shown_from {
        Some(f) if f.contains(['@', '#']) => format!("send from {f} to {to}"),
        Some(f) => format!("send from @{f} to {to}"),
        None => format!("full send of {to}"),
    };
    if size == 0 {
        format!("{head}\n")
    } else {
        format!("{head} estimated size is {}\n", nicebytes(size))
    }
}

fn stream_props(st: &State, d: &Dataset) -> Vec<(String, String)> {
    let r = Reader {
        st,
        dirs: &crate::state::Dirs {
            root: PathBuf::new(),
        },
        parsable: true,
    };
    let mut names: Vec<Prop> = props::all_native(&props::Obj::Fs(d))
        .into_iter()
        .filter(|p| props::settable(p.name()) && p.name() != "keylocation")
        .collect();
    names.extend(r.user_names(&props::Obj::Fs(d)).into_iter().map(Prop::User));
    names
        .into_iter()
        .filter_map(|p| {
            let v = r.get(&props::Obj::Fs(d), &p)?;
            matches!(v.source, Source::Local | Source::Received)
                .then(|| (p.name().to_string(), v.value))
        })
        .collect()
}

fn crypt_of(st: &State, d: &Dataset, raw: bool) -> Option<StreamCrypt> {
    if !raw {
        return None;
    }
    let c = d.crypt.as_ref()?;
    let k = crate::crypto::root_key(st, d)?;
    Some(StreamCrypt {
        algorithm: c.algorithm.clone(),
        format: k.format.clone(),
        iters: k.iters,
        fingerprint: k.fingerprint.clone(),
    })
}

/// Whether the dataset uses blocks over 128 KiB. Real ZFS marks a `-L` stream (and its resume
/// token, `largeblockok`) as carrying large blocks only then (measured on 2.3.2: a `-L` send of a
/// 128K-recordsize dataset has no `largeblockok`); modelled here as `recordsize` over 128K.
fn large_blocks_active(st: &State, dirs: &Dirs, d: &Dataset) -> bool {
    let r = Reader {
        st,
        dirs,
        parsable: true,
    };
    Prop::resolve("recordsize")
        .and_then(|p| r.get(&props::Obj::Fs(d), &p))
        .and_then(|v| v.value.parse::<u64>().ok())
        .is_some_and(|size| size > 128 * 1024)
}

fn plan(st: &State, dirs: &Dirs, target: &str, o: &SendOpts) -> Result<Vec<Step>> {
    let Name::Snapshot(fs, snap) = Name::parse(target) else {
        if st.datasets.contains_key(target) {
            return Err(SimError::new(format!(
                "warning: cannot send '{target}': target is busy; if a filesystem, it must not be mounted"
            )));
        }
        return Err(SimError::no_such_dataset(target));
    };
    let d = st
        .datasets
        .get(&fs)
        .ok_or_else(|| SimError::no_such_dataset(target))?;
    let to = d
        .snapshot(&snap)
        .ok_or_else(|| SimError::no_such_dataset(target))?;
    if d.crypt.is_some() && !o.flags.raw && !crate::crypto::key_available(st, d) {
        return Err(SimError::new(format!(
            "cannot send {target}: encrypted dataset {fs} may not be sent without the raw flag while its key is not loaded"
        )));
    }
    if d.crypt.is_some() && !o.flags.raw && o.flags.props {
        return Err(SimError::new(format!(
            "cannot send {target}: encrypted dataset {fs} may not be sent with properties without the raw flag\nwarning: cannot send '{target}': backup failed"
        )));
    }
    let props = if o.flags.props {
        stream_props(st, d)
    } else {
        Vec::new()
    };
    let crypt = crypt_of(st, d, o.flags.raw);
    let flags = Flags {
        large_blocks: o.flags.large_blocks && large_blocks_active(st, dirs, d),
        ..o.flags
    };
    let begin = |fromguid: u64, fromname: String, s: &crate::state::Snapshot| Begin {
        flags,
        fromguid,
        toguid: s.guid,
        creation: s.creation,
        toname: format!("{fs}@{}", s.name),
        fromname,
        volume: d.kind == crate::state::Kind::Volume,
        props: props.clone(),
        crypt: crypt.clone(),
    };
    let Some(from) = &o.from else {
        return Ok(vec![Step {
            begin: begin(0, String::new(), to),
            to: data_path(dirs, d, to.guid),
            from: None,
            shown_from: None,
        }]);
    };
    // Resolve the source within the same filesystem.
    let full_from = if from.starts_with('@') || from.starts_with('#') {
        format!("{fs}{from}")
    } else {
        from.clone()
    };
    let (from_fs, from_guid, from_txg) = match Name::parse(&full_from) {
        Name::Snapshot(f, s) => {
            let x = st
                .datasets
                .get(&f)
                .and_then(|fd| fd.snapshot(&s))
                .ok_or_else(|| SimError::no_such_dataset(&full_from))?;
            (f, x.guid, x.createtxg)
        }
        Name::Bookmark(f, b) => {
            if o.intermediates {
                return Err(SimError::new(format!(
                    "Error: Unsupported flag with filesystem or bookmark.\n{USAGE}"
                )));
            }
            let x = st
                .datasets
                .get(&f)
                .and_then(|fd| fd.bookmark(&b))
                .ok_or_else(|| SimError::no_such_dataset(&full_from))?;
            (f, x.guid, x.createtxg)
        }
        Name::Dataset(_) => {
            return Err(SimError::new(format!(
                "Error: Unsupported flag with filesystem or bookmark.\n{USAGE}"
            )));
        }
    };
    if from_fs != fs || from_txg >= to.createtxg {
        return Err(SimError::new(format!(
            "warning: cannot send '{target}': not an earlier snapshot from the same fs"
        )));
    }
    if !o.intermediates {
        return Ok(vec![Step {
            begin: begin(from_guid, full_from.clone(), to),
            to: data_path(dirs, d, to.guid),
            from: Some(data_path(dirs, d, from_guid)),
            shown_from: Some(full_from),
        }]);
    }
    let mut chain: Vec<&crate::state::Snapshot> = d
        .snapshots
        .iter()
        .filter(|s| s.createtxg > from_txg && s.createtxg <= to.createtxg)
        .collect();
    chain.sort_by_key(|s| s.createtxg);
    let mut steps = Vec::new();
    let mut prev_guid = from_guid;
    let mut prev_name = full_from[fs.len() + 1..].to_string();
    for s in chain {
        steps.push(Step {
            begin: begin(prev_guid, format!("{fs}@{prev_name}"), s),
            to: data_path(dirs, d, s.guid),
            from: Some(data_path(dirs, d, prev_guid)),
            shown_from: Some(prev_name.clone()),
        });
        prev_guid = s.guid;
        prev_name = s.name.clone();
    }
    Ok(steps)
}

fn data_path(dirs: &Dirs, d: &Dataset, guid: u64) -> PathBuf {
    dirs.snapdata(d.guid, guid)
}

fn plan_resume(st: &State, dirs: &Dirs, t: &Token) -> Result<Step> {
    let Name::Snapshot(fs, _) = Name::parse(&t.toname) else {
        return Err(SimError::new("cannot resume send: resume token is corrupt"));
    };
    let d = st.datasets.get(&fs);
    let to = d.and_then(|d| d.snapshots.iter().find(|s| s.guid == t.toguid));
    let (Some(d), Some(to)) = (d, to) else {
        let exists = d.is_some_and(|d| {
            d.snapshot(t.toname.split('@').nth(1).unwrap_or(""))
                .is_some()
        });
        return Err(SimError::new(if exists {
            format!(
                "cannot resume send: '{}' is no longer the same snapshot used in the initial send",
                t.toname
            )
        } else {
            format!(
                "cannot resume send: '{}' used in the initial send no longer exists",
                t.toname
            )
        }));
    };
    let flags = Flags::from_bits(t.flags);
    let mut fromname = String::new();
    let mut from = None;
    if t.fromguid != 0 {
        let src = d
            .snapshots
            .iter()
            .find(|s| s.guid == t.fromguid)
            .map(|s| format!("{fs}@{}", s.name))
            .or_else(|| {
                d.bookmarks
                    .iter()
                    .find(|b| b.guid == t.fromguid)
                    .map(|b| format!("{fs}#{}", b.name))
            });
        let Some(src) = src else {
            return Err(SimError::new(format!(
                "cannot resume send: incremental source {:#x} no longer exists",
                t.fromguid
            )));
        };
        fromname = src;
        from = Some(data_path(dirs, d, t.fromguid));
    }
    let props = if flags.props {
        stream_props(st, d)
    } else {
        Vec::new()
    };
    Ok(Step {
        begin: Begin {
            flags,
            fromguid: t.fromguid,
            toguid: to.guid,
            creation: to.creation,
            toname: format!("{fs}@{}", to.name),
            fromname: fromname.clone(),
            volume: d.kind == crate::state::Kind::Volume,
            props,
            crypt: crypt_of(st, d, flags.raw),
        },
        to: data_path(dirs, d, to.guid),
        from,
        shown_from: (t.fromguid != 0).then_some(fromname),
    })
}
