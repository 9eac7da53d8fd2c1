//! A userspace model of OpenZFS 2.3 behind `zfs`/`zpool`-compatible programs, for tests and the
//! `zferry demo`.
//!
//! * [`testenv`]: the test-environment helper every ZFS-facing test uses ([`testenv::TestZfs`]).
//! * The `zfs` and `zpool` programs of this crate keep their state in the directory named by the
//!   environment variable `ZFS_SIM_DIR` (they refuse to run without it). Concurrent invocations
//!   are serialised by a lock file ([`lock`]); the state is one compact text file ([`state`]).
//! * Filesystems carry real data: a filesystem's data directory is its mountpoint (pools get an
//!   altroot inside the state directory unless created with `-R`), a snapshot freezes a copy,
//!   `zfs send` streams carry the files ([`stream`]) and `zfs receive` materialises them.
//! * Fault injection ([`faults`]): `ZFS_SIM_SEND_FAIL_AFTER=N` (send fails after N bytes),
//!   `ZFS_SIM_RECV_NOSPACE=1` (receive fails with "out of space"), `ZFS_SIM_STREAM_RATE=B`
//!   (send writes at most B bytes/s), `ZFS_SIM_DELAY_MS=N` (every command sleeps N ms first);
//!   from the environment or from `$ZFS_SIM_DIR/faults.env` (`KEY=VALUE` lines, read at each
//!   invocation).
//! * Output formats and error texts follow OpenZFS 2.3.2 byte for byte where tests look at them
//!   (compared against the real thing; every correction made is listed in `CORRECTIONS.md`).
//!   Known differences: send streams use the simulator's own format (see [`stream`]) and are much
//!   smaller than OpenZFS's; space accounting is approximate; `zfs send -R`, clones, volumes' data,
//!   `zfs get all` listing only the properties the simulator models.
//! * The invocation journal ([`journal`], opt-in): what ran in a world, what a `zfs send` really
//!   wrote, which invocations a signal killed; for tests that must not trust the product's account.
//! * Large worlds for benchmarks: [`bulk::populate`] (or `cargo run --example populate`).

pub mod bookmarks;
pub mod bulk;
pub mod cli;
pub mod crypto;
pub mod data;
pub mod dataset;
pub mod destroy;
pub mod errors;
pub mod faults;
pub mod format;
pub mod holds;
pub mod journal;
pub mod list;
pub mod lock;
pub mod names;
pub mod props;
pub mod recv;
pub mod resume;
pub mod send;
pub mod sim;
pub mod snapshot;
pub mod state;
pub mod stream;
pub mod testenv;
pub mod testsshd;
