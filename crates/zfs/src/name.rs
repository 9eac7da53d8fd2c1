//! Typed ZFS names, validated with OpenZFS's entity name rules.
//!
//! The rules follow OpenZFS `zfs_namecheck.c` (facts only):
//! - allowed characters are `A-Z a-z 0-9 _ - . :` and the space character;
//! - a full name (including `@snap` / `#bookmark`) is at most [`MAX_NAME_LEN`] bytes;
//! - components are separated by `/` and must not be empty, `.` or `..`;
//! - no leading or trailing `/`;
//! - the pool (first component) starts with a letter, is not `mirror`/`raidz`, and does not
//!   look like a disk (`c0...`).
//!
//! Spaces, including leading and trailing ones inside components, are legal and are preserved
//! byte for byte (`"pool/ a"` is a different dataset from `"pool/a"`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest full dataset, snapshot or bookmark name OpenZFS accepts, in bytes
/// (`ZFS_MAX_DATASET_NAME_LEN` minus the terminating NUL).
pub const MAX_NAME_LEN: usize = 255;

/// Longest pool name, in bytes: OpenZFS reserves room for `pool/$ORIGIN@$ORIGIN`.
pub const MAX_POOL_NAME_LEN: usize = 239;

/// Longest user property name, in bytes (`ZAP_MAXNAMELEN` minus NUL).
pub const MAX_PROPERTY_NAME_LEN: usize = 255;

/// Longest hold tag, in bytes.
pub const MAX_HOLD_TAG_LEN: usize = 255;

/// Why a name was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("name is empty")]
    Empty,
    /// The name (or pool name) is longer than ZFS allows.
    #[error("name {name:?} is {len} bytes long, the limit is {max}")]
    TooLong {
        /// The offending name.
        name: String,
        /// Its length in bytes.
        len: usize,
        /// The limit that applies.
        max: usize,
    },
    /// The name contains a character ZFS does not accept there.
    #[error("name {name:?} contains the invalid character {ch:?}")]
    InvalidChar {
        /// The offending name.
        name: String,
        /// The first invalid character.
        ch: char,
    },
    /// The name has an empty component (`a//b`), a leading or a trailing `/`.
    #[error("name {0:?} has an empty component or a leading/trailing '/'")]
    EmptyComponent(String),
    /// A component is `.` or `..`.
    #[error("name {0:?} has a '.' or '..' component")]
    DotComponent(String),
    /// The pool name does not start with a letter, or is reserved / disk-like.
    #[error("invalid pool name {0:?}: must start with a letter and not be reserved")]
    InvalidPool(String),
    /// A snapshot or bookmark name lacks its delimiter, or has it more than once or in a
    /// place where it is not expected.
    #[error("name {name:?}: expected exactly one {delimiter:?} delimiter")]
    Delimiter {
        /// The offending name.
        name: String,
        /// The expected delimiter (`@` or `#`).
        delimiter: char,
    },
    /// A user property name lacks a `:` or contains characters not allowed in property names.
    #[error("invalid property name {0:?}")]
    InvalidProperty(String),
}

/// True for characters OpenZFS allows in dataset, snapshot and bookmark names.
fn valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | ' ')
}

/// Validates a single component (no `/`, `@`, `#`).
fn check_component(full: &str, component: &str) -> Result<(), NameError> {
    if component.is_empty() {
        return Err(NameError::EmptyComponent(full.to_owned()));
    }
    if component == "." || component == ".." {
        return Err(NameError::DotComponent(full.to_owned()));
    }
    if let Some(ch) = component.chars().find(|c| !valid_char(*c)) {
        return Err(NameError::InvalidChar {
            name: full.to_owned(),
            ch,
        });
    }
    Ok(())
}

fn check_len(name: &str, max: usize) -> Result<(), NameError> {
    if name.len() > max {
        return Err(NameError::TooLong {
            name: name.to_owned(),
            len: name.len(),
            max,
        });
    }
    Ok(())
}

fn check_pool(full: &str, pool: &str) -> Result<(), NameError> {
    check_len(pool, MAX_POOL_NAME_LEN)?;
    let mut chars = pool.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let disk_like = pool.starts_with('c') && chars.next().is_some_and(|c| c.is_ascii_digit());
    if !first_is_letter || disk_like || pool == "mirror" || pool == "raidz" {
        return Err(NameError::InvalidPool(full.to_owned()));
    }
    Ok(())
}

/// Validates a filesystem/volume path whose full name (with any suffix) is `full_len` bytes.
fn check_dataset(path: &str, full_len: usize) -> Result<(), NameError> {
    if path.is_empty() {
        return Err(NameError::Empty);
    }
    check_len(path, MAX_NAME_LEN)?;
    if full_len > MAX_NAME_LEN {
        return Err(NameError::TooLong {
            name: path.to_owned(),
            len: full_len,
            max: MAX_NAME_LEN,
        });
    }
    for delimiter in ['@', '#'] {
        if path.contains(delimiter) {
            return Err(NameError::Delimiter {
                name: path.to_owned(),
                delimiter,
            });
        }
    }
    for component in path.split('/') {
        check_component(path, component)?;
    }
    check_pool(path, path.split('/').next().unwrap_or_default())
}

/// A validated filesystem or volume name, such as `pool/data/ home`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DatasetPath(String);

impl DatasetPath {
    /// Validates `name` as a dataset path.
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        check_dataset(&name, name.len())?;
        Ok(Self(name))
    }

    /// The name as ZFS prints it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `/`-separated components, pool first.
    pub fn components(&self) -> impl DoubleEndedIterator<Item = &str> + '_ {
        self.0.split('/')
    }

    /// The pool name (first component).
    pub fn pool(&self) -> &str {
        self.components().next().unwrap_or_default()
    }

    /// Number of components (`pool` is 1, `pool/a` is 2).
    pub fn depth(&self) -> usize {
        self.components().count()
    }

    /// The parent dataset, or `None` for a pool's root dataset.
    pub fn parent(&self) -> Option<DatasetPath> {
        self.0
            .rsplit_once('/')
            .map(|(parent, _)| DatasetPath(parent.to_owned()))
    }

    /// Appends a relative path (one or more components, `/`-separated) and validates the result.
    /// An empty `relative` is an error: use the path itself instead.
    pub fn join(&self, relative: &str) -> Result<DatasetPath, NameError> {
        DatasetPath::new(format!("{}/{}", self.0, relative))
    }

    /// True if `self` lies strictly below `ancestor` (`pool/a/b` below `pool/a`, but not
    /// `pool/ab` and not `pool/a` itself).
    pub fn is_descendant_of(&self, ancestor: &DatasetPath) -> bool {
        self.strip_prefix(ancestor)
            .is_some_and(|rest| !rest.is_empty())
    }

    /// The path of `self` relative to `prefix`: `Some("")` when equal, `Some("b/c")` for
    /// `pool/a/b/c` relative to `pool/a`, `None` when `self` is not at or below `prefix`.
    pub fn strip_prefix(&self, prefix: &DatasetPath) -> Option<&str> {
        let rest = self.0.strip_prefix(prefix.as_str())?;
        if rest.is_empty() {
            Some(rest)
        } else {
            rest.strip_prefix('/')
        }
    }

    /// The snapshot `self@name`, validated.
    pub fn snapshot(&self, name: &str) -> Result<SnapshotName, NameError> {
        SnapshotName::new(self.clone(), name)
    }

    /// The bookmark `self#name`, validated.
    pub fn bookmark(&self, name: &str) -> Result<BookmarkName, NameError> {
        BookmarkName::new(self.clone(), name)
    }
}

impl fmt::Display for DatasetPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DatasetPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatasetPath({:?})", self.0)
    }
}

impl FromStr for DatasetPath {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for DatasetPath {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<DatasetPath> for String {
    fn from(p: DatasetPath) -> String {
        p.0
    }
}

impl AsRef<str> for DatasetPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Defines a `dataset<delim>name` type (snapshots and bookmarks share their shape).
macro_rules! suffixed_name {
    ($(#[$doc:meta])* $ty:ident, $delim:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $ty {
            dataset: DatasetPath,
            name: String,
        }

        impl $ty {
            #[doc = concat!("Validates `dataset", $delim, "name`.")]
            pub fn new(dataset: DatasetPath, name: &str) -> Result<Self, NameError> {
                let full = format!("{}{}{}", dataset, $delim, name);
                check_len(&full, MAX_NAME_LEN)?;
                if name.contains(['@', '#', '/']) {
                    return Err(NameError::Delimiter { name: full, delimiter: $delim });
                }
                check_component(&full, name)?;
                Ok(Self { dataset, name: name.to_owned() })
            }

            #[doc = concat!("Parses a full `dataset", $delim, "name`.")]
            pub fn parse(full: &str) -> Result<Self, NameError> {
                let (dataset, name) = full.split_once($delim).ok_or_else(|| {
                    NameError::Delimiter { name: full.to_owned(), delimiter: $delim }
                })?;
                let dataset = DatasetPath::new(dataset).map_err(|e| match e {
                    NameError::TooLong { len, max, .. } => {
                        NameError::TooLong { name: full.to_owned(), len, max }
                    }
                    e => e,
                })?;
                Self::new(dataset, name)
            }

            /// The filesystem or volume this belongs to.
            pub fn dataset(&self) -> &DatasetPath {
                &self.dataset
            }

            #[doc = concat!("The part after `", $delim, "`.")]
            pub fn name(&self) -> &str {
                &self.name
            }

            /// The full name as ZFS prints it.
            pub fn full_name(&self) -> String {
                self.to_string()
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}{}", self.dataset, $delim, self.name)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($ty), self.to_string())
            }
        }

        impl FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$ty> for String {
            fn from(n: $ty) -> String {
                n.to_string()
            }
        }
    };
}

suffixed_name!(
    /// A validated snapshot name, `dataset@name`.
    SnapshotName,
    '@'
);

suffixed_name!(
    /// A validated bookmark name, `dataset#name`.
    BookmarkName,
    '#'
);

/// A validated hold tag (`zfs hold TAG snap`): non-empty, at most [`MAX_HOLD_TAG_LEN`] bytes,
/// no control characters and no comma (OpenZFS accepts any string, but zferry keeps tags
/// unambiguous in listings).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HoldTag(String);

impl HoldTag {
    /// Validates a hold tag.
    pub fn new(tag: impl Into<String>) -> Result<Self, NameError> {
        let tag = tag.into();
        if tag.is_empty() {
            return Err(NameError::Empty);
        }
        check_len(&tag, MAX_HOLD_TAG_LEN)?;
        if let Some(ch) = tag.chars().find(|c| c.is_control() || *c == ',') {
            return Err(NameError::InvalidChar { name: tag, ch });
        }
        Ok(Self(tag))
    }

    /// The tag text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A validated ZFS property name: either native (`[a-z0-9_]+`, optionally `prefix@qualifier`
/// as in `userquota@alice`) or a user property, which must contain a `:` and consist of
/// lowercase letters, digits and `: - . _`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PropertyName(String);

impl PropertyName {
    /// Validates a property name.
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        check_len(&name, MAX_PROPERTY_NAME_LEN)?;
        let lower = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
        let ok = if name.contains(':') {
            name.chars()
                .all(|c| lower(c) || matches!(c, ':' | '-' | '.'))
        } else {
            let (base, qualifier) = name.split_once('@').unwrap_or((&name, "x"));
            !base.is_empty()
                && base.chars().all(lower)
                && !qualifier.is_empty()
                && !qualifier
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
        };
        if !ok {
            return Err(NameError::InvalidProperty(name));
        }
        Ok(Self(name))
    }

    /// The property name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for user properties (names containing `:`).
    pub fn is_user(&self) -> bool {
        self.0.contains(':')
    }
}

/// Implements the string conversions shared by the single-string name types.
macro_rules! string_name_impls {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($ty), self.0)
            }
        }
        impl FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
        impl TryFrom<String> for $ty {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }
        impl From<$ty> for String {
            fn from(n: $ty) -> String {
                n.0
            }
        }
    };
}

string_name_impls!(HoldTag);
string_name_impls!(PropertyName);

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(s: &str) -> DatasetPath {
        DatasetPath::new(s).expect(s)
    }

    #[test]
    fn accepts_spaces_and_leading_whitespace_round_trip() {
        for s in ["pool/ a", "pool/a b/ c ", "pool/x:y.z-w_1", "p"] {
            let p: DatasetPath = s.parse().expect(s);
            assert_eq!(p.as_str(), s);
            assert_eq!(p.to_string(), s);
            let json = serde_json::to_string(&p).expect("ser");
            let back: DatasetPath = serde_json::from_str(&json).expect("de");
            assert_eq!(back, p);
        }
    }

    #[test]
    fn rejects_bad_shapes() {
        assert_eq!(DatasetPath::new(""), Err(NameError::Empty));
        for s in [
            "/pool", "pool/", "pool//a", "pool/./a", "pool/..", "9pool", "c0d0", "mirror",
        ] {
            assert!(DatasetPath::new(s).is_err(), "{s} accepted");
        }
        assert!(matches!(
            DatasetPath::new("pool/a*b"),
            Err(NameError::InvalidChar { ch: '*', .. })
        ));
        assert!(matches!(
            DatasetPath::new("pool/a@b"),
            Err(NameError::Delimiter { .. })
        ));
        assert!(serde_json::from_str::<DatasetPath>("\"pool//x\"").is_err());
    }

    #[test]
    fn length_limits_apply_to_full_names() {
        let long = format!("pool/{}", "a".repeat(250));
        assert_eq!(long.len(), 255);
        let p = ds(&long);
        assert!(DatasetPath::new(format!("{long}b")).is_err());
        assert!(matches!(
            p.snapshot("s"),
            Err(NameError::TooLong { len: 257, .. })
        ));
        assert!(SnapshotName::parse(&format!("{long}@s")).is_err());
        let short = ds(&format!("pool/{}", "a".repeat(248)));
        assert_eq!(short.snapshot("s").expect("fits").full_name().len(), 255);
        assert!(DatasetPath::new("p".repeat(240)).is_err());
        assert!(DatasetPath::new("p".repeat(239)).is_ok());
    }

    #[test]
    fn navigation() {
        let p = ds("pool/a/b c");
        assert_eq!(p.pool(), "pool");
        assert_eq!(p.components().collect::<Vec<_>>(), ["pool", "a", "b c"]);
        assert_eq!(p.depth(), 3);
        assert_eq!(p.parent(), Some(ds("pool/a")));
        assert_eq!(ds("pool").parent(), None);
        assert_eq!(ds("pool/a").join("b c").expect("join"), p);
        assert_eq!(ds("pool").join("a/b c").expect("join"), p);
        assert!(ds("pool").join("").is_err());
        assert!(ds("pool").join("a//b").is_err());
        assert!(p.is_descendant_of(&ds("pool/a")));
        assert!(p.is_descendant_of(&ds("pool")));
        assert!(!p.is_descendant_of(&p));
        assert!(!ds("pool/ab").is_descendant_of(&ds("pool/a")));
        assert_eq!(p.strip_prefix(&ds("pool")), Some("a/b c"));
        assert_eq!(p.strip_prefix(&p), Some(""));
        assert_eq!(ds("pool/ab").strip_prefix(&ds("pool/a")), None);
    }

    #[test]
    fn ordering_is_bytewise() {
        let mut v = vec![ds("pool/b"), ds("pool/a/x"), ds("pool/a")];
        v.sort();
        assert_eq!(v, vec![ds("pool/a"), ds("pool/a/x"), ds("pool/b")]);
    }

    #[test]
    fn snapshot_and_bookmark_names() {
        let s: SnapshotName = "pool/a b@ snap 1".parse().expect("snap");
        assert_eq!(s.dataset(), &ds("pool/a b"));
        assert_eq!(s.name(), " snap 1");
        assert_eq!(s.to_string(), "pool/a b@ snap 1");
        let b: BookmarkName = "pool/a#bm".parse().expect("bm");
        assert_eq!(b.name(), "bm");
        assert_eq!(serde_json::to_string(&b).expect("ser"), "\"pool/a#bm\"");
        for bad in [
            "pool/a",
            "pool/a@",
            "pool/a@b@c",
            "pool/a@b#c",
            "pool/a@b/c",
            "@x",
        ] {
            assert!(SnapshotName::parse(bad).is_err(), "{bad} accepted");
        }
        assert!(BookmarkName::parse("pool/a@b").is_err());
        assert!(BookmarkName::parse("pool/a#").is_err());
    }

    #[test]
    fn hold_tags() {
        assert_eq!(
            HoldTag::new("zferry_last_received").expect("ok").as_str(),
            "zferry_last_received"
        );
        assert!(HoldTag::new("with space").is_ok());
        assert!(HoldTag::new("").is_err());
        assert!(HoldTag::new("a,b").is_err());
        assert!(HoldTag::new("a\nb").is_err());
        assert!(HoldTag::new("x".repeat(256)).is_err());
    }

    #[test]
    fn property_names() {
        assert!(
            PropertyName::new("zferry:placeholder")
                .expect("user")
                .is_user()
        );
        assert!(
            !PropertyName::new("receive_resume_token")
                .expect("native")
                .is_user()
        );
        assert!(PropertyName::new("userquota@alice").is_ok());
        assert!(PropertyName::new("Zferry:x").is_err());
        assert!(PropertyName::new("zferry:a b").is_err());
        assert!(PropertyName::new("Mountpoint").is_err());
        assert!(PropertyName::new("").is_err());
        assert!(PropertyName::new(format!("a:{}", "b".repeat(254))).is_err());
    }
}
