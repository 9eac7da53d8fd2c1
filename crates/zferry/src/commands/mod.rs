//! One module per subcommand of the `zferry` binary (see [`crate::cli`]).

pub mod check;
pub mod completions;
pub mod configcheck;
pub mod control;
pub mod daemon;
pub mod demo;
pub mod dist_assets;
pub mod identity;
pub mod signal;
pub mod status;
pub mod stdinserver;
pub mod test;
pub mod version;
pub mod zfs_abstraction;
