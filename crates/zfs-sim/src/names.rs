//! Dataset, snapshot and bookmark names: parsing and OpenZFS's entity name check.

/// What a name refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Name {
    /// A filesystem or volume.
    Dataset(String),
    /// `fs@snap`.
    Snapshot(String, String),
    /// `fs#bookmark`.
    Bookmark(String, String),
}

impl Name {
    /// Splits `s` at its first `@` or `#` (no validation).
    pub fn parse(s: &str) -> Name {
        match s.find(['@', '#']) {
            Some(i) if s.as_bytes()[i] == b'@' => {
                Name::Snapshot(s[..i].to_string(), s[i + 1..].to_string())
            }
            Some(i) => Name::Bookmark(s[..i].to_string(), s[i + 1..].to_string()),
            None => Name::Dataset(s.to_string()),
        }
    }

    /// The filesystem part.
    pub fn dataset(&self) -> &str {
        match self {
            Name::Dataset(d) | Name::Snapshot(d, _) | Name::Bookmark(d, _) => d,
        }
    }
}

/// Maximum length of a full name (exclusive), as ZFS_MAX_DATASET_NAME_LEN.
pub const MAX_NAME_LEN: usize = 256;

fn valid_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':' | b' ')
}

/// OpenZFS's entity name check; `Err` carries the explanation libzfs prints.
pub fn entity_check(path: &str) -> Result<(), String> {
    let b = path.as_bytes();
    if b.len() >= MAX_NAME_LEN {
        return Err("name is too long".into());
    }
    if b.first() == Some(&b'/') {
        return Err("leading slash in name".into());
    }
    if b.is_empty() {
        return Err("empty component or misplaced '@' or '#' delimiter in name".into());
    }
    let mut start = 0;
    let mut found_delim = false;
    loop {
        let mut end = start;
        while end < b.len() && !matches!(b[end], b'/' | b'@' | b'#') {
            end += 1;
        }
        if end == b.len() && end > 0 && b[end - 1] == b'/' {
            return Err("trailing slash in name".into());
        }
        if let Some(&c) = b[start..end].iter().find(|&&c| !valid_char(c) && c != b'%') {
            return Err(format!("invalid character '{}' in name", c as char));
        }
        if end == b.len() || b[end] == b'/' {
            let comp = &b[start..end];
            if comp == b"." {
                return Err("self reference, '.' is found in name".into());
            }
            if comp == b".." {
                return Err("parent reference, '..' is found in name".into());
            }
        }
        if end < b.len() && matches!(b[end], b'@' | b'#') {
            if found_delim {
                return Err("multiple '@' and/or '#' delimiters in name".into());
            }
            found_delim = true;
        }
        if start == end {
            return Err("empty component or misplaced '@' or '#' delimiter in name".into());
        }
        if end == b.len() {
            return Ok(());
        }
        if b[end] == b'/' && found_delim {
            return Err("trailing slash in name".into());
        }
        start = end + 1;
    }
}

/// Which kinds a name may denote at a call site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Filesystem or volume only.
    Dataset,
    /// Snapshot only.
    Snapshot,
    /// Bookmark only.
    Bookmark,
    /// Anything.
    Any,
}

/// libzfs's `zfs_validate_name`: delimiter expectations, `%` when modifying, entity check.
pub fn validate(path: &str, expect: Expect, modifying: bool) -> Result<(), String> {
    let snap_ok = matches!(expect, Expect::Snapshot | Expect::Any);
    let bm_ok = matches!(expect, Expect::Bookmark | Expect::Any);
    if !snap_ok && path.contains('@') {
        return Err("snapshot delimiter '@' is not expected here".into());
    }
    if expect == Expect::Snapshot && !path.contains('@') {
        return Err("missing '@' delimiter in snapshot name".into());
    }
    if !bm_ok && path.contains('#') {
        return Err("bookmark delimiter '#' is not expected here".into());
    }
    if expect == Expect::Bookmark && !path.contains('#') {
        return Err("missing '#' delimiter in bookmark name".into());
    }
    if modifying && path.contains('%') {
        return Err("invalid character % in name".into());
    }
    entity_check(path)
}

/// The parent of a dataset name, if it has one.
pub fn parent(name: &str) -> Option<&str> {
    name.rfind('/').map(|i| &name[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_check_matches_openzfs_rules() {
        assert_eq!(entity_check("pool/a b"), Ok(()));
        assert_eq!(entity_check("pool/ lead"), Ok(()));
        assert_eq!(entity_check("pool/a@s"), Ok(()));
        assert!(
            entity_check("pool//a")
                .unwrap_err()
                .starts_with("empty component")
        );
        assert_eq!(
            entity_check("pool/a/").unwrap_err(),
            "trailing slash in name"
        );
        assert_eq!(entity_check("/pool").unwrap_err(), "leading slash in name");
        assert_eq!(
            entity_check("pool/a@b@c").unwrap_err(),
            "multiple '@' and/or '#' delimiters in name"
        );
        assert_eq!(
            entity_check("pool/a*").unwrap_err(),
            "invalid character '*' in name"
        );
        assert_eq!(
            entity_check(&"x".repeat(256)).unwrap_err(),
            "name is too long"
        );
        assert!(entity_check(&"x".repeat(255)).is_ok());
        assert_eq!(
            entity_check("pool/a@s/x").unwrap_err(),
            "trailing slash in name"
        );
        assert!(entity_check("pool/..").is_err());
    }

    #[test]
    fn parse_splits_at_the_delimiter() {
        assert_eq!(
            Name::parse("p/a@s"),
            Name::Snapshot("p/a".into(), "s".into())
        );
        assert_eq!(
            Name::parse("p/a#b"),
            Name::Bookmark("p/a".into(), "b".into())
        );
        assert_eq!(Name::parse("p/a"), Name::Dataset("p/a".into()));
    }
}
