//! `zferry`: the ZFS replication and snapshot-management daemon and its command-line tools.

fn main() -> anyhow::Result<()> {
    Ok(())
}
