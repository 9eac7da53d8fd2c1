//! One module per subcommand of the `zferry` binary (see [`crate::cli`]).

pub mod configcheck;
