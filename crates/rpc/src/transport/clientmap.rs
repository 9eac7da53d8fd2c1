//! The tcp transport's map from client address to identity (zrepl's `clients` semantics).
//!
//! Keys are single addresses or CIDR networks, optionally with an IPv6 zone (`fe80::/16%eth1`).
//! A single address maps to a fixed identity without `*`. A network maps to an identity with
//! exactly one `*`, which is replaced by the client's address (IPv4 dotted, IPv6 in its shortest
//! form, a zone appended after a `-` because `%` is not allowed in ZFS names). The most specific
//! entry (longest prefix) wins; a client that matches no entry is refused. Every identity the map
//! can produce must be a valid ZFS name component; this is checked when the map is built, with the
//! longest possible address.

use crate::error::{Result, RpcError};
use crate::identity::ClientIdentity;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr};
use zferry_repl::endpoint::check_component;

/// Longest interface name (IFNAMSIZ - 1), for the worst-case identity check.
const MAX_ZONE_LEN: usize = 15;

#[derive(Debug, Clone)]
struct Entry {
    net: IpNet,
    zone: Option<String>,
    identity: String,
    wildcard: bool,
}

/// A validated client map.
#[derive(Debug, Clone, Default)]
pub struct ClientMap {
    entries: Vec<Entry>,
}

/// A client address as the listener sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddr {
    /// The address (IPv4-mapped IPv6 addresses are treated as IPv4).
    pub ip: IpAddr,
    /// The IPv6 zone (interface name), if any.
    pub zone: Option<String>,
}

impl ClientMap {
    /// Builds the map from `(address or CIDR, identity)` pairs.
    pub fn new<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self> {
        let mut entries = Vec::new();
        for (key, identity) in pairs {
            entries.push(parse_entry(key.as_ref(), identity.as_ref())?);
        }
        entries.sort_by(|a, b| {
            b.net
                .prefix_len()
                .cmp(&a.net.prefix_len())
                .then_with(|| a.net.cmp(&b.net))
                .then_with(|| a.zone.cmp(&b.zone))
        });
        Ok(ClientMap { entries })
    }

    /// The identity of a client, or a denial naming its address.
    pub fn lookup(&self, client: &ClientAddr) -> Result<ClientIdentity> {
        let ip = client.ip.to_canonical();
        let entry = self
            .entries
            .iter()
            .find(|e| e.zone == client.zone && e.net.contains(&ip))
            .ok_or_else(|| {
                RpcError::Denied(format!(
                    "no client identity is configured for address {}",
                    render(ip, client.zone.as_deref())
                ))
            })?;
        if entry.wildcard {
            ClientIdentity::new(entry.identity.replacen(
                '*',
                &render(ip, client.zone.as_deref()),
                1,
            ))
        } else {
            ClientIdentity::new(entry.identity.clone())
        }
    }
}

/// The dataset-name-safe form of an address: IPv4 dotted, IPv6 shortest, zone after a `-`.
fn render(ip: IpAddr, zone: Option<&str>) -> String {
    match zone {
        Some(zone) => format!("{ip}-{zone}"),
        None => ip.to_string(),
    }
}

fn parse_entry(key: &str, identity: &str) -> Result<Entry> {
    let bad = |why: String| RpcError::Config(format!("client {key:?} -> {identity:?}: {why}"));
    let (addr, zone) = match key.split_once('%') {
        Some((addr, zone)) if !zone.is_empty() => (addr, Some(zone.to_string())),
        Some(_) => return Err(bad("empty zone after '%'".into())),
        None => (key, None),
    };
    let stars = identity.matches('*').count();
    if addr.contains('/') {
        let net: IpNet = addr
            .parse()
            .map_err(|e| bad(format!("not a CIDR network: {e}")))?;
        if stars != 1 {
            return Err(bad(
                "a CIDR network needs exactly one '*' in its identity".into()
            ));
        }
        let longest = render(
            IpAddr::V6(Ipv6Addr::from(u128::MAX)),
            Some(&"i".repeat(MAX_ZONE_LEN)),
        );
        check_component(&identity.replacen('*', &longest, 1)).map_err(|e| bad(e.to_string()))?;
        Ok(Entry {
            net: net.trunc(),
            zone,
            identity: identity.to_string(),
            wildcard: true,
        })
    } else {
        let ip: IpAddr = addr
            .parse()
            .map_err(|e| bad(format!("not an IP address or CIDR network: {e}")))?;
        if stars != 0 {
            return Err(bad(
                "a single address must not have '*' in its identity".into()
            ));
        }
        check_component(identity).map_err(|e| bad(e.to_string()))?;
        Ok(Entry {
            net: IpNet::from(ip.to_canonical()),
            zone,
            identity: identity.to_string(),
            wildcard: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> ClientAddr {
        match s.split_once('%') {
            Some((ip, zone)) => ClientAddr {
                ip: ip.parse().expect("test address"),
                zone: Some(zone.into()),
            },
            None => ClientAddr {
                ip: s.parse().expect("test address"),
                zone: None,
            },
        }
    }

    fn ident(map: &ClientMap, s: &str) -> Option<String> {
        map.lookup(&addr(s)).ok().map(|i| i.as_str().to_string())
    }

    #[test]
    fn most_specific_entry_wins() {
        let map = ClientMap::new([
            ("10.1.2.3", "specific-host"),
            ("10.1.2.0/24", "two-*"),
            ("10.1.0.0/16", "one-*"),
            ("fde4:8dba:82e1::/48", "v6-*"),
            ("fde4:8dba:82e1:1::/64", "v6-64-*"),
        ])
        .expect("valid map");
        assert_eq!(ident(&map, "10.1.2.3").as_deref(), Some("specific-host"));
        assert_eq!(ident(&map, "10.1.2.9").as_deref(), Some("two-10.1.2.9"));
        assert_eq!(ident(&map, "10.1.3.1").as_deref(), Some("one-10.1.3.1"));
        assert_eq!(
            ident(&map, "::ffff:10.1.3.1").as_deref(),
            Some("one-10.1.3.1")
        );
        assert_eq!(ident(&map, "10.2.0.1"), None);
        assert_eq!(
            ident(&map, "fde4:8dba:82e1:1::2").as_deref(),
            Some("v6-64-fde4:8dba:82e1:1::2")
        );
        assert_eq!(
            ident(&map, "fde4:8dba:82e1:23::1").as_deref(),
            Some("v6-fde4:8dba:82e1:23::1")
        );
    }

    #[test]
    fn zones_must_match_and_are_rendered_after_a_dash() {
        let map = ClientMap::new([("fe80::/16%eth1", "san-*")]).expect("valid map");
        assert_eq!(
            ident(&map, "fe80::23:42%eth1").as_deref(),
            Some("san-fe80::23:42-eth1")
        );
        assert_eq!(ident(&map, "fe80::23:42%eth2"), None);
        assert_eq!(ident(&map, "fe80::23:42"), None);
    }

    #[test]
    fn invalid_maps_are_refused() {
        for (k, v) in [
            ("jimmy", "db"),
            ("192.168.1.2", "db-*"),
            ("192.168.1.0/24", "db-"),
            ("192.168.1.0/24", "a-*-*"),
            ("fe80::/16", "db@-*"),
            ("fe80::1", "db@foo"),
            ("10.0.0.1", "a/b"),
            ("10.0.0.0/8", &format!("{}-*", "x".repeat(230))),
        ] {
            assert!(ClientMap::new([(k, v)]).is_err(), "{k} -> {v}");
        }
    }
}
