//! Logging outlets: levels per outlet, span context fields, syslog datagrams, TCP and TLS
//! delivery, and that a dead collector never blocks the caller.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::Level;
use tracing_subscriber::layer::SubscriberExt as _;
use zferry::daemon::logging::format::LogFormat;
use zferry::daemon::logging::layer::{LineSink, Outlet, OutletLayer, WriterSink};
use zferry::daemon::logging::syslog::{SyslogFraming, SyslogSink};
use zferry::daemon::logging::tcp::{TcpSink, TcpTls};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().expect("lock").clone())
            .expect("utf8")
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn outlet(level: Level, format: LogFormat, sink: Arc<dyn LineSink>) -> Outlet {
    Outlet {
        level,
        format,
        color: false,
        sink,
    }
}

#[test]
fn per_outlet_levels_and_context_fields() {
    let verbose = Buffer::default();
    let quiet = Buffer::default();
    let layer = OutletLayer::new(vec![
        outlet(
            Level::DEBUG,
            LogFormat::Logfmt,
            Arc::new(WriterSink::new(verbose.clone())),
        ),
        outlet(
            Level::WARN,
            LogFormat::Human,
            Arc::new(WriterSink::new(quiet.clone())),
        ),
    ]);
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        let job = tracing::info_span!("job", job = "push", subsystem = "repl");
        let _job = job.enter();
        let fs = tracing::info_span!("fs", filesystem = "tank/a b");
        let _fs = fs.enter();
        tracing::debug!(bytes = 42, "step done");
        tracing::warn!(error = "connection reset", "step failed");
        tracing::trace!("too verbose for everyone");
    });
    let verbose = verbose.lines();
    assert_eq!(verbose.len(), 2, "{verbose:?}");
    assert!(
        verbose[0].ends_with(
            "level=debug job=push subsystem=repl filesystem=\"tank/a b\" msg=\"step done\" bytes=42"
        ),
        "{}",
        verbose[0]
    );
    let quiet = quiet.lines();
    assert_eq!(quiet.len(), 1, "{quiet:?}");
    assert!(
        quiet[0].ends_with("[WARN][push][repl][tank/a b]: step failed  error=\"connection reset\""),
        "{}",
        quiet[0]
    );
}

#[test]
fn syslog_outlet_sends_framed_datagrams() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("log");
    let server = UnixDatagram::bind(&path).expect("bind");
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let sink = SyslogSink::new(&path, SyslogFraming::Rfc5424, 3);
    sink.write_line(Level::ERROR, "level=error msg=boom");
    let mut buf = [0u8; 2048];
    let n = server.recv(&mut buf).expect("datagram");
    let datagram = std::str::from_utf8(&buf[..n]).expect("utf8");
    assert!(datagram.starts_with("<27>1 "), "{datagram}");
    assert!(
        datagram.ends_with(&format!(
            " zferry {} - - level=error msg=boom",
            std::process::id()
        )),
        "{datagram}"
    );
    assert_eq!(sink.dropped(), 0);

    let missing = SyslogSink::new(dir.path().join("nobody"), SyslogFraming::Rfc3164, 3);
    missing.write_line(Level::INFO, "lost");
    assert_eq!(missing.dropped(), 1);
}

#[test]
fn tcp_outlet_delivers_lines() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let sink = TcpSink::start(addr.to_string(), None, Duration::from_secs(1), 64).expect("start");
    sink.write_line(Level::INFO, "first");
    sink.write_line(Level::INFO, "second line");
    let (conn, _) = listener.accept().expect("accept");
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut lines = BufReader::new(conn).lines();
    assert_eq!(lines.next().expect("line").expect("read"), "first");
    assert_eq!(lines.next().expect("line").expect("read"), "second line");
    assert_eq!(sink.dropped(), 0);
}

#[test]
fn tcp_outlet_never_blocks_and_counts_drops() {
    // A port nobody listens on: every line is dropped, none waits.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let sink = TcpSink::start(addr.to_string(), None, Duration::from_secs(60), 16).expect("start");
    let started = Instant::now();
    for i in 0..10_000 {
        sink.write_line(Level::INFO, &format!("line {i}"));
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "logging blocked for {:?}",
        started.elapsed()
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while sink.dropped() < 10_000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(sink.dropped(), 10_000);
}

#[test]
fn tcp_outlet_over_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, certified.cert.pem()).expect("write ca");

    let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![certified.cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into()),
    )
    .expect("server config");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        tcp.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let session = rustls::ServerConnection::new(Arc::new(server_config)).expect("session");
        let stream = rustls::StreamOwned::new(session, tcp);
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).expect("read");
        line
    });

    let tls = TcpTls::from_pem_files(&ca, None, "localhost").expect("tls config");
    let sink =
        TcpSink::start(addr.to_string(), Some(tls), Duration::from_secs(1), 64).expect("start");
    sink.write_line(Level::INFO, "level=info msg=\"over tls\"");
    assert_eq!(
        server.join().expect("server"),
        "level=info msg=\"over tls\"\n"
    );

    let wrong_name = TcpTls::from_pem_files(&ca, None, "not valid name!");
    assert!(wrong_name.is_err());
    let missing = TcpTls::from_pem_files(&dir.path().join("nope.pem"), None, "localhost");
    assert!(missing.is_err());
}

#[test]
fn tcp_outlet_drops_when_the_collector_stops_reading() {
    // The collector accepts but never reads: the socket buffers fill, the writer stalls, the
    // queue fills, and the caller keeps going while lines are dropped.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let sink = TcpSink::start(addr.to_string(), None, Duration::from_secs(60), 8).expect("start");
    // The writer connects lazily, on the first line.
    sink.write_line(Level::INFO, "hello");
    let (_stalled, _) = listener.accept().expect("accept");
    let line = "x".repeat(4096);
    let started = Instant::now();
    for _ in 0..20_000 {
        sink.write_line(Level::INFO, &line);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "logging blocked for {:?}",
        started.elapsed()
    );
    assert!(sink.dropped() > 0, "a full queue drops lines");
}
