#!/bin/sh
# Runs one of the scripts in this directory on real OpenZFS (in ../shared/zfs-vm, pools src and
# dst) and on the simulator, and diffs the outputs. Differences in guids, times, sizes and the
# VM's pool mountpoint source are expected; everything else is a simulator bug to fix.
# usage (from the workspace root): crates/zfs-sim/compat/compare.sh crates/zfs-sim/compat/sendrecv.sh
set -eu
script=$1
root=$(pwd)
vm=${ZFS_VM:-$root/../shared/zfs-vm/zfs-vm}
real=$(mktemp) sim=$(mktemp) bin=$(mktemp -d) state=$(mktemp -d)
cargo build -q -p zferry-zfs-sim --bins
ln -s "$root/target/debug/zfs" "$root/target/debug/zpool" "$bin/"
"$vm" exec -n -- sh "$root/$script" > "$real" 2>&1 || true
(
    export ZFS_SIM_DIR="$state" PATH="$bin:$PATH"
    zpool create src sim && zpool create dst sim
    sh "$script" 2>&1 | sed "s#$state/mnt##g"
) > "$sim"
diff "$real" "$sim" && echo "no differences"
rm -rf "$real" "$sim" "$bin" "$state"
