#!/usr/bin/env bash
# Installs the host tools bootc-harness drives. Idempotent; run as root (just setup).
# The Debian mirror is read from the host's own apt sources, never hard-coded.
set -euo pipefail

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
      debian-archive-keyring zstd cpio)
# systemd-cryptenroll seals LUKS keys to a swtpm through tpm2-tss's swtpm TCTI. Debian 12
# ships cryptenroll in systemd and the pre-t64 library name; later releases split both.
if [ "$codename" = bookworm ]; then
  pkgs+=(libtss2-tcti-swtpm0)
else
  pkgs+=(libtss2-tcti-swtpm0t64 systemd-cryptsetup)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
qemu_ok=1
if [ -n "$qemu_release" ]; then
  v=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true)
  case "$v" in 1:7.*|1:8.*|"") qemu_ok=0 ;; esac
fi
if [ ${#missing[@]} -eq 0 ] && [ $qemu_ok -eq 1 ]; then
  echo "setup: host tools present"; exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ -n "$qemu_release" ]; then
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $qemu_release qemu-system-x86 qemu-utils qemu-system-data qemu-system-common
fi
apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
echo "setup: installed ${missing[*]:-qemu from backports}"
