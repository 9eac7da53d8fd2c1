//! `zferry` as a library: the parts of the daemon and its command-line tools that the `zferry`
//! binary (and the integration tests) build on.

pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod jobs;
pub mod monitor;
pub mod runtime;
