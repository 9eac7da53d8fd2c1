//! The zrepl-compatible configuration: typed, strictly checked, with precise errors.
//!
//! [`load`] reads the main file and its `include`s and returns a [`Config`] with every default
//! filled in, or a [`ConfigError`] that names the file, line and column, the path of the field
//! (`jobs[2].pruning.keep_sender[1].grid`), what was found and what is expected.
//!
//! Layout: `yaml` turns text into a positioned tree (serde-saphyr does the YAML), `decode` has the
//! strict-mapping helpers, and one module per part of the schema decodes it into the typed
//! structs ([`global`], [`job`], [`transport`], [`snapshotting`], [`pruning`]), using the grammar
//! types of [`duration`], [`size`] and [`names`]. `include` expands includes, `validate` checks
//! across jobs and files, `certs` checks TLS files. zferry's own additions to the schema are new
//! keys that zrepl does not know: a job's `monitor` section ([`monitor`]).

mod certs;
mod decode;
pub mod duration;
pub mod error;
pub mod filesystems;
pub mod global;
mod include;
pub mod job;
pub mod monitor;
pub mod names;
pub mod pruning;
pub mod size;
pub mod snapshotting;
pub mod transport;
mod validate;
mod yaml;

use serde::Serialize;
use std::path::{Path as FsPath, PathBuf};

use decode::{Ctx, DResult, Fields, Path, list_of};
pub use error::{ConfigError, Invalid, Pos};
pub use global::Global;
pub use job::Job;
use validate::Placed;
use yaml::{Kind, Node};

/// Where the configuration is looked for when `--config` is not given, in order.
pub const DEFAULT_PATHS: [&str; 2] = ["/etc/zferry/zferry.yml", "/usr/local/etc/zferry/zferry.yml"];

/// A complete, validated configuration (includes expanded, defaults filled in).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Config {
    /// Daemon-wide settings.
    pub global: Global,
    /// All jobs, from the main file first, then from included files in include order.
    pub jobs: Vec<Job>,
}

impl Config {
    /// The job named `name`.
    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.name() == name)
    }
}

/// Options for [`load_with`].
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    /// Check that TLS certificate, key and CA files exist and contain PEM data.
    pub check_certs: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { check_certs: true }
    }
}

/// The configuration file to use: `explicit` if given, else the first of [`DEFAULT_PATHS`] that
/// exists.
pub fn resolve_path(explicit: Option<&FsPath>) -> Result<PathBuf, ConfigError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    DEFAULT_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| ConfigError::NotFound {
            tried: DEFAULT_PATHS.iter().map(PathBuf::from).collect(),
        })
}

/// Loads and validates the configuration at `path`, including the certificate check.
pub fn load(path: &FsPath) -> Result<Config, ConfigError> {
    load_with(path, LoadOptions::default())
}

/// Loads and validates the configuration at `path`.
pub fn load_with(path: &FsPath, options: LoadOptions) -> Result<Config, ConfigError> {
    let src = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    load_source(&src, path, options)
}

/// Validates configuration text as if it were the file `path` (includes resolve against the
/// directory of `path`).
pub fn load_source(src: &str, path: &FsPath, options: LoadOptions) -> Result<Config, ConfigError> {
    let base_dir = path.parent().map(FsPath::to_path_buf).unwrap_or_default();
    let mut ctx = Ctx::default();
    let root = yaml::parse(src).map_err(|e| e.in_file(path))?;
    let (global, jobs_node, include_files) =
        decode_main(root.as_ref(), &base_dir, &mut ctx).map_err(|e| e.in_file(path))?;
    let mut placed = Vec::new();
    let mut cert_refs: Vec<(PathBuf, decode::CertRef)> = Vec::new();
    if let Some((n, p)) = jobs_node {
        placed.extend(decode_jobs(n, &p, &mut ctx, path).map_err(|e| e.in_file(path))?);
    }
    cert_refs.extend(ctx.certs.drain(..).map(|c| (path.to_path_buf(), c)));
    for file in include_files {
        let src = std::fs::read_to_string(&file).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        let mut ctx = Ctx::default();
        let root = yaml::parse(&src).map_err(|e| e.in_file(&file))?;
        if let Some(root) = root {
            let jobs = include::check_included_top_level(&root).map_err(|e| e.in_file(&file))?;
            if let Some((n, p)) = jobs {
                placed.extend(decode_jobs(n, &p, &mut ctx, &file).map_err(|e| e.in_file(&file))?);
            }
        }
        cert_refs.extend(ctx.certs.into_iter().map(|c| (file.clone(), c)));
    }
    validate::check(&placed)?;
    if options.check_certs {
        for (file, r) in &cert_refs {
            certs::check(r).map_err(|e| e.in_file(file))?;
        }
    }
    Ok(Config {
        global,
        jobs: placed.into_iter().map(|p| p.job).collect(),
    })
}

type MainParts<'n> = (Global, Option<(&'n Node, Path)>, Vec<PathBuf>);

fn decode_main<'n>(
    root: Option<&'n Node>,
    base_dir: &FsPath,
    ctx: &mut Ctx,
) -> DResult<MainParts<'n>> {
    let Some(root) = root else {
        return Ok((Global::default(), None, Vec::new()));
    };
    let f = Fields::new(root, &Path::default(), &["global", "jobs", "include"])?;
    let global = match f.get("global") {
        Some((n, p)) => global::decode_global(n, &p, ctx)?,
        None => Global::default(),
    };
    let includes = match f.get("include") {
        Some((n, p)) => include::resolve(n, &p, base_dir)?,
        None => Vec::new(),
    };
    Ok((global, f.get("jobs"), includes))
}

fn key_pos(node: &Node, key: &str) -> Pos {
    match &node.kind {
        Kind::Map(entries) => entries
            .iter()
            .find(|(k, _)| matches!(&k.kind, Kind::Scalar { text, .. } if text == key))
            .map(|(_, v)| v.pos)
            .unwrap_or(node.pos),
        _ => node.pos,
    }
}

fn decode_jobs(node: &Node, path: &Path, ctx: &mut Ctx, file: &FsPath) -> DResult<Vec<Placed>> {
    let items = list_of(node, path, false, |n, p| Ok((n.clone(), p.clone())))?;
    let mut placed = Vec::with_capacity(items.len());
    for (n, p) in items {
        let job = job::decode_job(&n, &p, ctx)?;
        placed.push(Placed {
            job,
            file: file.to_path_buf(),
            path: p.as_str().to_owned(),
            name_pos: key_pos(&n, "name"),
            root_fs_pos: key_pos(&n, "root_fs"),
        });
    }
    Ok(placed)
}
