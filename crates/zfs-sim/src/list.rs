//! Object selection and ordering shared by `zfs list` and `zfs get`: types, recursion, depth,
//! sorting exactly as libzfs's `zfs_for_each` + `zfs_sort`, and column output.

use std::cmp::Ordering;

use crate::errors::{Result, SimError};
use crate::names::Name;
use crate::props::{Obj, Prop, Reader};
use crate::state::{Kind, State};

/// Which object types to include.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TypeSet {
    /// Filesystems.
    pub fs: bool,
    /// Volumes.
    pub vol: bool,
    /// Snapshots.
    pub snap: bool,
    /// Bookmarks.
    pub bm: bool,
}

impl TypeSet {
    /// Parses a `-t` argument (`filesystem,snapshot,...`); `Err` carries the invalid token.
    pub fn parse(s: &str) -> std::result::Result<TypeSet, String> {
        let mut t = TypeSet::default();
        for tok in s.split(',') {
            match tok {
                "filesystem" | "fs" => t.fs = true,
                "volume" | "vol" => t.vol = true,
                "snapshot" | "snap" => t.snap = true,
                "bookmark" => t.bm = true,
                "all" => {
                    t = TypeSet {
                        fs: true,
                        vol: true,
                        snap: true,
                        bm: true,
                    }
                }
                other => return Err(other.to_string()),
            }
        }
        Ok(t)
    }

    fn has(&self, obj: &Obj) -> bool {
        match obj {
            Obj::Fs(d) if d.kind == Kind::Filesystem => self.fs,
            Obj::Fs(_) => self.vol,
            Obj::Snap(..) => self.snap,
            Obj::Bm(..) => self.bm,
        }
    }
}

/// Traversal options.
#[derive(Debug, Clone, Copy)]
pub struct Walk {
    /// Types to output.
    pub types: TypeSet,
    /// `-r` (or `-d`).
    pub recurse: bool,
    /// `-d N`.
    pub depth_limit: Option<usize>,
    /// Include snapshots while recursing.
    pub include_snaps: bool,
    /// Include bookmarks while recursing.
    pub include_bmarks: bool,
}

/// Collects the objects `zfs list`/`zfs get` would visit for `args` (all pools when empty).
/// Returns the objects and whether some argument failed (the error was printed to stderr).
pub fn collect<'a>(
    st: &'a State,
    args: &[String],
    walk: &Walk,
    arg_types: TypeSet,
) -> (Vec<Obj<'a>>, bool) {
    let mut out = Vec::new();
    let mut failed = false;
    if args.is_empty() {
        for d in st.datasets.values().filter(|d| !d.name.contains('/')) {
            visit(st, Obj::Fs(d), walk, 0, &mut out);
        }
        return (out, false);
    }
    for a in args {
        match open(st, a, arg_types) {
            Ok(obj) => visit(st, obj, walk, 0, &mut out),
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    (out, failed)
}

/// Opens one named object, with libzfs's errors.
pub fn open<'a>(st: &'a State, name: &str, types: TypeSet) -> Result<Obj<'a>> {
    let trimmed = name.trim_end_matches('/');
    if let Err(why) = crate::names::entity_check(trimmed) {
        return Err(SimError::new(format!("cannot open '{name}': {why}")));
    }
    let obj = match Name::parse(trimmed) {
        Name::Dataset(d) => Obj::Fs(st.get(&d)?),
        Name::Snapshot(d, s) => {
            let ds = st.get(&d).map_err(|_| SimError::no_such_dataset(name))?;
            let sn = ds
                .snapshot(&s)
                .ok_or_else(|| SimError::no_such_dataset(name))?;
            Obj::Snap(ds, sn)
        }
        Name::Bookmark(d, b) => {
            let ds = st.get(&d).map_err(|_| SimError::no_such_dataset(name))?;
            let bm = ds
                .bookmark(&b)
                .ok_or_else(|| SimError::no_such_dataset(name))?;
            Obj::Bm(ds, bm)
        }
    };
    if !types.has(&obj) {
        return Err(SimError::new(format!(
            "cannot open '{name}': operation not applicable to datasets of this type"
        )));
    }
    Ok(obj)
}

fn visit<'a>(st: &'a State, obj: Obj<'a>, w: &Walk, depth: usize, out: &mut Vec<Obj<'a>>) {
    let is_snap = matches!(obj, Obj::Snap(..));
    if w.types.has(&obj) || (is_snap && w.include_snaps) {
        out.push(obj);
    }
    let Obj::Fs(d) = obj else { return };
    if !w.recurse || w.depth_limit.is_some_and(|l| depth >= l) {
        return;
    }
    let depth = depth + 1;
    let want_fs = w.depth_limit.is_none_or(|l| depth < l) || w.types.fs || w.types.vol;
    if want_fs && d.kind == Kind::Filesystem {
        for c in st.children(&d.name) {
            if let Some(cd) = st.datasets.get(&c) {
                visit(st, Obj::Fs(cd), w, depth, out);
            }
        }
    }
    if w.include_snaps {
        for s in &d.snapshots {
            if w.types.snap {
                out.push(Obj::Snap(d, s));
            }
        }
    }
    if w.include_bmarks {
        for b in &d.bookmarks {
            out.push(Obj::Bm(d, b));
        }
    }
}

/// libzfs's `zfs_compare`: by dataset name (the part before `@`), a dataset before its
/// snapshots, snapshots by createtxg. Bookmarks compare by their full name.
pub fn zfs_compare(a: &Obj, b: &Obj) -> Ordering {
    fn key<'x>(o: &'x Obj) -> (&'x str, Option<u64>) {
        match o {
            Obj::Fs(d) => (d.name.as_str(), None),
            Obj::Snap(d, s) => (d.name.as_str(), Some(s.createtxg)),
            Obj::Bm(..) => ("", None),
        }
    }
    let (an, bn) = (bm_or(a), bm_or(b));
    let (ka, kb) = (key(a), key(b));
    let na: &str = an.as_deref().unwrap_or(ka.0);
    let nb: &str = bn.as_deref().unwrap_or(kb.0);
    na.as_bytes()
        .cmp(nb.as_bytes())
        .then_with(|| match (ka.1, kb.1) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(&y),
        })
}

fn bm_or(o: &Obj) -> Option<String> {
    match o {
        Obj::Bm(d, b) => Some(format!("{}#{}", d.name, b.name)),
        _ => None,
    }
}

/// A `-s`/`-S` sort column.
#[derive(Debug, Clone)]
pub struct SortCol {
    /// The property.
    pub prop: Prop,
    /// `-S`: descending.
    pub reverse: bool,
}

/// Sorts like `zfs_sort`: the sort columns in order, then [`zfs_compare`]; an object for which a
/// column's property is not valid sorts after those for which it is.
pub fn sort(objs: &mut [Obj], cols: &[SortCol], r: &Reader) {
    if cols.is_empty() {
        objs.sort_by(zfs_compare);
        return;
    }
    // Precompute the sort keys once per object.
    #[derive(PartialEq, PartialOrd)]
    enum K {
        Num(u64),
        Str(String),
    }
    let keys: Vec<Vec<Option<K>>> = objs
        .iter()
        .map(|o| {
            cols.iter()
                .map(|c| {
                    let parsable = Reader {
                        st: r.st,
                        dirs: r.dirs,
                        parsable: true,
                    };
                    let v = parsable.get(o, &c.prop)?;
                    if let Prop::User(_) = c.prop
                        && v.value == "-"
                        && v.source == crate::props::Source::None
                    {
                        return None;
                    }
                    if c.prop.is_numeric() {
                        Some(K::Num(v.value.parse().unwrap_or(0)))
                    } else {
                        Some(K::Str(v.value))
                    }
                })
                .collect()
        })
        .collect();
    let mut idx: Vec<usize> = (0..objs.len()).collect();
    idx.sort_by(|&i, &j| {
        for (c, col) in cols.iter().enumerate() {
            let ord = match (&keys[i][c], &keys[j][c]) {
                (None, None) => continue,
                (None, Some(_)) => return Ordering::Greater,
                (Some(_), None) => return Ordering::Less,
                (Some(a), Some(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            };
            if ord != Ordering::Equal {
                return if col.reverse { ord.reverse() } else { ord };
            }
        }
        zfs_compare(&objs[i], &objs[j])
    });
    let sorted: Vec<Obj> = idx.iter().map(|&i| objs[i]).collect();
    objs.copy_from_slice(&sorted);
}

/// Prints rows as `zfs` does: `-H` tab-separated, else padded columns (two spaces apart,
/// right-aligned where `right[i]`, the last column unpadded) under a header.
pub fn print_table(
    out: &mut impl std::io::Write,
    header: Option<&[String]>,
    right: &[bool],
    min_width: &[usize],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let Some(header) = header else {
        for r in rows {
            writeln!(out, "{}", r.join("\t"))?;
        }
        return Ok(());
    };
    let n = header.len();
    let mut width: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            h.chars()
                .count()
                .max(min_width.get(i).copied().unwrap_or(0))
        })
        .collect();
    for r in rows {
        for (i, v) in r.iter().enumerate() {
            width[i] = width[i].max(v.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (i, v) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            let pad = width[i].saturating_sub(v.chars().count());
            if right.get(i).copied().unwrap_or(false) {
                s.push_str(&" ".repeat(pad));
                s.push_str(v);
            } else {
                s.push_str(v);
                if i + 1 < n {
                    s.push_str(&" ".repeat(pad));
                }
            }
        }
        s
    };
    writeln!(out, "{}", line(header))?;
    for r in rows {
        writeln!(out, "{}", line(r))?;
    }
    Ok(())
}
