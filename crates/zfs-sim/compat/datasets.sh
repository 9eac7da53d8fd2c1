# Compared on real OpenZFS and the simulator by compare.sh (see there).
r() { echo "\$ $*"; "$@" 2>&1; echo "rc=$?"; }
rs() { echo "\$ $*"; sh -c "$*" 2>&1; echo "rc=$?"; }
for d in src/h3-f; do zfs destroy -r $d >/dev/null 2>&1; done
r zfs create src/h3-f
r zfs create "src/h3-f/ lead"
r zfs create "src/h3-f/a b"
r zfs create -p src/h3-f/x/y/z
r zfs create -o mountpoint=none -o user:p=1 src/h3-f/ph
r zfs create -V 10M src/h3-f/vol
r zfs snapshot -r src/h3-f@s1
r zfs bookmark src/h3-f@s1 src/h3-f#bm
r zfs list -H -o name,type,mounted,mountpoint,canmount -r src/h3-f
r zfs list -o name,type,mounted -t all -r src/h3-f
r zfs list -d 1 -o name -r src/h3-f
r zfs list -d 0 -o name -t snapshot -r src/h3-f
r zfs list -H -o name -t snapshot src/h3-f/x
r zfs list -H -o name -t bookmark,snapshot src/h3-f
r zfs list -H -o name -s name -S createtxg -t snapshot -r src/h3-f
r zfs list -H -p -o name,userrefs,defer_destroy -t snapshot src/h3-f@s1
r zfs list -o name,userrefs,defer_destroy,guid -t snapshot src/h3-f@s1
r zfs get -o name,property,value,source type,mounted,mountpoint,canmount src/h3-f/ph src/h3-f/vol
r zfs get -H -o all user:p src/h3-f/ph
r zfs get -s local -H all src/h3-f/ph
r zfs hold tag1 src/h3-f@s1
r zfs hold -r tag2 src/h3-f@s1
r zfs holds -r src/h3-f@s1
r zfs holds -H -r src/h3-f@s1 src/h3-f/x@s1
r zfs release -r tag2 src/h3-f@s1
r zfs release tag1 src/h3-f@s1
r zfs destroy -nv src/h3-f/x
r zfs destroy -nv -r src/h3-f/x
r zfs destroy -nvp -r src/h3-f/x
r zfs destroy -nv src/h3-f@s1
r zfs destroy -v src/h3-f/x/y/z@s1
r zfs rename src/h3-f/x src/h3-f/ph
r zfs rename src/h3-f/x src/h3-f/x2
r zfs list -H -o name,mountpoint -r src/h3-f/x2
r zfs rename src/h3-f@s1 src/h3-f@s1r
r zfs list -H -o name -t snapshot src/h3-f
r zfs rename -r src/h3-f@s1r src/h3-f@s1
r zfs set mountpoint=/h3-f-moved src/h3-f/x2
r zfs get -H -o name,value,source mountpoint -r src/h3-f/x2
r zfs inherit mountpoint src/h3-f/x2
r zfs get -H -o name,value,source mountpoint src/h3-f/x2/y
r zfs set user:q=v src/h3-f/x2
r zfs inherit -r user:q src/h3-f/x2
r zfs get -H -o value user:q src/h3-f/x2
r zfs set quota=1G src/h3-f/x2
r zfs get -H -o value,source quota src/h3-f/x2
r zfs get -H -p -o value quota src/h3-f/x2
r zfs inherit quota src/h3-f/x2
r zfs set readonly=on src/h3-f/x2
r zfs get -H -o name,value,source readonly -r src/h3-f/x2
r zfs get -H -o value encryption,keystatus,encryptionroot,keyformat src/h3-f@s1
r zfs get -H -o value receive_resume_token,snapshots_changed src/h3-f/vol
r zfs get -H -p -o value volsize src/h3-f/vol
r zfs list -H -o name,mountpoint src/h3-f/vol
r zfs unmount src/h3-f/ph
r zfs mount src/h3-f/ph
r zfs destroy src/h3-f/vol
r zfs destroy -r src/h3-f
r zfs create -o atime=maybe src/h3-g
r zfs create -o encryption=on src/h3-g
r zfs create -o keyformat=passphrase src/h3-g
r zfs create -o encryption=off -o keyformat=passphrase src/h3-g
