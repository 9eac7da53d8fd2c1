//! The `syslog` outlet: datagrams to the local syslog socket (`/dev/log`), framed as RFC 3164
//! (the traditional BSD format most local daemons expect) or RFC 5424. Sending never blocks: a
//! full socket buffer or a missing syslog daemon drops the line and counts it.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use tracing::Level;

use super::layer::LineSink;

/// The default syslog socket.
pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";

/// Syslog facilities by name (RFC 5424 numbering).
pub const FACILITIES: [(&str, u8); 20] = [
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

/// Looks up a facility number by name (case-insensitive).
pub fn facility_by_name(name: &str) -> Option<u8> {
    FACILITIES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, code)| *code)
}

/// The message framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogFraming {
    /// `<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`
    Rfc3164,
    /// `<PRI>1 TIMESTAMP HOST APP PID - - MSG`
    Rfc5424,
}

fn severity(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// Who sends the messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogOrigin {
    /// Host name.
    pub host: String,
    /// Application name (tag).
    pub app: String,
    /// Process id.
    pub pid: u32,
}

/// Frames one message.
pub fn frame(
    framing: SyslogFraming,
    facility: u8,
    level: Level,
    time: Timestamp,
    origin: &SyslogOrigin,
    message: &str,
) -> String {
    let pri = u16::from(facility) * 8 + u16::from(severity(level));
    let SyslogOrigin { host, app, pid } = origin;
    match framing {
        SyslogFraming::Rfc3164 => {
            let zoned = time.to_zoned(jiff::tz::TimeZone::system());
            format!(
                "<{pri}>{} {host} {app}[{pid}]: {message}",
                zoned.strftime("%b %e %H:%M:%S")
            )
        }
        SyslogFraming::Rfc5424 => format!(
            "<{pri}>1 {} {host} {app} {pid} - - {message}",
            time.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        ),
    }
}

/// Sends lines to a syslog socket.
pub struct SyslogSink {
    path: PathBuf,
    framing: SyslogFraming,
    facility: u8,
    origin: SyslogOrigin,
    socket: Mutex<Option<UnixDatagram>>,
    dropped: AtomicU64,
}

impl SyslogSink {
    /// A sink for the socket at `path` (see [`DEFAULT_SYSLOG_SOCKET`]). Connection is lazy, so a
    /// syslog daemon started later is picked up.
    pub fn new(path: impl AsRef<Path>, framing: SyslogFraming, facility: u8) -> SyslogSink {
        let host = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        SyslogSink {
            path: path.as_ref().to_path_buf(),
            framing,
            facility,
            origin: SyslogOrigin {
                host,
                app: "zferry".to_string(),
                pid: std::process::id(),
            },
            socket: Mutex::new(None),
            dropped: AtomicU64::new(0),
        }
    }

    /// Lines that could not be delivered.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn connect(&self) -> Option<UnixDatagram> {
        let socket = UnixDatagram::unbound().ok()?;
        socket.connect(&self.path).ok()?;
        socket.set_nonblocking(true).ok()?;
        Some(socket)
    }
}

impl LineSink for SyslogSink {
    fn write_line(&self, level: Level, line: &str) {
        let message = frame(
            self.framing,
            self.facility,
            level,
            Timestamp::now(),
            &self.origin,
            line,
        );
        let Ok(mut socket) = self.socket.lock() else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        // One reconnect attempt per line: syslog may have restarted.
        for _ in 0..2 {
            if socket.is_none() {
                *socket = self.connect();
            }
            let Some(s) = socket.as_ref() else { break };
            match s.send(message.as_bytes()) {
                Ok(_) => return,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => *socket = None,
            }
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(host: &str, app: &str, pid: u32) -> SyslogOrigin {
        SyslogOrigin {
            host: host.into(),
            app: app.into(),
            pid,
        }
    }

    #[test]
    fn rfc5424_framing_and_priority() {
        let t: Timestamp = "2024-01-02T03:04:05.5Z".parse().expect("time");
        assert_eq!(
            frame(
                SyslogFraming::Rfc5424,
                3,
                Level::ERROR,
                t,
                &origin("host", "zferry", 42),
                "boom"
            ),
            "<27>1 2024-01-02T03:04:05.500000Z host zferry 42 - - boom"
        );
        let local0 = facility_by_name("LOCAL0").expect("known");
        assert_eq!(local0, 16);
        let line = frame(
            SyslogFraming::Rfc5424,
            local0,
            Level::DEBUG,
            t,
            &origin("h", "a", 1),
            "m",
        );
        assert!(line.starts_with("<135>1 "), "{line}");
        assert_eq!(facility_by_name("nope"), None);
    }

    #[test]
    fn rfc3164_framing() {
        let t: Timestamp = "2024-01-02T03:04:05Z".parse().expect("time");
        let line = frame(
            SyslogFraming::Rfc3164,
            3,
            Level::INFO,
            t,
            &origin("host", "zferry", 7),
            "hi",
        );
        assert!(line.starts_with("<30>Jan "), "{line}");
        assert!(line.ends_with(" host zferry[7]: hi"), "{line}");
    }
}
