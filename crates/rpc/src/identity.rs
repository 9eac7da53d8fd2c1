//! Client identities and the ZFS name rules they must obey.
//!
//! A client identity names the peer of a connection. A sink job places everything a client sends
//! under `root_fs/<identity>`, so an identity must be exactly one valid ZFS dataset name component
//! (zrepl's rule): not empty, not `.` or `..`, only the characters OpenZFS accepts in a component
//! (ASCII letters and digits, `-`, `_`, `.`, `:` and space), and short enough to fit a dataset name.

use crate::error::RpcError;
use std::fmt;

/// The longest dataset name OpenZFS accepts (ZFS_MAX_DATASET_NAME_LEN - 1).
pub const MAX_DATASET_NAME_LEN: usize = 255;

/// Checks one component of a ZFS dataset name (the part between two `/`).
///
/// Returns a message saying what is wrong; the caller adds context.
pub fn check_component(component: &str) -> Result<(), String> {
    if component.is_empty() {
        return Err("empty name component".into());
    }
    if component == "." || component == ".." {
        return Err(format!(
            "component {component:?} refers to itself or its parent"
        ));
    }
    if component.len() > MAX_DATASET_NAME_LEN {
        return Err(format!(
            "component is {} bytes long, the limit is {MAX_DATASET_NAME_LEN}",
            component.len()
        ));
    }
    if let Some(bad) = component.chars().find(|c| !is_component_char(*c)) {
        return Err(format!(
            "character {bad:?} is not allowed in a ZFS name component"
        ));
    }
    Ok(())
}

fn is_component_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | ' ')
}

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
