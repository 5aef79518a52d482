#!/bin/bash
# Prepares the geneve test VM (docs/DESIGN.md section 7): installs the packages in
# scripts/packages/vm.txt, downloads and unpacks the Debian kernel that
# linux-image-amd64 depends on, runs depmod on it and builds a busybox-static
# initramfs (init script: scripts/vm/guest-init.sh).
#
# Everything goes under .vm/ at the top of the checkout (or $AMBIENT_VM_DIR).
# Idempotent: a second call only checks a stamp and returns.
#
# Usage: scripts/vm/prepare.sh [--force]
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
VMDIR=${AMBIENT_VM_DIR:-$REPO/.vm}
PKGLIST=$REPO/scripts/packages/vm.txt
STAMP=$VMDIR/prepared

# Modules the initramfs loads itself (their dependencies are added in order).
# Everything else is loaded on demand from the bind-mounted module tree.
INITRD_MODULES="virtio_pci virtio_console 9pnet_virtio 9p overlay geneve"

say() { echo "vm: $*" >&2; }
die() { echo "vm: error: $*" >&2; exit 1; }

FORCE=0
case "${1:-}" in
  --force) FORCE=1 ;;
  "") ;;
  -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (usage: prepare.sh [--force])" ;;
esac

# The stamp records a hash of the inputs so that editing this script or the
# guest init rebuilds the initramfs.
inputs_hash() {
  cat "$SCRIPT_DIR/prepare.sh" "$SCRIPT_DIR/guest-init.sh" "$PKGLIST" | sha256sum | cut -c1-16
}

packages() { sed -e 's/#.*//' -e 's/[[:space:]]//g' "$PKGLIST" | grep -v '^$' || true; }

missing_packages() {
  local p st
  for p in $(packages); do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || echo "$p"
  done
}

is_prepared() {
  [ -f "$STAMP" ] || return 1
  local want have ver
  want=$(inputs_hash)
  read -r have ver < "$STAMP" || return 1
  [ "$have" = "$want" ] || return 1
  [ -f "$VMDIR/vmlinuz" ] && [ -f "$VMDIR/initrd.img" ] &&
    [ -f "$VMDIR/kernel/lib/modules/$ver/modules.dep" ] || return 1
  [ -z "$(missing_packages)" ] || return 1
  return 0
}

if [ "$FORCE" = 0 ] && is_prepared; then
  exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (needs apt-get and a writable $VMDIR)"
mkdir -p "$VMDIR"
# One preparation at a time (two run-in-vm.sh calls may race here).
exec 9>"$VMDIR/prepare.lock"
flock 9
if [ "$FORCE" = 0 ] && is_prepared; then
  exit 0
fi

# --- 1. packages ---------------------------------------------------------
APT_UPDATED=0
apt_update() {
  if [ "$APT_UPDATED" = 0 ]; then
    say "running apt-get update ..."
    apt-get update -qq >&2 || die "apt-get update failed"
    APT_UPDATED=1
  fi
}

missing=$(missing_packages | tr '\n' ' ')
if [ -n "${missing// /}" ]; then
  apt_update
  say "installing packages: $missing"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2 ||
    die "apt-get install $missing failed"
fi
for tool in qemu-system-x86_64 dpkg-deb depmod modinfo cpio; do
  command -v "$tool" >/dev/null || die "'$tool' not found after installing $PKGLIST"
done
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (install busybox-static)"
case "$(ldd "$BUSYBOX" 2>&1 || true)" in *"not a dynamic"*) ;; *) false ;; esac || die "$BUSYBOX is not statically linked (install busybox-static)"

# --- 2. kernel -----------------------------------------------------------
kernel_pkg() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1
}

KVER=""
if [ -f "$VMDIR/kernel.version" ]; then
  KVER=$(cat "$VMDIR/kernel.version")
  [ -f "$VMDIR/kernel/boot/vmlinuz-$KVER" ] && [ -d "$VMDIR/kernel/lib/modules/$KVER" ] || KVER=""
fi

if [ -z "$KVER" ]; then
  pkg=$(kernel_pkg)
  if [ -z "$pkg" ]; then
    apt_update
    pkg=$(kernel_pkg)
  fi
  [ -n "$pkg" ] || die "cannot find the kernel package that linux-image-amd64 depends on (apt-cache depends linux-image-amd64)"
  rm -rf "$VMDIR/dl" "$VMDIR/kernel" "$VMDIR/kernel.tmp"
  mkdir -p "$VMDIR/dl"
  say "downloading kernel package $pkg ..."
  if ! (cd "$VMDIR/dl" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >&2); then
    apt_update
    pkg=$(kernel_pkg)
    (cd "$VMDIR/dl" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >&2) ||
      die "apt-get download $pkg failed"
  fi
  deb=$(ls "$VMDIR"/dl/"$pkg"_*.deb 2>/dev/null | head -n1)
  [ -n "$deb" ] || die "downloaded package $pkg not found in $VMDIR/dl"
  say "unpacking $(basename "$deb") ..."
  dpkg-deb -x "$deb" "$VMDIR/kernel.tmp" || die "dpkg-deb -x $deb failed"
  KVER=$(ls "$VMDIR/kernel.tmp/lib/modules" | head -n1)
  [ -n "$KVER" ] && [ -f "$VMDIR/kernel.tmp/boot/vmlinuz-$KVER" ] ||
    die "$deb does not contain boot/vmlinuz-* and lib/modules/*"
  say "running depmod for $KVER ..."
  depmod -b "$VMDIR/kernel.tmp" "$KVER" || die "depmod -b failed"
  mv "$VMDIR/kernel.tmp" "$VMDIR/kernel"
  echo "$KVER" > "$VMDIR/kernel.version"
  rm -rf "$VMDIR/dl"
fi
KROOT=$VMDIR/kernel
MODDIR=$KROOT/lib/modules/$KVER
[ -f "$MODDIR/modules.dep" ] || { say "running depmod for $KVER ..."; depmod -b "$KROOT" "$KVER"; }
ln -sf "kernel/boot/vmlinuz-$KVER" "$VMDIR/vmlinuz"

# The uncompressed ELF vmlinux boots through its PVH entry point: this skips
# the bzImage's own decompression, which takes seconds under TCG.
if [ ! -s "$VMDIR/vmlinux" ] || [ "$(cat "$VMDIR/vmlinux.version" 2>/dev/null)" != "$KVER" ]; then
  say "extracting vmlinux from vmlinuz-$KVER ..."
  rm -f "$VMDIR/vmlinux" "$VMDIR/vmlinux.version"
  extract_vmlinux() {
    local bz=$KROOT/boot/vmlinuz-$KVER magic cmd off
    for pair in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
      cmd=${pair%%:*}; magic=${pair#*:}
      command -v "$cmd" >/dev/null || continue
      for off in $(LC_ALL=C grep -obUaP "$magic" "$bz" 2>/dev/null | cut -d: -f1 | head -n 5); do
        case $cmd in
          xz) tail -c +$((off + 1)) "$bz" | xz -dcq --single-stream > "$VMDIR/vmlinux.tmp" 2>/dev/null ;;
          zstd) tail -c +$((off + 1)) "$bz" | zstd -dcq > "$VMDIR/vmlinux.tmp" 2>/dev/null ;;
          gzip) tail -c +$((off + 1)) "$bz" | gzip -dcq > "$VMDIR/vmlinux.tmp" 2>/dev/null ;;
        esac
        if [ "$(head -c 4 "$VMDIR/vmlinux.tmp" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; then
          mv "$VMDIR/vmlinux.tmp" "$VMDIR/vmlinux"
          return 0
        fi
      done
    done
    rm -f "$VMDIR/vmlinux.tmp"
    return 1
  }
  if extract_vmlinux && grep -q '^CONFIG_PVH=y' "$KROOT/boot/config-$KVER"; then
    echo "$KVER" > "$VMDIR/vmlinux.version"
  else
    rm -f "$VMDIR/vmlinux"
    say "no PVH-bootable vmlinux (booting the compressed vmlinuz, a few seconds slower)"
  fi
fi

# --- 3. initramfs --------------------------------------------------------
say "building initramfs for $KVER ..."
modfile() {
  local f
  f=$(modinfo -b "$KROOT" -k "$KVER" -F filename "$1" 2>/dev/null | head -n1) || true
  [ -n "$f" ] && [ -f "$f" ] || die "kernel module '$1' not found in $MODDIR"
  echo "$f"
}

# Depth-first over `modinfo -F depends`: dependencies before dependents.
declare -A SEEN=()
ORDER=()
visit() {
  local m=$1 d deps
  m=${m//-/_}
  [ -n "${SEEN[$m]:-}" ] && return 0
  SEEN[$m]=1
  deps=$(modinfo -F depends "$(modfile "$m")")
  for d in ${deps//,/ }; do visit "$d"; done
  ORDER+=("$m")
}
for m in $INITRD_MODULES; do visit "$m"; done

IR=$VMDIR/initramfs.tmp
rm -rf "$IR"
mkdir -p "$IR"/{bin,dev,proc,sys,lower,rw,newroot,lib/modules}
cp "$BUSYBOX" "$IR/bin/busybox"
ln -s busybox "$IR/bin/sh"
for m in "${ORDER[@]}"; do
  f=$(modfile "$m")
  case "$f" in
    *.ko) cp "$f" "$IR/lib/modules/$m.ko" ;;
    *.ko.xz) xz -dc "$f" > "$IR/lib/modules/$m.ko" ;;
    *.ko.zst) zstd -qdc "$f" > "$IR/lib/modules/$m.ko" ;;
    *.ko.gz) gzip -dc "$f" > "$IR/lib/modules/$m.ko" ;;
    *) die "unsupported module file $f" ;;
  esac
  echo "$m" >> "$IR/lib/modules/order"
done
install -m 0755 "$SCRIPT_DIR/guest-init.sh" "$IR/init"
(cd "$IR" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0 > "$VMDIR/initrd.img.tmp") ||
  die "cpio failed"
mv "$VMDIR/initrd.img.tmp" "$VMDIR/initrd.img"
rm -rf "$IR"

echo "$(inputs_hash) $KVER" > "$STAMP"
say "prepared: kernel $KVER, initramfs modules: ${ORDER[*]}"
