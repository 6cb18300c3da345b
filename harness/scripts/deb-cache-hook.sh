#!/bin/sh
# mmdebstrap hook: one package download cache shared by every fixture build.
#   deb-cache-hook.sh in  CACHE ROOT   links every cached .deb into the chroot's apt archives
#                                      (apt checks each against the index before using it)
#   deb-cache-hook.sh out CACHE ROOT   links the .debs the build downloaded into the cache,
#                                      each under a temporary name and renamed: a concurrent
#                                      build never sees half a file
# Hard links (the cache and the fixtures live under one directory); copies where they cannot.
set -eu
way=$1 cache=$2 root=$3
archives="$root/var/cache/apt/archives"
mkdir -p "$cache" "$archives"
case "$way" in
in)
  for f in "$cache"/*.deb; do
    [ -e "$f" ] || continue
    ln -f "$f" "$archives/" 2>/dev/null || cp -f "$f" "$archives/"
  done ;;
out)
  for f in "$archives"/*.deb; do
    [ -e "$f" ] || continue
    n=${f##*/}
    [ -e "$cache/$n" ] && continue
    ln -f "$f" "$cache/.$n.$$" 2>/dev/null || cp -f "$f" "$cache/.$n.$$"
    mv -f "$cache/.$n.$$" "$cache/$n"
  done ;;
*) echo "usage: $0 in|out CACHE ROOT" >&2; exit 2 ;;
esac
