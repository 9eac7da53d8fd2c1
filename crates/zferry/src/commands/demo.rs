//! `zferry demo`: see [`crate::demo`].

use crate::cli::DemoArgs;
use crate::demo::{self, DemoOptions};

/// Runs the demo.
pub fn run(args: &DemoArgs) -> anyhow::Result<()> {
    let real = match (&args.real, &args.source, &args.target) {
        (false, _, _) => None,
        (true, Some(s), Some(t)) => Some((s.clone(), t.clone())),
        (true, _, _) => anyhow::bail!("--real needs --source POOL and --target POOL"),
    };
    demo::run(&DemoOptions {
        real,
        rounds: args.rounds,
        keep: args.keep,
    })
}
