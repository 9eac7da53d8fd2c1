# Compared on real OpenZFS and the simulator by compare.sh (see there).
zfs destroy -r src/h3-g >/dev/null 2>&1
zfs create src/h3-g
zfs snapshot src/h3-g@s1
zfs bookmark src/h3-g@s1 src/h3-g#b
zfs get -H -o name,property,value,source all src/h3-g src/h3-g@s1 src/h3-g#b
zfs destroy -r src/h3-g
