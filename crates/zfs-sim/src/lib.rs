//! A userspace model of OpenZFS 2.3 behind `zfs`/`zpool`-compatible programs, for tests and the demo.
//!
//! The [`testenv`] module is the test-environment helper every ZFS-facing test uses.

pub mod testenv;
