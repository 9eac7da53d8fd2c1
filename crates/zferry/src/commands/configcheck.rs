//! `zferry configcheck`: load and validate the configuration; optionally print it.

use std::io::Write;
use std::path::Path;

use crate::cli::{ConfigcheckArgs, DumpFormat, What};
use crate::config::{self, LoadOptions};

/// Checks the configuration and prints it if `--format` was given.
pub fn run(config_path: Option<&Path>, args: &ConfigcheckArgs) -> anyhow::Result<()> {
    let path = config::resolve_path(config_path)?;
    let cfg = config::load_with(
        &path,
        LoadOptions {
            check_certs: !args.skip_cert_check,
        },
    )?;
    let Some(format) = args.format else {
        return Ok(());
    };
    let text = match args.what {
        What::All | What::Config => render(&cfg, format)?,
        What::Jobs => render(&cfg.jobs, format)?,
        What::Logging => render(&cfg.global.logging, format)?,
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Renders a part of the configuration.
pub fn render<T: serde::Serialize + std::fmt::Debug>(
    value: &T,
    format: DumpFormat,
) -> anyhow::Result<String> {
    Ok(match format {
        DumpFormat::Pretty => format!("{value:#?}"),
        DumpFormat::Yaml => serde_saphyr::to_string(value)?,
        DumpFormat::Json => serde_json::to_string_pretty(value)?,
    })
}
