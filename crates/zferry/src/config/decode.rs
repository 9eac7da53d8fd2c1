//! Typed decoding helpers over the positioned YAML tree: strict mappings (unknown keys are
//! errors), required and optional fields, scalars resolved against the field's type, and the
//! field path carried along for messages.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::PathBuf;

use super::error::{DecodeError, Pos};
use super::yaml::{Kind, Node};

/// Result of decoding one part of the tree.
pub(crate) type DResult<T> = Result<T, DecodeError>;

/// The path of the field being decoded, e.g. `jobs[2].pruning.keep_sender[1].grid`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Path(String);

impl Path {
    /// The path of a mapping key; keys that are not plain words are quoted in brackets
    /// (`filesystems["tank/foo<"]`).
    pub(crate) fn key(&self, key: &str) -> Path {
        let plain = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !plain {
            Path(format!("{}[{key:?}]", self.0))
        } else if self.0.is_empty() {
            Path(key.to_owned())
        } else {
            Path(format!("{}.{key}", self.0))
        }
    }
    pub(crate) fn index(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where TLS material is named in the configuration, for the certificate check.
#[derive(Clone, Debug)]
pub(crate) struct CertRef {
    pub(crate) kind: CertKind,
    pub(crate) file: PathBuf,
    pub(crate) pos: Pos,
    pub(crate) path: String,
}

/// What a TLS file must contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CertKind {
    /// One or more PEM certificates (a CA bundle or a certificate chain).
    Certificates,
    /// One PEM private key.
    PrivateKey,
}

/// State carried through the decoding of one file.
#[derive(Debug, Default)]
pub(crate) struct Ctx {
    /// TLS files named in the configuration.
    pub(crate) certs: Vec<CertRef>,
}

/// An error at `node`.
pub(crate) fn fail<T>(node: &Node, path: &Path, problem: impl Into<String>) -> DResult<T> {
    Err(DecodeError::new(node.pos, path.as_str(), problem))
}

/// The standard "found X, expected Y" error.
pub(crate) fn mismatch<T>(node: &Node, path: &Path, expected: impl Display) -> DResult<T> {
    fail(
        node,
        path,
        format!("found {}, expected {expected}", node.describe()),
    )
}

/// A scalar's text (any scalar is acceptable where a string is expected, as in YAML 1.1).
pub(crate) fn string(node: &Node, path: &Path) -> DResult<String> {
    match &node.kind {
        Kind::Scalar { text, .. } => Ok(text.clone()),
        _ => mismatch(node, path, "a string"),
    }
}

/// A non-empty string.
pub(crate) fn non_empty(node: &Node, path: &Path) -> DResult<String> {
    let s = string(node, path)?;
    if s.is_empty() {
        return fail(
            node,
            path,
            "found an empty string, expected a non-empty string",
        );
    }
    Ok(s)
}

/// A scalar parsed with `parse`; its error becomes "found `text`, expected {expected}: {error}".
pub(crate) fn parsed<T, E: Display>(
    node: &Node,
    path: &Path,
    expected: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> DResult<T> {
    let text = match &node.kind {
        Kind::Scalar { text, .. } => text,
        _ => return mismatch(node, path, expected),
    };
    parse(text).or_else(|e| {
        fail(
            node,
            path,
            format!("found {}, expected {expected}: {e}", node.describe()),
        )
    })
}

/// A boolean, with the YAML 1.1 spellings zrepl's decoder accepts.
pub(crate) fn boolean(node: &Node, path: &Path) -> DResult<bool> {
    if let Kind::Scalar { text, plain: true } = &node.kind {
        match text.as_str() {
            "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "y" | "Y" | "on" | "On" | "ON" => {
                return Ok(true);
            }
            "false" | "False" | "FALSE" | "no" | "No" | "NO" | "n" | "N" | "off" | "Off"
            | "OFF" => return Ok(false),
            _ => {}
        }
    }
    mismatch(node, path, "a boolean (`true` or `false`)")
}

/// A non-negative integer of type `T` (decimal, or `0x`/`0o` prefixed).
pub(crate) fn unsigned<T: TryFrom<u64>>(node: &Node, path: &Path, expected: &str) -> DResult<T> {
    if let Kind::Scalar { text, plain: true } = &node.kind {
        let t = text.strip_prefix('+').unwrap_or(text).replace('_', "");
        let v = if let Some(h) = t.strip_prefix("0x") {
            u64::from_str_radix(h, 16).ok()
        } else if let Some(o) = t.strip_prefix("0o") {
            u64::from_str_radix(o, 8).ok()
        } else {
            t.parse::<u64>().ok()
        };
        if let Some(v) = v.and_then(|v| T::try_from(v).ok()) {
            return Ok(v);
        }
    }
    mismatch(node, path, expected)
}

/// The items of a list, each with its path.
pub(crate) fn list<'n>(node: &'n Node, path: &Path) -> DResult<Vec<(&'n Node, Path)>> {
    match &node.kind {
        Kind::Seq(items) => Ok(items
            .iter()
            .enumerate()
            .map(|(i, n)| (n, path.index(i)))
            .collect()),
        _ => mismatch(node, path, "a list"),
    }
}

/// A list whose items are decoded with `item`; `non_empty` rejects `[]` (zrepl's required lists).
pub(crate) fn list_of<T>(
    node: &Node,
    path: &Path,
    non_empty: bool,
    mut item: impl FnMut(&Node, &Path) -> DResult<T>,
) -> DResult<Vec<T>> {
    let items = list(node, path)?;
    if non_empty && items.is_empty() {
        return fail(
            node,
            path,
            "found an empty list, expected at least one entry",
        );
    }
    items.into_iter().map(|(n, p)| item(n, &p)).collect()
}

/// A mapping from string keys to values decoded with `value`; duplicate keys are rejected by the
/// YAML parser already.
pub(crate) fn string_map<T>(
    node: &Node,
    path: &Path,
    mut value: impl FnMut(&Node, &Node, &Path) -> DResult<T>,
) -> DResult<BTreeMap<String, T>> {
    let entries = match &node.kind {
        Kind::Map(entries) => entries,
        _ => return mismatch(node, path, "a mapping"),
    };
    let mut out = BTreeMap::new();
    for (k, v) in entries {
        let key = string(k, path)?;
        let p = path.key(&key);
        let decoded = value(k, v, &p)?;
        out.insert(key, decoded);
    }
    Ok(out)
}

/// One of a fixed set of words, mapped to its value.
pub(crate) fn choice<T: Copy>(node: &Node, path: &Path, options: &[(&str, T)]) -> DResult<T> {
    let s = string(node, path)?;
    match options.iter().find(|(name, _)| *name == s) {
        Some((_, v)) => Ok(*v),
        None => {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            mismatch(node, path, one_of(&names))
        }
    }
}

/// A string that `check` accepts; its error becomes "found `text`, expected {expected}: {error}".
pub(crate) fn checked(
    node: &Node,
    path: &Path,
    expected: &str,
    check: impl FnOnce(&str) -> Result<(), String>,
) -> DResult<String> {
    parsed(node, path, expected, |s| check(s).map(|()| s.to_owned()))
}

/// The value of the `type` key of a tagged mapping, checked against the known variants.
pub(crate) fn type_tag(node: &Node, path: &Path, variants: &[&str]) -> DResult<String> {
    let entries = match &node.kind {
        Kind::Map(entries) => entries,
        _ => {
            return mismatch(
                node,
                path,
                format!("a mapping with a `type` ({})", one_of(variants)),
            );
        }
    };
    for (k, v) in entries {
        if matches!(&k.kind, Kind::Scalar { text, .. } if text == "type") {
            let p = path.key("type");
            let t = string(v, &p)?;
            if variants.contains(&t.as_str()) {
                return Ok(t);
            }
            return mismatch(v, &p, one_of(variants));
        }
    }
    fail(
        node,
        path,
        format!("missing required field `type` ({})", one_of(variants)),
    )
}

/// "one of `a`, `b` or `c`".
pub(crate) fn one_of(options: &[&str]) -> String {
    let quoted: Vec<String> = options.iter().map(|o| format!("`{o}`")).collect();
    match quoted.split_last() {
        None => "nothing".to_owned(),
        Some((only, [])) => only.clone(),
        Some((last, rest)) => format!("one of {} or {last}", rest.join(", ")),
    }
}

/// " (did you mean `x`?)" when a known key is within two edits of `key`.
fn suggestion(key: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

/// Levenshtein distance (insertions, deletions, substitutions) between two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A strictly checked mapping: keys outside `allowed` are errors; fields are taken one by one.
pub(crate) struct Fields<'n> {
    node: &'n Node,
    path: Path,
    entries: Vec<(&'n str, &'n Node)>,
}

impl<'n> Fields<'n> {
    /// Checks that `node` is a mapping whose keys are all in `allowed`.
    pub(crate) fn new(node: &'n Node, path: &Path, allowed: &[&str]) -> DResult<Self> {
        let map = match &node.kind {
            Kind::Map(entries) => entries,
            _ => return mismatch(node, path, "a mapping"),
        };
        let mut entries = Vec::with_capacity(map.len());
        for (k, v) in map {
            let key = match &k.kind {
                Kind::Scalar { text, .. } => text.as_str(),
                _ => return mismatch(k, path, "a field name"),
            };
            if !allowed.contains(&key) {
                return fail(
                    k,
                    path,
                    format!(
                        "unknown field `{key}`, expected {}{}",
                        one_of(allowed),
                        suggestion(key, allowed)
                    ),
                );
            }
            entries.push((key, v));
        }
        Ok(Self {
            node,
            path: path.clone(),
            entries,
        })
    }

    /// The position of the mapping itself.
    pub(crate) fn node(&self) -> &'n Node {
        self.node
    }

    /// The path of the mapping itself.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The node of `key` if present and not null.
    pub(crate) fn get(&self, key: &str) -> Option<(&'n Node, Path)> {
        self.entries
            .iter()
            .find(|(k, v)| *k == key && !matches!(v.kind, Kind::Null))
            .map(|(_, v)| (*v, self.path.key(key)))
    }

    /// A required field.
    pub(crate) fn req<T>(
        &self,
        key: &str,
        decode: impl FnOnce(&Node, &Path) -> DResult<T>,
    ) -> DResult<T> {
        if let Some((n, p)) = self.get(key) {
            return decode(n, &p);
        }
        match self.entries.iter().find(|(k, _)| *k == key) {
            Some((_, null)) => fail(
                null,
                &self.path.key(key),
                format!("found nothing (null), expected a value for the required field `{key}`"),
            ),
            None => fail(
                self.node,
                &self.path,
                format!("missing required field `{key}`"),
            ),
        }
    }

    /// An optional field (absent or null: `None`).
    pub(crate) fn opt<T>(
        &self,
        key: &str,
        decode: impl FnOnce(&Node, &Path) -> DResult<T>,
    ) -> DResult<Option<T>> {
        self.get(key).map(|(n, p)| decode(n, &p)).transpose()
    }

    /// An optional field with a default.
    pub(crate) fn or<T>(
        &self,
        key: &str,
        default: T,
        decode: impl FnOnce(&Node, &Path) -> DResult<T>,
    ) -> DResult<T> {
        Ok(self.opt(key, decode)?.unwrap_or(default))
    }

    /// An optional boolean with a default.
    pub(crate) fn flag(&self, key: &str, default: bool) -> DResult<bool> {
        self.or(key, default, boolean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::parse;

    fn root(src: &str) -> Node {
        parse(src).expect("valid yaml").expect("content")
    }

    #[test]
    fn unknown_keys_name_the_allowed_ones() {
        let n = root("a: 1\nbb: 2\n");
        let e = Fields::new(&n, &Path::default().key("x"), &["a", "b"])
            .err()
            .expect("unknown key");
        assert_eq!(
            e.problem,
            "unknown field `bb`, expected one of `a` or `b` (did you mean `b`?)"
        );
        assert_eq!(e.pos, Pos { line: 2, column: 1 });
        assert_eq!(e.path, "x");
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        assert_eq!(edit_distance("intervall", "interval"), 1);
        assert_eq!(edit_distance("keep_sendr", "keep_sender"), 1);
        assert_eq!(
            suggestion("snapshoting", &["snapshotting", "pruning"]),
            " (did you mean `snapshotting`?)"
        );
        assert_eq!(suggestion("frobnicate", &["snapshotting", "pruning"]), "");
    }

    #[test]
    fn yaml11_booleans_only_when_plain() {
        let n = root("a: yes\nb: 'yes'\nc: off\n");
        let f = Fields::new(&n, &Path::default(), &["a", "b", "c"]).expect("map");
        assert!(f.req("a", boolean).expect("bool"));
        assert!(!f.req("c", boolean).expect("bool"));
        assert!(f.req("b", boolean).is_err());
    }

    #[test]
    fn paths_render_like_field_accessors() {
        let p = Path::default()
            .key("jobs")
            .index(2)
            .key("pruning")
            .key("keep_sender")
            .index(1);
        assert_eq!(
            p.key("grid").as_str(),
            "jobs[2].pruning.keep_sender[1].grid"
        );
    }
}
