//! Building transports from the configuration: a [`Connector`] for an active job's `connect`, a
//! [`Listener`] for a passive job's `serve`, and the peer name that keys an active job's lane.
//!
//! TLS trust: when every certificate in the `ca` file is a plain (non-CA) certificate, such as
//! one made by `zferry identity init`, the partner is *pinned* to exactly those certificates;
//! otherwise the file is a CA bundle and the partner's certificate must chain to it (zrepl's
//! semantics).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use zferry_rpc::ClientIdentity;
use zferry_rpc::transport::clientmap::ClientMap;
use zferry_rpc::transport::local::{LocalClient, LocalServer};
use zferry_rpc::transport::ssh::SshClient;
use zferry_rpc::transport::stdinserver::StdinserverServer;
use zferry_rpc::transport::tcp::{TcpClient, TcpServer};
use zferry_rpc::transport::tls::{
    TlsClient, TlsClientOptions, TlsIdentityFiles, TlsServer, TlsServerOptions, Trust,
};
use zferry_rpc::transport::{Connector, Listener};

use crate::config::global::Global;
use crate::config::transport::{Connect, HostPort, Serve};

/// A dial timeout of `0` means "no limit"; we still bound it (a day) so every wait has one.
fn dial_timeout(d: Duration) -> Duration {
    if d.is_zero() {
        Duration::from_secs(86_400)
    } else {
        d
    }
}

/// `host:port` as a socket address string; an empty host listens on every address.
pub(crate) fn listen_address(hp: &HostPort) -> String {
    if hp.host().is_empty() {
        format!("[::]:{}", hp.port())
    } else {
        hp.to_string()
    }
}

/// Pinned (plain certificates) or CA trust for the `ca` file.
pub fn trust_for(ca: &Path) -> Result<Trust, String> {
    Trust::from_ca_file(ca).map_err(|e| e.to_string())
}

/// The connector of an active job.
pub fn connector(connect: &Connect) -> Result<Arc<dyn Connector>, String> {
    Ok(match connect {
        Connect::Tcp(c) => Arc::new(TcpClient {
            address: c.address.to_string(),
            dial_timeout: dial_timeout(c.dial_timeout.as_std()),
        }),
        Connect::Tls(c) => Arc::new(
            TlsClient::new(TlsClientOptions {
                address: c.address.to_string(),
                trust: trust_for(&c.ca)?,
                identity: TlsIdentityFiles {
                    cert: c.cert.clone(),
                    key: c.key.clone(),
                },
                server_cn: c.server_cn.clone(),
                dial_timeout: dial_timeout(c.dial_timeout.as_std()),
            })
            .map_err(|e| e.to_string())?,
        ),
        Connect::SshStdinserver(c) => {
            let mut client = SshClient::new(&c.host, &c.user, c.port, c.identity_file.clone());
            client.options = c.options.clone();
            client.dial_timeout = dial_timeout(c.dial_timeout.as_std());
            if let Ok(ssh) = std::env::var("ZFERRY_SSH") {
                client.ssh_program = PathBuf::from(ssh);
            }
            Arc::new(client)
        }
        Connect::Local(c) => Arc::new(LocalClient {
            listener_name: c.listener_name.clone(),
            client_identity: ClientIdentity::new(c.client_identity.clone())
                .map_err(|e| e.to_string())?,
        }),
    })
}

/// The peer part of an active job's lane: where it connects to. It is stable across restarts,
/// so the job's cursors and holds keep their names.
pub fn peer_name(connect: &Connect) -> String {
    match connect {
        Connect::Tcp(c) => c.address.to_string(),
        Connect::Tls(c) => c.server_cn.clone(),
        Connect::SshStdinserver(c) => format!("{}@{}", c.user, c.host),
        Connect::Local(c) => c.listener_name.clone(),
    }
}

/// The listener of a passive job.
pub async fn listener(serve: &Serve, global: &Global) -> Result<Box<dyn Listener>, String> {
    Ok(match serve {
        Serve::Tcp(s) => {
            let clients = ClientMap::new(s.clients.iter()).map_err(|e| e.to_string())?;
            Box::new(
                TcpServer::bind(&listen_address(&s.listen), clients)
                    .await
                    .map_err(|e| format!("cannot listen on {}: {e}", s.listen))?,
            )
        }
        Serve::Tls(s) => Box::new(
            TlsServer::bind(TlsServerOptions {
                listen: listen_address(&s.listen),
                trust: trust_for(&s.ca)?,
                identity: TlsIdentityFiles {
                    cert: s.cert.clone(),
                    key: s.key.clone(),
                },
                client_cns: s.client_cns.clone(),
                handshake_timeout: dial_timeout(s.handshake_timeout.as_std()),
            })
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", s.listen))?,
        ),
        Serve::Stdinserver(s) => {
            let identities = s
                .client_identities
                .iter()
                .map(|i| ClientIdentity::new(i.clone()).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            let sockdir = &global.serve.stdinserver.sockdir;
            ensure_private_dir(sockdir)?;
            Box::new(StdinserverServer::bind(sockdir, &identities).map_err(|e| e.to_string())?)
        }
        Serve::Local(s) => {
            Box::new(LocalServer::bind(&s.listener_name).map_err(|e| e.to_string())?)
        }
    })
}

/// Creates the stdinserver socket directory (mode 0700) when it is missing.
fn ensure_private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if dir.exists() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// The identities a source admits, when the transport names them (tls, stdinserver); `None`
/// admits whoever the transport authenticated (tcp's client map, local).
pub fn admitted_identities(serve: &Serve) -> Option<BTreeSet<ClientIdentity>> {
    let names: &[String] = match serve {
        Serve::Tls(s) if !s.client_cns.is_empty() => &s.client_cns,
        Serve::Stdinserver(s) => &s.client_identities,
        _ => return None,
    };
    Some(
        names
            .iter()
            .filter_map(|n| ClientIdentity::new(n.clone()).ok())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zferry_identity_is_pinned_and_a_ca_is_a_ca() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = zferry_rpc::certs::init(&dir.path().join("id"), "hosta").expect("identity");
        assert!(
            matches!(trust_for(&id.files.cert), Ok(Trust::Pinned(p)) if p == [id.files.cert.clone()])
        );

        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().expect("key");
        let ca = params.self_signed(&key).expect("ca");
        let ca_file = dir.path().join("ca.crt");
        std::fs::write(&ca_file, ca.pem()).expect("write");
        assert!(matches!(trust_for(&ca_file), Ok(Trust::Ca(p)) if p == ca_file));

        let empty = dir.path().join("empty.crt");
        std::fs::write(&empty, "").expect("write");
        assert!(trust_for(&empty).is_err());
    }
}
