//! Logging: the outlets of `global.logging` as one tracing layer.
//!
//! Each outlet has its own level and format: `stdout` (human, coloured when stdout is a
//! terminal; or logfmt / json), `syslog` (datagrams to `/dev/log` with a facility) and `tcp`
//! (optionally TLS; never blocks the daemon, drops and counts lines when the collector is slow).
//! Fields `job`, `subsystem` and `filesystem` (usually set on spans) come first in every line.

pub mod format;
pub mod layer;
pub mod record;
pub mod syslog;
pub mod tcp;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tracing::Level;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt as _;

use self::format::LogFormat;
use self::layer::{Outlet, OutletLayer, WriterSink};
use self::syslog::{SyslogFraming, SyslogSink};
use self::tcp::{TcpOutletError, TcpSink, TcpTls};

/// Why logging cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The tcp outlet's TLS files are unusable.
    #[error("tcp log outlet: {0}")]
    Tls(#[from] TcpOutletError),
    /// The tcp outlet's writer thread cannot start.
    #[error("tcp log outlet: cannot start writer thread: {0}")]
    Thread(std::io::Error),
    /// A global subscriber is already installed.
    #[error("a global logger is already installed")]
    AlreadyInstalled,
}

/// TLS files of a tcp outlet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpTlsFiles {
    /// CA certificate(s) (PEM) the collector's certificate must chain to.
    pub ca: PathBuf,
    /// Client certificate and key (PEM), when the collector wants client authentication.
    pub client: Option<(PathBuf, PathBuf)>,
    /// The name the collector's certificate must carry.
    pub server_name: String,
}

/// One outlet as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutletConfig {
    /// Standard output.
    Stdout {
        /// Most verbose level written.
        level: Level,
        /// Line format.
        format: LogFormat,
    },
    /// The local syslog daemon.
    Syslog {
        /// Most verbose level written.
        level: Level,
        /// Line format (of the message part).
        format: LogFormat,
        /// Facility number (see [`syslog::facility_by_name`]).
        facility: u8,
        /// Framing.
        framing: SyslogFraming,
        /// The socket, normally [`syslog::DEFAULT_SYSLOG_SOCKET`].
        socket: PathBuf,
    },
    /// A remote collector over TCP.
    Tcp {
        /// Most verbose level written.
        level: Level,
        /// Line format.
        format: LogFormat,
        /// `host:port`.
        address: String,
        /// Wait between reconnection attempts.
        retry_interval: Duration,
        /// TLS, when configured.
        tls: Option<TcpTlsFiles>,
    },
}

/// Parses a zrepl level name (`debug`, `info`, `warn`/`warning`, `error`).
pub fn parse_level(name: &str) -> Option<Level> {
    match name.to_ascii_lowercase().as_str() {
        "debug" => Some(Level::DEBUG),
        "info" => Some(Level::INFO),
        "warn" | "warning" => Some(Level::WARN),
        "error" => Some(Level::ERROR),
        _ => None,
    }
}

/// Access to the outlets' drop counters after setup.
#[derive(Clone, Default)]
pub struct LoggingHandle {
    tcp: Vec<Arc<TcpSink>>,
    syslog: Vec<Arc<SyslogSink>>,
}

impl LoggingHandle {
    /// Lines dropped by all network and syslog outlets so far.
    pub fn dropped_lines(&self) -> u64 {
        self.tcp.iter().map(|s| s.dropped()).sum::<u64>()
            + self.syslog.iter().map(|s| s.dropped()).sum::<u64>()
    }
}

/// Builds the layer for `outlets`.
pub fn build_layer(outlets: &[OutletConfig]) -> Result<(OutletLayer, LoggingHandle), LoggingError> {
    let mut handle = LoggingHandle::default();
    let mut built = Vec::with_capacity(outlets.len());
    for outlet in outlets {
        built.push(match outlet {
            OutletConfig::Stdout { level, format } => Outlet {
                level: *level,
                format: *format,
                color: *format == LogFormat::Human && std::io::stdout().is_terminal(),
                sink: Arc::new(WriterSink::new(std::io::stdout())),
            },
            OutletConfig::Syslog {
                level,
                format,
                facility,
                framing,
                socket,
            } => {
                let sink = Arc::new(SyslogSink::new(socket, *framing, *facility));
                handle.syslog.push(Arc::clone(&sink));
                Outlet {
                    level: *level,
                    format: *format,
                    color: false,
                    sink,
                }
            }
            OutletConfig::Tcp {
                level,
                format,
                address,
                retry_interval,
                tls,
            } => {
                let tls = tls
                    .as_ref()
                    .map(|files| {
                        TcpTls::from_pem_files(
                            &files.ca,
                            files
                                .client
                                .as_ref()
                                .map(|(c, k)| (c.as_path(), k.as_path())),
                            &files.server_name,
                        )
                    })
                    .transpose()?;
                let sink = Arc::new(
                    TcpSink::start(address.clone(), tls, *retry_interval, tcp::DEFAULT_QUEUE)
                        .map_err(LoggingError::Thread)?,
                );
                handle.tcp.push(Arc::clone(&sink));
                Outlet {
                    level: *level,
                    format: *format,
                    color: false,
                    sink,
                }
            }
        });
    }
    Ok((OutletLayer::new(built), handle))
}

/// Installs the outlets as the process-wide logger.
pub fn install(outlets: &[OutletConfig]) -> Result<LoggingHandle, LoggingError> {
    let (layer, handle) = build_layer(outlets)?;
    let max = layer
        .max_level()
        .map_or(LevelFilter::OFF, LevelFilter::from_level);
    let subscriber = tracing_subscriber::registry().with(layer.with_filter(max));
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|_| LoggingError::AlreadyInstalled)?;
    Ok(handle)
}
