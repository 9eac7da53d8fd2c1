//! Client identities and the ZFS name rules they must obey.
//!
//! A client identity names the peer of a connection. A sink job places everything a client sends
//! under `root_fs/<identity>`, so an identity must be exactly one valid ZFS dataset name component
//! (zrepl's rule): not empty, not `.` or `..`, only the characters OpenZFS accepts in a component
//! (ASCII letters and digits, `-`, `_`, `.`, `:` and space), and short enough to fit a dataset name.

use crate::error::RpcError;
use std::fmt;
use zferry_repl::endpoint::check_component;

/// The authenticated name of the peer of a server connection (see the module docs for the rules).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientIdentity(String);

impl ClientIdentity {
    /// Validates and wraps an identity.
    pub fn new(name: impl Into<String>) -> Result<Self, RpcError> {
        let name = name.into();
        check_component(&name)
            .map_err(|why| RpcError::Config(format!("invalid client identity {name:?}: {why}")))?;
        Ok(ClientIdentity(name))
    }

    /// The identity as a string (a valid dataset name component).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_zfs_component_characters() {
        for ok in [
            "host1",
            "db-192.168.1.2",
            "fe80::1-eth0",
            "with space",
            "a_b",
        ] {
            assert!(ClientIdentity::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_what_could_escape_or_is_not_a_component() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a@b",
            "a#b",
            "a%b",
            "ä",
            &"x".repeat(256),
        ] {
            assert!(ClientIdentity::new(bad).is_err(), "{bad:?}");
        }
    }
}
