#!/bin/sh
# mmdebstrap hooks: each DKMS module is compiled once per (module, version, kernel release,
# machine) and reused by every later fixture build, through DKMS's own prebuilt-binary
# tarballs (dkms mktarball --binaries-only, dkms ldtarball).
#   dkms-cache-hook.sh hold  CACHE ROOT   essential hook: the packages' postinsts leave DKMS
#                                         alone (/etc/dkms/no-autoinstall, DKMS's own switch)
#   dkms-cache-hook.sh build CACHE ROOT   customize hook: for every DKMS source in the image and
#                                         every kernel with headers, load the cached build or
#                                         build it and cache it, then install it as the
#                                         postinst would have
set -eu
way=$1 cache=$2 root=$3
case "$way" in
hold)
  mkdir -p "$root/etc/dkms"
  : > "$root/etc/dkms/no-autoinstall" ;;
build)
  rm -f "$root/etc/dkms/no-autoinstall"
  mkdir -p "$cache"
  for conf in "$root"/usr/src/*/dkms.conf; do
    [ -e "$conf" ] || continue
    d=$(basename "$(dirname "$conf")")
    name=${d%-*} ver=${d##*-}
    chroot "$root" dkms add -m "$name" -v "$ver" >/dev/null 2>&1 || true
    for kdir in "$root"/lib/modules/*/; do
      krel=$(basename "$kdir")
      # No headers for this kernel: the postinst would skip it too.
      [ -e "$kdir/build" ] || continue
      key="$cache/$name-$ver+$krel+$(uname -m).dkms.tar.gz"
      if [ -f "$key" ]; then
        cp "$key" "$root/tmp/dkms-cached.tar.gz"
        chroot "$root" dkms ldtarball --archive /tmp/dkms-cached.tar.gz
        rm -f "$root/tmp/dkms-cached.tar.gz"
        echo "dkms cache: $name $ver for $krel from $key"
      else
        chroot "$root" dkms build -m "$name" -v "$ver" -k "$krel"
        chroot "$root" dkms mktarball -m "$name" -v "$ver" -k "$krel" --binaries-only --archive /tmp/dkms-new.tar.gz
        found=$(find "$root/tmp" "$root/var/lib/dkms/$name/$ver/tarball" -name dkms-new.tar.gz 2>/dev/null | head -n1)
        cp "$found" "$key.tmp.$$" && mv -f "$key.tmp.$$" "$key"
        rm -f "$found"
        echo "dkms cache: $name $ver for $krel built and kept as $key"
      fi
      chroot "$root" dkms install -m "$name" -v "$ver" -k "$krel"
    done
    rm -rf "$root/var/lib/dkms/$name/$ver/tarball"
  done ;;
*) echo "usage: $0 hold|build CACHE ROOT" >&2; exit 2 ;;
esac
