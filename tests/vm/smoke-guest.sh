#!/usr/bin/env bash
# Runs inside the test VM (tests/vm/smoke.sh): checks the guest kernel has
# what the live tests need.  One "ok"/"FAIL" line per check, then
# "N passed, N failed".  Usage: smoke-guest.sh EXPECTED_NPROC
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
want_cpus=${1:-4}
VF=$PWD/build/vcpufreq-bpf
passed=0 failed=0

check() {	# check NAME CMD...: CMD's output is shown indented on failure
	local name=$1 out; shift
	if out=$("$@" 2>&1); then
		echo "ok   $name${out:+: $out}"; passed=$((passed + 1))
	else
		echo "FAIL $name"; [ -n "$out" ] && sed 's/^/     /' <<<"$out"; failed=$((failed + 1))
	fi
}

cpus() { local n; n=$(nproc); [ "$n" = "$want_cpus" ] || { echo "nproc=$n, want $want_cpus"; return 1; }; echo "$n"; }
sched_ext() {
	local s; s=$(cat /sys/kernel/sched_ext/state) || return 1
	[ "$s" = disabled ] || { echo "state=$s, want disabled"; return 1; }
	echo "state $s"
}
# sched_setattr(SCHED_FLAG_KEEP_ALL | SCHED_FLAG_UTIL_CLAMP_MIN), read back with sched_getattr
uclamp_task() {
	python3 - <<'EOF'
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
SYS_sched_setattr, SYS_sched_getattr = 314, 315
KEEP_ALL, CLAMP_MIN = 0x08 | 0x10, 0x20
fmt = "IIQiIQQQII"                      # struct sched_attr, SCHED_ATTR_SIZE_VER1
size = struct.calcsize(fmt)
attr = ctypes.create_string_buffer(struct.pack(fmt, size, 0, KEEP_ALL | CLAMP_MIN, 0, 0, 0, 0, 0, 512, 1024), size)
if libc.syscall(SYS_sched_setattr, 0, attr, 0) != 0:
    sys.exit("sched_setattr(UTIL_CLAMP_MIN=512): " + os.strerror(ctypes.get_errno()))
out = ctypes.create_string_buffer(size)
if libc.syscall(SYS_sched_getattr, 0, out, size, 0) != 0:
    sys.exit("sched_getattr: " + os.strerror(ctypes.get_errno()))
umin = struct.unpack(fmt, out.raw)[8]
if umin != 512:
    sys.exit("util_min reads back %d, want 512" % umin)
print("sched_setattr util_min=512 read back")
EOF
}
uclamp_group() {
	local cg=/sys/fs/cgroup/vm-smoke rc=0
	mkdir -p $cg
	if [ -e $cg/cpu.uclamp.min ] && echo 25 >$cg/cpu.uclamp.min && [ "$(cat $cg/cpu.uclamp.min)" = 25.00 ]; then
		echo "cpu.uclamp.min=25.00"
	else
		echo "cpu.uclamp.min missing or not writable"; rc=1
	fi
	rmdir $cg; return $rc
}
kconfig() {
	local o missing=
	for o in SCHED_CLASS_EXT UCLAMP_TASK UCLAMP_TASK_GROUP CPU_FREQ_GOV_SCHEDUTIL CPU_FREQ_DEFAULT_GOV_SCHEDUTIL; do
		zgrep -qx "CONFIG_$o=y" /proc/config.gz || missing+=" $o"
	done
	[ -z "$missing" ] || { echo "not in /proc/config.gz:$missing"; return 1; }
	echo "/proc/config.gz has them"
}
cpufreq() {
	[ -d /sys/devices/system/cpu/cpufreq ] || { echo "no /sys/devices/system/cpu/cpufreq"; return 1; }
	local n; n=$(find /sys/devices/system/cpu/cpufreq -maxdepth 1 -name 'policy*' | wc -l)
	echo "cpufreq core present, $n policies (QEMU offers no cpufreq driver)"
}
btf() { [ -s /sys/kernel/btf/vmlinux ] && echo "$(stat -c %s /sys/kernel/btf/vmlinux) bytes"; }
tracepoint() { [ -d /sys/kernel/tracing/events/syscalls/sys_exit_bpf ] && echo "syscalls/sys_exit_bpf"; }
kprobe() {
	echo 'p:vmsmoke/openat do_sys_openat2' >>/sys/kernel/tracing/kprobe_events || return 1
	echo '-:vmsmoke/openat' >>/sys/kernel/tracing/kprobe_events
	echo "kprobe on do_sys_openat2 created and removed"
}
writable() {
	touch /etc/.vm-smoke build/.vm-smoke && rm /etc/.vm-smoke build/.vm-smoke && echo "/etc and build/ writable (tmpfs overlay)"
}
vcpufreq() {
	[ -x "$VF" ] || { echo "no $VF: run 'make all' on the host"; return 1; }
	$VF load >/dev/null || return 1
	local s rc=0; s=$($VF status -j) || rc=1
	bpftool prog show -j | jq -e '[.[] | select(.name=="on_switch")] | length > 0' >/dev/null \
		|| { echo "on_switch not loaded"; rc=1; }
	$VF unload >/dev/null || rc=1
	[ ! -e /sys/fs/bpf/vcpufreq ] || { echo "pins left after unload"; rc=1; }
	[ $rc = 0 ] && jq -r '"backend \(.backend); uclamp \(.backends.uclamp)"' <<<"$s"
	return $rc
}

check "nproc = $want_cpus" cpus
check "sched_ext present, disabled" sched_ext
check "uclamp: sched_setattr SCHED_FLAG_UTIL_CLAMP_MIN" uclamp_task
check "uclamp: cgroup cpu.uclamp.min" uclamp_group
check "kernel config: sched_ext, uclamp, schedutil" kconfig
check "cpufreq sysfs" cpufreq
check "BTF: /sys/kernel/btf/vmlinux" btf
check "tracepoint syscalls/sys_exit_bpf" tracepoint
check "kprobe_events" kprobe
check "root filesystem writable (overlay)" writable
check "vcpufreq-bpf load, status, unload" vcpufreq
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
