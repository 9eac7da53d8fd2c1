//! Mutual TLS (rustls with the ring provider): the client certificate's common name is the
//! client identity.
//!
//! Two ways to trust the partner:
//! - [`Trust::Ca`]: certificates signed by a CA (zrepl's `tls` transport). The server admits
//!   client CNs listed in `client_cns`; the client checks the server certificate against
//!   `server_cn` (as a DNS name in the certificate's subject alternative names).
//! - [`Trust::Pinned`]: zferry identities. The partner's own (self-signed) certificate is the
//!   only thing trusted: the peer must present exactly one of the pinned certificates, compared
//!   byte for byte. Names, issuers and dates play no part in the decision.
//!
//! Either way, a peer presenting *our own* certificate is refused: two daemons sharing one
//! identity would otherwise replicate into each other's namespace unnoticed.

use super::tcp::{TcpClient, TcpServer};
use super::{Accepted, BoxStream, Connector, Incoming, Listener};
use crate::conn::{ConnOptions, refuse};
use crate::error::{Result, RpcError};
use crate::identity::ClientIdentity;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// rustls reads 4 KiB of ciphertext at a time; a buffer below it turns most of those reads
/// into memory copies instead of system calls.
const TLS_READ_BUFFER: usize = 256 << 10;
/// How much encrypted data rustls may queue for the socket (its default is 64 KiB). Room for a
/// whole data frame's records lets one vectored write carry up to 64 records (1 MiB), instead of
/// sixteen rounds of encrypt-4-records-and-write per frame.
const TLS_WRITE_BUFFER: usize = 2 << 20;

/// What the partner's certificate is checked against.
#[derive(Debug, Clone)]
pub enum Trust {
    /// A PEM file of CA certificates.
    Ca(PathBuf),
    /// PEM files, each holding a partner certificate that is trusted as is.
    Pinned(Vec<PathBuf>),
}

impl Trust {
    /// What a `ca` file means: a file holding any CA certificate is a CA bundle (zrepl's meaning);
    /// a file of plain certificates pins those partners.
    pub fn from_ca_file(path: &Path) -> Result<Trust> {
        let mut any_ca = false;
        for der in load_certs(path)? {
            let (_, parsed) = x509_parser::parse_x509_certificate(&der).map_err(|e| {
                RpcError::Config(format!(
                    "cannot parse a certificate in {}: {e}",
                    path.display()
                ))
            })?;
            any_ca |= parsed.is_ca();
        }
        Ok(if any_ca {
            Trust::Ca(path.to_path_buf())
        } else {
            Trust::Pinned(vec![path.to_path_buf()])
        })
    }
}

/// Our own certificate chain and key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsIdentityFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

struct Loaded {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl TlsIdentityFiles {
    fn load(&self) -> Result<Loaded> {
        let chain = load_certs(&self.cert)?;
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| {
            RpcError::Config(format!("cannot read the key {}: {e}", self.key.display()))
        })?;
        Ok(Loaded { chain, key })
    }
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| {
            RpcError::Config(format!(
                "cannot read certificates from {}: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(RpcError::Config(format!(
            "{} holds no certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// The ring provider, preferring AES-128-GCM: as safe for this purpose as AES-256 and faster,
/// which matters for multi-gigabyte streams (both ends use this order, and rustls follows the
/// client's preference).
fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider
        .cipher_suites
        .sort_by_key(|suite| match suite.suite() {
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256 => 0,
            rustls::CipherSuite::TLS13_AES_256_GCM_SHA384 => 1,
            _ => 2,
        });
    Arc::new(provider)
}

fn tls_err(e: impl std::fmt::Display) -> RpcError {
    RpcError::Tls(e.to_string())
}

/// The common name of a DER certificate.
pub fn common_name(cert: &CertificateDer<'_>) -> Result<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert)
        .map_err(|e| RpcError::Tls(format!("cannot parse the peer certificate: {e}")))?;
    parsed
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string)
        .ok_or_else(|| RpcError::Tls("the peer certificate has no common name".into()))
}

fn pinned_certs(paths: &[PathBuf]) -> Result<Vec<CertificateDer<'static>>> {
    let mut all = Vec::new();
    for path in paths {
        all.extend(load_certs(path)?);
    }
    Ok(all)
}

fn ca_roots(path: &Path) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(tls_err)?;
    }
    Ok(roots)
}

/// Accepts exactly the pinned certificates (and never our own).
#[derive(Debug)]
struct PinnedVerifier {
    pinned: Vec<CertificateDer<'static>>,
    own: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedVerifier {
    fn check(&self, presented: &CertificateDer<'_>) -> std::result::Result<(), rustls::Error> {
        if presented.as_ref() == self.own.as_ref() {
            return Err(rustls::Error::General(
                "the peer presents our own identity".into(),
            ));
        }
        if self.pinned.iter().any(|p| p.as_ref() == presented.as_ref()) {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ClientCertVerifier for PinnedVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> std::result::Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn pinned_verifier(
    paths: &[PathBuf],
    own: &CertificateDer<'static>,
) -> Result<Arc<PinnedVerifier>> {
    Ok(Arc::new(PinnedVerifier {
        pinned: pinned_certs(paths)?,
        own: own.clone(),
        algorithms: provider().signature_verification_algorithms,
    }))
}

/// Settings of a tls listener.
#[derive(Debug, Clone)]
pub struct TlsServerOptions {
    /// `host:port` to listen on.
    pub listen: String,
    /// How client certificates are trusted.
    pub trust: Trust,
    /// Our certificate and key.
    pub identity: TlsIdentityFiles,
    /// Client CNs admitted; with [`Trust::Pinned`] an empty list admits every pinned partner.
    pub client_cns: Vec<String>,
    /// Bound for the TLS handshake.
    pub handshake_timeout: Duration,
}

/// A tls listener.
pub struct TlsServer {
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    client_cns: Arc<BTreeSet<String>>,
    own: CertificateDer<'static>,
    handshake_timeout: Duration,
}

impl TlsServer {
    /// Loads the certificates and binds the listener.
    pub async fn bind(options: TlsServerOptions) -> Result<Self> {
        let Loaded { chain, key } = options.identity.load()?;
        let own = chain[0].clone();
        let verifier: Arc<dyn ClientCertVerifier> = match &options.trust {
            Trust::Ca(path) => {
                if options.client_cns.is_empty() {
                    return Err(RpcError::Config(
                        "a tls listener trusting a CA needs client_cns".into(),
                    ));
                }
                rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(ca_roots(path)?),
                    provider(),
                )
                .build()
                .map_err(tls_err)?
            }
            Trust::Pinned(paths) => pinned_verifier(paths, &own)?,
        };
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(tls_err)?;
        let listener = tokio::net::TcpListener::bind(&options.listen)
            .await
            .map_err(|e| RpcError::io("binding the tls listener", e))?;
        Ok(TlsServer {
            listener,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            client_cns: Arc::new(options.client_cns.into_iter().collect()),
            own,
            handshake_timeout: options.handshake_timeout,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener
            .local_addr()
            .map_err(|e| RpcError::io("reading the listener address", e))
    }
}

#[async_trait::async_trait]
impl Listener for TlsServer {
    async fn accept(&mut self) -> Result<Incoming> {
        let (tcp, addr) = TcpServer::accept_tcp(&self.listener).await?;
        let acceptor = self.acceptor.clone();
        let client_cns = self.client_cns.clone();
        let own = self.own.clone();
        let timeout = self.handshake_timeout;
        Ok(Incoming::new(Some(addr.ip()), async move {
            let tcp = tokio::io::BufReader::with_capacity(TLS_READ_BUFFER, tcp);
            let tls = tokio::time::timeout(timeout, acceptor.accept(tcp))
                .await
                .map_err(|_| RpcError::Timeout {
                    what: "the tls handshake",
                    after: timeout,
                })?
                .map_err(|e| RpcError::Tls(format!("handshake with {addr} failed: {e}")))?;
            let mut tls = tls;
            tls.get_mut().1.set_buffer_limit(Some(TLS_WRITE_BUFFER));
            let presented = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .ok_or_else(|| RpcError::Denied(format!("{addr} presented no certificate")))?
                .clone();
            let cn = common_name(&presented)?;
            let refusal = if presented.as_ref() == own.as_ref() {
                Some(format!("{addr} presents this server's own identity"))
            } else if !client_cns.is_empty() && !client_cns.contains(&cn) {
                Some(format!(
                    "client certificate CN {cn:?} from {addr} is not in client_cns"
                ))
            } else {
                None
            };
            if let Some(why) = refusal {
                // The certificate itself was acceptable, so the session is up: say no in
                // protocol terms, so that the client learns why and does not retry.
                let err = RpcError::Denied(why);
                refuse(tls, &ConnOptions::default(), &err).await;
                return Err(err);
            }
            Ok(Accepted {
                stream: Box::new(tls) as BoxStream,
                identity: ClientIdentity::new(cn.clone())?,
                peer: format!("{addr} (CN {cn})"),
            })
        }))
    }

    fn describe(&self) -> String {
        match self.listener.local_addr() {
            Ok(addr) => format!("tls {addr}"),
            Err(_) => "tls".into(),
        }
    }
}

/// Settings of a tls client.
#[derive(Debug, Clone)]
pub struct TlsClientOptions {
    /// `host:port` of the server.
    pub address: String,
    /// How the server certificate is trusted.
    pub trust: Trust,
    /// Our certificate and key.
    pub identity: TlsIdentityFiles,
    /// The name the server certificate must carry (CA trust); sent as SNI.
    pub server_cn: String,
    /// Bound for connecting and for the handshake.
    pub dial_timeout: Duration,
}

/// Connects with mutual TLS.
pub struct TlsClient {
    tcp: TcpClient,
    connector: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
    own: CertificateDer<'static>,
}

impl TlsClient {
    /// Loads the certificates.
    pub fn new(options: TlsClientOptions) -> Result<Self> {
        let Loaded { chain, key } = options.identity.load()?;
        let own = chain[0].clone();
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?;
        let builder = match &options.trust {
            Trust::Ca(path) => builder.with_root_certificates(ca_roots(path)?),
            Trust::Pinned(paths) => builder
                .dangerous()
                .with_custom_certificate_verifier(pinned_verifier(paths, &own)?),
        };
        let config = builder.with_client_auth_cert(chain, key).map_err(tls_err)?;
        let server_name = ServerName::try_from(options.server_cn.clone()).map_err(|e| {
            RpcError::Config(format!(
                "server_cn {:?} is not a valid name: {e}",
                options.server_cn
            ))
        })?;
        Ok(TlsClient {
            tcp: TcpClient {
                address: options.address,
                dial_timeout: options.dial_timeout,
            },
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name,
            own,
        })
    }
}

#[async_trait::async_trait]
impl Connector for TlsClient {
    async fn connect(&self) -> Result<BoxStream> {
        let tcp = tokio::io::BufReader::with_capacity(TLS_READ_BUFFER, self.tcp.dial().await?);
        let timeout = self.tcp.dial_timeout;
        let tls = tokio::time::timeout(
            timeout,
            self.connector.connect(self.server_name.clone(), tcp),
        )
        .await
        .map_err(|_| RpcError::Timeout {
            what: "the tls handshake",
            after: timeout,
        })?
        .map_err(|e| RpcError::Tls(format!("handshake with {} failed: {e}", self.tcp.address)))?;
        let mut tls = tls;
        tls.get_mut().1.set_buffer_limit(Some(TLS_WRITE_BUFFER));
        let presented = tls.get_ref().1.peer_certificates().and_then(|c| c.first());
        if presented.is_some_and(|c| c.as_ref() == self.own.as_ref()) {
            return Err(RpcError::Denied(
                "the server presents our own identity".into(),
            ));
        }
        Ok(Box::new(tls))
    }

    fn describe(&self) -> String {
        format!("tls {}", self.tcp.address)
    }
}
