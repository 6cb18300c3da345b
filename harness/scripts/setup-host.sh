#!/usr/bin/env bash
# Installs the host tools bootc-harness drives. Idempotent; run as root (just setup).
# The Debian mirror is read from the host's own apt sources, never hard-coded.
set -euo pipefail

# Packages whose names differ between the releases this runs on (Debian 12 and 13, Ubuntu
# 24.04 for GitHub's hosted runners), as "first|second|...": the first name apt has a
# candidate for is installed; a trailing "|" lets a group pick nothing.
#   libtss2-*   systemd-cryptenroll dlopen()s esys, rc and mu to seal LUKS keys to a swtpm (no
#               package dependency pulls them in); Debian 13 and Ubuntu 24.04 renamed them (t64).
#   systemd-cryptsetup  holds systemd-cryptenroll from Debian 13 on; before (Debian 12, Ubuntu
#               24.04's systemd 255) it is in systemd.
#   chromium    the VM tests' report check (Playwright drives Debian's Chromium headless); Ubuntu
#               has only a snap stand-in, so there it is left out.
#   virtiofsd, composefs  where the release has none, setup_tools unpacks them from Debian.
PICK_GROUPS=('libtss2-esys-3.0.2-0t64|libtss2-esys-3.0.2-0' 'libtss2-rc0t64|libtss2-rc0'
             'libtss2-mu-4.0.1-0t64|libtss2-mu0' 'libtss2-tcti-swtpm0t64|libtss2-tcti-swtpm0'
             'systemd-cryptsetup|systemd' 'chromium|' 'virtiofsd|' 'composefs|')

# Prints, for each GROUP, the first name `apt-cache policy` gives a candidate version (a
# name apt does not know prints nothing; a virtual one "Candidate: (none)"). Fails, naming
# them, when a group without a trailing "|" has none.
pick_packages() { # GROUP...
  local have group alt picked rc=0
  # shellcheck disable=SC2046 # names have no spaces: one word each
  have=$(apt-cache policy $(printf '%s\n' "$@" | tr '|' '\n' | grep -v '^$' | sort -u) 2>/dev/null |
         awk '/^[^ ].*:$/ { name = substr($0, 1, length($0) - 1) } /^  Candidate:/ && $2 != "(none)" { print name }')
  for group in "$@"; do
    picked=""
    for alt in ${group//|/ }; do
      if grep -qxF -- "$alt" <<< "$have"; then picked=$alt; break; fi
    done
    if [ -n "$picked" ]; then echo "$picked"
    elif [ "${group: -1}" != "|" ]; then echo "setup: apt offers none of ${group//|/, }" >&2; rc=1; fi
  done
  return $rc
}

# The packages apt installs for PACKAGE... on a system with nothing installed: their Depends and
# Pre-Depends, closed over, as apt resolves them (never a list written here: a library's package
# name changes with a suite's transitions, as with sid's OpenSSL 4). APT-OPTION... point apt at
# a throwaway configuration (throwaway_apt) whose dpkg status is empty.
resolve_closure() { # APT-OPTION... -- PACKAGE...
  local opts=()
  while [ "$1" != -- ]; do opts+=("$1"); shift; done; shift
  apt-get "${opts[@]}" install -s -qq --no-install-recommends "$@" | awk '$1 == "Inst" { print $2 }'
}

# apt-get options for an apt of its own under DIR: SOURCES as its only sources, its own lists,
# cache and an empty dpkg status; the host's preferences (pins) and locks untouched.
throwaway_apt() { # DIR SOURCES-FILE
  local d=$1
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
  : > "$d/status"
  printf '%s\n' -o Dir::Etc::SourceList="$2" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
    -o Dir::State::Lists="$d/lists" -o Dir::State::status="$d/status" -o Dir::State::extended_states="$d/extended_states" \
    -o Dir::Cache="$d/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root
}

# Ubuntu confines swtpm with an AppArmor profile (/etc/apparmor.d/usr.bin.swtpm, from swtpm's
# debian/usr.bin.swtpm as Ubuntu ships it) that allows /tmp/**, /var/lib/swtpm/** and the owner's
# home, not /var/tmp, where the work root keeps each run's TPM state and socket (swtpm 0.10's
# profile adds abstractions/user-tmp, which does). Its local/ include is for site additions:
# this rule lets swtpm use the work root, as the owner of what it opens there, and nothing else.
swtpm_local_rule() { # WORK-ROOT
  local work_root=$1
  cat <<RULE
  owner ${work_root}/** rwk,  # bootc-harness: TPM state and socket of its runs (setup-host.sh)
RULE
}

# Debian tools this host's release lacks, unpacked from a newer suite with that suite's own
# C library into /var/cache/bootc-harness/tools/NAME and run through its loader:
#   virtiofsd   shares the image's root with the installer VM (Debian 12 has no package);
#   mkcomposefs writes a composefs image of the image's tree (only sid has composefs): the
#               host's own tool, so no binary of the image under test runs on the host.
unpack_tool() { # NAME SUITE BINARY PACKAGE
  local name=$1 suite=$2 binary=$3 package=$4
  local dir="$tools_root/$name"
  # Present and runnable (its loader and libraries in place): it prints its usage.
  [ -x "$dir/$name" ] && { "$dir/$name" --help 2>&1 || true; } | grep -qi usage && return 0
  local tmp; tmp=$(mktemp -d)
  # Fires once, as this function returns (a RETURN trap would otherwise stay for every later return).
  trap "rm -rf '$tmp'; trap - RETURN" RETURN
  # sid's Release is valid for a week only: a lagging mirror is still signed and consistent.
  local opts=""; [ "$suite" = sid ] && opts=" check-valid-until=no"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg%s] %s %s main\n' "$opts" "$mirror" "$suite" > "$tmp/sources.list"
  local A; mapfile -t A < <(throwaway_apt "$tmp/apt" "$tmp/sources.list")
  mkdir -p "$tmp/debs"
  apt-get "${A[@]}" update -qq
  # The package and what it needs, as the suite's apt resolves it; that suite's libc among them.
  local closure; closure=$(resolve_closure "${A[@]}" -- "$package")
  [ -n "$closure" ] || { echo "setup: apt resolves nothing for $package in $suite" >&2; exit 3; }
  # shellcheck disable=SC2086 # package names: one word each
  (cd "$tmp/debs" && apt-get "${A[@]}" download -qq $closure)
  rm -rf "$dir"; mkdir -p "$dir/root"
  for d in "$tmp"/debs/*.deb; do dpkg-deb -x "$d" "$dir/root"; done
  cat > "$dir/$name" <<WRAP
#!/bin/sh
# $name from Debian $suite with that suite's C library (this host's release has none).
d=\$(dirname "\$(readlink -f "\$0")")/root
l=\$d/usr/lib/x86_64-linux-gnu
exec "\$l/ld-linux-x86-64.so.2" --library-path "\$l" "\$d$binary" "\$@"
WRAP
  chmod 755 "$dir/$name"
  { "$dir/$name" --help 2>&1 || true; } | grep -qi usage || { echo "setup: $name from $suite does not run" >&2; exit 3; }
  echo "setup: $name from Debian $suite in $dir"
}
setup_tools() {
  if ! apt-cache show virtiofsd >/dev/null 2>&1; then
    unpack_tool virtiofsd trixie /usr/libexec/virtiofsd virtiofsd
  fi
  # Only the direct installer's composefs roots run mkcomposefs on the host (--no-mkcomposefs: none of this host's rows).
  if [ "$want_mkcomposefs" = 1 ] && ! apt-cache show composefs >/dev/null 2>&1; then
    unpack_tool mkcomposefs sid /usr/bin/mkcomposefs composefs
  fi
}

# The swtpm rule, where Ubuntu's profile is on disk: for the default work root and BOOTC_HARNESS_WORK.
install_swtpm_rule() {
  local aa=${AA_ETC:-/etc/apparmor.d} root want have # AA_ETC: the unit test's stand-in for /etc/apparmor.d
  local profile=$aa/usr.bin.swtpm local=$aa/local/usr.bin.swtpm
  [ -f "$profile" ] || return 0
  want=$(for root in /var/tmp/bootc-harness ${BOOTC_HARNESS_WORK:+"$BOOTC_HARNESS_WORK"}; do swtpm_local_rule "$(realpath -m "$root")"; done | sort -u)
  have=$(grep -F '# bootc-harness:' "$local" 2>/dev/null | sort -u || true)
  [ "$want" = "$have" ] && return 0
  mkdir -p "$(dirname "$local")"
  # The site's own lines stay; ours are replaced.
  { grep -vF '# bootc-harness:' "$local" 2>/dev/null || true; printf '%s\n' "$want"; } > "$local.new" && mv "$local.new" "$local"
  if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] && command -v apparmor_parser >/dev/null; then
    apparmor_parser -r -T -W "$profile"
  fi
  echo "setup: swtpm may use the work root: $local"
}

# Sourced (the unit test): the definitions only.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then return 0; fi

want_mkcomposefs=1
for arg in "$@"; do
  case "$arg" in
    --no-mkcomposefs) want_mkcomposefs=0 ;;
    *) echo "setup: unknown argument $arg (setup-host.sh [--no-mkcomposefs])" >&2; exit 2 ;;
  esac
done
if [ "$(id -u)" -ne 0 ]; then echo "setup: must run as root (apt-get)" >&2; exit 2; fi
. /etc/os-release
codename="${VERSION_CODENAME:-}"

# First Debian archive URI configured on this host (deb822 or one-line format),
# skipping the security archive. BOOTC_HARNESS_MIRROR overrides.
mirror="${BOOTC_HARNESS_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror=$( { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}';
              grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; break}}'; } \
            | grep -v -- '-security' | grep -E '/debian/?$' | awk '{print (/debian\.org\//?0:1), $0}' | sort -s -k1,1n | cut -d' ' -f2 | head -n1 || true)
fi
if [ -z "$mirror" ]; then echo "setup: no Debian mirror found in the host's apt sources; set BOOTC_HARNESS_MIRROR" >&2; exit 2; fi

qemu_release=""
if [ "$codename" = bookworm ]; then
  # bookworm's QEMU 7.2 crashes guest kernels under multi-threaded TCG; 10.x from backports does not.
  list=/etc/apt/sources.list.d/bootc-harness-backports.sources
  want="Types: deb
URIs: ${mirror}
Suites: bookworm-backports
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
  if [ ! -f "$list" ] || [ "$(cat "$list")" != "$want" ]; then
    printf '%s\n' "$want" > "$list"
    rm -f /var/lib/apt/periodic/bootc-harness-updated
  fi
  qemu_release="-t bookworm-backports"
fi

pkgs=(qemu-system-x86 qemu-utils ovmf swtpm swtpm-tools buildah skopeo mmdebstrap
      fdisk dosfstools mtools e2fsprogs util-linux mount cryptsetup-bin
      openssh-client systemd-boot-efi attr libcap2-bin uidmap fuse-overlayfs
      debian-archive-keyring zstd cpio kmod
      sqlite3 binutils  # an rpm image's bootc version (sqlite3), a UKI's .cmdline read as data (objcopy)
      passt  # a second NIC for profiles that opt into outbound NAT (vm.network "outbound"), gateway unmapped
      bubblewrap  # bwrap: every reader of the image tree and parser of its data runs sandboxed
      fsverity  # composefs.digest: the fs-verity digest of the guest's EROFS image, measured on the host
      time  # CI's closing table: each test file's and the fixture builds' CPU seconds (GNU time)
      podman)  # the bootc installer's host placement: bootc runs in `podman run --privileged`
# The rest by what apt offers here; with no (or stale) package lists, ask again after an update.
if ! picked=$(pick_packages "${PICK_GROUPS[@]}" 2>/dev/null); then
  apt-get update -qq
  picked=$(pick_packages "${PICK_GROUPS[@]}") || exit 2
fi
for p in $picked; do pkgs+=("$p"); done
# One name a line: a word match across lines, not " chromium " with spaces.
grep -qx chromium <<< "$picked" || echo "setup: no chromium package here: the VM tests' report check (e2e-broken) cannot run" >&2

tools_root=/var/cache/bootc-harness/tools

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
qemu_ok=1
if [ -n "$qemu_release" ]; then
  v=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true)
  case "$v" in 1:7.*|1:8.*|"") qemu_ok=0 ;; esac
fi
# mkosi builds the snosi-like fixture (fixtures/snow-mkosi) the way snosi does. bookworm's 14
# predates what its mkosi.conf says (LocalMirror=, ImageId= in os-release): on bookworm it comes
# from backports (24.x; that needs systemd >= 254 from backports too), elsewhere from the release.
mkosi_ok=1
case "$(dpkg-query -W -f='${Version}' mkosi 2>/dev/null || true)" in ""|[0-9]|[0-9][-.~+]*|1[0-9]*|2[0-3][-.~+]*) mkosi_ok=0 ;; esac
if [ ${#missing[@]} -eq 0 ] && [ $qemu_ok -eq 1 ] && [ $mkosi_ok -eq 1 ]; then
  setup_tools
  install_swtpm_rule
  echo "setup: host tools present"; exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ -n "$qemu_release" ]; then
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $qemu_release qemu-system-x86 qemu-utils qemu-system-data qemu-system-common
fi
apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
# shellcheck disable=SC2086
[ $mkosi_ok -eq 1 ] || apt-get install -y -qq --no-install-recommends $qemu_release mkosi
setup_tools
install_swtpm_rule
echo "setup: installed ${missing[*]:-qemu from backports}"
