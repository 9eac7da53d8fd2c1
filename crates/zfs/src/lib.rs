//! Talking to ZFS: typed names, versions, and the `zfs` command-line driver.
