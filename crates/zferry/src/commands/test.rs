//! `zferry test filesystems | placeholder | decoderesumetoken`: check a job's filesystem filter,
//! placeholder markers and resume tokens against the real system.
//!
//! `test filesystems` prints zrepl's lines byte for byte (`ACCEPT` or `REJECT`, a tab, the
//! dataset, a tab and zrepl's empty error column), so scripts that parse `zrepl test filesystems`
//! work unchanged with zferry; one format means no flag to forget.

use std::path::Path;

use anyhow::{Context, bail};
use zferry_zfs::Zfs;

use super::control::{block_on, load_config};
use crate::cli::TestCommand;
use crate::config::Job;
use crate::jobs::datasets::{existing_dataset, list_pools};

/// One output line of `test filesystems`: zrepl's verdict word, the dataset, and zrepl's error
/// column, which stays empty (a zferry filter is checked when the configuration loads, so
/// matching a name cannot fail).
fn filter_verdict_line(accepted: bool, dataset: &str) -> String {
    let verdict = if accepted { "ACCEPT" } else { "REJECT" };
    format!("{verdict}\t{dataset}\t")
}

/// Runs the subcommand.
pub fn run(config_path: Option<&Path>, command: &TestCommand) -> anyhow::Result<()> {
    let zfs = Zfs::default();
    match command {
        TestCommand::Filesystems { job, all, input } => {
            let cfg = load_config(config_path)?;
            let Some(j) = cfg.job(job) else {
                bail!("no job named {job:?}");
            };
            let filter = match j {
                Job::Push(p) => &p.filesystems,
                Job::Source(s) => &s.filesystems,
                Job::Snap(s) => &s.filesystems,
                _ => bail!("job {job:?} ({}) has no filesystems filter", j.type_name()),
            };
            let matcher = filter.filter();
            let names: Vec<String> = match (input, all) {
                (Some(fs), _) => vec![fs.clone()],
                (None, true) => block_on(async {
                    let pools = list_pools(&zfs).await.map_err(anyhow::Error::msg)?;
                    let datasets = zfs.list_datasets(&pools).await?;
                    Ok::<_, anyhow::Error>(
                        datasets.into_iter().map(|d| d.path.to_string()).collect(),
                    )
                })??,
                (None, false) => bail!("give --all or --input FS"),
            };
            let mut accepted = 0;
            for name in &names {
                let verdict = matcher.matches(name);
                accepted += usize::from(verdict);
                println!("{}", filter_verdict_line(verdict, name));
            }
            if *all && accepted == 0 {
                eprintln!(
                    "warning: the filesystems filter of job {job:?} matches none of the {} datasets on this host",
                    names.len()
                );
            }
            Ok(())
        }
        TestCommand::Placeholder { all, dataset } => {
            let datasets = block_on(async {
                let roots = match (dataset, all) {
                    (Some(ds), _) => vec![
                        existing_dataset(&zfs, ds)
                            .await
                            .map_err(anyhow::Error::msg)?,
                    ],
                    (None, true) => list_pools(&zfs).await.map_err(anyhow::Error::msg)?,
                    (None, false) => bail!("give --all or --dataset DS"),
                };
                Ok(zfs.list_datasets(&roots).await?)
            })??;
            for d in datasets {
                if dataset.as_ref().is_some_and(|ds| ds != d.path.as_str()) {
                    continue;
                }
                let what = if d.placeholder {
                    "placeholder"
                } else {
                    "not a placeholder"
                };
                println!("{}\t{what}", d.path);
            }
            Ok(())
        }
        TestCommand::Decoderesumetoken { token } => {
            let t = zferry_zfs::decode_resume_token(token).context("decoding the token")?;
            println!("toname:      {}", t.to_name);
            println!("toguid:      {}", t.to_guid);
            match t.from_guid {
                Some(g) => println!("fromguid:    {g}"),
                None => println!("fromguid:    (full stream)"),
            }
            println!("bytes:       {}", t.bytes);
            println!("object:      {}", t.object);
            println!("offset:      {}", t.offset);
            println!("raw:         {}", t.raw);
            println!("compressed:  {}", t.compressed);
            println!("embedded:    {}", t.embedded);
            println!("largeblocks: {}", t.large_blocks);
            println!("saved:       {}", t.saved);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::filter_verdict_line;

    #[test]
    fn filter_verdicts_use_zrepls_words_and_columns() {
        assert_eq!(filter_verdict_line(true, "pool/a"), "ACCEPT\tpool/a\t");
        assert_eq!(filter_verdict_line(false, "pool/b c"), "REJECT\tpool/b c\t");
    }
}
