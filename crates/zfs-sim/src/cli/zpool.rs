//! The `zpool` program: `create`, `destroy`, `list`, `get` (including `feature@...`).
//!
//! Pools have no devices in the simulator; device arguments are accepted and ignored. Every
//! pool has an altroot (`-R`, else `$ZFS_SIM_DIR/mnt`) so mountpoints stay inside test
//! directories.

use std::process::ExitCode;

use super::getopt;
use crate::errors::{Result, SimError};
use crate::faults::Faults;
use crate::format::{nicebytes, now};
use crate::list;
use crate::sim::{Sim, new_guid};
use crate::state::{Dataset, Kind, Pool, PropEntry};

/// Features reported by `zpool get feature@...` and their state.
const FEATURES: &[&str] = &[
    "async_destroy",
    "empty_bpobj",
    "lz4_compress",
    "multi_vdev_crash_dump",
    "spacemap_histogram",
    "enabled_txg",
    "hole_birth",
    "extensible_dataset",
    "embedded_data",
    "bookmarks",
    "filesystem_limits",
    "large_blocks",
    "large_dnode",
    "sha512",
    "skein",
    "edonr",
    "userobj_accounting",
    "encryption",
    "project_quota",
    "device_removal",
    "obsolete_counts",
    "zpool_checkpoint",
    "spacemap_v2",
    "allocation_classes",
    "resilver_defer",
    "bookmark_v2",
    "redaction_bookmarks",
    "redacted_datasets",
    "bookmark_written",
    "log_spacemap",
    "livelist",
    "device_rebuild",
    "zstd_compress",
    "draid",
    "zilsaxattr",
    "head_errlog",
    "blake3",
    "block_cloning",
    "vdev_zaps_v2",
    "redaction_list_spill",
    "raidz_expansion",
    "fast_dedup",
    "longname",
    "large_microzap",
];

/// Features that are active as soon as a pool exists.
const ACTIVE: &[&str] = &[
    "extensible_dataset",
    "empty_bpobj",
    "lz4_compress",
    "spacemap_histogram",
    "enabled_txg",
    "hole_birth",
    "embedded_data",
    "bookmarks",
    "bookmark_v2",
    "large_blocks",
    "large_dnode",
    "userobj_accounting",
    "project_quota",
    "spacemap_v2",
    "log_spacemap",
    "livelist",
    "zilsaxattr",
    "head_errlog",
    "vdev_zaps_v2",
];

const USAGE_CREATE: &str = "usage:\n\tcreate [-fnd] [-o property=value] ... \n\t    [-O file-system-property=value] ... \n\t    [-m mountpoint] [-R root] <pool> <vdev> ...\n";

/// Entry point of the `zpool` program.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    super::journaled(|| run(&args))
}

fn run(args: &[String]) -> Result<u8> {
    let Some(cmd) = args.first() else {
        return Err(SimError::usage("usage: zpool command args ..."));
    };
    let sim = Sim::from_env("zpool")?;
    Faults::load(&sim.dirs.root).delay();
    let rest = &args[1..];
    match cmd.as_str() {
        "create" => create(&sim, rest),
        "destroy" => destroy(&sim, rest),
        "list" => cmd_list(&sim, rest),
        "get" => cmd_get(&sim, rest),
        "sync" => sync(&sim, rest),
        other => Err(SimError::usage(format!(
            "unrecognized command '{other}'\nusage: zpool command args ..."
        ))),
    }
}

fn create(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = getopt::parse(args, "fndo:O:m:R:t:", USAGE_CREATE)?;
    let Some((name, _vdevs)) = o.args.split_first() else {
        return Err(SimError::usage(format!(
            "missing pool name argument\n{USAGE_CREATE}"
        )));
    };
    if let Err(why) = crate::names::entity_check(name) {
        return Err(SimError::new(format!("cannot create '{name}': {why}")));
    }
    if name.contains(['/', '@', '#']) || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(SimError::new(format!(
            "cannot create '{name}': name must begin with a letter"
        )));
    }
    let altroot = match o.last('R') {
        Some(r) => r.to_string(),
        None => sim.dirs.default_altroot().to_string_lossy().into_owned(),
    };
    let mut fsprops = Vec::new();
    for kv in o.all('O') {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(SimError::usage(USAGE_CREATE));
        };
        fsprops.push((k.to_string(), v.to_string()));
    }
    if let Some(m) = o.last('m') {
        fsprops.push(("mountpoint".into(), m.to_string()));
    }
    sim.mutate(|st, _| {
        if st.pools.contains_key(name.as_str()) {
            return Err(SimError::new(format!(
                "cannot create '{name}': pool already exists"
            )));
        }
        st.pools.insert(
            name.clone(),
            Pool {
                name: name.clone(),
                guid: new_guid(),
                txg: 1,
                altroot,
                creation: now(),
            },
        );
        let mut d = Dataset::new(name, Kind::Filesystem, new_guid(), 1, now());
        for (k, v) in &fsprops {
            crate::dataset::check_settable(k, false, &format!("cannot create '{name}'"))?;
            d.props.insert(
                k.clone(),
                PropEntry {
                    local: Some(v.clone()),
                    received: None,
                    masked: false,
                },
            );
        }
        d.mounted = crate::data::mountable(st, &d);
        st.datasets.insert(name.clone(), d);
        Ok(())
    })?;
    Ok(0)
}

/// `zpool sync [pool ...]`: the simulator's state is always on disk; only the names are checked.
fn sync(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = getopt::parse(args, "", "usage:\n\tsync [pool] ...\n")?;
    let (_lock, st) = sim.read()?;
    if let Some(missing) = o.args.iter().find(|p| !st.pools.contains_key(p.as_str())) {
        return Err(SimError::new(format!(
            "cannot open '{missing}': no such pool"
        )));
    }
    Ok(0)
}

fn destroy(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = getopt::parse(args, "f", "usage:\n\tdestroy [-f] <pool>\n")?;
    let [name] = o.args.as_slice() else {
        return Err(SimError::usage("usage:\n\tdestroy [-f] <pool>\n"));
    };
    sim.mutate(|st, dirs| {
        if !st.pools.contains_key(name.as_str()) {
            return Err(SimError::new(format!("cannot open '{name}': no such pool")));
        }
        let mut all = st.descendants(name);
        all.reverse();
        all.push(name.clone());
        for n in all {
            crate::destroy::remove_dataset(st, dirs, &n)?;
        }
        st.pools.remove(name.as_str());
        Ok(())
    })?;
    Ok(0)
}

/// One pool property value and source.
fn pool_prop(
    st: &crate::state::State,
    p: &Pool,
    prop: &str,
    parsable: bool,
) -> Option<(String, String)> {
    let used: u64 = st
        .datasets
        .values()
        .filter(|d| d.name == p.name || d.name.starts_with(&format!("{}/", p.name)))
        .count() as u64
        * crate::data::BASE_SIZE;
    let size = crate::data::POOL_SIZE;
    let num = |n: u64| {
        if parsable {
            n.to_string()
        } else {
            nicebytes(n)
        }
    };
    let v = match prop {
        "name" => (p.name.clone(), "-".into()),
        "size" => (num(size), "-".into()),
        "allocated" | "alloc" => (num(used), "-".into()),
        "free" => (num(size - used), "-".into()),
        "capacity" | "cap" => (if parsable { "0".into() } else { "0%".into() }, "-".into()),
        "health" => ("ONLINE".into(), "-".into()),
        "guid" => (p.guid.to_string(), "-".into()),
        "altroot" => (p.altroot.clone(), "local".into()),
        "version" => ("-".into(), "default".into()),
        "readonly" => ("off".into(), "-".into()),
        "listsnapshots" => ("off".into(), "default".into()),
        f if f.starts_with("feature@") => {
            let name = &f["feature@".len()..];
            if !FEATURES.contains(&name) {
                return None;
            }
            let active = ACTIVE.contains(&name)
                || (name == "encryption"
                    && st
                        .datasets
                        .values()
                        .any(|d| d.crypt.is_some() && d.name.split('/').next() == Some(&p.name)));
            (
                if active { "active" } else { "enabled" }.into(),
                "local".into(),
            )
        }
        _ => return None,
    };
    Some(v)
}

fn cmd_get(sim: &Sim, args: &[String]) -> Result<u8> {
    let usage = "usage:\n\tget [-Hp] [-j [--json-int, --json-pool-key-guid]]\n\t    [-o \"all\" | field[,...]] <\"all\" | property[,...]> <pool> ...\n";
    let o = getopt::parse(args, "Hpo:", usage)?;
    let Some((props, pools)) = o.args.split_first() else {
        return Err(SimError::usage(format!(
            "missing property argument\n{usage}"
        )));
    };
    let (_l, st) = sim.read()?;
    let names: Vec<String> = if pools.is_empty() {
        st.pools.keys().cloned().collect()
    } else {
        pools.to_vec()
    };
    let mut plist: Vec<String> = props.split(',').map(str::to_string).collect();
    if plist.iter().any(|p| p == "all") {
        plist = [
            "size",
            "capacity",
            "altroot",
            "health",
            "guid",
            "version",
            "free",
            "allocated",
            "readonly",
            "listsnapshots",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(FEATURES.iter().map(|f| format!("feature@{f}")))
        .collect();
    }
    let cols: Vec<String> = o
        .last('o')
        .unwrap_or("name,property,value,source")
        .split(',')
        .map(str::to_string)
        .collect();
    let mut rows = Vec::new();
    for n in &names {
        let Some(p) = st.pools.get(n) else {
            return Err(SimError::new(format!("cannot open '{n}': no such pool")));
        };
        for prop in &plist {
            let Some((value, source)) = pool_prop(&st, p, prop, o.has('p')) else {
                if prop.starts_with("feature@") {
                    // Real zpool prints nothing for an unknown feature (and exits 0).
                    continue;
                }
                return Err(SimError::usage(format!(
                    "bad property list: invalid property '{prop}'\n{usage}"
                )));
            };
            rows.push(
                cols.iter()
                    .map(|c| match c.as_str() {
                        "name" => p.name.clone(),
                        "property" => prop.clone(),
                        "value" => value.clone(),
                        "source" => source.clone(),
                        _ => "-".into(),
                    })
                    .collect::<Vec<String>>(),
            );
        }
    }
    let header: Vec<String> = cols.iter().map(|c| c.to_uppercase()).collect();
    let mut buf = Vec::new();
    list::print_table(
        &mut buf,
        (!o.has('H')).then_some(header.as_slice()),
        &[],
        &[],
        &rows,
    )
    .map_err(|e| SimError::io("format", e))?;
    print!("{}", String::from_utf8_lossy(&buf));
    Ok(0)
}

fn cmd_list(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = getopt::parse(
        args,
        "HpPgLvo:T:",
        "usage:\n\tlist [-gHLpPv] [-o property[,...]] [-T d|u] [pool] ...\n",
    )?;
    let (_l, st) = sim.read()?;
    let names: Vec<String> = if o.args.is_empty() {
        st.pools.keys().cloned().collect()
    } else {
        o.args.clone()
    };
    let cols: Vec<String> = o
        .last('o')
        .unwrap_or("name,size,allocated,free,checkpoint,expandsize,fragmentation,capacity,dedupratio,health,altroot")
        .split(',')
        .map(str::to_string)
        .collect();
    let parsable = o.has('p');
    let mut rows = Vec::new();
    for n in &names {
        let Some(p) = st.pools.get(n) else {
            return Err(SimError::new(format!("cannot open '{n}': no such pool")));
        };
        rows.push(
            cols.iter()
                .map(|c| match c.as_str() {
                    "checkpoint" | "expandsize" => "-".to_string(),
                    "fragmentation" => {
                        if parsable {
                            "0".into()
                        } else {
                            "0%".into()
                        }
                    }
                    "dedupratio" => {
                        if parsable {
                            "1.00".into()
                        } else {
                            "1.00x".into()
                        }
                    }
                    other => pool_prop(&st, p, other, parsable)
                        .map(|v| v.0)
                        .unwrap_or_else(|| "-".into()),
                })
                .collect::<Vec<String>>(),
        );
    }
    let header: Vec<String> = cols
        .iter()
        .map(|c| match c.as_str() {
            "allocated" => "ALLOC".into(),
            "checkpoint" => "CKPOINT".into(),
            "expandsize" => "EXPANDSZ".into(),
            "fragmentation" => "FRAG".into(),
            "capacity" => "CAP".into(),
            "dedupratio" => "DEDUP".into(),
            other => other.to_uppercase(),
        })
        .collect();
    let right: Vec<bool> = cols
        .iter()
        .map(|c| !matches!(c.as_str(), "name" | "altroot"))
        .collect();
    let min: Vec<usize> = cols
        .iter()
        .map(|c| {
            if c == "health" {
                8
            } else if c == "name" {
                0
            } else {
                5
            }
        })
        .collect();
    let mut buf = Vec::new();
    list::print_table(
        &mut buf,
        (!o.has('H')).then_some(header.as_slice()),
        &right,
        &min,
        &rows,
    )
    .map_err(|e| SimError::io("format", e))?;
    print!("{}", String::from_utf8_lossy(&buf));
    Ok(0)
}
