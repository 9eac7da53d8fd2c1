//! The `zfs` program: argument parsing and output of every subcommand the simulator supports.

use std::io::{self, Write};
use std::process::ExitCode;

use super::getopt::{self, Opts};
use crate::dataset::{self, CreateOpts};
use crate::destroy::{self, DestroyOpts};
use crate::errors::{Result, SimError};
use crate::faults::Faults;
use crate::list::{self, SortCol, TypeSet, Walk};
use crate::props::{self, Obj, Prop, Reader, Source};
use crate::recv::{self, Naming, RecvOpts};
use crate::send::{self, SendOpts};
use crate::sim::Sim;
use crate::stream::Flags;

/// Version lines printed by `zfs version`.
pub const VERSION: &str = "zfs-2.3.2-sim\nzfs-kmod-2.3.2-sim";

const HELP_TAIL: &str = "\nFor the property list, run: zfs set|get\n\nFor the delegated permission list, run: zfs allow|unallow\n\nFor further help on a command or topic, run: zfs help [<topic>]";

fn usage(cmd: &str) -> String {
    let body = match cmd {
        "list" => {
            "\tlist [-Hp] [-j [--json-int]] [-r|-d max] [-o property[,...]] [-s property]...\n\t    [-S property]... [-t type[,...]] [filesystem|volume|snapshot] ..."
        }
        "get" => {
            "\tget [-rHp] [-j [--json-int]] [-d max] [-o \"all\" | field[,...]]\n\t    [-t type[,...]] [-s source[,...]]\n\t    <\"all\" | property[,...]> [filesystem|volume|snapshot|bookmark] ..."
        }
        "set" => "\tset [-u] <property=value> ... <filesystem|volume|snapshot> ...",
        "inherit" => "\tinherit [-rS] <property> <filesystem|volume|snapshot> ...",
        "create" => {
            "\tcreate [-Pnpuv] [-o property=value] ... <filesystem>\n\tcreate [-Pnpsv] [-b blocksize] [-o property=value] ... -V <size> <volume>"
        }
        "destroy" => {
            "\tdestroy [-fnpRrv] <filesystem|volume>\n\tdestroy [-dnpRrv] <filesystem|volume>@<snap>[%<snap>][,...]\n\tdestroy <filesystem|volume>#<bookmark>"
        }
        "snapshot" => "\tsnapshot [-r] [-o property=value] ... <filesystem|volume>@<snap> ...",
        "rollback" => "\trollback [-rRf] <snapshot>",
        "bookmark" => "\tbookmark <snapshot|bookmark> <newbookmark>",
        "hold" => "\thold [-r] <tag> <snapshot> ...",
        "release" => "\trelease [-r] <tag> <snapshot> ...",
        "holds" => "\tholds [-rHp] <snapshot> ...",
        "rename" => {
            "\trename [-f] <filesystem|volume|snapshot> <filesystem|volume|snapshot>\n\trename -p [-f] <filesystem|volume> <filesystem|volume>\n\trename -u [-f] <filesystem> <filesystem>\n\trename -r <snapshot> <snapshot>"
        }
        "send" => return send::USAGE.to_string(),
        "receive" => {
            "\treceive [-vMnsFhu] [-o <property>=<value>] ... [-x <property>] ...\n\t    <filesystem|volume|snapshot>\n\treceive [-vMnsFhu] [-o <property>=<value>] ... [-x <property>] ... \n\t    [-d | -e] <filesystem>\n\treceive -A <filesystem|volume>"
        }
        "load-key" => "\tload-key [-rn] [-L <keylocation>] <-a | filesystem|volume>",
        "unload-key" => "\tunload-key [-r] <-a | filesystem|volume>",
        "mount" => "\tmount [-j]\n\tmount [-flvO] [-o opts] <-a|-R filesystem|filesystem>",
        "unmount" => "\tunmount [-fu] <-a | filesystem|mountpoint>",
        _ => "",
    };
    format!("usage:\n{body}\n{HELP_TAIL}")
}

/// Entry point of the `zfs` program.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    super::journaled(|| run(&args))
}

fn run(args: &[String]) -> Result<u8> {
    let Some(cmd) = args.first() else {
        return Err(SimError::usage("usage: zfs command args ..."));
    };
    if cmd == "version" || cmd == "--version" || cmd == "-V" {
        println!("{VERSION}");
        return Ok(0);
    }
    let sim = Sim::from_env("zfs")?;
    let faults = Faults::load(&sim.dirs.root);
    faults.delay();
    let rest = &args[1..];
    match cmd.as_str() {
        "list" | "ls" => cmd_list(&sim, rest),
        "get" => cmd_get(&sim, rest),
        "set" => cmd_set(&sim, rest),
        "inherit" => cmd_inherit(&sim, rest),
        "create" => cmd_create(&sim, rest),
        "destroy" => cmd_destroy(&sim, rest),
        "snapshot" | "snap" => cmd_snapshot(&sim, rest),
        "rollback" => cmd_rollback(&sim, rest),
        "bookmark" => cmd_bookmark(&sim, rest),
        "hold" => cmd_hold(&sim, rest),
        "release" => cmd_release(&sim, rest),
        "holds" => cmd_holds(&sim, rest),
        "rename" => cmd_rename(&sim, rest),
        "send" => cmd_send(&sim, rest, &faults),
        "receive" | "recv" => cmd_receive(&sim, rest, &faults),
        "load-key" => cmd_load_key(&sim, rest),
        "unload-key" => cmd_unload_key(&sim, rest),
        "mount" => cmd_mount(&sim, rest),
        "unmount" | "umount" => cmd_unmount(&sim, rest),
        other => Err(SimError::usage(format!(
            "unrecognized command '{other}'\nusage: zfs command args ..."
        ))),
    }
}

fn opts(args: &[String], spec: &str, cmd: &str) -> Result<Opts> {
    getopt::parse(args, spec, &usage(cmd))
}

/// The single operand of a command, or its usage error (`missing`: what was not given).
fn one_arg<'a>(o: &'a Opts, missing: &str, cmd: &str) -> Result<&'a String> {
    match o.args.as_slice() {
        [one] => Ok(one),
        args => Err(SimError::usage(format!(
            "{}\n{}",
            if args.is_empty() {
                missing
            } else {
                "too many arguments"
            },
            usage(cmd)
        ))),
    }
}

/// `-o k=v` arguments as pairs.
fn assignments(list: Vec<&str>, cmd: &str) -> Result<Vec<(String, String)>> {
    list.into_iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| {
                    SimError::usage(format!(
                        "missing '=' for property=value argument\n{}",
                        usage(cmd)
                    ))
                })
        })
        .collect()
}

fn depth(o: &Opts, cmd: &str) -> Result<Option<usize>> {
    match o.last('d') {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| SimError::usage(format!("invalid depth '{v}'\n{}", usage(cmd)))),
    }
}

fn parse_props(list: &str, cmd: &str, allow_all: bool) -> Result<Vec<Prop>> {
    let mut out = Vec::new();
    for p in list.split(',') {
        if allow_all && p == "all" {
            continue;
        }
        match Prop::resolve(p) {
            Some(x) => out.push(x),
            None => {
                return Err(SimError::usage(format!(
                    "bad property list: invalid property '{p}'\n{}",
                    usage(cmd)
                )));
            }
        }
    }
    Ok(out)
}

fn write_out(text: &[u8]) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text).and_then(|_| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(SimError::io("write output", e)),
        _ => Ok(()),
    }
}

fn cmd_list(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = opts(args, "jHS:d:o:prs:t:", "list")?;
    let types_given = o.last('t');
    let types = match types_given {
        Some(t) => TypeSet::parse(t)
            .map_err(|bad| SimError::usage(format!("invalid type '{bad}'\n{}", usage("list"))))?,
        // ZFS_TYPE_DATASET: a snapshot named as an argument is listed; recursion only adds
        // snapshots when asked for with -t (the pool's listsnapshots is off).
        None => TypeSet {
            fs: true,
            vol: true,
            snap: true,
            bm: false,
        },
    };
    let fields = o
        .last('o')
        .unwrap_or("name,used,available,referenced,mountpoint");
    let mut cols = parse_props(fields, "list", false)?;
    if fields == "all" {
        cols = Vec::new();
    }
    let mut sort = Vec::new();
    for (c, a) in &o.opts {
        if let ('s' | 'S', Some(p)) = (c, a) {
            let prop = Prop::resolve(p).ok_or_else(|| {
                SimError::usage(format!("invalid property '{p}'\n{}", usage("list")))
            })?;
            sort.push(SortCol {
                prop,
                reverse: *c == 'S',
            });
        }
    }
    let mut depth_limit = depth(&o, "list")?;
    let mut recurse = o.has('r') || depth_limit.is_some();
    let only_versions = types_given.is_some()
        && !types.fs
        && !types.vol
        && (types.snap != types.bm || (types.snap && types.bm))
        && (types.snap || types.bm);
    if only_versions && !o.args.is_empty() && !recurse && (types.snap ^ types.bm) {
        recurse = true;
        depth_limit = Some(1);
    }
    let walk = Walk {
        types,
        recurse,
        depth_limit,
        include_snaps: types_given.is_some() && types.snap,
        include_bmarks: types.bm,
    };
    let mut arg_types = if types_given.is_some() {
        types
    } else {
        TypeSet {
            fs: true,
            vol: true,
            snap: true,
            bm: false,
        }
    };
    if recurse {
        arg_types.fs = true;
        if types.snap || types.bm {
            arg_types.vol = true;
        }
    }
    let (_lock, st) = sim.read()?;
    let (mut objs, failed) = list::collect(&st, &o.args, &walk, arg_types);
    let reader = Reader {
        st: &st,
        dirs: &sim.dirs,
        parsable: o.has('p'),
    };
    list::sort(&mut objs, &sort, &reader);
    if objs.is_empty() {
        if !failed && !o.has('H') {
            eprintln!("no datasets available");
        }
        return Ok(u8::from(failed));
    }
    let cell = |obj: &Obj, p: &Prop| match reader.get(obj, p) {
        Some(v) if v.value.is_empty() => "-".to_string(),
        Some(v) => v.value,
        None => "-".to_string(),
    };
    if o.has('H') {
        // Scripted output streams row by row: a million versions need no table in memory.
        let mut out = io::BufWriter::with_capacity(1 << 20, io::stdout().lock());
        let mut line = String::new();
        for obj in &objs {
            line.clear();
            for (i, p) in cols.iter().enumerate() {
                if i > 0 {
                    line.push('\t');
                }
                line.push_str(&cell(obj, p));
            }
            line.push('\n');
            match out.write_all(line.as_bytes()) {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(u8::from(failed)),
                Err(e) => return Err(SimError::io("write output", e)),
                Ok(()) => {}
            }
        }
        match out.flush() {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                return Err(SimError::io("write output", e));
            }
            _ => return Ok(u8::from(failed)),
        }
    }
    let rows: Vec<Vec<String>> = objs
        .iter()
        .map(|obj| cols.iter().map(|p| cell(obj, p)).collect())
        .collect();
    let header: Vec<String> = cols.iter().map(Prop::header).collect();
    let right: Vec<bool> = cols.iter().map(props::right_aligned).collect();
    let min: Vec<usize> = cols.iter().map(props::min_width).collect();
    let mut buf = Vec::with_capacity(rows.len() * 64);
    list::print_table(&mut buf, Some(&header), &right, &min, &rows)
        .map_err(|e| SimError::io("format", e))?;
    write_out(&buf)?;
    Ok(u8::from(failed))
}

/// Columns of `zfs get -o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GetCol {
    Name,
    Property,
    Value,
    Received,
    Source,
}

fn cmd_get(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = opts(args, "jrHpd:o:s:t:", "get")?;
    let mut cols = vec![
        GetCol::Name,
        GetCol::Property,
        GetCol::Value,
        GetCol::Source,
    ];
    if let Some(f) = o.last('o') {
        cols.clear();
        for c in f.split(',') {
            cols.push(match c {
                "name" => GetCol::Name,
                "property" => GetCol::Property,
                "value" => GetCol::Value,
                "received" => GetCol::Received,
                "source" => GetCol::Source,
                "all" => {
                    cols.extend([
                        GetCol::Name,
                        GetCol::Property,
                        GetCol::Value,
                        GetCol::Received,
                        GetCol::Source,
                    ]);
                    continue;
                }
                bad => {
                    return Err(SimError::usage(format!(
                        "invalid column name '{bad}'\n{}",
                        usage("get")
                    )));
                }
            });
        }
    }
    let sources: Option<Vec<String>> = o
        .last('s')
        .map(|s| s.split(',').map(str::to_string).collect());
    let types = match o.last('t') {
        Some(t) => TypeSet::parse(t)
            .map_err(|bad| SimError::usage(format!("invalid type '{bad}'\n{}", usage("get"))))?,
        None => TypeSet {
            fs: true,
            vol: true,
            snap: true,
            bm: true,
        },
    };
    let Some((propspec, targets)) = o.args.split_first() else {
        return Err(SimError::usage(format!(
            "missing property argument\n{}",
            usage("get")
        )));
    };
    let all = propspec.split(',').any(|p| p == "all");
    let explicit = parse_props(propspec, "get", true)?;
    let depth_limit = depth(&o, "get")?;
    let walk = Walk {
        types,
        recurse: o.has('r') || depth_limit.is_some(),
        depth_limit,
        include_snaps: types.snap,
        include_bmarks: types.bm,
    };
    let (_lock, st) = sim.read()?;
    let (mut objs, failed) = list::collect(&st, targets, &walk, {
        let mut t = types;
        if walk.recurse {
            t.fs = true;
            t.vol = true;
        }
        t
    });
    let reader = Reader {
        st: &st,
        dirs: &sim.dirs,
        parsable: o.has('p'),
    };
    list::sort(&mut objs, &[], &reader);
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut value_width = 5usize;
    for p in &explicit {
        value_width = value_width.max(props::min_width(p));
    }
    for obj in &objs {
        let mut plist: Vec<(Prop, bool)> = explicit.iter().map(|p| (p.clone(), true)).collect();
        if all {
            plist = props::all_native(obj)
                .into_iter()
                .map(|p| (p, false))
                .collect();
            plist.extend(
                reader
                    .user_names(obj)
                    .into_iter()
                    .map(|u| (Prop::User(u), false)),
            );
            for p in &explicit {
                if !plist.iter().any(|(q, _)| q == p) {
                    plist.push((p.clone(), true));
                }
            }
        }
        for (p, is_explicit) in plist {
            let v = match reader.get(obj, &p) {
                Some(v) => v,
                None if is_explicit => props::Value {
                    value: "-".into(),
                    source: Source::None,
                },
                None => continue,
            };
            // `zfs get all` leaves out properties that have no value for this object.
            if !is_explicit && hidden_when_unset(&p, &v) {
                continue;
            }
            if let Some(srcs) = &sources
                && !source_matches(&v.source, srcs)
            {
                continue;
            }
            if all {
                value_width = value_width.max(props::min_width(&p));
            }
            let received = received_value(obj, &p);
            let value = if v.value.is_empty() {
                "-".to_string()
            } else {
                v.value
            };
            rows.push(
                cols.iter()
                    .map(|c| match c {
                        GetCol::Name => obj.name(),
                        GetCol::Property => p.name().to_string(),
                        GetCol::Value => value.clone(),
                        GetCol::Received => received.clone(),
                        GetCol::Source => v.source.text(),
                    })
                    .collect(),
            );
        }
    }
    let mut buf = Vec::new();
    if o.has('H') {
        list::print_table(&mut buf, None, &[], &[], &rows)
            .map_err(|e| SimError::io("format", e))?;
    } else if !rows.is_empty() {
        let header: Vec<String> = cols
            .iter()
            .map(|c| {
                match c {
                    GetCol::Name => "NAME",
                    GetCol::Property => "PROPERTY",
                    GetCol::Value => "VALUE",
                    GetCol::Received => "RECEIVED",
                    GetCol::Source => "SOURCE",
                }
                .to_string()
            })
            .collect();
        let min: Vec<usize> = cols
            .iter()
            .map(|c| match c {
                GetCol::Value => value_width,
                GetCol::Property => explicit.iter().map(|p| p.name().len()).max().unwrap_or(0),
                _ => 0,
            })
            .collect();
        list::print_table(&mut buf, Some(&header), &[], &min, &rows)
            .map_err(|e| SimError::io("format", e))?;
    }
    write_out(&buf)?;
    Ok(u8::from(failed))
}

/// Properties `zfs get all` omits while they are unset (as OpenZFS does).
fn hidden_when_unset(p: &Prop, v: &props::Value) -> bool {
    let unset = v.source == Source::None && (v.value == "-" || v.value.is_empty());
    match p {
        Prop::Native("inconsistent") => true,
        Prop::Native(
            "origin"
            | "clones"
            | "receive_resume_token"
            | "snapshots_changed"
            | "encryptionroot"
            | "keystatus",
        ) => unset,
        _ => false,
    }
}

fn source_matches(s: &Source, wanted: &[String]) -> bool {
    let name = match s {
        Source::None => "none",
        Source::Local => "local",
        Source::Default => "default",
        Source::Inherited(_) => "inherited",
        Source::Received => "received",
    };
    wanted.iter().any(|w| w == name)
}

fn received_value(obj: &Obj, p: &Prop) -> String {
    let props = match obj {
        Obj::Fs(d) => &d.props,
        Obj::Snap(_, s) => &s.props,
        Obj::Bm(..) => return "-".into(),
    };
    props
        .get(p.name())
        .and_then(|e| e.received.clone())
        .unwrap_or_else(|| "-".into())
}

fn cmd_set(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = opts(args, "u", "set")?;
    let split = o.args.iter().take_while(|a| a.contains('=')).count();
    let (assigns, targets) = o.args.split_at(split);
    if assigns.is_empty() {
        return Err(SimError::usage(format!(
            "missing property=value argument(s)\n{}",
            usage("set")
        )));
    }
    if targets.is_empty() {
        return Err(SimError::usage(format!(
            "missing dataset name(s)\n{}",
            usage("set")
        )));
    }
    let pairs: Vec<(String, String)> = assigns
        .iter()
        .filter_map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let mut code = 0;
    for t in targets {
        let r = sim.mutate(|st, _| dataset::set(st, t, &pairs));
        if let Err(mut e) = r {
            // `zfs set` reports property errors with exit status 255.
            if e.message.starts_with("cannot set property") {
                e.code = 255;
            }
            super::fail(&e);
            code = e.code;
        }
    }
    Ok(code)
}

fn cmd_inherit(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = opts(args, "rS", "inherit")?;
    let Some((prop, targets)) = o.args.split_first() else {
        return Err(SimError::usage(format!(
            "missing property argument\n{}",
            usage("inherit")
        )));
    };
    if targets.is_empty() {
        return Err(SimError::usage(format!(
            "missing dataset argument\n{}",
            usage("inherit")
        )));
    }
    for t in targets {
        sim.mutate(|st, _| dataset::inherit(st, prop, t, o.has('r'), o.has('S')))?;
    }
    Ok(0)
}

fn cmd_create(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = opts(args, "pusnvPo:V:b:", "create")?;
    let name = one_arg(&o, "missing filesystem argument", "create")?;
    let props = assignments(o.all('o'), "create")?;
    let co = CreateOpts {
        parents: o.has('p'),
        no_mount: o.has('u'),
        volsize: o.last('V'),
        props,
    };
    sim.mutate(|st, _| dataset::create(st, name, &co))?;
    Ok(0)
}

fn cmd_destroy(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = opts(args, "vpndfrR", "destroy")?;
    let target = one_arg(&o, "missing dataset argument", "destroy")?;
    let d = DestroyOpts {
        recursive: o.has('r') || o.has('R'),
        defer: o.has('d'),
        dry_run: o.has('n'),
    };
    let report = sim.mutate(|st, dirs| destroy::destroy(st, dirs, target, d))?;
    if o.has('v') || o.has('p') {
        let mut out = String::new();
        for n in &report.destroyed {
            if o.has('p') {
                out.push_str(&format!("destroy\t{n}\n"));
            } else {
                out.push_str(&format!(
                    "{} {n}\n",
                    if d.dry_run {
                        "would destroy"
                    } else {
                        "will destroy"
                    }
                ));
            }
        }
        // Snapshot destroys also report the space they free.
        if target.contains('@') {
            if o.has('p') {
                out.push_str("reclaim\t0\n");
            } else if d.dry_run {
                out.push_str("would reclaim 0B\n");
            } else {
                out.push_str("will reclaim 0B\n");
            }
        }
        write_out(out.as_bytes())?;
    }
    Ok(0)
}

fn cmd_snapshot(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = opts(args, "ro:", "snapshot")?;
    if o.args.is_empty() {
        return Err(SimError::usage(usage("snapshot")));
    }
    let mut props = Vec::new();
    for kv in o.all('o') {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(SimError::usage(usage("snapshot")));
        };
        if !props::is_user(k) {
            return Err(SimError::new(format!(
                "cannot create snapshot '{}': invalid property '{k}'",
                o.args[0]
            )));
        }
        props.push((k.to_string(), v.to_string()));
    }
    sim.mutate(|st, dirs| crate::snapshot::snapshot(st, dirs, &o.args, o.has('r'), &props))?;
    Ok(0)
}

fn cmd_rollback(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = opts(args, "rRf", "rollback")?;
    let [target] = o.args.as_slice() else {
        return Err(SimError::usage(format!(
            "missing dataset argument\n{}",
            usage("rollback")
        )));
    };
    sim.mutate(|st, dirs| crate::snapshot::rollback(st, dirs, target, o.has('r') || o.has('R')))?;
    Ok(0)
}

fn cmd_bookmark(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = opts(args, "", "bookmark")?;
    let [src, dst] = o.args.as_slice() else {
        return Err(SimError::usage(format!(
            "{}\n{}",
            if o.args.len() < 2 {
                "missing bookmark argument"
            } else {
                "too many arguments"
            },
            usage("bookmark")
        )));
    };
    sim.mutate(|st, _| crate::bookmarks::bookmark(st, src, dst))?;
    Ok(0)
}

fn cmd_hold(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = opts(args, "r", "hold")?;
    let Some((tag, snaps)) = o.args.split_first().filter(|(_, s)| !s.is_empty()) else {
        return Err(SimError::usage(usage("hold")));
    };
    let errors = sim.mutate(|st, _| Ok(crate::holds::hold(st, tag, snaps, o.has('r'))))?;
    report_errors(&errors)
}

fn cmd_release(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = opts(args, "r", "release")?;
    let Some((tag, snaps)) = o.args.split_first().filter(|(_, s)| !s.is_empty()) else {
        return Err(SimError::usage(usage("release")));
    };
    let errors = sim.mutate(|st, dirs| crate::holds::release(st, dirs, tag, snaps, o.has('r')))?;
    report_errors(&errors)
}

/// Prints per-argument errors; exit status 1 if there were any.
fn report_errors(errors: &[String]) -> Result<u8> {
    for e in errors {
        eprintln!("{e}");
    }
    Ok(u8::from(!errors.is_empty()))
}

fn cmd_holds(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = opts(args, "rHp", "holds")?;
    if o.args.is_empty() {
        return Err(SimError::usage(usage("holds")));
    }
    let (_l, st) = sim.read()?;
    let (rows, failed) = crate::holds::holds(&st, &o.args, o.has('r'));
    if failed && rows.is_empty() {
        eprintln!("no datasets available");
    }
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(n, t, time)| {
            vec![
                n,
                t,
                if o.has('p') {
                    time.to_string()
                } else {
                    crate::format::date(time)
                },
            ]
        })
        .collect();
    let header = ["NAME", "TAG", "TIMESTAMP"].map(str::to_string);
    let mut buf = Vec::new();
    if o.has('H') {
        list::print_table(&mut buf, None, &[], &[], &rows)
    } else {
        list::print_table(&mut buf, Some(&header), &[], &[], &rows)
    }
    .map_err(|e| SimError::io("format", e))?;
    write_out(&buf)?;
    Ok(u8::from(failed))
}

fn cmd_rename(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = opts(args, "fpur", "rename")?;
    let [old, new] = o.args.as_slice() else {
        return Err(SimError::usage(usage("rename")));
    };
    sim.mutate(|st, _| dataset::rename(st, old, new, o.has('p'), o.has('r')))?;
    Ok(0)
}

fn cmd_send(sim: &Sim, args: &[String], faults: &Faults) -> Result<u8> {
    let o = opts(args, "DLPRbcehnpsvwVi:I:t:X:S", "send")?;
    let mut so = SendOpts {
        flags: Flags {
            raw: o.has('w'),
            props: o.has('p') || o.has('b'),
            compressed: o.has('c') || o.has('w'),
            large_blocks: o.has('L') || o.has('w'),
            embed: o.has('e') || o.has('w'),
        },
        dry_run: o.has('n'),
        verbose: o.has('v') || o.has('P'),
        parsable: o.has('P'),
        token: o.last('t').map(str::to_string),
        ..SendOpts::default()
    };
    if o.has('R') {
        return Err(SimError::usage(
            "zfs-sim: 'zfs send -R' (replication streams) is not supported by the simulator",
        ));
    }
    for (c, a) in &o.opts {
        if let ('i' | 'I', Some(v)) = (c, a) {
            so.from = Some(v.clone());
            so.intermediates = *c == 'I';
        }
    }
    if so.token.is_some() {
        if !o.args.is_empty() {
            return Err(SimError::usage(format!(
                "too many arguments\n{}",
                usage("send")
            )));
        }
        return send::send(sim, None, &so, faults);
    }
    let target = one_arg(&o, "missing snapshot argument", "send")?;
    send::send(sim, Some(target), &so, faults)
}

fn cmd_receive(sim: &Sim, args: &[String], faults: &Faults) -> Result<u8> {
    let o = opts(args, "o:x:AdeFhMnsuvc", "receive")?;
    let target = one_arg(&o, "missing snapshot argument", "receive")?;
    if o.has('A') {
        sim.mutate(|st, dirs| recv::abort(st, dirs, target))?;
        return Ok(0);
    }
    let set_props = assignments(o.all('o'), "receive")?;
    let ro = RecvOpts {
        target: target.clone(),
        force: o.has('F'),
        resumable: o.has('s'),
        no_mount: o.has('u'),
        dry_run: o.has('n'),
        verbose: o.has('v'),
        set_props,
        exclude_props: o.all('x').into_iter().map(str::to_string).collect(),
        naming: if o.has('d') {
            Naming::Discard
        } else if o.has('e') {
            Naming::Tail
        } else {
            Naming::Exact
        },
    };
    recv::receive(sim, &ro, faults, io::stdin().lock())
}

fn cmd_load_key(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = opts(args, "rnaL:", "load-key")?;
    let targets: Vec<String> = if o.has('a') {
        let (_l, st) = sim.read()?;
        st.datasets
            .values()
            .filter(|d| {
                d.crypt
                    .as_ref()
                    .is_some_and(|c| c.root == d.name && c.key.as_ref().is_some_and(|k| !k.loaded))
            })
            .map(|d| d.name.clone())
            .collect()
    } else {
        o.args.clone()
    };
    if targets.is_empty() && !o.has('a') {
        return Err(SimError::usage(usage("load-key")));
    }
    for t in &targets {
        sim.mutate(|st, _| crate::crypto::load_key(st, t, o.last('L'), o.has('n')))
            .map_err(key_error)?;
    }
    Ok(0)
}

fn cmd_unload_key(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = opts(args, "ra", "unload-key")?;
    let [target] = o.args.as_slice() else {
        return Err(SimError::usage(usage("unload-key")));
    };
    sim.mutate(|st, _| {
        let mut under = vec![target.clone()];
        under.extend(st.descendants(target));
        if under
            .iter()
            .filter_map(|n| st.datasets.get(n))
            .any(|d| d.mounted && d.crypt.as_ref().is_some_and(|c| c.root == *target))
        {
            return Err(SimError::new(format!(
                "Key unload error: '{target}' is busy."
            )));
        }
        crate::crypto::unload_key(st, target)
    })
    .map_err(key_error)?;
    Ok(0)
}

/// `zfs load-key`/`unload-key` failures exit with status 255.
fn key_error(mut e: SimError) -> SimError {
    if e.message.starts_with("Key ") {
        e.code = 255;
    }
    e
}

fn cmd_mount(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = opts(args, "jflvOo:aR", "mount")?;
    if o.has('a') {
        sim.mutate(|st, _| {
            dataset::mount_all(st);
            Ok(())
        })?;
        return Ok(0);
    }
    if o.args.is_empty() {
        let (_l, st) = sim.read()?;
        let r = Reader {
            st: &st,
            dirs: &sim.dirs,
            parsable: true,
        };
        let mut out = String::new();
        for d in st.datasets.values().filter(|d| d.mounted) {
            out.push_str(&format!("{:<30}  {}\n", d.name, r.mountpoint(d).value));
        }
        write_out(out.as_bytes())?;
        return Ok(0);
    }
    for t in &o.args {
        sim.mutate(|st, _| dataset::mount(st, t))?;
    }
    Ok(0)
}

fn cmd_unmount(sim: &Sim, args: &[String]) -> Result<u8> {
    let o = opts(args, "fua", "unmount")?;
    if o.has('a') {
        sim.mutate(|st, dirs| {
            let names: Vec<String> = st.datasets.keys().cloned().collect();
            for n in names {
                crate::data::remember_reads(st, dirs, &n);
                if let Some(d) = st.datasets.get_mut(&n) {
                    d.mounted = false;
                }
            }
            Ok(())
        })?;
        return Ok(0);
    }
    let [target] = o.args.as_slice() else {
        return Err(SimError::usage(usage("unmount")));
    };
    sim.mutate(|st, dirs| {
        let name = if target.starts_with('/') {
            let r = Reader {
                st,
                dirs,
                parsable: true,
            };
            st.datasets
                .values()
                .find(|d| d.mounted && r.mountpoint(d).value == *target)
                .map(|d| d.name.clone())
                .ok_or_else(|| {
                    SimError::new(format!("cannot unmount '{target}': not a ZFS filesystem"))
                })?
        } else {
            target.clone()
        };
        dataset::unmount(st, dirs, &name)
    })?;
    Ok(0)
}
