//! Properties: get, set, inherit.

use crate::command::{ARG_BUDGET, CommandLine, chunk_by_size};
use crate::driver::Zfs;
use crate::error::ZfsError;
use crate::name::PropertyName;

/// Where a property value comes from (`zfs get` SOURCE column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertySource {
    /// Set on this dataset.
    Local,
    /// The built-in default.
    Default,
    /// Inherited from the named ancestor.
    Inherited(String),
    /// Set by a `zfs recv`.
    Received,
    /// A temporary mount option.
    Temporary,
    /// No source (read-only property, or an unset user property).
    None,
}

impl PropertySource {
    fn parse(s: &str) -> PropertySource {
        match s {
            "local" => PropertySource::Local,
            "default" => PropertySource::Default,
            "received" => PropertySource::Received,
            "temporary" => PropertySource::Temporary,
            other => match other.strip_prefix("inherited from ") {
                Some(from) => PropertySource::Inherited(from.to_owned()),
                None => PropertySource::None,
            },
        }
    }
}

/// One row of `zfs get -H -p`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyValue {
    /// Dataset, snapshot or bookmark name.
    pub name: String,
    /// The property.
    pub property: String,
    /// The value; `None` where ZFS prints `-` (e.g. an unset user property).
    pub value: Option<String>,
    /// Where it comes from.
    pub source: PropertySource,
}

impl Zfs {
    /// Reads `properties` of the named datasets/snapshots/bookmarks (`zfs get -H -p`, batched).
    pub async fn get_properties(
        &self,
        names: &[&str],
        properties: &[PropertyName],
    ) -> Result<Vec<PropertyValue>, ZfsError> {
        let props: Vec<&str> = properties.iter().map(PropertyName::as_str).collect();
        let mut values = Vec::new();
        for chunk in chunk_by_size(names, ARG_BUDGET, |n| n.len()) {
            let mut line =
                CommandLine::zfs(["get", "-H", "-p", "-o", "name,property,value,source"]);
            line.arg(props.join(","));
            for n in &chunk {
                line.arg(n);
            }
            let stdout = self.runner.run(&line).await?;
            for row in stdout.lines() {
                values.push(parse_get_row(&line, row)?);
            }
        }
        Ok(values)
    }

    /// Reads one property of one dataset/snapshot/bookmark; `None` when it has no value.
    pub async fn get_property(
        &self,
        name: &str,
        property: &PropertyName,
    ) -> Result<Option<String>, ZfsError> {
        let values = self
            .get_properties(&[name], std::slice::from_ref(property))
            .await?;
        Ok(values.into_iter().next().and_then(|v| v.value))
    }

    /// Sets properties on a dataset in one `zfs set` call.
    pub async fn set_properties(
        &self,
        name: &str,
        values: &[(PropertyName, String)],
    ) -> Result<(), ZfsError> {
        if values.is_empty() {
            return Ok(());
        }
        let mut line = CommandLine::zfs(["set"]);
        for (p, v) in values {
            line.arg(format!("{p}={v}"));
        }
        line.arg(name);
        self.runner.run(&line).await.map(drop)
    }

    /// Clears a local property so the inherited value applies (`-r`: also below).
    pub async fn inherit_property(
        &self,
        name: &str,
        property: &PropertyName,
        recursive: bool,
    ) -> Result<(), ZfsError> {
        let mut line = CommandLine::zfs(["inherit"]);
        if recursive {
            line.arg("-r");
        }
        line.arg(property.as_str()).arg(name);
        self.runner.run(&line).await.map(drop)
    }
}

/// Parses `name<TAB>property<TAB>value<TAB>source` (the value may itself contain tabs).
fn parse_get_row(line: &CommandLine, row: &str) -> Result<PropertyValue, ZfsError> {
    let bad = || ZfsError::Parse {
        command: line.display(),
        detail: format!("unexpected get row {row:?}"),
    };
    let (name, rest) = row.split_once('\t').ok_or_else(bad)?;
    let (property, rest) = rest.split_once('\t').ok_or_else(bad)?;
    let (value, source) = rest.rsplit_once('\t').ok_or_else(bad)?;
    Ok(PropertyValue {
        name: name.to_owned(),
        property: property.to_owned(),
        value: (value != "-").then(|| value.to_owned()),
        source: PropertySource::parse(source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_get_rows() {
        let line = CommandLine::zfs(["get"]);
        let v = parse_get_row(&line, "p/a b\tmountpoint\t/p/a b\tinherited from p").expect("row");
        assert_eq!(v.name, "p/a b");
        assert_eq!(v.value.as_deref(), Some("/p/a b"));
        assert_eq!(v.source, PropertySource::Inherited("p".into()));
        let unset = parse_get_row(&line, "p/a\tzferry:x\t-\t-").expect("row");
        assert_eq!(unset.value, None);
        assert_eq!(unset.source, PropertySource::None);
        assert!(parse_get_row(&line, "p/a\tx").is_err());
    }
}
