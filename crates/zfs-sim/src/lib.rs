//! A userspace model of OpenZFS behind `zfs`/`zpool`-compatible programs, for tests and the demo.
