#!/bin/bash
# PID 1 of the test VM (started by tests/vm/run-in-vm.sh as init=THIS).
#
# Stage 1 runs on the host's / (virtio-9p, read-only): it builds a writable
# root -- an overlay of that 9p root under a tmpfs -- and pivots into it.
# Stage 2 mounts the kernel filesystems, runs the command the host put in
# $vmcmd (a file on the host, read through 9p) with bash, prints
# "VM-EXIT-CODE=N" on the console and reboots (QEMU runs with -no-reboot, so
# it exits).  Everything the guest writes lives in RAM and is gone after.
#
# Kernel command line parameters (they reach init as environment variables):
#   vmcmd=PATH   the host file with the bash script to run
#   vmdir=PATH   the project directory: kept visible when it lies below
#                /tmp, /var/tmp or /run, which get fresh tmpfs mounts
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=${TERM:-dumb}
SELF=$(realpath "$0")

say() { echo "vm-init: $*"; }

# Leave the VM: print the marker, let the serial line drain, reboot(2).
finish() {
	local rc=$1
	echo "VM-EXIT-CODE=$rc"
	perl -MPOSIX -e 'POSIX::tcdrain(1)' 2>/dev/null || sleep 1
	# LINUX_REBOOT_CMD_RESTART; QEMU's -no-reboot turns it into an exit
	perl -e 'syscall(169, 0xfee1dead, 672274793, 0x01234567)' 2>/dev/null
	echo b >/proc/sysrq-trigger 2>/dev/null
	exit "$rc"	# PID 1 exiting panics; panic=-1 reboots
}
fatal() { say "Error: $*"; finish 125; }

stage1() {
	# the kernel opened /dev/console for us; /run exists on the host root
	mount -t tmpfs -o mode=0755,size=75% vmrw /run || fatal "cannot mount a tmpfs on /run"
	mkdir -p /run/vm/upper /run/vm/work /run/vm/root
	mount -t overlay overlay -o lowerdir=/,upperdir=/run/vm/upper,workdir=/run/vm/work /run/vm/root \
		|| fatal "cannot mount the overlay root (lower: host / over 9p, upper: tmpfs)"
	if [ -z "${vmcmd:-}" ] || [ ! -r "$vmcmd" ]; then fatal "no command file (vmcmd='${vmcmd:-}')"; fi
	VM_SCRIPT=$(cat "$vmcmd") || fatal "cannot read $vmcmd"
	export VM_SCRIPT VM_STAGE=2
	cd /run/vm/root || fatal "cd /run/vm/root"
	pivot_root . mnt || fatal "pivot_root into the overlay failed"
	exec chroot . /bin/bash "$SELF" </dev/console >/dev/console 2>&1
	fatal "exec stage 2 failed"
}

stage2() {
	# the old root (9p + the tmpfs behind the overlay) stays reachable only
	# through the overlay
	umount -l /mnt 2>/dev/null || true
	mount -t proc proc /proc || fatal "mount /proc"
	mount -t sysfs sysfs /sys || fatal "mount /sys"
	mount -t devtmpfs devtmpfs /dev 2>/dev/null || true	# DEVTMPFS_MOUNT may have done it
	mkdir -p /dev/pts /dev/shm
	mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts 2>/dev/null || true
	mount -t tmpfs -o mode=1777 shm /dev/shm
	# a project below a directory that gets a fresh tmpfs: carry it over
	case "${vmdir:-}" in
	/tmp/*|/var/tmp/*|/run/*)
		mkdir -p /.vmdir && mount --bind "$vmdir" /.vmdir || fatal "cannot keep $vmdir" ;;
	esac
	for d in /tmp /var/tmp; do mount -t tmpfs -o mode=1777 tmpfs "$d" || fatal "mount $d"; done
	mount -t tmpfs -o mode=0755 run /run || fatal "mount /run"
	if mountpoint -q /.vmdir; then
		mkdir -p "$vmdir" && mount --move /.vmdir "$vmdir" || fatal "cannot mount $vmdir"
	fi
	mkdir -p /run/lock && chmod 1777 /run/lock
	mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || fatal "mount cgroup2 on /sys/fs/cgroup"
	mount -t bpf -o mode=0700 bpf /sys/fs/bpf || fatal "mount bpffs on /sys/fs/bpf"
	mount -t tracefs tracefs /sys/kernel/tracing || fatal "mount tracefs"
	# like systemd: the cpu and cpuset controllers usable in child cgroups
	for c in cpu cpuset; do echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true; done
	ln -sf /proc/self/fd /dev/fd 2>/dev/null || true
	ln -sf /proc/self/fd/0 /dev/stdin; ln -sf /proc/self/fd/1 /dev/stdout; ln -sf /proc/self/fd/2 /dev/stderr
	hostname vcpufreq-vm 2>/dev/null || true
	echo 1 >/proc/sys/kernel/sysrq 2>/dev/null || true
	say "up: $(uname -r), $(nproc) CPUs, $(awk '{print $1}' /proc/uptime) s since boot"

	bash -c "$VM_SCRIPT" </dev/null
	finish $?
}

if [ "${VM_STAGE:-1}" = 2 ]; then stage2; else stage1; fi
