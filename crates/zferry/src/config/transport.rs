//! Transports: how an active job connects (`connect`) and how a passive job listens (`serve`).

use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use super::decode::{
    CertKind, Ctx, DResult, Fields, Path, checked, fail, list_of, non_empty, string, string_map,
    type_tag, unsigned,
};
use super::duration::GoDuration;
use super::global::{cert_file, go_duration, host_port, path_buf};
use super::names;
use super::yaml::Node;

/// A `host:port` network address, as Go's `net.SplitHostPort` splits it: the host may be empty
/// (all addresses, e.g. `:8888`) or a bracketed IPv6 address (`[::1]:8888`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    host: String,
    port: u16,
}

/// What a `host:port` value must look like, for messages.
pub const HOSTPORT_EXPECTED: &str =
    "an address `host:port` (e.g. `backup.example.com:8888` or `:8888`)";

impl HostPort {
    /// Parses `host:port`; the port must be a number from 1 to 65535.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| "missing `]` in address".to_owned())?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| "missing port in address".to_owned())?;
            (host, port)
        } else {
            let (host, port) = text
                .rsplit_once(':')
                .ok_or_else(|| "missing port in address".to_owned())?;
            if host.contains(':') {
                return Err(
                    "too many colons in address (write IPv6 addresses as `[addr]:port`)".to_owned(),
                );
            }
            (host, port)
        };
        if host.contains(['[', ']']) {
            return Err("unexpected `[` or `]` in address".to_owned());
        }
        let port = match port.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(format!("port `{port}` is not a number from 1 to 65535")),
        };
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }

    /// The host part (empty: every local address).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Serialize for HostPort {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How an active job (push, pull) reaches its partner.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Connect {
    /// Plain TCP; the partner identifies this host by its IP address.
    #[serde(rename = "tcp")]
    Tcp(TcpConnect),
    /// Mutual TLS.
    #[serde(rename = "tls")]
    Tls(TlsConnect),
    /// `ssh` to the partner, whose forced command runs `zferry stdinserver IDENTITY`.
    #[serde(rename = "ssh+stdinserver")]
    SshStdinserver(SshStdinserverConnect),
    /// A passive job of the same daemon.
    #[serde(rename = "local")]
    Local(LocalConnect),
}

/// `connect: {type: tcp}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TcpConnect {
    /// `host:port` of the partner.
    pub address: HostPort,
    /// Give up connecting after this long; `0` means no limit (default `10s`).
    pub dial_timeout: GoDuration,
}

/// `connect: {type: tls}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TlsConnect {
    /// `host:port` of the partner.
    pub address: HostPort,
    /// CA certificate(s) the partner's certificate must chain to (PEM).
    pub ca: PathBuf,
    /// This host's certificate (PEM).
    pub cert: PathBuf,
    /// This host's private key (PEM).
    pub key: PathBuf,
    /// The common name the partner's certificate must carry.
    pub server_cn: String,
    /// Give up connecting after this long; `0` means no limit (default `10s`).
    pub dial_timeout: GoDuration,
}

/// `connect: {type: ssh+stdinserver}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SshStdinserverConnect {
    /// Host to connect to.
    pub host: String,
    /// Remote user.
    pub user: String,
    /// SSH port.
    pub port: u16,
    /// Private key file for the connection.
    pub identity_file: PathBuf,
    /// Accepted for zrepl compatibility; zrepl does not use it either.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transport_open_command: Vec<String>,
    /// Accepted for zrepl compatibility; zrepl does not use it either.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_command: Option<String>,
    /// Extra `-o` options for ssh (e.g. `Compression=yes`).
    pub options: Vec<String>,
    /// Give up connecting after this long; `0` means no limit (default `10s`).
    pub dial_timeout: GoDuration,
}

/// `connect: {type: local}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LocalConnect {
    /// The `listener_name` of the local `serve`.
    pub listener_name: String,
    /// The identity this job presents to the passive job.
    pub client_identity: String,
    /// Give up connecting after this long; `0` means no limit (default `2s`).
    pub dial_timeout: GoDuration,
}

/// How a passive job (sink, source) accepts connections.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Serve {
    /// Plain TCP; clients are identified by IP address.
    #[serde(rename = "tcp")]
    Tcp(TcpServe),
    /// Mutual TLS; clients are identified by their certificate's common name.
    #[serde(rename = "tls")]
    Tls(TlsServe),
    /// Connections relayed by `zferry stdinserver IDENTITY` (the ssh forced command).
    #[serde(rename = "stdinserver")]
    Stdinserver(StdinserverServe),
    /// Active jobs of the same daemon.
    #[serde(rename = "local")]
    Local(LocalServe),
}

/// `serve: {type: tcp}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TcpServe {
    /// `host:port` to listen on.
    pub listen: HostPort,
    /// Bind even if the address is not (yet) configured on this host (default `false`).
    pub listen_freebind: bool,
    /// Client IP address or CIDR network → identity. In a CIDR entry the identity contains
    /// exactly one `*`, replaced by the client's address; the most specific entry wins.
    pub clients: BTreeMap<String, String>,
}

/// `serve: {type: tls}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TlsServe {
    /// `host:port` to listen on.
    pub listen: HostPort,
    /// Bind even if the address is not (yet) configured on this host (default `false`).
    pub listen_freebind: bool,
    /// CA certificate(s) client certificates must chain to (PEM).
    pub ca: PathBuf,
    /// This host's certificate (PEM).
    pub cert: PathBuf,
    /// This host's private key (PEM).
    pub key: PathBuf,
    /// Common names of the accepted clients; each is also the client's identity.
    pub client_cns: Vec<String>,
    /// Abort TLS handshakes that take longer; `0` means no limit (default `10s`).
    pub handshake_timeout: GoDuration,
}

/// `serve: {type: stdinserver}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StdinserverServe {
    /// The identities clients connect as (one socket each).
    pub client_identities: Vec<String>,
}

/// `serve: {type: local}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LocalServe {
    /// The name local `connect`s refer to.
    pub listener_name: String,
}

/// Checks one `clients` entry with zrepl's rules (the lookup itself is the tcp transport's, in
/// `zferry_rpc::transport::clientmap`): a single address maps to an identity without `*`; a
/// CIDR network (optionally with an IPv6 zone) to an identity with exactly one `*` that stays a
/// valid dataset name component for the longest possible address.
pub fn check_client_entry(address: &str, identity: &str) -> Result<(), String> {
    let addr = address.split_once('%').map_or(address, |(a, _)| a);
    if addr.parse::<ipnet::IpNet>().is_ok() {
        if identity.matches('*').count() != 1 {
            return Err(format!(
                "found `{identity}`, expected an identity with exactly one `*` for the network `{address}` (the `*` is replaced by the client's address)"
            ));
        }
        // The longest address (full IPv6 plus an interface name of 16 bytes) must still give a
        // valid dataset name component.
        let longest = identity.replacen(
            '*',
            &format!("{}-{}", "ffff:".repeat(7) + "ffff", "i".repeat(16)),
            1,
        );
        names::client_identity(&longest).map_err(|e| {
            format!("found `{identity}`, expected an identity that is a valid dataset name component even with the longest client address in place of `*`: {e}")
        })?;
        return Ok(());
    }
    addr.parse::<IpAddr>()
        .map_err(|_| format!("found `{address}`, expected an IP address or a CIDR network"))?;
    if identity.contains('*') {
        return Err(format!(
            "found `{identity}`, expected an identity without `*` for the single address `{address}` (only CIDR networks expand `*`)"
        ));
    }
    names::client_identity(identity).map_err(|e| {
        format!(
            "found `{identity}`, expected a client identity usable as a dataset name component: {e}"
        )
    })?;
    Ok(())
}

fn identity(node: &Node, path: &Path) -> DResult<String> {
    checked(
        node,
        path,
        "a client identity usable as a dataset name component",
        names::client_identity,
    )
}

fn port(node: &Node, path: &Path) -> DResult<u16> {
    let p: u16 = unsigned(node, path, "a port number from 1 to 65535")?;
    if p == 0 {
        return fail(
            node,
            path,
            "found `0`, expected a port number from 1 to 65535",
        );
    }
    Ok(p)
}

fn strings(node: &Node, path: &Path) -> DResult<Vec<String>> {
    list_of(node, path, false, string)
}

pub(crate) fn decode_connect(node: &Node, path: &Path, ctx: &mut Ctx) -> DResult<Connect> {
    let ty = type_tag(node, path, &["tcp", "tls", "ssh+stdinserver", "local"])?;
    let ten = GoDuration::from_secs(10);
    Ok(match ty.as_str() {
        "tcp" => {
            let f = Fields::new(node, path, &["type", "address", "dial_timeout"])?;
            Connect::Tcp(TcpConnect {
                address: f.req("address", host_port)?,
                dial_timeout: f.or("dial_timeout", ten, go_duration)?,
            })
        }
        "tls" => {
            let f = Fields::new(
                node,
                path,
                &[
                    "type",
                    "address",
                    "ca",
                    "cert",
                    "key",
                    "server_cn",
                    "dial_timeout",
                ],
            )?;
            Connect::Tls(TlsConnect {
                address: f.req("address", host_port)?,
                ca: f.req("ca", |n, p| cert_file(n, p, ctx, CertKind::Certificates))?,
                cert: f.req("cert", |n, p| cert_file(n, p, ctx, CertKind::Certificates))?,
                key: f.req("key", |n, p| cert_file(n, p, ctx, CertKind::PrivateKey))?,
                server_cn: f.req("server_cn", non_empty)?,
                dial_timeout: f.or("dial_timeout", ten, go_duration)?,
            })
        }
        "ssh+stdinserver" => {
            let f = Fields::new(
                node,
                path,
                &[
                    "type",
                    "host",
                    "user",
                    "port",
                    "identity_file",
                    "transport_open_command",
                    "ssh_command",
                    "options",
                    "dial_timeout",
                ],
            )?;
            Connect::SshStdinserver(SshStdinserverConnect {
                host: f.req("host", non_empty)?,
                user: f.req("user", non_empty)?,
                port: f.req("port", port)?,
                identity_file: f.req("identity_file", path_buf)?,
                transport_open_command: f.or("transport_open_command", Vec::new(), strings)?,
                ssh_command: f.opt("ssh_command", string)?,
                options: f.or("options", Vec::new(), strings)?,
                dial_timeout: f.or("dial_timeout", ten, go_duration)?,
            })
        }
        _ => {
            let f = Fields::new(
                node,
                path,
                &["type", "listener_name", "client_identity", "dial_timeout"],
            )?;
            Connect::Local(LocalConnect {
                listener_name: f.req("listener_name", non_empty)?,
                client_identity: f.req("client_identity", identity)?,
                dial_timeout: f.or("dial_timeout", GoDuration::from_secs(2), go_duration)?,
            })
        }
    })
}

pub(crate) fn decode_serve(node: &Node, path: &Path, ctx: &mut Ctx) -> DResult<Serve> {
    let ty = type_tag(node, path, &["tcp", "tls", "stdinserver", "local"])?;
    Ok(match ty.as_str() {
        "tcp" => {
            let f = Fields::new(
                node,
                path,
                &["type", "listen", "listen_freebind", "clients"],
            )?;
            Serve::Tcp(TcpServe {
                listen: f.req("listen", host_port)?,
                listen_freebind: f.flag("listen_freebind", false)?,
                clients: f.req("clients", |n, p| {
                    let map = string_map(n, p, |key, value, p| {
                        let address = string(key, p)?;
                        let ident = string(value, p)?;
                        match check_client_entry(&address, &ident) {
                            Ok(_) => Ok(ident),
                            Err(e) => fail(value, p, e),
                        }
                    })?;
                    if map.is_empty() {
                        return fail(n, p, "found an empty mapping, expected at least one client");
                    }
                    Ok(map)
                })?,
            })
        }
        "tls" => {
            let f = Fields::new(
                node,
                path,
                &[
                    "type",
                    "listen",
                    "listen_freebind",
                    "ca",
                    "cert",
                    "key",
                    "client_cns",
                    "handshake_timeout",
                ],
            )?;
            Serve::Tls(TlsServe {
                listen: f.req("listen", host_port)?,
                listen_freebind: f.flag("listen_freebind", false)?,
                ca: f.req("ca", |n, p| cert_file(n, p, ctx, CertKind::Certificates))?,
                cert: f.req("cert", |n, p| cert_file(n, p, ctx, CertKind::Certificates))?,
                key: f.req("key", |n, p| cert_file(n, p, ctx, CertKind::PrivateKey))?,
                client_cns: f.req("client_cns", |n, p| list_of(n, p, true, identity))?,
                handshake_timeout: f.or(
                    "handshake_timeout",
                    GoDuration::from_secs(10),
                    go_duration,
                )?,
            })
        }
        "stdinserver" => {
            let f = Fields::new(node, path, &["type", "client_identities"])?;
            Serve::Stdinserver(StdinserverServe {
                client_identities: f
                    .req("client_identities", |n, p| list_of(n, p, true, identity))?,
            })
        }
        _ => {
            let f = Fields::new(node, path, &["type", "listener_name"])?;
            Serve::Local(LocalServe {
                listener_name: f.req("listener_name", non_empty)?,
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ports() {
        for (text, host, port) in [
            ("backup.example.com:8888", "backup.example.com", 8888),
            (":8888", "", 8888),
            ("[::1]:22", "::1", 22),
            ("192.168.122.189:8888", "192.168.122.189", 8888),
        ] {
            let hp = HostPort::parse(text).expect(text);
            assert_eq!((hp.host(), hp.port()), (host, port));
            assert_eq!(HostPort::parse(&hp.to_string()), Ok(hp));
        }
        for bad in [
            "host",
            "::1:22",
            "host:",
            "host:0",
            "host:70000",
            "host:http",
        ] {
            assert!(HostPort::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_entries_follow_zrepl_rules() {
        assert!(check_client_entry("192.168.122.123", "mysql01").is_ok());
        assert!(check_client_entry("10.23.42.0/24", "cluster-*").is_ok());
        assert!(check_client_entry("fde4:8dba:82e1::/64", "san-*").is_ok());
        assert!(check_client_entry("fe80::/16%eth1", "san-*").is_ok());
        assert!(
            check_client_entry("10.23.42.0/24", "cluster").is_err(),
            "CIDR without *"
        );
        assert!(
            check_client_entry("10.23.42.0/24", "a*b*").is_err(),
            "two *"
        );
        assert!(
            check_client_entry("10.1.2.3", "host-*").is_err(),
            "* on a single address"
        );
        assert!(check_client_entry("jimmy", "db").is_err());
        assert!(check_client_entry("10.1.2.3", "bad/identity").is_err());
    }
}
