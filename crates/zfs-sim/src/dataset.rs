//! Filesystems and volumes: create, set/inherit properties, rename, mount/unmount.

use std::collections::BTreeMap;

use crate::crypto::{self, CreateCrypt};
use crate::errors::{Result, SimError};
use crate::format::now;
use crate::names::{self, Expect};
use crate::props::{self, Prop};
use crate::sim::new_guid;
use crate::state::{Dataset, Dirs, Kind, PropEntry, State};

/// Checks that `name` can be set (on a snapshot only user properties can).
pub fn check_settable(name: &str, snapshot: bool, errpfx: &str) -> Result<()> {
    match Prop::resolve(name) {
        None => Err(SimError::new(format!(
            "{errpfx}: invalid property '{name}'"
        ))),
        Some(Prop::User(_)) => Ok(()),
        Some(Prop::Native(_)) if snapshot => Err(SimError::new(format!(
            "{errpfx}: this property can not be modified for snapshots"
        ))),
        Some(Prop::Native(n)) if props::settable(n) => Ok(()),
        Some(Prop::Native(n)) => Err(SimError::new(format!("{errpfx}: '{n}' is readonly"))),
    }
}

/// Options of `zfs create`.
pub struct CreateOpts<'a> {
    /// `-p`: create missing parents.
    pub parents: bool,
    /// `-u`: do not mount.
    pub no_mount: bool,
    /// `-V size`: a volume.
    pub volsize: Option<&'a str>,
    /// `-o k=v` assignments.
    pub props: Vec<(String, String)>,
}

/// `zfs create`.
pub fn create(st: &mut State, name: &str, o: &CreateOpts) -> Result<()> {
    let errpfx = format!("cannot create '{name}'");
    names::validate(name, Expect::Dataset, true)
        .map_err(|w| SimError::new(format!("{errpfx}: {w}")))?;
    let pool = name.split('/').next().unwrap_or(name);
    if !st.pools.contains_key(pool) {
        return Err(SimError::new(format!("{errpfx}: no such pool '{pool}'")));
    }
    if st.datasets.contains_key(name) {
        if o.parents {
            return Ok(());
        }
        return Err(SimError::new(format!("{errpfx}: dataset already exists")));
    }
    let Some(parent) = names::parent(name) else {
        return Err(SimError::new(format!("{errpfx}: dataset already exists")));
    };
    if !st.datasets.contains_key(parent) {
        if !o.parents {
            return Err(SimError::new(format!("{errpfx}: parent does not exist")));
        }
        let popts = CreateOpts {
            parents: true,
            no_mount: o.no_mount,
            volsize: None,
            props: Vec::new(),
        };
        create(st, parent, &popts)?;
    }
    if st
        .datasets
        .get(parent)
        .is_some_and(|p| p.kind == Kind::Volume)
    {
        return Err(SimError::new(format!(
            "{errpfx}: parent '{parent}' is not a filesystem"
        )));
    }
    let mut crypt_req = CreateCrypt {
        encryption: None,
        keyformat: None,
        keylocation: None,
        iters: None,
    };
    let mut props = BTreeMap::new();
    for (k, v) in &o.props {
        match Prop::resolve(k) {
            Some(Prop::Native("encryption")) => crypt_req.encryption = Some(v.clone()),
            Some(Prop::Native("keyformat")) => crypt_req.keyformat = Some(v.clone()),
            Some(Prop::Native("keylocation")) => crypt_req.keylocation = Some(v.clone()),
            Some(Prop::Native("pbkdf2iters")) => {
                crypt_req.iters = Some(v.parse().map_err(|_| {
                    SimError::new(format!("{errpfx}: 'pbkdf2iters' must be a number"))
                })?)
            }
            Some(p) => {
                check_settable(k, false, &errpfx)?;
                validate_value(p.name(), v, &errpfx)?;
                props.insert(
                    p.name().to_string(),
                    PropEntry {
                        local: Some(v.clone()),
                        received: None,
                        masked: false,
                    },
                );
            }
            None => return Err(SimError::new(format!("{errpfx}: invalid property '{k}'"))),
        }
    }
    let kind = if let Some(size) = o.volsize {
        let n = crate::format::parse_size(size)
            .ok_or_else(|| SimError::new(format!("{errpfx}: bad volume size '{size}'")))?;
        props.insert(
            "volsize".into(),
            PropEntry {
                local: Some(n.to_string()),
                received: None,
                masked: false,
            },
        );
        Kind::Volume
    } else {
        Kind::Filesystem
    };
    let crypt = crypto::for_create(name, st.datasets.get(parent), &crypt_req, &errpfx)?;
    let txg = st.next_txg(pool);
    let mut d = Dataset::new(name, kind, new_guid(), txg, now());
    d.props = props;
    d.crypt = crypt;
    d.mounted = !o.no_mount && crate::data::mountable(st, &d);
    st.datasets.insert(name.to_string(), d);
    Ok(())
}

/// Light validation of native property values (the simulator accepts any user property value).
pub fn validate_value(name: &str, v: &str, errpfx: &str) -> Result<()> {
    let one_of = |opts: &[&str], shown: &str| -> Result<()> {
        if opts.contains(&v) {
            Ok(())
        } else {
            Err(SimError::new(format!(
                "{errpfx}: '{name}' must be one of '{shown}'"
            )))
        }
    };
    match name {
        "atime" | "readonly" | "devices" | "exec" | "setuid" => one_of(&["on", "off"], "on | off"),
        "canmount" => one_of(&["on", "off", "noauto"], "on | off | noauto"),
        "mountpoint" => {
            if v == "none" || v == "legacy" || v.starts_with('/') {
                Ok(())
            } else {
                Err(SimError::new(format!(
                    "{errpfx}: 'mountpoint' must be an absolute path, 'none', or 'legacy'"
                )))
            }
        }
        "quota" | "reservation" | "refquota" | "refreservation" | "recordsize" | "volsize" => {
            if crate::format::parse_size(v).is_some() {
                Ok(())
            } else {
                Err(SimError::new(format!("{errpfx}: bad numeric value '{v}'")))
            }
        }
        "keylocation" => {
            if v == "prompt" || v.starts_with("file://") || v.starts_with("http") {
                Ok(())
            } else {
                Err(SimError::new(format!("{errpfx}: Invalid keylocation")))
            }
        }
        _ => Ok(()),
    }
}

/// `zfs set k=v ... target`: sets on a filesystem/volume or (user properties) a snapshot.
pub fn set(st: &mut State, target: &str, assigns: &[(String, String)]) -> Result<()> {
    let errpfx = format!("cannot set property for '{target}'");
    match names::Name::parse(target) {
        names::Name::Snapshot(fs, snap) => {
            for (k, _) in assigns {
                check_settable(k, true, &errpfx)?;
            }
            let s = snapshot_mut(st, &fs, &snap, target)?;
            for (k, v) in assigns {
                s.props.entry(k.clone()).or_default().local = Some(v.clone());
            }
            Ok(())
        }
        names::Name::Bookmark(..) => Err(SimError::new(format!(
            "{errpfx}: this property can not be modified for bookmarks"
        ))),
        names::Name::Dataset(name) => {
            st.get(&name)?;
            for (k, v) in assigns {
                check_settable(k, false, &errpfx)?;
                let p = Prop::resolve(k)
                    .ok_or_else(|| SimError::new(format!("{errpfx}: invalid property '{k}'")))?;
                validate_value(p.name(), v, &errpfx)?;
                if let Prop::Native(n) = p
                    && !props::applies(n, &props::Obj::Fs(st.get(&name)?))
                {
                    return Err(SimError::new(format!(
                        "{errpfx}: '{n}' does not apply to datasets of this type"
                    )));
                }
                if p.name() == "keylocation" {
                    set_keylocation(st, &name, v, &errpfx)?;
                    continue;
                }
                if let Some(d) = st.datasets.get_mut(&name) {
                    d.props.entry(p.name().to_string()).or_default().local = Some(v.clone());
                }
                if p.name() == "mountpoint" {
                    remount_subtree(st, &name);
                }
            }
            Ok(())
        }
    }
}

/// Snapshot `fs@snap` for changing, or "dataset does not exist" naming `full`.
fn snapshot_mut<'a>(
    st: &'a mut State,
    fs: &str,
    snap: &str,
    full: &str,
) -> Result<&'a mut crate::state::Snapshot> {
    st.datasets
        .get_mut(fs)
        .and_then(|d| d.snapshot_mut(snap))
        .ok_or_else(|| SimError::no_such_dataset(full))
}

fn set_keylocation(st: &mut State, name: &str, v: &str, errpfx: &str) -> Result<()> {
    let d = st.get(name)?;
    match d.crypt.as_ref() {
        Some(c) if c.root == name => {}
        Some(_) => {
            return Err(SimError::new(format!(
                "{errpfx}: keylocation must not be set on a non-encryption-root dataset"
            )));
        }
        None => {
            return Err(SimError::new(format!(
                "{errpfx}: keylocation must be 'none' for unencrypted datasets"
            )));
        }
    }
    if let Some(k) = st
        .datasets
        .get_mut(name)
        .and_then(|d| d.crypt.as_mut())
        .and_then(|c| c.key.as_mut())
    {
        k.location = v.to_string();
    }
    Ok(())
}

/// After a mountpoint change: datasets of the subtree that are mountable become mounted at the
/// new place, those no longer mountable are unmounted.
pub fn remount_subtree(st: &mut State, name: &str) {
    let mut names = vec![name.to_string()];
    names.extend(st.descendants(name));
    for n in names {
        let Some(d) = st.datasets.get(&n) else {
            continue;
        };
        let m = crate::data::mountable(st, d);
        if let Some(d) = st.datasets.get_mut(&n)
            && (d.mounted || !m)
        {
            d.mounted = m;
        }
    }
}

/// `zfs inherit [-r] [-S] prop target...`.
pub fn inherit(
    st: &mut State,
    prop: &str,
    target: &str,
    recursive: bool,
    received: bool,
) -> Result<()> {
    let errpfx = format!("cannot inherit {prop} for '{target}'");
    let p =
        Prop::resolve(prop).ok_or_else(|| SimError::new(format!("invalid property '{prop}'")))?;
    if let Prop::Native(n) = &p
        && !props::inheritable(n)
        && !received
    {
        if props::settable(n) {
            return Err(SimError::new(format!(
                "'{n}' property cannot be inherited\nuse 'zfs set {n}=none' to clear\nuse 'zfs inherit -S {n}' to revert to received value"
            )));
        }
        return Err(SimError::new(format!("{errpfx}: '{n}' is readonly")));
    }
    let mut targets = vec![target.to_string()];
    if recursive {
        targets.extend(st.descendants(target));
    }
    match names::Name::parse(target) {
        names::Name::Snapshot(fs, snap) => {
            let s = snapshot_mut(st, &fs, &snap, target)?;
            clear(&mut s.props, p.name(), received);
        }
        _ => {
            st.get(target)?;
            for t in &targets {
                if let Some(d) = st.datasets.get_mut(t) {
                    clear(&mut d.props, p.name(), received);
                }
            }
            if p.name() == "mountpoint" {
                remount_subtree(st, target);
            }
        }
    }
    Ok(())
}

/// `zfs inherit`: drops the local value; the received value is masked by inheritance, unless
/// `revert_to_received` (`-S`).
fn clear(props: &mut BTreeMap<String, PropEntry>, name: &str, revert_to_received: bool) {
    if let Some(e) = props.get_mut(name) {
        e.local = None;
        e.masked = e.received.is_some() && !revert_to_received;
        if e.received.is_none() {
            props.remove(name);
        }
    }
}

/// `zfs rename [-p] [-u] old new` for filesystems/volumes, and `fs@a fs@b` [-r] for snapshots.
pub fn rename(st: &mut State, old: &str, new: &str, parents: bool, recursive: bool) -> Result<()> {
    let errpfx = format!("cannot rename to '{new}'");
    if let names::Name::Snapshot(fs, snap) = names::Name::parse(old) {
        let newsnap = match names::Name::parse(new) {
            names::Name::Snapshot(nfs, ns) if nfs == fs => ns,
            names::Name::Snapshot(..) => {
                return Err(SimError::new(format!(
                    "cannot rename to '{new}': snapshots must be part of same dataset"
                )));
            }
            _ => new.trim_start_matches('@').to_string(),
        };
        names::validate(&format!("{fs}@{newsnap}"), Expect::Snapshot, true)
            .map_err(|w| SimError::new(format!("{errpfx}: {w}")))?;
        let mut targets = vec![fs.clone()];
        if recursive {
            targets.extend(st.descendants(&fs));
        }
        st.get(&fs)?
            .snapshot(&snap)
            .ok_or_else(|| SimError::no_such_dataset(old))?;
        let targets: Vec<String> = targets
            .into_iter()
            .filter(|t| {
                st.datasets
                    .get(t)
                    .is_some_and(|d| d.snapshot(&snap).is_some())
            })
            .collect();
        for t in &targets {
            if st
                .datasets
                .get(t)
                .is_some_and(|d| d.snapshot(&newsnap).is_some())
            {
                return Err(SimError::new(format!(
                    "cannot rename to '{t}@{newsnap}': dataset already exists"
                )));
            }
        }
        for t in targets {
            if let Some(s) = st.datasets.get_mut(&t).and_then(|d| d.snapshot_mut(&snap)) {
                s.name = newsnap.clone();
            }
        }
        return Ok(());
    }
    names::validate(new, Expect::Dataset, true)
        .map_err(|w| SimError::new(format!("{errpfx}: {w}")))?;
    st.get(old)?;
    if st.datasets.contains_key(new) {
        return Err(SimError::new(format!(
            "cannot rename '{old}': dataset already exists"
        )));
    }
    if old.split('/').next() != new.split('/').next() {
        return Err(SimError::new(format!(
            "cannot rename to '{new}': datasets must be within same pool"
        )));
    }
    if new.starts_with(&format!("{old}/")) {
        return Err(SimError::new(format!(
            "cannot rename to '{new}': New dataset name cannot be a descendant of current dataset name"
        )));
    }
    let parent = names::parent(new).unwrap_or(new);
    if !st.datasets.contains_key(parent) {
        if !parents {
            return Err(SimError::new(format!("{errpfx}: parent does not exist")));
        }
        create(
            st,
            parent,
            &CreateOpts {
                parents: true,
                no_mount: false,
                volsize: None,
                props: Vec::new(),
            },
        )?;
    }
    let mut moved = vec![old.to_string()];
    moved.extend(st.descendants(old));
    for n in moved {
        if let Some(mut d) = st.datasets.remove(&n) {
            let nn = format!("{new}{}", &n[old.len()..]);
            d.name = nn.clone();
            st.datasets.insert(nn, d);
        }
    }
    for d in st.datasets.values_mut() {
        if let Some(c) = d.crypt.as_mut()
            && (c.root == old || c.root.starts_with(&format!("{old}/")))
        {
            c.root = format!("{new}{}", &c.root[old.len()..]);
        }
    }
    Ok(())
}

/// `zfs mount ds`.
pub fn mount(st: &mut State, name: &str) -> Result<()> {
    let d = st.get(name)?;
    let errpfx = format!("cannot mount '{name}'");
    if d.kind != Kind::Filesystem {
        return Err(SimError::new(format!(
            "{errpfx}: operation not applicable to datasets of this type"
        )));
    }
    if d.mounted {
        return Err(SimError::new(format!(
            "{errpfx}: filesystem already mounted"
        )));
    }
    if !crypto::key_available(st, d) {
        return Err(SimError::new(format!(
            "{errpfx}: encryption key not loaded"
        )));
    }
    let mp = props::Reader {
        st,
        dirs: &Dirs {
            root: Default::default(),
        },
        parsable: true,
    }
    .mountpoint(d)
    .value;
    if mp == "none" {
        return Err(SimError::new(format!("{errpfx}: no mountpoint set")));
    }
    if mp == "legacy" {
        return Err(SimError::new(format!(
            "cannot mount '{name}': legacy mountpoint\nuse mount(8) to mount this filesystem"
        )));
    }
    if let Some(d) = st.datasets.get_mut(name) {
        d.mounted = true;
    }
    Ok(())
}

/// `zfs unmount ds` (also unmounts mounted descendants, like the real command).
pub fn unmount(st: &mut State, dirs: &Dirs, name: &str) -> Result<()> {
    let d = st.get(name)?;
    if !d.mounted {
        return Err(SimError::new(format!(
            "cannot unmount '{name}': not currently mounted"
        )));
    }
    let mut all = st.descendants(name);
    all.push(name.to_string());
    for n in all {
        crate::data::remember_reads(st, dirs, &n);
        if let Some(d) = st.datasets.get_mut(&n) {
            d.mounted = false;
        }
    }
    Ok(())
}

/// Mounts every mountable, unmounted filesystem (`zfs mount -a`).
pub fn mount_all(st: &mut State) {
    let names: Vec<String> = st.datasets.keys().cloned().collect();
    for n in names {
        let m = st
            .datasets
            .get(&n)
            .is_some_and(|d| !d.mounted && crate::data::mountable(st, d));
        if m && let Some(d) = st.datasets.get_mut(&n) {
            d.mounted = true;
        }
    }
}
