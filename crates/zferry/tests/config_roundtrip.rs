//! Property: any configuration that `configcheck --format yaml` prints loads back as the same
//! configuration, and prints the same text again. Configurations are generated from strategies
//! covering every job type, transport, snapshotting mode, pruning rule and option.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::path::Path;

use zferry::cli::DumpFormat;
use zferry::commands::configcheck::render;
use zferry::config::{self, LoadOptions};

const NO_CERTS: LoadOptions = LoadOptions { check_certs: false };

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<Map<_, _>>(),
    )
}

/// Adds `key: value` when `value` is `Some` (optional fields are left out or given).
fn with_opt(mut v: Value, key: &str, value: Option<Value>) -> Value {
    if let (Some(value), Some(map)) = (value, v.as_object_mut()) {
        map.insert(key.to_owned(), value);
    }
    v
}

fn duration() -> impl Strategy<Value = String> {
    (
        1u32..500,
        prop::sample::select(vec!["s", "m", "h", "d", "w"]),
    )
        .prop_map(|(n, u)| format!("{n}{u}"))
}

fn go_duration() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_owned()),
        Just("0s".to_owned()),
        positive_go_duration()
    ]
}

fn positive_go_duration() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u32..120).prop_map(|n| format!("{n}s")),
        (1u32..5000).prop_map(|n| format!("{n}ms")),
        (1u32..10, 0u32..60).prop_map(|(m, s)| format!("{m}m{s}s")),
    ]
}

fn size() -> impl Strategy<Value = String> {
    (
        1u32..100_000,
        prop::sample::select(vec![
            "B", "KiB", "MiB", "GiB", "KB", "MB", "Mib", "bit", "Kb",
        ]),
    )
        .prop_map(|(n, u)| format!("{n} {u}"))
}

fn grid() -> impl Strategy<Value = String> {
    prop::collection::vec((1u32..50, 1u32..100, 0u32..4), 1..5).prop_map(|mut entries| {
        // Non-decreasing interval lengths, in hours.
        entries.sort_by_key(|e| e.1);
        entries
            .iter()
            .enumerate()
            .map(|(i, (n, h, keep))| match (i, keep) {
                (0, 0) => format!("{n}x{h}h(keep=all)"),
                (_, 1) => format!("{n}x{h}h(keep=3)"),
                _ => format!("{n}x{h}h"),
            })
            .collect::<Vec<_>>()
            .join(" | ")
    })
}

fn filesystems() -> impl Strategy<Value = Value> {
    let pattern = (
        prop::sample::select(vec!["tank", "rpool", "data", "pool 2"]),
        prop::collection::vec(
            prop::sample::select(vec!["a", "b", "var", "x.y", "c:d"]),
            0..3,
        ),
        any::<bool>(),
    )
        .prop_map(|(root, rest, subtree)| {
            let mut p = std::iter::once(root)
                .chain(rest)
                .collect::<Vec<_>>()
                .join("/");
            if subtree {
                p.push('<');
            }
            p
        });
    prop::collection::btree_map(pattern, any::<bool>(), 1..4)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k, json!(v))).collect()))
}

fn keep_rule(allow_not_replicated: bool) -> impl Strategy<Value = Value> {
    let regex = prop::sample::select(vec!["^zferry_", ".*", "^auto_[0-9]+$", "manual"]);
    let mut options: Vec<BoxedStrategy<Value>> = vec![
        (1u32..100, prop::option::of(regex.clone()))
            .prop_map(|(count, re)| {
                with_opt(
                    obj(vec![("type", json!("last_n")), ("count", json!(count))]),
                    "regex",
                    re.map(|r| json!(r)),
                )
            })
            .boxed(),
        (grid(), regex.clone())
            .prop_map(|(g, re)| json!({"type": "grid", "grid": g, "regex": re}))
            .boxed(),
        (regex, prop::option::of(any::<bool>()))
            .prop_map(|(re, negate)| {
                with_opt(
                    json!({"type": "regex", "regex": re}),
                    "negate",
                    negate.map(|b| json!(b)),
                )
            })
            .boxed(),
    ];
    if allow_not_replicated {
        options.push(
            prop::option::of(any::<bool>())
                .prop_map(|k| {
                    with_opt(
                        json!({"type": "not_replicated"}),
                        "keep_snapshot_at_cursor",
                        k.map(|b| json!(b)),
                    )
                })
                .boxed(),
        );
    }
    prop::strategy::Union::new(options)
}

fn rules(allow_not_replicated: bool) -> impl Strategy<Value = Value> {
    prop::collection::vec(keep_rule(allow_not_replicated), 1..4).prop_map(Value::Array)
}

fn hook() -> impl Strategy<Value = Value> {
    prop_oneof![
        (prop::option::of(positive_go_duration()), prop::option::of(filesystems()), any::<bool>()).prop_map(
            |(t, fs, fatal)| {
                let h = json!({"type": "command", "path": "/usr/local/bin/hook", "err_is_fatal": fatal});
                with_opt(with_opt(h, "timeout", t.map(|t| json!(t))), "filesystems", fs)
            }
        ),
        (filesystems(), prop::sample::select(vec!["postgres-checkpoint", "mysql-lock-tables"]))
            .prop_map(|(fs, ty)| json!({"type": ty, "dsn": "host=/run/db", "filesystems": fs})),
    ]
}

fn snapshotting() -> impl Strategy<Value = Value> {
    let naming = prop::sample::select(vec![
        ("dense", "UTC"),
        ("human", "UTC"),
        ("unix-seconds", "UTC"),
        ("iso-8601", "Europe/Berlin"),
        ("iso-8601", "America/New_York"),
        ("2006-01-02_15-04", "UTC"),
    ]);
    prop_oneof![
        Just(json!({"type": "manual"})),
        (
            duration(),
            naming.clone(),
            prop::collection::vec(hook(), 0..3)
        )
            .prop_map(|(d, (f, l), hooks)| json!({
                "type": "periodic", "prefix": "zferry_", "interval": d,
                "timestamp_format": f, "timestamp_location": l, "hooks": hooks
            })),
        (
            prop::sample::select(vec![
                "*/5 * * * *",
                "0 3 * * 1-5",
                "30 0 */2 * * *",
                "0 0 1 JAN *"
            ]),
            naming
        )
            .prop_map(|(c, (f, l))| json!({
                "type": "cron", "prefix": "auto_", "cron": c,
                "timestamp_format": f, "timestamp_location": l
            })),
    ]
}

fn connect() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::option::of(go_duration()).prop_map(|t| with_opt(
            json!({"type": "tcp", "address": "backup.example.net:7300"}),
            "dial_timeout",
            t.map(|t| json!(t))
        )),
        Just(json!({
            "type": "tls", "address": "[2001:db8::1]:7300", "ca": "/tls/ca.crt",
            "cert": "/tls/me.crt", "key": "/tls/me.key", "server_cn": "vault"
        })),
        prop::collection::vec(
            prop::sample::select(vec!["Compression=yes", "Port=22"]),
            0..3
        )
        .prop_map(|opts| json!({
            "type": "ssh+stdinserver", "host": "src.example.net", "user": "root",
            "port": 2222, "identity_file": "/etc/zferry/id", "options": opts
        })),
        Just(json!({"type": "local", "listener_name": "l", "client_identity": "me"})),
    ]
}

fn serve() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"type": "tcp", "listen": ":7300", "clients": {
            "192.168.1.10": "db1", "10.0.0.0/24": "net-*", "fe80::/64%eth0": "ll-*"
        }})),
        (any::<bool>(), prop::option::of(go_duration())).prop_map(|(fb, t)| with_opt(
            json!({"type": "tls", "listen": "0.0.0.0:7300", "listen_freebind": fb,
                   "ca": "/tls/ca.crt", "cert": "/tls/s.crt", "key": "/tls/s.key",
                   "client_cns": ["a", "b.example"]}),
            "handshake_timeout",
            t.map(|t| json!(t))
        )),
        Just(json!({"type": "stdinserver", "client_identities": ["c1", "c2"]})),
        Just(json!({"type": "local", "listener_name": "l"})),
    ]
}

fn send() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(any::<bool>(), 8),
        prop::option::of((size(), size())),
    )
        .prop_map(|(b, bw)| {
            let v = json!({
                "encrypted": b[0], "raw": b[1], "send_properties": b[2], "backup_properties": b[3],
                "large_blocks": b[4], "compressed": b[5], "embedded_data": b[6], "saved": b[7]
            });
            with_opt(
                v,
                "bandwidth_limit",
                bw.map(|(m, c)| json!({"max": m, "bucket_capacity": c})),
            )
        })
}

fn recv() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["unspecified", "inherit", "off"]),
        prop::collection::vec(
            prop::sample::select(vec!["mountpoint", "canmount", "com.x:y"]),
            0..3,
        ),
        prop::option::of(size()),
    )
        .prop_map(|(enc, inherit, max)| {
            let v = json!({
                "placeholder": {"encryption": enc},
                "properties": {"inherit": inherit, "override": {"canmount": "off"}}
            });
            with_opt(v, "bandwidth_limit", max.map(|m| json!({"max": m})))
        })
}

fn active_extras() -> impl Strategy<Value = (Value, Value)> {
    let level = prop::sample::select(vec![
        "guarantee_resumability",
        "guarantee_incremental",
        "guarantee_nothing",
    ]);
    (
        level.clone(),
        level,
        1u32..8,
        1u32..8,
        prop::sample::select(vec!["most_recent", "all", "fail"]),
    )
        .prop_map(|(i, inc, steps, est, cr)| {
            (
                json!({"protection": {"initial": i, "incremental": inc},
                       "concurrency": {"steps": steps, "size_estimates": est}}),
                json!({"initial_replication": cr}),
            )
        })
}

fn job(index: usize) -> impl Strategy<Value = Value> {
    let name = format!("job{index}");
    let root = format!("pool/root{index}");
    let pruning = || {
        (rules(true), rules(true)).prop_map(|(s, r)| json!({"keep_sender": s, "keep_receiver": r}))
    };
    prop_oneof![
        (connect(), filesystems(), send(), snapshotting(), pruning(), active_extras())
            .prop_map({
                let name = name.clone();
                move |(c, fs, s, snap, p, (rep, cr))| json!({
                    "type": "push", "name": name, "connect": c, "filesystems": fs, "send": s,
                    "snapshotting": snap, "pruning": p, "replication": rep, "conflict_resolution": cr
                })
            }),
        (serve(), recv()).prop_map({
            let (name, root) = (name.clone(), root.clone());
            move |(s, r)| json!({"type": "sink", "name": name, "serve": s, "root_fs": root, "recv": r})
        }),
        (connect(), prop_oneof![Just("manual".to_owned()), duration()], recv(), pruning(), active_extras())
            .prop_map({
                let (name, root) = (name.clone(), root.clone());
                move |(c, iv, r, p, (rep, cr))| json!({
                    "type": "pull", "name": name, "connect": c, "root_fs": root, "interval": iv,
                    "recv": r, "pruning": p, "replication": rep, "conflict_resolution": cr
                })
            }),
        (serve(), filesystems(), send(), snapshotting()).prop_map({
            let name = name.clone();
            move |(s, fs, snd, snap)| json!({
                "type": "source", "name": name, "serve": s, "filesystems": fs, "send": snd,
                "snapshotting": snap
            })
        }),
        (filesystems(), snapshotting(), rules(false)).prop_map(move |(fs, snap, keep)| json!({
            "type": "snap", "name": name, "filesystems": fs, "snapshotting": snap,
            "pruning": {"keep": keep}
        })),
    ]
}

fn global() -> impl Strategy<Value = Value> {
    let level = prop::sample::select(vec!["debug", "info", "warn", "error"]);
    let format = prop::sample::select(vec!["human", "logfmt", "json"]);
    (
        level.clone(),
        format.clone(),
        level,
        format,
        any::<bool>(),
        prop::option::of(positive_go_duration()),
        any::<bool>(),
    )
        .prop_map(|(l1, f1, l2, f2, time, retry, tls)| {
            let mut tcp = json!({"type": "tcp", "level": l2, "format": f2, "address": "logs:514", "net": "tcp4"});
            if tls {
                tcp["tls"] = json!({"ca": "/tls/ca", "cert": "/tls/c", "key": "/tls/k"});
            }
            json!({
                "logging": [
                    {"type": "stdout", "level": l1, "format": f1, "time": time, "color": false},
                    with_opt(json!({"type": "syslog", "level": "warn", "format": "human", "facility": "daemon"}),
                             "retry_interval", retry.map(|r| json!(r))),
                    tcp
                ],
                "monitoring": [{"type": "prometheus", "listen": ":9811"}],
                "control": {"sockpath": "/run/zferry/control"},
                "serve": {"stdinserver": {"sockdir": "/run/zferry/stdin"}}
            })
        })
}

fn configuration() -> impl Strategy<Value = Value> {
    (0usize..5)
        .prop_flat_map(|n| {
            let jobs: Vec<_> = (0..n).map(job).collect();
            (prop::option::of(global()), jobs)
        })
        .prop_map(|(g, jobs)| with_opt(json!({"jobs": jobs}), "global", g))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn printed_yaml_loads_back_as_the_same_configuration(input in configuration()) {
        let src = serde_saphyr::to_string(&input).expect("generated YAML");
        let cfg = config::load_source(&src, Path::new("generated.yml"), NO_CERTS)
            .map_err(|e| TestCaseError::fail(format!("generated config rejected: {e}\n{src}")))?;
        let printed = render(&cfg, DumpFormat::Yaml).expect("renders");
        let again = config::load_source(&printed, Path::new("printed.yml"), NO_CERTS)
            .map_err(|e| TestCaseError::fail(format!("printed config rejected: {e}\n{printed}")))?;
        prop_assert_eq!(&again, &cfg);
        prop_assert_eq!(render(&again, DumpFormat::Yaml).expect("renders"), printed);
    }
}
