# Compared on real OpenZFS and the simulator by compare.sh (see there).
r() { echo "\$ $*"; "$@" 2>&1; echo "rc=$?"; }
rs() { echo "\$ $*"; sh -c "$*" 2>&1; echo "rc=$?"; }
for d in src/h3-e dst/h3-e dst/h3-p; do zfs destroy -r $d >/dev/null 2>&1; done
echo "correct horse battery" > /tmp/h3key
r zfs create -o encryption=on -o keyformat=passphrase -o keylocation=file:///tmp/h3key src/h3-e
r zfs create src/h3-e/child
r zfs get -H -o property,value,source encryption,keyformat,keylocation,encryptionroot,keystatus,pbkdf2iters src/h3-e src/h3-e/child
MP=$(zfs get -H -o value mountpoint src/h3-e)
echo data > $MP/f
r zfs snapshot src/h3-e@s1
r zfs get -H -o property,value,source encryption,keyformat,encryptionroot,keystatus src/h3-e@s1
rs "zfs send src/h3-e@s1 | zfs recv dst/h3-e"
rs "zfs send -p src/h3-e@s1 | cat > /dev/null"
r zfs get -H -o property,value,source encryption,encryptionroot,keystatus dst/h3-e
r zfs destroy -r dst/h3-e
rs "zfs send -w src/h3-e@s1 | zfs recv -u dst/h3-e"
r zfs get -H -o property,value,source encryption,keyformat,keylocation,encryptionroot,keystatus,mounted dst/h3-e
r zfs mount dst/h3-e
r zfs load-key dst/h3-e
r zfs load-key -L file:///tmp/nokey dst/h3-e
echo "wrong key here" > /tmp/h3bad
r zfs load-key -L file:///tmp/h3bad dst/h3-e
r zfs load-key -L file:///tmp/h3key dst/h3-e
r zfs load-key -L file:///tmp/h3key dst/h3-e
r zfs get -H -o property,value,source keystatus,mounted,keylocation dst/h3-e
r zfs mount dst/h3-e
cat $(zfs get -H -o value mountpoint dst/h3-e)/f
r zfs unload-key dst/h3-e
r zfs unmount dst/h3-e
r zfs unload-key dst/h3-e
r zfs unload-key dst/h3-e
echo more > $MP/g
r zfs snapshot src/h3-e@s2
rs "zfs send -w -i @s1 src/h3-e@s2 | zfs recv dst/h3-e"
r zfs list -H -o name -t snapshot -r dst/h3-e
r zfs create dst/h3-p
rs "zfs send -w src/h3-e@s1 | zfs recv -F dst/h3-p"
r zfs create -o mountpoint=none -o zferry:placeholder=on dst/h3-p/x
rs "zfs send src/h3-e@s1 | zfs recv -F dst/h3-p/x"
r zfs get -H -o property,value,source mountpoint,zferry:placeholder,mounted dst/h3-p/x
rs "zfs send -w src/h3-e@s1 | zfs recv -F dst/h3-e"
r zfs destroy -r dst/h3-e
r zfs destroy -r dst/h3-p
r zfs destroy -r src/h3-e
