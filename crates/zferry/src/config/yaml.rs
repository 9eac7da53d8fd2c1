//! YAML to a tree of positioned nodes.
//!
//! serde-saphyr parses the text (it reports syntax errors with line and column, rejects duplicate
//! keys and resolves anchors, aliases and merge keys). We do not deserialize straight into the
//! typed structs: zrepl's schema is made of `type:`-tagged unions, and serde's internally tagged
//! enums buffer their content, which loses every position inside them. Instead we read a small
//! tree where every node keeps its position ([`serde_saphyr::Spanned`]) and the scalar's source
//! text, and the typed decoding (see `decode.rs`) walks it with full control over messages.
//!
//! Scalars are kept as text, like YAML 1.1 decoders that resolve a scalar against the type of
//! the field it lands in (`010` stays `010` in a string field, `yes` is a boolean only in a
//! boolean field).

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};
use std::fmt;

use super::error::{DecodeError, Pos};

/// What serde-saphyr hands us, before we look at the source text.
enum Raw {
    Null,
    Str(String),
    /// A scalar that serde-saphyr resolved to a bool or a number: we take its text from the source.
    Other(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Other(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Other(v.to_string()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
        Ok(Raw::Other(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Other(v.to_string()))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Raw, E> {
        Ok(Raw::Other(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Other(v.to_string()))
    }
    fn visit_char<E>(self, v: char) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Raw, E> {
        Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Raw>>()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Raw>>()? {
            let value = map.next_value::<Spanned<Raw>>()?;
            entries.push((key, value));
        }
        Ok(Raw::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

/// A YAML node with its position.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) pos: Pos,
    pub(crate) kind: Kind,
}

/// The shape of a node.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    /// `~`, `null` or nothing.
    Null,
    /// A scalar: its text, and whether it was written plain (unquoted, not a block scalar).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A short description of what this node is, for "found ..." messages.
    pub(crate) fn describe(&self) -> String {
        match &self.kind {
            Kind::Null => "nothing (null)".to_owned(),
            Kind::Scalar { text, .. } => format!("`{}`", shorten(text)),
            Kind::Seq(_) => "a list".to_owned(),
            Kind::Map(_) => "a mapping".to_owned(),
        }
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

fn pos_of(loc: &Location) -> Pos {
    Pos {
        line: loc.line(),
        column: loc.column(),
    }
}

/// The source text of a node as written where it is defined (for aliases: at the anchor).
fn source_text<'s>(src: &'s str, loc: &Location) -> Option<&'s str> {
    let span = loc.span();
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    src.get(start..start.checked_add(len)?)
}

fn convert(src: &str, raw: Spanned<Raw>) -> Node {
    let pos = pos_of(&raw.referenced);
    let kind = match raw.value {
        Raw::Null => Kind::Null,
        Raw::Str(text) => {
            let first = source_text(src, &raw.defined).and_then(|s| s.chars().next());
            let plain = !matches!(first, Some('"' | '\'' | '|' | '>'));
            Kind::Scalar { text, plain }
        }
        Raw::Other(resolved) => {
            let text = source_text(src, &raw.defined)
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or(resolved);
            Kind::Scalar { text, plain: true }
        }
        Raw::Seq(items) => Kind::Seq(items.into_iter().map(|i| convert(src, i)).collect()),
        Raw::Map(entries) => Kind::Map(
            entries
                .into_iter()
                .map(|(k, v)| (convert(src, k), convert(src, v)))
                .collect(),
        ),
    };
    Node { pos, kind }
}

/// Parses a YAML document. `Ok(None)` for a document without content (empty or comments only).
pub(crate) fn parse(src: &str) -> Result<Option<Node>, DecodeError> {
    let options = serde_saphyr::options! {
        with_snippet: false,
        strict_booleans: true,
    };
    match serde_saphyr::from_str_with_options::<Option<Spanned<Raw>>>(src, options) {
        Ok(root) => Ok(root
            .map(|r| convert(src, r))
            .filter(|n| !matches!(n.kind, Kind::Null))),
        Err(e) => {
            let pos = e.location().map(|l| pos_of(&l)).unwrap_or_default();
            Err(DecodeError::new(
                pos,
                "",
                format!("invalid YAML: {}", yaml_message(&e)),
            ))
        }
    }
}

/// serde-saphyr's message without its own "error: line X column Y:" prefix (we print our own).
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let full = e.to_string();
    let first = full.lines().next().unwrap_or_default();
    let trimmed = first.strip_prefix("error: ").unwrap_or(first);
    let message = match trimmed.find(": ") {
        Some(i) if trimmed.starts_with("line ") => &trimmed[i + 2..],
        _ => trimmed,
    };
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(", column ") => message[..i].to_owned(),
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(n: &Node) -> (&str, bool) {
        match &n.kind {
            Kind::Scalar { text, plain } => (text, *plain),
            other => panic!("not a scalar: {other:?}"),
        }
    }

    fn map(n: &Node) -> &[(Node, Node)] {
        match &n.kind {
            Kind::Map(m) => m,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn scalars_keep_their_source_text_and_quoting() {
        let root = parse("a: 010\nb: \"true\"\nc: yes\nd: 1.50\n")
            .expect("parses")
            .expect("has content");
        let m = map(&root);
        assert_eq!(scalar(&m[0].1), ("010", true));
        assert_eq!(scalar(&m[1].1), ("true", false));
        assert_eq!(scalar(&m[2].1), ("yes", true));
        assert_eq!(scalar(&m[3].1), ("1.50", true));
        assert_eq!(m[3].1.pos, Pos { line: 4, column: 4 });
    }

    #[test]
    fn aliases_resolve_to_the_anchored_text() {
        let root = parse("a: &x 0x1F\nb: *x\n")
            .expect("parses")
            .expect("content");
        assert_eq!(scalar(&map(&root)[1].1).0, "0x1F");
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = parse("a: b\n  c: d\n").expect_err("invalid");
        assert_eq!(e.pos, Pos { line: 2, column: 4 });
        assert!(e.problem.starts_with("invalid YAML: "), "{}", e.problem);
    }

    #[test]
    fn empty_documents_have_no_content() {
        assert!(parse("").expect("ok").is_none());
        assert!(parse("# comment only\n").expect("ok").is_none());
        assert!(parse("---\n").expect("ok").is_none());
    }
}
