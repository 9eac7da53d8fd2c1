//! Contract suite: `zfs`/`zpool` behaviours zferry relies on, driven through `zferry_zfs`.
//!
//! Runs against the simulator by default and against real OpenZFS with
//! `ZFERRY_TEST_ZFS=real` (as root; it creates and destroys its own file-backed pools), e.g.
//! `CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER=scripts/vm-runner cargo test -p zferry-zfs --test contract`.
//! Every case gets its own pool, so cases run in parallel.

mod common;

mod datasets;
mod destroy;
mod encryption;
mod holds_bookmarks;
mod killed_receive;
mod misc;
mod names;
mod partial_receive;
mod resume;
mod send_recv;
mod versions;
