#!/bin/sh
# /init of the geneve test VM's initramfs (busybox sh). prepare.sh copies this
# file into .vm/initrd.img next to busybox and the modules listed in
# /lib/modules/order; run-in-vm.sh passes on the kernel command line:
#   vmrun=DIR    host directory holding cmd.sh (seen through the 9p root)
#   vmmods=DIR   host directory of the unpacked kernel's lib/modules/<ver>
#   vmid=ID      marker id for the serial console
#   vmtimeout=S  guest-side power-off after S seconds (0: none)
# The kernel hands unknown name=value parameters to /init as environment.
# The command's output and the exit marker go to the virtio serial port named
# ambient.out (the 16550 serial console moves about 70 KB/s under TCG; this
# port is far faster); ttyS0 carries the kernel's and this script's messages.
PATH=/bin
export PATH
/bin/busybox --install -s /bin

fail() {
  echo "vm-init: error: $*"
  echo o > /proc/sysrq-trigger
  sleep 10
  exit 1
}

mount -t proc proc /proc || fail "cannot mount /proc"
mount -t sysfs sysfs /sys || fail "cannot mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "cannot mount /dev"
exec < /dev/console > /dev/console 2>&1

for m in $(cat /lib/modules/order); do
  insmod "/lib/modules/$m.ko" || fail "insmod $m failed"
done

[ -n "$vmrun" ] && [ -n "$vmmods" ] && [ -n "$vmid" ] || fail "vmrun=, vmmods= or vmid= missing from the kernel command line"

# Host root, read-only over 9p; cache=loose lets the guest keep pages of the
# (unchanging during a run) host files instead of asking qemu on every read.
n=0
until mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower; do
  n=$((n + 1))
  [ $n -lt 20 ] || fail "cannot mount the 9p share 'hostroot' (is -virtfs missing?)"
  sleep 0.1
done
mount -t tmpfs -o mode=0755 tmpfs /rw || fail "cannot mount the tmpfs for the overlay"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
  fail "cannot mount the overlay over the host root"

[ -f "/newroot$vmrun/cmd.sh" ] || fail "$vmrun/cmd.sh is not visible in the guest"
[ -f "/newroot$vmmods/modules.dep" ] || fail "$vmmods/modules.dep is not visible in the guest"
kver=$(uname -r)
mkdir -p "/newroot/lib/modules/$kver" &&
  mount --bind "/newroot$vmmods" "/newroot/lib/modules/$kver" || fail "cannot bind-mount the modules of $kver"

mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /newroot/run || fail "cannot mount /run"
# /tmp stays the host's, seen through the overlay (writes stay in the guest): a checkout or
# build directory under /tmp, as CI may use, is then visible.
# Everything else is set up here with busybox: loading programs from the 9p
# root after switch_root is slow under TCG.
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
hostname vm
ip link set lo up
out=""
n=0
while :; do
  for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = ambient.out ] && out=/dev/${p##*/}
  done
  [ -n "$out" ] && [ -c "$out" ] && break
  n=$((n + 1))
  [ $n -lt 100 ] || fail "no virtio serial port named ambient.out (is the virtserialport device missing?)"
  sleep 0.05
done

mount --move /dev /newroot/dev && mount --move /proc /newroot/proc && mount --move /sys /newroot/sys ||
  fail "cannot move /dev, /proc, /sys into the new root"

B=/run/ambient-vm
mkdir -p "/newroot$B"
cp /bin/busybox "/newroot$B/busybox"
cat > "/newroot$B/stage2.sh" <<EOF
# PID 1 after switch_root, run by busybox from the guest's /run: run the
# command with its output on the ambient.out port, report its exit status
# there, power off.
B=$B
out=$out
EOF
cat >> "/newroot$B/stage2.sh" <<'EOF'
echo "1 4 1 7" > /proc/sys/kernel/printk
if [ "${vmtimeout:-0}" -gt 0 ] 2>/dev/null; then
  ("$B/busybox" sleep "$vmtimeout"; echo o > /proc/sysrq-trigger) &
fi
exec 3> "$out"
printf '\n<<ambient-vm:%s:start>>\n' "$vmid" >&3
"$B/busybox" env -i /bin/sh "$vmrun/cmd.sh" < /dev/null >&3 2>&1 3>&-
rc=$?
# Writes to the port return once qemu has taken the data: nothing is lost.
printf '<<ambient-vm:%s:exit=%d>>\n' "$vmid" "$rc" >&3
echo o > /proc/sysrq-trigger
"$B/busybox" sleep 30
EOF

# shellcheck disable=SC2093 # fail only runs when switch_root itself fails
exec switch_root -c /dev/console /newroot "$B/busybox" sh "$B/stage2.sh"
fail "switch_root failed"
