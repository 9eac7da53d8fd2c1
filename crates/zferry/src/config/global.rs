//! The `global` section: logging outlets, monitoring endpoints, the control socket and the
//! stdinserver socket directory.

use serde::Serialize;
use std::path::PathBuf;

use super::decode::{
    CertKind, CertRef, Ctx, DResult, Fields, Path, choice, fail, list, list_of, non_empty, parsed,
    type_tag,
};
use super::duration::{GO_DURATION_EXPECTED, GoDuration};
use super::transport::{HOSTPORT_EXPECTED, HostPort};
use super::yaml::Node;

/// Default path of the daemon's control socket.
pub const DEFAULT_CONTROL_SOCKPATH: &str = "/var/run/zferry/control";
/// Default directory of the `ssh+stdinserver` sockets.
pub const DEFAULT_STDINSERVER_SOCKDIR: &str = "/var/run/zferry/stdinserver";

/// Settings that apply to the whole daemon.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Global {
    /// Where log messages go. Default: one `stdout` outlet, level `warn`, format `human`.
    pub logging: Vec<LoggingOutlet>,
    /// Monitoring endpoints (Prometheus). Default: none.
    pub monitoring: Vec<Monitoring>,
    /// The control socket used by `zferry status`, `zferry signal`, ….
    pub control: Control,
    /// Settings for serving jobs.
    pub serve: GlobalServe,
}

impl Default for Global {
    fn default() -> Self {
        Self {
            logging: vec![LoggingOutlet::Stdout(StdoutOutlet {
                level: LogLevel::Warn,
                format: LogFormat::Human,
                time: true,
                color: true,
            })],
            monitoring: Vec::new(),
            control: Control::default(),
            serve: GlobalServe::default(),
        }
    }
}

/// Minimum severity of messages an outlet receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Everything.
    Debug,
    /// Informational and above.
    Info,
    /// Warnings and errors.
    Warn,
    /// Errors only.
    Error,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable text.
    Human,
    /// `key=value` pairs.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// A log destination.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LoggingOutlet {
    /// Standard output.
    Stdout(StdoutOutlet),
    /// The local syslog daemon.
    Syslog(SyslogOutlet),
    /// A remote log collector over TCP, optionally with TLS.
    Tcp(TcpOutlet),
}

/// `type: stdout`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StdoutOutlet {
    /// Minimum level.
    pub level: LogLevel,
    /// Line format.
    pub format: LogFormat,
    /// Print timestamps when stdout is not a terminal (default `true`).
    pub time: bool,
    /// Use colours when stdout is a terminal (default `true`).
    pub color: bool,
}

/// `type: syslog`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SyslogOutlet {
    /// Minimum level.
    pub level: LogLevel,
    /// Line format.
    pub format: LogFormat,
    /// Syslog facility (default `local0`).
    pub facility: SyslogFacility,
    /// Wait before reconnecting to syslog after an error (default `10s`).
    pub retry_interval: GoDuration,
}

/// Syslog facilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum SyslogFacility {
    Kern,
    User,
    Mail,
    Daemon,
    Auth,
    Syslog,
    Lpr,
    News,
    Uucp,
    Cron,
    Authpriv,
    Ftp,
    Local0,
    Local1,
    Local2,
    Local3,
    Local4,
    Local5,
    Local6,
    Local7,
}

impl SyslogFacility {
    /// The facility's name as written in the configuration (`local0`, `daemon`, ...).
    pub fn name(self) -> &'static str {
        FACILITIES
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("local0", |(name, _)| name)
    }
}

const FACILITIES: [(&str, SyslogFacility); 20] = [
    ("kern", SyslogFacility::Kern),
    ("user", SyslogFacility::User),
    ("mail", SyslogFacility::Mail),
    ("daemon", SyslogFacility::Daemon),
    ("auth", SyslogFacility::Auth),
    ("syslog", SyslogFacility::Syslog),
    ("lpr", SyslogFacility::Lpr),
    ("news", SyslogFacility::News),
    ("uucp", SyslogFacility::Uucp),
    ("cron", SyslogFacility::Cron),
    ("authpriv", SyslogFacility::Authpriv),
    ("ftp", SyslogFacility::Ftp),
    ("local0", SyslogFacility::Local0),
    ("local1", SyslogFacility::Local1),
    ("local2", SyslogFacility::Local2),
    ("local3", SyslogFacility::Local3),
    ("local4", SyslogFacility::Local4),
    ("local5", SyslogFacility::Local5),
    ("local6", SyslogFacility::Local6),
    ("local7", SyslogFacility::Local7),
];

/// `type: tcp`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TcpOutlet {
    /// Minimum level.
    pub level: LogLevel,
    /// Line format.
    pub format: LogFormat,
    /// `host:port` of the collector.
    pub address: HostPort,
    /// Network: `tcp`, `tcp4` or `tcp6` (default `tcp`).
    pub net: String,
    /// Wait before reconnecting after an error (default `10s`).
    pub retry_interval: GoDuration,
    /// TLS client settings; plain TCP when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TcpOutletTls>,
}

/// TLS settings of a `tcp` log outlet.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TcpOutletTls {
    /// CA certificate(s) that sign the collector's certificate (PEM).
    pub ca: PathBuf,
    /// Client certificate (PEM).
    pub cert: PathBuf,
    /// Client private key (PEM).
    pub key: PathBuf,
}

/// A monitoring endpoint.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Monitoring {
    /// Prometheus metrics over HTTP at `/metrics`.
    Prometheus(PrometheusMonitoring),
}

/// `type: prometheus`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PrometheusMonitoring {
    /// `host:port` to listen on (e.g. `:9811`).
    pub listen: HostPort,
    /// Bind even if the address is not (yet) configured on this host (default `false`).
    pub listen_freebind: bool,
}

/// `global.control`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Control {
    /// Path of the control socket (default `/var/run/zferry/control`).
    pub sockpath: PathBuf,
}

impl Default for Control {
    fn default() -> Self {
        Self {
            sockpath: PathBuf::from(DEFAULT_CONTROL_SOCKPATH),
        }
    }
}

/// `global.serve`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GlobalServe {
    /// Settings of the `stdinserver` transport.
    pub stdinserver: GlobalStdinserver,
}

/// `global.serve.stdinserver`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GlobalStdinserver {
    /// Directory of the per-client sockets (default `/var/run/zferry/stdinserver`).
    pub sockdir: PathBuf,
}

impl Default for GlobalStdinserver {
    fn default() -> Self {
        Self {
            sockdir: PathBuf::from(DEFAULT_STDINSERVER_SOCKDIR),
        }
    }
}

pub(crate) fn decode_global(node: &Node, path: &Path, ctx: &mut Ctx) -> DResult<Global> {
    let f = Fields::new(node, path, &["logging", "monitoring", "control", "serve"])?;
    let defaults = Global::default();
    let logging = match f.get("logging") {
        Some((n, p)) => {
            let outlets = list_of(n, &p, false, |n, p| decode_outlet(n, p, ctx))?;
            check_single_outlets(n, &p, &outlets)?;
            if outlets.is_empty() {
                defaults.logging
            } else {
                outlets
            }
        }
        None => defaults.logging,
    };
    let monitoring = f.or("monitoring", Vec::new(), |n, p| {
        list_of(n, p, false, decode_monitoring)
    })?;
    let control = f.or("control", Control::default(), |n, p| {
        let f = Fields::new(n, p, &["sockpath"])?;
        Ok(Control {
            sockpath: f.or("sockpath", Control::default().sockpath, path_buf)?,
        })
    })?;
    let serve = f.or("serve", GlobalServe::default(), |n, p| {
        let f = Fields::new(n, p, &["stdinserver"])?;
        Ok(GlobalServe {
            stdinserver: f.or("stdinserver", GlobalStdinserver::default(), |n, p| {
                let f = Fields::new(n, p, &["sockdir"])?;
                Ok(GlobalStdinserver {
                    sockdir: f.or("sockdir", GlobalStdinserver::default().sockdir, path_buf)?,
                })
            })?,
        })
    })?;
    Ok(Global {
        logging,
        monitoring,
        control,
        serve,
    })
}

/// A non-empty filesystem path.
pub(crate) fn path_buf(node: &Node, path: &Path) -> DResult<PathBuf> {
    non_empty(node, path).map(PathBuf::from)
}

/// A TLS file, remembered for the certificate check.
pub(crate) fn cert_file(
    node: &Node,
    path: &Path,
    ctx: &mut Ctx,
    kind: CertKind,
) -> DResult<PathBuf> {
    let file = path_buf(node, path)?;
    ctx.certs.push(CertRef {
        kind,
        file: file.clone(),
        pos: node.pos,
        path: path.as_str().to_owned(),
    });
    Ok(file)
}

/// At most one `stdout` and one `syslog` outlet; the error points at the second one.
fn check_single_outlets(node: &Node, path: &Path, outlets: &[LoggingOutlet]) -> DResult<()> {
    let items = list(node, path)?;
    for kind in ["stdout", "syslog"] {
        let mut same = outlets.iter().zip(&items).filter(|(o, _)| {
            matches!(
                (kind, o),
                ("stdout", LoggingOutlet::Stdout(_)) | ("syslog", LoggingOutlet::Syslog(_))
            )
        });
        if let (Some(_), Some((_, (second, p)))) = (same.next(), same.next()) {
            return fail(
                second,
                p,
                format!("found a second `{kind}` outlet, expected at most one"),
            );
        }
    }
    Ok(())
}

fn level(node: &Node, path: &Path) -> DResult<LogLevel> {
    choice(
        node,
        path,
        &[
            ("debug", LogLevel::Debug),
            ("info", LogLevel::Info),
            ("warn", LogLevel::Warn),
            ("error", LogLevel::Error),
        ],
    )
}

fn format(node: &Node, path: &Path) -> DResult<LogFormat> {
    choice(
        node,
        path,
        &[
            ("human", LogFormat::Human),
            ("logfmt", LogFormat::Logfmt),
            ("json", LogFormat::Json),
        ],
    )
}

fn retry_interval(f: &Fields<'_>) -> DResult<GoDuration> {
    f.or(
        "retry_interval",
        GoDuration::from_secs(10),
        positive_go_duration,
    )
}

/// A Go-syntax duration that must be greater than zero.
pub(crate) fn positive_go_duration(node: &Node, path: &Path) -> DResult<GoDuration> {
    let d = parsed(node, path, GO_DURATION_EXPECTED, GoDuration::parse)?;
    if d.is_zero() {
        return fail(
            node,
            path,
            "found `0`, expected a duration greater than zero",
        );
    }
    Ok(d)
}

/// A Go-syntax duration that may be zero.
pub(crate) fn go_duration(node: &Node, path: &Path) -> DResult<GoDuration> {
    parsed(node, path, GO_DURATION_EXPECTED, GoDuration::parse)
}

/// A `host:port` address.
pub(crate) fn host_port(node: &Node, path: &Path) -> DResult<HostPort> {
    parsed(node, path, HOSTPORT_EXPECTED, HostPort::parse)
}

fn decode_outlet(node: &Node, path: &Path, ctx: &mut Ctx) -> DResult<LoggingOutlet> {
    let ty = type_tag(node, path, &["stdout", "syslog", "tcp"])?;
    Ok(match ty.as_str() {
        "stdout" => {
            let f = Fields::new(node, path, &["type", "level", "format", "time", "color"])?;
            LoggingOutlet::Stdout(StdoutOutlet {
                level: f.req("level", level)?,
                format: f.req("format", format)?,
                time: f.flag("time", true)?,
                color: f.flag("color", true)?,
            })
        }
        "syslog" => {
            let f = Fields::new(
                node,
                path,
                &["type", "level", "format", "facility", "retry_interval"],
            )?;
            LoggingOutlet::Syslog(SyslogOutlet {
                level: f.req("level", level)?,
                format: f.req("format", format)?,
                facility: f.or("facility", SyslogFacility::Local0, |n, p| {
                    choice(n, p, &FACILITIES)
                })?,
                retry_interval: retry_interval(&f)?,
            })
        }
        _ => {
            let f = Fields::new(
                node,
                path,
                &[
                    "type",
                    "level",
                    "format",
                    "address",
                    "net",
                    "retry_interval",
                    "tls",
                ],
            )?;
            LoggingOutlet::Tcp(TcpOutlet {
                level: f.req("level", level)?,
                format: f.req("format", format)?,
                address: f.req("address", host_port)?,
                net: f
                    .or("net", "tcp", |n, p| {
                        choice(n, p, &[("tcp", "tcp"), ("tcp4", "tcp4"), ("tcp6", "tcp6")])
                    })?
                    .to_owned(),
                retry_interval: retry_interval(&f)?,
                tls: f.opt("tls", |n, p| {
                    let f = Fields::new(n, p, &["ca", "cert", "key"])?;
                    Ok(TcpOutletTls {
                        ca: f.req("ca", |n, p| cert_file(n, p, ctx, CertKind::Certificates))?,
                        cert: f.req("cert", |n, p| cert_file(n, p, ctx, CertKind::Certificates))?,
                        key: f.req("key", |n, p| cert_file(n, p, ctx, CertKind::PrivateKey))?,
                    })
                })?,
            })
        }
    })
}

fn decode_monitoring(node: &Node, path: &Path) -> DResult<Monitoring> {
    type_tag(node, path, &["prometheus"])?;
    let f = Fields::new(node, path, &["type", "listen", "listen_freebind"])?;
    Ok(Monitoring::Prometheus(PrometheusMonitoring {
        listen: f.req("listen", host_port)?,
        listen_freebind: f.flag("listen_freebind", false)?,
    }))
}
