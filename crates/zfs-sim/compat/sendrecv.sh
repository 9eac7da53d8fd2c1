# Compared on real OpenZFS and the simulator by compare.sh (see there).
# Runs the same zfs commands on real ZFS and the simulator; outputs are normalised and diffed.
r() { echo "\$ $*"; "$@" 2>&1; echo "rc=$?"; }
rs() { echo "\$ $*"; sh -c "$*" 2>&1; echo "rc=$?"; }
zfs destroy -r src/h3-c >/dev/null 2>&1; zfs destroy -r dst/h3-c >/dev/null 2>&1; zfs destroy -r dst/h3-d >/dev/null 2>&1
r zfs create src/h3-c
MP=$(zfs get -H -o value mountpoint src/h3-c)
echo one > $MP/f1; mkdir $MP/dir; echo two > $MP/dir/f2
r zfs snapshot src/h3-c@s1
echo three > $MP/f3; rm $MP/f1
r zfs snapshot src/h3-c@s2
r zfs bookmark src/h3-c@s1 src/h3-c#b1
rs "zfs send src/h3-c@s1 | zfs recv dst/h3-c"
rs "zfs send src/h3-c@s1 | zfs recv dst/h3-c"
rs "zfs send -i @s1 src/h3-c@s2 | zfs recv dst/h3-c@s2x"
r zfs list -H -o name -t snapshot -r dst/h3-c
r zfs rollback -r dst/h3-c@s1
rs "zfs send -i src/h3-c#b1 src/h3-c@s2 | zfs recv dst/h3-c"
r zfs list -H -o name -t all -r dst/h3-c
DMP=$(zfs get -H -o value mountpoint dst/h3-c)
ls $DMP $DMP/dir
cat $DMP/f3
rs "zfs send -i @s1 src/h3-c@s2 | zfs recv dst/h3-c"
echo mod > $DMP/mod
r zfs snapshot src/h3-c@s3
rs "zfs send -i @s2 src/h3-c@s3 | zfs recv dst/h3-c"
rs "zfs send -i @s2 src/h3-c@s3 | zfs recv -F dst/h3-c"
ls $DMP
rs "zfs send -i @s1 src/h3-c@s3 | zfs recv dst/h3-c"
rs "zfs send -i @s1 src/h3-c@s2 | zfs recv dst/h3-nope"
rs "zfs send src/h3-c@nope | cat >/dev/null"
rs "zfs send -i @s3 src/h3-c@s1 | cat >/dev/null"
rs "zfs send -i @nope src/h3-c@s1 | cat >/dev/null"
rs "zfs send src/h3-c | cat >/dev/null"
rs "zfs send -nvP -I @s1 src/h3-c@s3 | sed 's/[0-9][0-9]*\$/N/'"
rs "zfs send -nv -i src/h3-c@s1 src/h3-c@s3 | sed 's/is .*/is N/'"
rs "zfs send -nv src/h3-c@s1 | sed 's/is .*/is N/'"
r zfs create dst/h3-d
rs "zfs send src/h3-c@s1 | zfs recv -F dst/h3-d"
r zfs list -H -o name,mounted -t all -r dst/h3-d
r zfs destroy -r dst/h3-d
N=$(zfs send -nvP src/h3-c@s1 | awk '/^size/{print $2}'); H=$((N-40))
rs "zfs send src/h3-c@s1 | head -c $H | zfs recv -s dst/h3-d 2>&1 | sed 's/-t .*/-t TOKEN/'"
r zfs list -H -o name,mounted,inconsistent -t all -r dst/h3-d
T=$(zfs get -H -o value receive_resume_token dst/h3-d)
rs "zfs send -nvt $T | sed 's/0x[0-9a-f]*/0xN/; s/= [0-9][0-9]*/= N/'"
rs "zfs send src/h3-c@s1 | zfs recv -s dst/h3-d 2>&1"
rs "zfs send -t $T | zfs recv -s dst/h3-d"
r zfs list -H -o name,receive_resume_token -t all -r dst/h3-d
N=$(zfs send -nvP -i @s1 src/h3-c@s2 | awk '/^size/{print $2}'); H=$((N-40))
rs "zfs send -i @s1 src/h3-c@s2 | head -c $H | zfs recv -s dst/h3-d 2>&1 | sed 's/-t .*/-t TOKEN/'"
r zfs list -H -o name -t all -r dst/h3-d
rs "zfs get -H -o value receive_resume_token dst/h3-d | cut -c1-2"
r zfs recv -A dst/h3-d
r zfs recv -A dst/h3-d
r zfs list -H -o name -t all -r dst/h3-d
N=$(zfs send -nvP src/h3-c@s1 | awk '/^size/{print $2}'); H=$((N-40))
rs "zfs send src/h3-c@s1 | head -c $H | zfs recv dst/h3-e"
r zfs list dst/h3-e
r zfs set user:x=1 src/h3-c
rs "zfs send -p src/h3-c@s1 | zfs recv -o user:y=2 -x user:x dst/h3-e"
r zfs get -H -o name,property,value,source,received user:x,user:y dst/h3-e
r zfs destroy -r dst/h3-e
rs "zfs send -p src/h3-c@s1 | zfs recv -u -o mountpoint=none dst/h3-e"
r zfs get -H -o name,property,value,source mountpoint,mounted,user:x dst/h3-e
r zfs destroy -r dst/h3-e
r zfs destroy -r src/h3-c
r zfs destroy -r dst/h3-c
r zfs destroy -r dst/h3-d
