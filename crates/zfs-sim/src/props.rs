//! Properties: the native ones the simulator models, user properties (`module:name`), their
//! values, sources (`local`, `default`, `inherited from X`, `received`, `-`) and formatting
//! (`-p` numbers vs. human-readable sizes and dates).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::format::{date_prop, date_prop_secs, nicebytes};
use crate::state::{Bookmark, Dataset, Dirs, Kind, PropEntry, Snapshot, State};

/// One object whose properties are read.
#[derive(Debug, Clone, Copy)]
pub enum Obj<'a> {
    /// A filesystem or volume.
    Fs(&'a Dataset),
    /// A snapshot of a dataset.
    Snap(&'a Dataset, &'a Snapshot),
    /// A bookmark of a dataset.
    Bm(&'a Dataset, &'a Bookmark),
}

impl Obj<'_> {
    /// Full name.
    pub fn name(&self) -> String {
        match self {
            Obj::Fs(d) => d.name.clone(),
            Obj::Snap(d, s) => format!("{}@{}", d.name, s.name),
            Obj::Bm(d, b) => format!("{}#{}", d.name, b.name),
        }
    }

    /// The type name as in the `type` property.
    pub fn type_name(&self) -> &'static str {
        match self {
            Obj::Fs(d) => d.kind.as_str(),
            Obj::Snap(..) => "snapshot",
            Obj::Bm(..) => "bookmark",
        }
    }

    /// Creation txg (for sorting).
    pub fn createtxg(&self) -> u64 {
        match self {
            Obj::Fs(d) => d.createtxg,
            Obj::Snap(_, s) => s.createtxg,
            Obj::Bm(_, b) => b.createtxg,
        }
    }
}

/// Where a property value comes from, as in the SOURCE column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Not settable (`-`).
    None,
    /// Set on this dataset.
    Local,
    /// Built-in default.
    Default,
    /// Inherited from the named ancestor.
    Inherited(String),
    /// Received with a send stream.
    Received,
}

impl Source {
    /// The text of the SOURCE column.
    pub fn text(&self) -> String {
        match self {
            Source::None => "-".into(),
            Source::Local => "local".into(),
            Source::Default => "default".into(),
            Source::Inherited(from) => format!("inherited from {from}"),
            Source::Received => "received".into(),
        }
    }
}

/// A property value with its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// Formatted value (`-` for none).
    pub value: String,
    /// Its source.
    pub source: Source,
}

impl Value {
    fn ro(value: impl Into<String>) -> Value {
        Value {
            value: value.into(),
            source: Source::None,
        }
    }
}

/// Type classes a native property applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Types {
    fs: bool,
    vol: bool,
    snap: bool,
    bm: bool,
}

const ALL: Types = Types {
    fs: true,
    vol: true,
    snap: true,
    bm: true,
};
const DS: Types = Types {
    fs: true,
    vol: true,
    snap: true,
    bm: false,
};
const FSVOL: Types = Types {
    fs: true,
    vol: true,
    snap: false,
    bm: false,
};
const FS: Types = Types {
    fs: true,
    vol: false,
    snap: false,
    bm: false,
};
const FSSNAP: Types = Types {
    fs: true,
    vol: false,
    snap: true,
    bm: false,
};
const SNAP: Types = Types {
    fs: false,
    vol: false,
    snap: true,
    bm: false,
};
const VOL: Types = Types {
    fs: false,
    vol: true,
    snap: false,
    bm: false,
};

/// How a native property behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Computed, read-only.
    ReadOnly,
    /// Settable and inherited by descendants; default value (human, parsable).
    Inherit(&'static str, &'static str),
    /// Settable, not inherited; default value (human, parsable).
    Local(&'static str, &'static str),
}

/// A native property.
#[derive(Debug, Clone, Copy)]
struct Native {
    name: &'static str,
    alias: Option<&'static str>,
    types: Types,
    behaviour: Behaviour,
    /// Column header in `zfs list`.
    header: &'static str,
}

const fn n(
    name: &'static str,
    alias: Option<&'static str>,
    types: Types,
    behaviour: Behaviour,
    header: &'static str,
) -> Native {
    Native {
        name,
        alias,
        types,
        behaviour,
        header,
    }
}

use Behaviour::{Inherit, Local, ReadOnly};

/// The native properties the simulator models.
const NATIVE: &[Native] = &[
    n("type", None, ALL, ReadOnly, "TYPE"),
    n("creation", None, ALL, ReadOnly, "CREATION"),
    n("used", None, DS, ReadOnly, "USED"),
    n("available", Some("avail"), FSVOL, ReadOnly, "AVAIL"),
    n("referenced", Some("refer"), ALL, ReadOnly, "REFER"),
    n("compressratio", Some("ratio"), DS, ReadOnly, "RATIO"),
    n("mounted", None, FS, ReadOnly, "MOUNTED"),
    n("origin", None, FSVOL, ReadOnly, "ORIGIN"),
    n("quota", None, FS, Local("none", "0"), "QUOTA"),
    n(
        "reservation",
        Some("reserv"),
        FSVOL,
        Local("none", "0"),
        "RESERV",
    ),
    n("volsize", None, VOL, Local("0B", "0"), "VOLSIZE"),
    n("volblocksize", None, VOL, ReadOnly, "VOLBLOCK"),
    n(
        "recordsize",
        Some("recsize"),
        FS,
        Inherit("128K", "131072"),
        "RECSIZE",
    ),
    n("mountpoint", None, FS, Inherit("/", "/"), "MOUNTPOINT"),
    n("sharenfs", None, FS, Inherit("off", "off"), "SHARENFS"),
    n("checksum", None, FSVOL, Inherit("on", "on"), "CHECKSUM"),
    n(
        "compression",
        Some("compress"),
        FSVOL,
        Inherit("on", "on"),
        "COMPRESS",
    ),
    n("atime", None, FS, Inherit("on", "on"), "ATIME"),
    n("devices", None, FSSNAP, Inherit("on", "on"), "DEVICES"),
    n("exec", None, FSSNAP, Inherit("on", "on"), "EXEC"),
    n("setuid", None, FSSNAP, Inherit("on", "on"), "SETUID"),
    n(
        "readonly",
        Some("rdonly"),
        FSVOL,
        Inherit("off", "off"),
        "RDONLY",
    ),
    n("zoned", None, FS, Inherit("off", "off"), "ZONED"),
    n("snapdir", None, FS, Inherit("hidden", "hidden"), "SNAPDIR"),
    n(
        "aclmode",
        None,
        FS,
        Inherit("discard", "discard"),
        "ACLMODE",
    ),
    n(
        "aclinherit",
        None,
        FS,
        Inherit("restricted", "restricted"),
        "ACLINHERIT",
    ),
    n("createtxg", None, ALL, ReadOnly, "CREATETXG"),
    n("name", None, ALL, ReadOnly, "NAME"),
    n("canmount", None, FS, Local("on", "on"), "CANMOUNT"),
    n("xattr", None, FSSNAP, Inherit("on", "on"), "XATTR"),
    n("copies", None, FSVOL, Inherit("1", "1"), "COPIES"),
    n("version", None, FSSNAP, ReadOnly, "VERSION"),
    n("utf8only", None, FSSNAP, ReadOnly, "UTF8ONLY"),
    n("normalization", None, FSSNAP, ReadOnly, "NORMALIZATION"),
    n("casesensitivity", None, FSSNAP, ReadOnly, "CASE"),
    n("vscan", None, FS, Inherit("off", "off"), "VSCAN"),
    n("nbmand", None, FSSNAP, Inherit("off", "off"), "NBMAND"),
    n("sharesmb", None, FS, Inherit("off", "off"), "SHARESMB"),
    n("refquota", None, FS, Local("none", "0"), "REFQUOTA"),
    n(
        "refreservation",
        Some("refreserv"),
        FSVOL,
        Local("none", "0"),
        "REFRESERV",
    ),
    n("guid", None, ALL, ReadOnly, "GUID"),
    n(
        "primarycache",
        None,
        DS,
        Inherit("all", "all"),
        "PRIMARYCACHE",
    ),
    n(
        "secondarycache",
        None,
        DS,
        Inherit("all", "all"),
        "SECONDARYCACHE",
    ),
    n(
        "usedbysnapshots",
        Some("usedsnap"),
        FSVOL,
        ReadOnly,
        "USEDSNAP",
    ),
    n("usedbydataset", Some("usedds"), FSVOL, ReadOnly, "USEDDS"),
    n(
        "usedbychildren",
        Some("usedchild"),
        FSVOL,
        ReadOnly,
        "USEDCHILD",
    ),
    n(
        "usedbyrefreservation",
        Some("usedrefreserv"),
        FSVOL,
        ReadOnly,
        "USEDREFRESERV",
    ),
    n("defer_destroy", None, SNAP, ReadOnly, "DEFER_DESTROY"),
    n("userrefs", None, SNAP, ReadOnly, "USERREFS"),
    n(
        "logbias",
        None,
        FSVOL,
        Inherit("latency", "latency"),
        "LOGBIAS",
    ),
    n("objsetid", None, DS, ReadOnly, "OBJSETID"),
    n("dedup", None, FSVOL, Inherit("off", "off"), "DEDUP"),
    n("mlslabel", None, DS, Inherit("none", "none"), "MLSLABEL"),
    n("sync", None, FSVOL, Inherit("standard", "standard"), "SYNC"),
    n("dnodesize", None, FS, Inherit("legacy", "legacy"), "DNSIZE"),
    n(
        "refcompressratio",
        Some("refratio"),
        DS,
        ReadOnly,
        "REFRATIO",
    ),
    n("written", None, DS, ReadOnly, "WRITTEN"),
    n("clones", None, SNAP, ReadOnly, "CLONES"),
    n("logicalused", Some("lused"), FSVOL, ReadOnly, "LUSED"),
    n("logicalreferenced", Some("lrefer"), ALL, ReadOnly, "LREFER"),
    n("inconsistent", None, FSVOL, ReadOnly, "INCONSISTENT"),
    n(
        "volmode",
        None,
        FSVOL,
        Inherit("default", "default"),
        "VOLMODE",
    ),
    n(
        "filesystem_limit",
        None,
        FSVOL,
        Local("none", "none"),
        "FSLIMIT",
    ),
    n(
        "snapshot_limit",
        None,
        FSVOL,
        Local("none", "none"),
        "SSLIMIT",
    ),
    n("filesystem_count", None, FSVOL, ReadOnly, "FSCOUNT"),
    n("snapshot_count", None, FSVOL, ReadOnly, "SSCOUNT"),
    n(
        "snapdev",
        None,
        FSVOL,
        Inherit("hidden", "hidden"),
        "SNAPDEV",
    ),
    n("acltype", None, FSSNAP, Inherit("off", "off"), "ACLTYPE"),
    n("context", None, DS, Local("none", "none"), "CONTEXT"),
    n("fscontext", None, DS, Local("none", "none"), "FSCONTEXT"),
    n("defcontext", None, DS, Local("none", "none"), "DEFCONTEXT"),
    n(
        "rootcontext",
        None,
        DS,
        Local("none", "none"),
        "ROOTCONTEXT",
    ),
    n("relatime", None, FS, Inherit("on", "on"), "RELATIME"),
    n(
        "redundant_metadata",
        None,
        FSVOL,
        Inherit("all", "all"),
        "REDUND_MD",
    ),
    n("overlay", None, FS, Inherit("on", "on"), "OVERLAY"),
    n("receive_resume_token", None, FSVOL, ReadOnly, "RESUMETOK"),
    n("encryption", None, DS, ReadOnly, "ENCRYPTION"),
    n(
        "keylocation",
        None,
        FSVOL,
        Local("none", "none"),
        "KEYLOCATION",
    ),
    n("keyformat", None, FSVOL, ReadOnly, "KEYFORMAT"),
    n("pbkdf2iters", None, FSVOL, ReadOnly, "PBKDF2ITERS"),
    n("encryptionroot", None, DS, ReadOnly, "ENCROOT"),
    n("keystatus", None, DS, ReadOnly, "KEYSTATUS"),
    n(
        "special_small_blocks",
        None,
        FS,
        Inherit("0", "0"),
        "SPECIAL_SMALL_BLOCKS",
    ),
    n(
        "snapshots_changed",
        None,
        FSVOL,
        ReadOnly,
        "SNAPSHOTS_CHANGED",
    ),
    n("prefetch", None, DS, Inherit("all", "all"), "PREFETCH"),
    n(
        "direct",
        None,
        FSVOL,
        Inherit("standard", "standard"),
        "DIRECT",
    ),
    n("longname", None, FS, Inherit("off", "off"), "LONGNAME"),
];

fn native(name: &str) -> Option<&'static Native> {
    NATIVE
        .iter()
        .find(|p| p.name == name || p.alias == Some(name))
}

/// True when `name` is a valid user property name (`module:prop`).
pub fn is_user(name: &str) -> bool {
    name.contains(':')
        && name.len() < 256
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"-_.:".contains(&c))
}

/// A property name as written by the user, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prop {
    /// A native property (canonical name).
    Native(&'static str),
    /// A user property.
    User(String),
}

impl Prop {
    /// Resolves a property name (or alias); `None` for an invalid name.
    pub fn resolve(name: &str) -> Option<Prop> {
        if let Some(p) = native(name) {
            return Some(Prop::Native(p.name));
        }
        is_user(name).then(|| Prop::User(name.to_string()))
    }

    /// Canonical name.
    pub fn name(&self) -> &str {
        match self {
            Prop::Native(n) => n,
            Prop::User(u) => u,
        }
    }

    /// Column header for `zfs list`.
    pub fn header(&self) -> String {
        match self {
            Prop::Native(n) => native(n).map(|p| p.header.to_string()).unwrap_or_default(),
            Prop::User(u) => u.to_uppercase(),
        }
    }

    /// Whether a numeric property (sorted numerically by `zfs list -s`).
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            Prop::Native(
                "creation"
                    | "used"
                    | "available"
                    | "referenced"
                    | "quota"
                    | "reservation"
                    | "volsize"
                    | "recordsize"
                    | "usedbysnapshots"
                    | "usedbydataset"
                    | "usedbychildren"
                    | "usedbyrefreservation"
                    | "written"
                    | "logicalused"
                    | "logicalreferenced"
                    | "refquota"
                    | "refreservation"
                    | "guid"
                    | "createtxg"
                    | "userrefs"
                    | "objsetid"
                    | "snapshots_changed"
                    | "pbkdf2iters"
            )
        )
    }
}

/// Whether native property `name` applies to `obj`.
pub fn applies(name: &str, obj: &Obj) -> bool {
    let Some(p) = native(name) else {
        return !matches!(obj, Obj::Bm(..));
    };
    match obj {
        Obj::Fs(d) if d.kind == Kind::Filesystem => p.types.fs,
        Obj::Fs(_) => p.types.vol,
        Obj::Snap(..) => p.types.snap,
        Obj::Bm(..) => p.types.bm,
    }
}

/// Whether a native property can be set with `zfs set` (on filesystems/volumes).
pub fn settable(name: &str) -> bool {
    native(name).is_some_and(|p| !matches!(p.behaviour, ReadOnly)) || name == "keylocation"
}

/// Whether a native property is inherited by descendants.
pub fn inheritable(name: &str) -> bool {
    native(name).is_some_and(|p| matches!(p.behaviour, Inherit(..)))
}

/// Every native property applicable to `obj`, in table order (for `zfs get all`).
pub fn all_native(obj: &Obj) -> Vec<Prop> {
    NATIVE
        .iter()
        .filter(|p| p.name != "name" && applies(p.name, obj))
        .map(|p| Prop::Native(p.name))
        .collect()
}

/// Reads properties of objects of one state.
pub struct Reader<'a> {
    /// The state.
    pub st: &'a State,
    /// The state directory.
    pub dirs: &'a Dirs,
    /// `-p`: exact numbers and seconds.
    pub parsable: bool,
}

fn entry_value(e: &PropEntry) -> Option<(&str, Source)> {
    if let Some(v) = &e.local {
        return Some((v, Source::Local));
    }
    if e.masked {
        return None;
    }
    e.received.as_deref().map(|v| (v, Source::Received))
}

impl Reader<'_> {
    /// The value of `prop` for `obj`; `None` when it does not apply to this type.
    pub fn get(&self, obj: &Obj, prop: &Prop) -> Option<Value> {
        match prop {
            Prop::User(u) => self.user(obj, u),
            Prop::Native(n) => {
                if !applies(n, obj) {
                    return None;
                }
                Some(self.native(obj, n))
            }
        }
    }

    /// User properties set anywhere on `obj` or its ancestors (for `zfs get all`).
    pub fn user_names(&self, obj: &Obj) -> Vec<String> {
        let mut names: BTreeMap<String, ()> = BTreeMap::new();
        if let Obj::Snap(_, s) = obj {
            names.extend(
                s.props
                    .keys()
                    .filter(|k| is_user(k))
                    .map(|k| (k.clone(), ())),
            );
        }
        let mut cur = match obj {
            Obj::Fs(d) | Obj::Snap(d, _) => Some(d.name.as_str()),
            Obj::Bm(..) => None,
        };
        while let Some(name) = cur {
            if let Some(d) = self.st.datasets.get(name) {
                names.extend(
                    d.props
                        .keys()
                        .filter(|k| is_user(k))
                        .map(|k| (k.clone(), ())),
                );
            }
            cur = crate::names::parent(name);
        }
        names.into_keys().collect()
    }

    fn user(&self, obj: &Obj, name: &str) -> Option<Value> {
        let start = match obj {
            Obj::Bm(..) => return None,
            Obj::Fs(d) => d,
            Obj::Snap(d, s) => {
                if let Some((v, src)) = s.props.get(name).and_then(entry_value) {
                    return Some(Value {
                        value: v.to_string(),
                        source: src,
                    });
                }
                d
            }
        };
        let own = matches!(obj, Obj::Fs(_));
        match self.inherited(start, name, own) {
            Some(v) => Some(v),
            None => Some(Value::ro("-")),
        }
    }

    /// Looks `name` up on `d` (its own entry only if `own`) and then its ancestors.
    fn inherited(&self, d: &Dataset, name: &str, own: bool) -> Option<Value> {
        if own && let Some((v, src)) = d.props.get(name).and_then(entry_value) {
            return Some(Value {
                value: v.to_string(),
                source: src,
            });
        }
        let from_self = !own;
        let mut cur = if from_self {
            Some(d.name.as_str())
        } else {
            crate::names::parent(&d.name)
        };
        while let Some(pname) = cur {
            if let Some(p) = self.st.datasets.get(pname)
                && let Some((v, _)) = p.props.get(name).and_then(entry_value)
            {
                return Some(Value {
                    value: v.to_string(),
                    source: Source::Inherited(pname.to_string()),
                });
            }
            cur = crate::names::parent(pname);
        }
        None
    }

    fn size(&self, n: u64) -> String {
        if self.parsable {
            n.to_string()
        } else {
            nicebytes(n)
        }
    }

    fn time(&self, t: i64, with_seconds: bool) -> String {
        if self.parsable {
            t.to_string()
        } else if with_seconds {
            date_prop_secs(t)
        } else {
            date_prop(t)
        }
    }

    fn native(&self, obj: &Obj, name: &str) -> Value {
        match name {
            "name" => Value::ro(obj.name()),
            "type" => Value::ro(obj.type_name()),
            "creation" => Value::ro(self.time(
                match obj {
                    Obj::Fs(d) => d.creation,
                    Obj::Snap(_, s) => s.creation,
                    Obj::Bm(_, b) => b.creation,
                },
                false,
            )),
            "guid" => Value::ro(
                match obj {
                    Obj::Fs(d) => d.guid,
                    Obj::Snap(_, s) => s.guid,
                    Obj::Bm(_, b) => b.guid,
                }
                .to_string(),
            ),
            "createtxg" => Value::ro(obj.createtxg().to_string()),
            "used" | "usedbydataset" | "logicalused" => {
                Value::ro(self.size(self.used(obj, name == "usedbydataset")))
            }
            "referenced" | "logicalreferenced" => Value::ro(self.size(self.referenced(obj))),
            "usedbysnapshots" | "usedbychildren" | "usedbyrefreservation" => {
                let v = if name == "usedbychildren" {
                    match obj {
                        Obj::Fs(d) => self
                            .st
                            .children(&d.name)
                            .iter()
                            .filter_map(|c| self.st.datasets.get(c))
                            .map(|c| self.used(&Obj::Fs(c), false))
                            .sum(),
                        _ => 0,
                    }
                } else {
                    0
                };
                Value::ro(self.size(v))
            }
            "written" => Value::ro(self.size(match obj {
                Obj::Fs(d) => self.written(d),
                _ => 0,
            })),
            "available" => Value::ro(self.size(self.available(obj))),
            "compressratio" | "refcompressratio" => {
                Value::ro(if self.parsable { "1.00" } else { "1.00x" })
            }
            "mounted" => Value::ro(match obj {
                Obj::Fs(d) if d.mounted => "yes",
                _ => "no",
            }),
            "origin" | "clones" => Value::ro(if name == "clones" && !self.parsable {
                ""
            } else {
                "-"
            }),
            "volblocksize" => Value::ro(if self.parsable { "16384" } else { "16K" }),
            "version" => Value::ro("5"),
            "utf8only" => Value::ro("off"),
            "normalization" => Value::ro("none"),
            "casesensitivity" => Value::ro("sensitive"),
            "userrefs" => Value::ro(match obj {
                Obj::Snap(_, s) => s.holds.len().to_string(),
                _ => "-".into(),
            }),
            "defer_destroy" => Value::ro(match obj {
                Obj::Snap(_, s) if s.defer_destroy => "on",
                _ => "off",
            }),
            "objsetid" => Value::ro(match obj {
                Obj::Fs(d) => (d.guid % 100_000).to_string(),
                Obj::Snap(_, s) => (s.guid % 100_000).to_string(),
                Obj::Bm(..) => "-".into(),
            }),
            "mountpoint" => match obj {
                Obj::Fs(d) => self.mountpoint(d),
                _ => Value::ro("-"),
            },
            "encryption" | "keyformat" | "keylocation" | "pbkdf2iters" | "encryptionroot"
            | "keystatus" => crate::crypto::prop(self, obj, name),
            "receive_resume_token" => Value::ro(match obj {
                Obj::Fs(d) => d
                    .resume
                    .as_ref()
                    .map(|r| crate::resume::encode_token(r, d))
                    .unwrap_or_else(|| "-".into()),
                _ => "-".into(),
            }),
            "snapshots_changed" => Value::ro(match obj {
                Obj::Fs(d) => match d
                    .props
                    .get("%snapshots_changed")
                    .and_then(|e| e.local.as_ref())
                {
                    Some(t) => self.time(t.parse().unwrap_or(0), true),
                    None => "-".into(),
                },
                _ => "-".into(),
            }),
            "snapshot_count" | "filesystem_count" => Value {
                value: "none".into(),
                source: Source::Default,
            },
            "inconsistent" => Value::ro(match obj {
                Obj::Fs(d) if d.inconsistent => "1",
                _ => "0",
            }),
            _ => self.settable_native(obj, name),
        }
    }

    fn settable_native(&self, obj: &Obj, name: &str) -> Value {
        let Some(p) = native(name) else {
            return Value::ro("-");
        };
        let (default_h, default_p, inherit) = match p.behaviour {
            Inherit(h, p) => (h, p, true),
            Local(h, p) => (h, p, false),
            ReadOnly => return Value::ro("-"),
        };
        let d = match obj {
            Obj::Fs(d) | Obj::Snap(d, _) => *d,
            Obj::Bm(..) => return Value::ro("-"),
        };
        let own = matches!(obj, Obj::Fs(_));
        let found = if inherit {
            self.inherited(d, name, own)
        } else if own {
            d.props.get(name).and_then(entry_value).map(|(v, s)| Value {
                value: v.to_string(),
                source: s,
            })
        } else {
            None
        };
        let mut v = found.unwrap_or(Value {
            value: if self.parsable { default_p } else { default_h }.to_string(),
            source: Source::Default,
        });
        if self.parsable && v.source != Source::Default {
            v.value = crate::format::parse_size(&v.value)
                .filter(|_| {
                    matches!(
                        name,
                        "quota"
                            | "reservation"
                            | "refquota"
                            | "refreservation"
                            | "recordsize"
                            | "volsize"
                    )
                })
                .map(|n| n.to_string())
                .unwrap_or(v.value);
        } else if !self.parsable
            && matches!(
                name,
                "quota" | "reservation" | "refquota" | "refreservation" | "recordsize" | "volsize"
            )
            && let Some(n) = crate::format::parse_size(&v.value)
        {
            v.value = if n == 0 && name != "volsize" {
                "none".into()
            } else {
                nicebytes(n)
            };
        }
        if !own {
            // Snapshots show inherited values with the filesystem as their source.
            if v.source == Source::Local || v.source == Source::Received {
                v.source = Source::Inherited(d.name.clone());
            }
        }
        v
    }

    /// The `mountpoint` property of a filesystem (altroot applied).
    pub fn mountpoint(&self, d: &Dataset) -> Value {
        let (raw, source) = self.mountpoint_raw(d);
        let altroot = self
            .st
            .pool_of(&d.name)
            .map(|p| p.altroot.as_str())
            .unwrap_or("");
        let value = if raw.starts_with('/') && !altroot.is_empty() {
            if raw == "/" {
                altroot.to_string()
            } else {
                format!("{altroot}{raw}")
            }
        } else {
            raw
        };
        Value { value, source }
    }

    fn mountpoint_raw(&self, d: &Dataset) -> (String, Source) {
        // `d` itself first (it may not be in the state yet, while being created).
        if let Some((v, src)) = d.props.get("mountpoint").and_then(entry_value) {
            return (v.to_string(), src);
        }
        let mut cur = crate::names::parent(&d.name);
        while let Some(name) = cur {
            if let Some(a) = self.st.datasets.get(name)
                && let Some((v, _)) = a.props.get("mountpoint").and_then(entry_value)
            {
                let rel = &d.name[name.len() + 1..];
                let path = match v {
                    "none" | "legacy" => v.to_string(),
                    "/" => format!("/{rel}"),
                    _ => format!("{v}/{rel}"),
                };
                return (path, Source::Inherited(name.to_string()));
            }
            cur = crate::names::parent(name);
        }
        (format!("/{}", d.name), Source::Default)
    }

    /// Where a filesystem's data lives now: its mountpoint when mounted, else its store dir.
    pub fn data_dir(&self, d: &Dataset) -> PathBuf {
        if d.mounted {
            PathBuf::from(self.mountpoint(d).value)
        } else {
            self.dirs.store(d.guid)
        }
    }

    fn referenced(&self, obj: &Obj) -> u64 {
        match obj {
            Obj::Fs(d) => {
                let nested = crate::data::nested_mounts(self.st, self.dirs, d);
                crate::data::BASE_SIZE
                    + crate::data::tree_size_excluding(&self.data_dir(d), &nested)
            }
            Obj::Snap(_, s) => s.referenced,
            Obj::Bm(d, b) => d
                .snapshots
                .iter()
                .find(|s| s.guid == b.guid)
                .map(|s| s.referenced)
                .unwrap_or(crate::data::BASE_SIZE),
        }
    }

    fn written(&self, d: &Dataset) -> u64 {
        let now = self.referenced(&Obj::Fs(d));
        if crate::data::changed_by_reads(self.st, self.dirs, d) {
            return now.saturating_sub(crate::data::BASE_SIZE).max(4096);
        }
        match d.newest_snapshot() {
            Some(s)
                if crate::data::differs_excluding(
                    &self.data_dir(d),
                    &crate::data::nested_mounts(self.st, self.dirs, d),
                    &self.dirs.snapdata(d.guid, s.guid),
                ) =>
            {
                now.saturating_sub(crate::data::BASE_SIZE).max(4096)
            }
            Some(_) => 0,
            None => now,
        }
    }

    fn used(&self, obj: &Obj, dataset_only: bool) -> u64 {
        match obj {
            Obj::Fs(d) => {
                let own = self.referenced(obj);
                if dataset_only {
                    return own;
                }
                own + self
                    .st
                    .children(&d.name)
                    .iter()
                    .filter_map(|c| self.st.datasets.get(c))
                    .map(|c| self.used(&Obj::Fs(c), false))
                    .sum::<u64>()
            }
            _ => 0,
        }
    }

    fn available(&self, obj: &Obj) -> u64 {
        let Obj::Fs(d) = obj else { return 0 };
        let pool = d.name.split('/').next().unwrap_or("");
        let used = self
            .st
            .datasets
            .get(pool)
            .map(|root| self.used(&Obj::Fs(root), false))
            .unwrap_or(0);
        crate::data::POOL_SIZE.saturating_sub(used)
    }
}

/// Longest value of index-type native properties (libzfs sizes columns to fit any value).
const INDEX_WIDTH: &[(&str, usize)] = &[
    ("type", 10),
    ("mounted", 3),
    ("canmount", 6),
    ("compression", 14),
    ("checksum", 9),
    ("atime", 3),
    ("devices", 3),
    ("exec", 3),
    ("setuid", 3),
    ("readonly", 3),
    ("snapdir", 8),
    ("xattr", 3),
    ("copies", 1),
    ("version", 7),
    ("utf8only", 3),
    ("normalization", 6),
    ("casesensitivity", 11),
    ("primarycache", 8),
    ("secondarycache", 8),
    ("logbias", 10),
    ("dedup", 14),
    ("sync", 8),
    ("dnodesize", 6),
    ("encryption", 11),
    ("keyformat", 10),
    ("keystatus", 11),
    ("defer_destroy", 3),
];

/// Minimum column width of a property in `zfs list`/`zfs get` (libzfs's `zprop_width`).
pub fn min_width(p: &Prop) -> usize {
    let header = p.header().chars().count();
    match p {
        Prop::User(u) => u.chars().count(),
        Prop::Native(n) => {
            if p.is_numeric() || matches!(*n, "compressratio" | "refcompressratio") {
                header.max(5)
            } else if let Some((_, w)) = INDEX_WIDTH.iter().find(|(k, _)| k == n) {
                header.max(*w)
            } else {
                header
            }
        }
    }
}

/// Whether a property's column is right-aligned in `zfs list` (numeric properties).
pub fn right_aligned(p: &Prop) -> bool {
    p.is_numeric() || matches!(p, Prop::Native("compressratio" | "refcompressratio"))
}
