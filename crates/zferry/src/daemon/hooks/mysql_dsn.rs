//! MySQL data source names as zrepl configurations carry them (the Go driver's syntax):
//! `[user[:password]@][protocol[(address)]]/dbname[?param=value&...]`, e.g.
//! `zrepl:secret@tcp(localhost:3306)/` or `root@unix(/run/mysqld/mysqld.sock)/`.
//! A `mysql://` URL is accepted as well. Parameters after `?` are ignored.

use mysql_async::{Opts, OptsBuilder};

/// Why a MySQL DSN cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DsnError {
    /// No `/` separating the database name.
    #[error("invalid MySQL DSN: missing '/' before the database name")]
    MissingSlash,
    /// Protocol other than `tcp` or `unix`.
    #[error("invalid MySQL DSN: unsupported protocol {0:?} (expected tcp or unix)")]
    Protocol(String),
    /// `protocol(address` without the closing parenthesis, or text after it.
    #[error("invalid MySQL DSN: malformed address {0:?}")]
    Address(String),
    /// A TCP port that is not a number.
    #[error("invalid MySQL DSN: bad port {0:?}")]
    Port(String),
    /// A `mysql://` URL the client library rejects.
    #[error("invalid MySQL URL: {0}")]
    Url(String),
}

/// Parses a DSN into client options.
pub fn parse_mysql_dsn(dsn: &str) -> Result<Opts, DsnError> {
    if dsn.starts_with("mysql://") {
        return Opts::from_url(dsn).map_err(|e| DsnError::Url(e.to_string()));
    }
    let dsn = dsn.split_once('?').map_or(dsn, |(head, _params)| head);
    let (head, db) = dsn.rsplit_once('/').ok_or(DsnError::MissingSlash)?;
    let (credentials, endpoint) = match head.rsplit_once('@') {
        Some((credentials, endpoint)) => (Some(credentials), endpoint),
        None => (None, head),
    };
    let mut opts = OptsBuilder::default();
    if let Some(credentials) = credentials {
        let (user, pass) = match credentials.split_once(':') {
            Some((user, pass)) => (user, Some(pass)),
            None => (credentials, None),
        };
        opts = opts.user(Some(user)).pass(pass);
    }
    if !db.is_empty() {
        opts = opts.db_name(Some(db));
    }
    let (protocol, address) = match endpoint.split_once('(') {
        Some((protocol, rest)) => {
            let address = rest
                .strip_suffix(')')
                .ok_or_else(|| DsnError::Address(endpoint.to_string()))?;
            (protocol, Some(address))
        }
        None => (endpoint, None),
    };
    match (protocol, address) {
        ("" | "tcp", address) => {
            let address = address
                .filter(|a| !a.is_empty())
                .unwrap_or("127.0.0.1:3306");
            let (host, port) = split_host_port(address)?;
            opts = opts
                .ip_or_hostname(host)
                .tcp_port(port)
                .prefer_socket(false);
        }
        ("unix", address) => {
            let socket = address
                .filter(|a| !a.is_empty())
                .unwrap_or("/tmp/mysql.sock");
            opts = opts.socket(Some(socket)).prefer_socket(true);
        }
        (other, _) => return Err(DsnError::Protocol(other.to_string())),
    }
    Ok(opts.into())
}

/// Splits `host[:port]` (IPv6 hosts in brackets); the port defaults to 3306.
fn split_host_port(address: &str) -> Result<(String, u16), DsnError> {
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| DsnError::Address(address.to_string()))?;
        (host, after.strip_prefix(':'))
    } else {
        match address.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (address, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| DsnError::Port(p.to_string()))?,
        None => 3306,
    };
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_tcp_dsn() {
        let opts = parse_mysql_dsn("zrepl:pa:ss@tcp(db.example:3307)/shop?timeout=5s").expect("ok");
        assert_eq!(opts.user(), Some("zrepl"));
        assert_eq!(opts.pass(), Some("pa:ss"));
        assert_eq!(opts.ip_or_hostname(), "db.example");
        assert_eq!(opts.tcp_port(), 3307);
        assert_eq!(opts.db_name(), Some("shop"));
    }

    #[test]
    fn defaults_and_unix_sockets() {
        let opts = parse_mysql_dsn("/").expect("ok");
        assert_eq!(opts.ip_or_hostname(), "127.0.0.1");
        assert_eq!(opts.tcp_port(), 3306);
        assert_eq!(opts.user(), None);
        let opts = parse_mysql_dsn("root@unix(/run/mysqld/mysqld.sock)/").expect("ok");
        assert_eq!(opts.socket(), Some("/run/mysqld/mysqld.sock"));
        assert_eq!(opts.db_name(), None);
        let opts = parse_mysql_dsn("u@tcp([::1]:3310)/").expect("ok");
        assert_eq!((opts.ip_or_hostname(), opts.tcp_port()), ("::1", 3310));
    }

    #[test]
    fn urls_pass_through() {
        let opts = parse_mysql_dsn("mysql://u:p@h:3400/db").expect("ok");
        assert_eq!((opts.ip_or_hostname(), opts.tcp_port()), ("h", 3400));
    }

    #[test]
    fn malformed_dsns_are_rejected() {
        assert_eq!(
            parse_mysql_dsn("user@tcp(host)"),
            Err(DsnError::MissingSlash)
        );
        assert_eq!(
            parse_mysql_dsn("u@udp(h)/").err(),
            Some(DsnError::Protocol("udp".into()))
        );
        assert_eq!(
            parse_mysql_dsn("u@tcp(h:x)/").err(),
            Some(DsnError::Port("x".into()))
        );
        assert!(matches!(
            parse_mysql_dsn("u@tcp(h/"),
            Err(DsnError::Address(_) | DsnError::MissingSlash)
        ));
    }
}
