//! The `tcp` outlet: lines to a remote collector over TCP, optionally TLS.
//!
//! Logging never waits for the network: lines go into a bounded queue drained by a writer thread;
//! when the queue is full (the collector is slow or down) new lines are dropped and counted.
//! The writer connects lazily, reconnects after `retry_interval` when the connection fails, and
//! gives up on a stalled write after [`WRITE_TIMEOUT`] (the line is dropped and counted).

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tracing::Level;

use super::layer::LineSink;

/// How long one write may stall before the connection is abandoned.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default queue length.
pub const DEFAULT_QUEUE: usize = 4096;

/// Why a TLS configuration for the tcp outlet cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TcpOutletError {
    /// A PEM file cannot be read or parsed.
    #[error("{what} {path:?}: {why}")]
    Pem {
        /// Which file.
        what: &'static str,
        /// Its path.
        path: std::path::PathBuf,
        /// The problem.
        why: String,
    },
    /// rustls rejected the configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The server name is not a valid DNS name or IP address.
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
}

fn pem_error(
    what: &'static str,
    path: &Path,
) -> impl FnOnce(rustls::pki_types::pem::Error) -> TcpOutletError {
    let path = path.to_path_buf();
    move |e| TcpOutletError::Pem {
        what,
        path,
        why: e.to_string(),
    }
}

/// TLS settings of the outlet (zrepl's `tls: {ca, cert, key}`), plus the name to verify.
pub struct TcpTls {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

impl TcpTls {
    /// Trusts the CA certificates in `ca` and, when given, authenticates with `cert` + `key`.
    pub fn from_pem_files(
        ca: &Path,
        client: Option<(&Path, &Path)>,
        server_name: &str,
    ) -> Result<TcpTls, TcpOutletError> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).map_err(pem_error("CA file", ca))? {
            roots.add(cert.map_err(pem_error("CA file", ca))?)?;
        }
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots);
        let config = match client {
            Some((cert, key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .map_err(pem_error("certificate", cert))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(pem_error("certificate", cert))?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(pem_error("key", key))?;
                builder.with_client_auth_cert(chain, key)?
            }
            None => builder.with_no_client_auth(),
        };
        let server_name = ServerName::try_from(server_name.to_string())
            .map_err(|_| TcpOutletError::ServerName(server_name.to_string()))?;
        Ok(TcpTls {
            config: Arc::new(config),
            server_name,
        })
    }
}

enum Connection {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Connection {
    fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        let mut data = Vec::with_capacity(line.len() + 1);
        data.extend_from_slice(line.as_bytes());
        data.push(b'\n');
        match self {
            Connection::Plain(s) => s.write_all(&data),
            Connection::Tls(s) => s.write_all(&data).and_then(|()| s.flush()),
        }
    }
}

/// Sends lines to a TCP collector without blocking the caller.
pub struct TcpSink {
    queue: SyncSender<String>,
    dropped: Arc<AtomicU64>,
}

impl TcpSink {
    /// Starts the writer thread for `address` (`host:port`).
    pub fn start(
        address: String,
        tls: Option<TcpTls>,
        retry_interval: Duration,
        queue_len: usize,
    ) -> std::io::Result<TcpSink> {
        let (queue, lines) = sync_channel(queue_len);
        let dropped = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            address,
            tls,
            retry_interval,
            dropped: Arc::clone(&dropped),
            connection: None,
            next_attempt: Instant::now(),
        };
        std::thread::Builder::new()
            .name("zferry-log-tcp".into())
            .spawn(move || writer.run(lines))?;
        Ok(TcpSink { queue, dropped })
    }

    /// Lines dropped so far (queue full, collector unreachable, write failed).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl LineSink for TcpSink {
    fn write_line(&self, _level: Level, line: &str) {
        match self.queue.try_send(line.to_string()) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

struct Writer {
    address: String,
    tls: Option<TcpTls>,
    retry_interval: Duration,
    dropped: Arc<AtomicU64>,
    connection: Option<Connection>,
    next_attempt: Instant,
}

impl Writer {
    fn run(mut self, lines: Receiver<String>) {
        while let Ok(line) = lines.recv() {
            if self.connection.is_none() && Instant::now() >= self.next_attempt {
                self.connection = self.connect();
                if self.connection.is_none() {
                    self.next_attempt = Instant::now() + self.retry_interval;
                }
            }
            let written = self
                .connection
                .as_mut()
                .is_some_and(|c| c.write_line(&line).is_ok());
            if !written {
                self.connection = None;
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn connect(&self) -> Option<Connection> {
        let addr = self.address.to_socket_addrs().ok()?.next()?;
        let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).ok()?;
        stream.set_write_timeout(Some(WRITE_TIMEOUT)).ok()?;
        stream.set_read_timeout(Some(WRITE_TIMEOUT)).ok()?;
        match &self.tls {
            None => Some(Connection::Plain(stream)),
            Some(tls) => {
                let session =
                    ClientConnection::new(Arc::clone(&tls.config), tls.server_name.clone()).ok()?;
                Some(Connection::Tls(Box::new(StreamOwned::new(session, stream))))
            }
        }
    }
}
