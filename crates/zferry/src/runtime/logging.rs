//! The configured logging outlets as the logging subsystem's [`OutletConfig`]s.

use std::path::PathBuf;

use tracing::Level;

use crate::config::global::{LogFormat, LogLevel, LoggingOutlet};
use crate::daemon::logging::format;
use crate::daemon::logging::syslog::{DEFAULT_SYSLOG_SOCKET, SyslogFraming, facility_by_name};
use crate::daemon::logging::{OutletConfig, TcpTlsFiles};

fn level(l: LogLevel) -> Level {
    match l {
        LogLevel::Debug => Level::DEBUG,
        LogLevel::Info => Level::INFO,
        LogLevel::Warn => Level::WARN,
        LogLevel::Error => Level::ERROR,
    }
}

fn log_format(f: LogFormat) -> format::LogFormat {
    match f {
        LogFormat::Human => format::LogFormat::Human,
        LogFormat::Logfmt => format::LogFormat::Logfmt,
        LogFormat::Json => format::LogFormat::Json,
    }
}

/// Maps the configured outlets.
pub fn outlets(configured: &[LoggingOutlet]) -> Vec<OutletConfig> {
    configured
        .iter()
        .map(|o| match o {
            LoggingOutlet::Stdout(s) => OutletConfig::Stdout {
                level: level(s.level),
                format: log_format(s.format),
            },
            LoggingOutlet::Syslog(s) => OutletConfig::Syslog {
                level: level(s.level),
                format: log_format(s.format),
                facility: facility_by_name(s.facility.name()).unwrap_or(16),
                framing: SyslogFraming::Rfc3164,
                socket: PathBuf::from(DEFAULT_SYSLOG_SOCKET),
            },
            LoggingOutlet::Tcp(t) => OutletConfig::Tcp {
                level: level(t.level),
                format: log_format(t.format),
                address: t.address.to_string(),
                retry_interval: t.retry_interval.as_std(),
                tls: t.tls.as_ref().map(|tls| TcpTlsFiles {
                    ca: tls.ca.clone(),
                    client: Some((tls.cert.clone(), tls.key.clone())),
                    server_name: t.address.host().to_string(),
                }),
            },
        })
        .collect()
}
