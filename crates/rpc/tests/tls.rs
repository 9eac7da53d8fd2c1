//! tls with a CA and with pinned zferry identities: who gets in and who does not.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use zferry_repl::endpoint::{ByteStream, Endpoint, ErrorKind, Receiver};
use zferry_rpc::certs;
use zferry_rpc::transport::tls::{
    TlsClient, TlsClientOptions, TlsIdentityFiles, TlsServer, TlsServerOptions, Trust,
};

struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: rcgen::Issuer::new(params, key),
    }
}

/// Writes a leaf certificate for `cn` signed by `ca` and returns its files.
fn leaf(dir: &Path, ca: &Ca, cn: &str) -> TlsIdentityFiles {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![cn.to_string()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    let files = TlsIdentityFiles {
        cert: dir.join(format!("{cn}.crt")),
        key: dir.join(format!("{cn}.key")),
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    files
}

fn write_ca(dir: &Path, ca: &Ca, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.pem"));
    std::fs::write(&path, &ca.pem).unwrap();
    path
}

async fn tls_server(
    trust: Trust,
    identity: TlsIdentityFiles,
    client_cns: &[&str],
    log: Arc<Log>,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let server = TlsServer::bind(TlsServerOptions {
        listen: "127.0.0.1:0".into(),
        trust,
        identity,
        client_cns: client_cns.iter().map(|s| s.to_string()).collect(),
        handshake_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    let addr = server.local_addr().unwrap().to_string();
    (addr, serve(server, sink(log, None)))
}

fn tls_client(
    address: &str,
    trust: Trust,
    identity: TlsIdentityFiles,
    server_cn: &str,
) -> TlsClient {
    TlsClient::new(TlsClientOptions {
        address: address.into(),
        trust,
        identity,
        server_cn: server_cn.into(),
        dial_timeout: Duration::from_secs(5),
    })
    .unwrap()
}

/// A CA-trusting sink listing client CN `laptop` and named `backup-server`, a client expecting
/// `server_cn`; the server certificate says `server_cert_cn`, the client certificate `client_cn`
/// signed by the CA, or by a foreign CA when `foreign_client_ca`.
struct CaScenario {
    remote: zferry_rpc::client::RemoteEndpoint,
    log: Arc<Log>,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn ca_scenario(server_cert_cn: &str, client_cn: &str, foreign_client_ca: bool) -> CaScenario {
    let dir = tempfile::tempdir().unwrap();
    let (good, foreign) = (ca("good-ca"), ca("foreign-ca"));
    let ca_file = write_ca(dir.path(), &good, "ca");
    let log = Arc::new(Log::default());
    let (addr, stop) = tls_server(
        Trust::Ca(ca_file.clone()),
        leaf(dir.path(), &good, server_cert_cn),
        &["laptop"],
        log.clone(),
    )
    .await;
    let client_ca = if foreign_client_ca { &foreign } else { &good };
    let remote = client(tls_client(
        &addr,
        Trust::Ca(ca_file),
        leaf(dir.path(), client_ca, client_cn),
        "backup-server",
    ));
    CaScenario {
        remote,
        log,
        _stop: stop,
        _dir: dir,
    }
}

#[tokio::test]
async fn ca_signed_client_is_identified_by_its_common_name() {
    let s = ca_scenario("backup-server", "laptop", false).await;
    s.remote.ping().await.expect("ping over tls");
    let data = test_data(4 << 20);
    s.remote
        .receive(
            receive_request("pool/fs"),
            ByteStream::new(std::io::Cursor::new(data.clone())),
        )
        .await
        .expect("receive over tls");
    assert_eq!(
        s.log.calls(),
        vec!["backup/laptop: ping", "backup/laptop: receive pool/fs"]
    );
    assert_eq!(*s.log.received.lock().unwrap(), data);
}

#[tokio::test]
async fn client_of_another_ca_is_refused() {
    let s = ca_scenario("backup-server", "laptop", true).await;
    let err = s.remote.ping().await.expect_err("foreign ca");
    assert_eq!(err.kind, ErrorKind::AccessDenied, "not retried: {err:?}");
    assert!(err.message.contains("UnknownCA"), "{err:?}");
    assert!(s.log.calls().is_empty());
}

#[tokio::test]
async fn client_cn_not_listed_is_refused() {
    let s = ca_scenario("backup-server", "desktop", false).await;
    let err = s.remote.ping().await.expect_err("cn not listed");
    assert_eq!(err.kind, ErrorKind::AccessDenied, "not retried: {err:?}");
    assert!(
        err.message.contains("CN \"desktop\"") && err.message.contains("client_cns"),
        "the client learns why: {err:?}"
    );
    assert!(s.log.calls().is_empty());
}

#[tokio::test]
async fn server_with_another_name_is_refused_by_the_client() {
    let s = ca_scenario("impostor", "laptop", false).await;
    let err = s.remote.ping().await.expect_err("wrong server name");
    assert!(err.message.contains("handshake"), "{err:?}");
    assert!(s.log.calls().is_empty());
}

#[tokio::test]
async fn pinned_identities_connect_and_yield_the_partner_name() {
    let dir = tempfile::tempdir().unwrap();
    let a = certs::init(&dir.path().join("a"), "host-a").unwrap();
    let b = certs::init(&dir.path().join("b"), "host-b").unwrap();
    let log = Arc::new(Log::default());
    let (addr, _stop) = tls_server(
        Trust::Pinned(vec![a.files.cert.clone()]),
        b.files.clone(),
        &[],
        log.clone(),
    )
    .await;
    let remote = client(tls_client(
        &addr,
        Trust::Pinned(vec![b.files.cert.clone()]),
        a.files.clone(),
        "host-b",
    ));
    remote.ping().await.expect("pinned ping");
    assert_eq!(log.calls(), vec!["backup/host-a: ping"]);
}

#[tokio::test]
async fn pinned_certificate_mismatch_is_refused_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let a = certs::init(&dir.path().join("a"), "host-a").unwrap();
    let b = certs::init(&dir.path().join("b"), "host-b").unwrap();
    let c = certs::init(&dir.path().join("c"), "host-a").unwrap(); // same name, other key
    let log = Arc::new(Log::default());
    let (addr, _stop) = tls_server(
        Trust::Pinned(vec![a.files.cert.clone()]),
        b.files.clone(),
        &[],
        log.clone(),
    )
    .await;
    // The impostor claims host-a's name with its own key.
    let impostor = client(tls_client(
        &addr,
        Trust::Pinned(vec![b.files.cert.clone()]),
        c.files.clone(),
        "host-b",
    ));
    let err = impostor.ping().await.expect_err("impostor");
    assert_eq!(err.kind, ErrorKind::AccessDenied, "{err:?}");
    // The genuine client pinning the wrong server certificate refuses the server.
    let misled = client(tls_client(
        &addr,
        Trust::Pinned(vec![c.files.cert.clone()]),
        a.files.clone(),
        "host-b",
    ));
    let err = misled.ping().await.expect_err("misled");
    assert_eq!(err.kind, ErrorKind::Permanent, "{err:?}");
    assert!(err.message.contains("invalid peer certificate"), "{err:?}");
    assert!(log.calls().is_empty());
}

#[tokio::test]
async fn a_peer_presenting_our_own_identity_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let b = certs::init(&dir.path().join("b"), "host-b").unwrap();
    let log = Arc::new(Log::default());
    // The server pins its own certificate by mistake; a client with the same identity must
    // still not get in.
    let (addr, _stop) = tls_server(
        Trust::Pinned(vec![b.files.cert.clone()]),
        b.files.clone(),
        &[],
        log.clone(),
    )
    .await;
    let twin = client(tls_client(
        &addr,
        Trust::Pinned(vec![b.files.cert.clone()]),
        b.files.clone(),
        "host-b",
    ));
    let err = twin.ping().await.expect_err("twin");
    assert!(!err.is_temporary(), "{err:?}");
    assert!(err.message.contains("our own identity"), "{err:?}");
    assert!(log.calls().is_empty());
}
