#!/usr/bin/env bash
# tests/vm/libvirt.sh: the guest driver under libvirt, as a user runs it.
#
# On this host: `vcpufreq-bpf load`, the vcpufreq-libvirt hook installed
# in /etc/libvirt/hooks/qemu.d, libvirtd started (it reads hooks when it
# starts).  Two TCG domains (type='qemu', -smp 2) boot the tests/vm kernel
# and the busybox guest of e2e.sh, whose init loads the module (and, in
# domain A, runs a CPU hog on vCPU 1).  Domain A carries the <shmem>
# device in its XML; domain B gets it from `vcpufreq-libvirt enable`.
# Asserted: the hook starts one bridge per domain and enrolls the domain's
# cgroup; each bridge registers exactly its domain's vCPU threads (as
# libvirt lists them); A's hog raises A's vCPU 1 request and leaves B
# alone; `virsh destroy` removes a domain's requests, bridge, files and
# enrollment, and not the other's.  Last line: "RESULT passed failed skipped".
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
TOOL=$ROOT/libvirt/vcpufreq-libvirt
HOOK=/etc/libvirt/hooks/qemu.d/vcpufreq-test
RUN_DIR=/run/vcpufreq/libvirt
LIBVIRT_RUN=/run/libvirt/qemu
BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-180}
A=vcpufreq-test-a B=vcpufreq-test-b
TMP=$(mktemp -d /tmp/vcpufreq-libvirt.XXXXXX)
chmod 755 "$TMP"	# QEMU runs as libvirt-qemu: it reads the kernel here
STARTED_LIBVIRTD=''
. "$HERE/report.sh"
. "$HERE/guest.sh"
export LIBVIRT_DEFAULT_URI=qemu:///system

# ---- libvirtd with the hook --------------------------------------------------
install_hook() {
	write_host_topology "$TMP/host.topology"
	cat >"$TMP/libvirt.conf" <<EOF
BRIDGE=$BRIDGE
VCPUFREQ_BPF=$VF
BRIDGE_ARGS="--topology $TMP/host.topology --affinity 0;1 -v"
EOF
	mkdir -p "$(dirname "$HOOK")"
	printf '#!/bin/sh\nVCPUFREQ_LIBVIRT_CONF=%s exec %s hook "$@"\n' \
		"$TMP/libvirt.conf" "$TOOL" >"$HOOK"
	chmod 755 "$HOOK"
}
# libvirt probes QEMU again (4 s a time, several times per virsh call)
# whenever /dev/kvm is usable by root only: its cache says KVM, its check
# as the QEMU user says no.  udev gives /dev/kvm to group kvm, mode 0660,
# on a normal Debian host; do the same for this run where nothing did.
KVM_PERMS=''
kvm_as_udev_would() {
	[ -c /dev/kvm ] && [ "$(stat -c %G:%a /dev/kvm)" = root:600 ] || return 0
	chgrp kvm /dev/kvm && chmod 0660 /dev/kvm && KVM_PERMS=restore
}
restore_kvm() {
	[ -n "$KVM_PERMS" ] && chgrp root /dev/kvm && chmod 0600 /dev/kvm
}
libvirtd_running() { virsh version >/dev/null 2>&1; }
start_libvirtd() {
	# no systemd here: the daemons themselves; virtlogd keeps QEMU's log
	pgrep -x virtlogd >/dev/null || virtlogd -d || return 1
	libvirtd -d || return 1
	wait_for 30 libvirtd_running
}
stop_libvirtd() {
	[ -n "$STARTED_LIBVIRTD" ] || return 0
	kill "$(cat /run/libvirtd.pid 2>/dev/null)" 2>/dev/null
	[ -r /run/virtlogd.pid ] && kill "$(cat /run/virtlogd.pid)" 2>/dev/null
	wait_for 10 sh -c '! pgrep -x libvirtd && ! pgrep -x virtlogd'
}

# ---- the domains -------------------------------------------------------------
domain_xml() {	# domain_xml NAME RUN_CMDS [DEVICE_XML]
	cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>256</memory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$TMP/bzImage</kernel>
    <initrd>$TMP/initramfs.cpio</initrd>
    <cmdline>console=ttyS0 rdinit=/init panic=-1 loglevel=4 e2e.run=$2</cmdline>
  </os>
  <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>Skylake-Client</model></cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'><source path='$TMP/$1.console'/><target port='0'/></serial>
    <memballoon model='none'/>
    ${3:-}
  </devices>
</domain>
EOF
}
define_domains() {
	cp "$KERNEL" "$TMP/bzImage" && build_initramfs "$TMP/initramfs.cpio" || return 1
	domain_xml $A insmod,show,hog "$("$TOOL" xml $A)" >"$TMP/$A.xml"
	domain_xml $B insmod,show >"$TMP/$B.xml"
	virsh define "$TMP/$A.xml" && virsh define "$TMP/$B.xml" &&
		"$TOOL" enable $B
}
qemu_pid() { cat "$LIBVIRT_RUN/$1.pid" 2>/dev/null; }
bridge_pid() { cat "$RUN_DIR/$1.pid" 2>/dev/null; }
console_has() { grep -q -- "$2" "$TMP/$1.console" 2>/dev/null; }
# the vCPU threads as libvirt lists them: "ID TID" lines
libvirt_vcpus() {
	sed -n "s/.*<vcpu id='\([0-9]*\)' pid='\([0-9]*\)'.*/\1 \2/p" "$LIBVIRT_RUN/$1.xml"
}
vcpu_tid() { libvirt_vcpus "$1" | awk -v v="$2" '$1 == v { print $2 }'; }
# what vcpufreq-bpf tracks for a VM (vm_id: QEMU's pid): "VCPU TID" lines
tracked_vcpus() {
	"$VF" vcpus -j | jq -r ".[] | select(.vm_id==$(qemu_pid "$1")) | \"\(.vcpu) \(.tid)\"" | sort -n
}

start_domain() {	# start_domain NAME: booted, the driver bound to the bridge
	virsh start "$1" >/dev/null || return 1
	wait_for "$BOOT_TIMEOUT" console_has "$1" "E2E-SHOWN" ||
		{ echo "the guest did not boot:"; tail -n 20 "$TMP/$1.console"; return 1; }
	grep -q '^bridge: attached' "/var/log/libvirt/qemu/$1.vcpufreq.log" ||
		{ echo "the bridge did not attach"; return 1; }
	console_has "$1" "E2E-POLICY policy1 driver=vcpufreq " ||
		{ echo "no vcpufreq policy in the guest:"; grep E2E- "$TMP/$1.console"; return 1; }
}
started() {	# started NAME: one test
	local out
	if out=$(start_domain "$1" 2>&1); then
		ok "virsh start $1: boots, the guest driver binds the hook's bridge"
		return 0
	fi
	bad "virsh start $1: boots, the guest driver binds the hook's bridge" "$out" \
		"$(tail -n 5 "/var/log/libvirt/qemu/$1.vcpufreq.log" 2>/dev/null)"
	report	# the rest needs the domain
	exit 1
}

# ---- assertions --------------------------------------------------------------
start_refused() {	# NAME: virsh start fails, says why, leaves nothing
	local out
	if out=$(virsh start "$1" 2>&1); then
		virsh destroy "$1" >/dev/null
		echo "it started: $out"; return 1
	fi
	grep -q "Error: vcpufreq-bpf is not loaded" <<<"$out" || { echo "$out"; return 1; }
	[ -z "$(compgen -G "$RUN_DIR/$1.*")" ] || { echo "left: $(compgen -G "$RUN_DIR/$1.*")"; return 1; }
	! pgrep -f -- "--libvirt $1( |$)" >/dev/null || { echo "a bridge for $1 still runs"; return 1; }
}
hook_enrolled_the_domain_cgroup() {	# NAME
	local qp cg want
	qp=$(qemu_pid "$1")
	want=$(sed -n 's/^0::\(.*\)/\1/p' "/proc/$qp/cgroup")
	want=${want%/emulator}; want=${want%/libvirt}
	cg=$(cat "$RUN_DIR/$1.cgroup") || { echo "the hook recorded no cgroup"; return 1; }
	[ "$cg" = "$(findmnt -n -t cgroup2 -o TARGET | head -n1)$want" ] ||
		{ echo "enrolled $cg, QEMU $qp is in $want"; return 1; }
	case $want in *"$1"*) ;; *) echo "$want is not the domain's own cgroup"; return 1 ;; esac
	"$VF" status -j | jq -e --arg p "$cg" '.cgroups | any(.path == $p)' >/dev/null ||
		{ echo "vcpufreq-bpf status does not list $cg"; "$VF" status -j | jq -c .cgroups; return 1; }
}
bridge_registered_exactly_the_vcpu_threads() {	# NAME
	local want got i tid comm
	want=$(libvirt_vcpus "$1" | sort -n)
	got=$(tracked_vcpus "$1")
	[ -n "$want" ] && [ "$want" = "$got" ] ||
		{ echo "libvirt lists: $want"; echo "vcpufreq-bpf tracks: $got"; return 1; }
	while read -r i tid; do
		comm=$(cat "/proc/$(qemu_pid "$1")/task/$tid/comm")
		[ "$comm" = "CPU $i/TCG" ] || { echo "vcpu $i: tid $tid is '$comm'"; return 1; }
	done <<<"$want"
}
hog_raises_vcpu1_only() {	# NAME: vCPU 1 high, vCPU 0 low
	perf_between "$(vcpu_tid "$1" 1)" 900 1024 && perf_between "$(vcpu_tid "$1" 0)" 1 400
}
both_low() { perf_between "$(vcpu_tid "$1" 0)" 1 400 && perf_between "$(vcpu_tid "$1" 1)" 1 400; }
requests_of() {	# requests_of NAME: A's threads, from the saved list
	"$VF" vcpus -j | jq -r ".[] | select(.tid==${2} or .tid==${3}) | .tid"
}
gone() {	# gone NAME TID0 TID1 BRIDGE_PID CGROUP: nothing of NAME is left
	local left
	left=$(requests_of "$@")
	[ -z "$left" ] || { echo "requests left for threads $left"; return 1; }
	! kill -0 "$4" 2>/dev/null || { echo "bridge pid $4 still runs"; return 1; }
	left=$(compgen -G "$RUN_DIR/$1.*")
	[ -z "$left" ] || { echo "left in $RUN_DIR: $left"; return 1; }
	! "$VF" status -j | jq -e --arg p "$5" '.cgroups | any(.path == $p)' >/dev/null ||
		{ echo "$5 is still enrolled"; return 1; }
}
destroy_removes_everything() {	# NAME
	local t0 t1 bp cg
	t0=$(vcpu_tid "$1" 0) t1=$(vcpu_tid "$1" 1) bp=$(bridge_pid "$1")
	cg=$(cat "$RUN_DIR/$1.cgroup" 2>/dev/null)
	virsh destroy "$1" >/dev/null || return 1
	wait_for 15 gone "$1" "$t0" "$t1" "$bp" "$cg" || gone "$1" "$t0" "$t1" "$bp" "$cg"
}
libvirtd_restart_keeps_both() {	# the bridges are not libvirtd's children
	local before after
	before=$(tracked_vcpus $A; tracked_vcpus $B)
	kill "$(cat /run/libvirtd.pid)" || return 1
	wait_for 30 sh -c '! pgrep -x libvirtd' || { echo "libvirtd did not stop"; return 1; }
	libvirtd -d && wait_for 30 libvirtd_running || { echo "libvirtd did not come back"; return 1; }
	after=$(tracked_vcpus $A; tracked_vcpus $B)
	[ -n "$before" ] && [ "$before" = "$after" ] ||
		{ echo "tracked before: $before"; echo "after: $after"; return 1; }
	kill -0 "$(bridge_pid $A)" && kill -0 "$(bridge_pid $B)" || { echo "a bridge died"; return 1; }
	[ "$(virsh domstate $A)" = running ] && [ "$(virsh domstate $B)" = running ] ||
		{ echo "libvirt lost a domain: $(virsh list --all)"; return 1; }
}
still_running() {	# NAME: its bridge and requests survived the other's end
	kill -0 "$(bridge_pid "$1")" || { echo "bridge of $1 is gone"; return 1; }
	bridge_registered_exactly_the_vcpu_threads "$1" || return 1
	perf_between "$(vcpu_tid "$1" 0)" 1 1024 && perf_between "$(vcpu_tid "$1" 1)" 1 1024 ||
		{ echo "$1's vCPU threads lost their requests"; tracked_vcpus "$1"; return 1; }
}

# ---- the scenario ------------------------------------------------------------
cleanup() {
	local d
	for d in $A $B; do
		virsh destroy $d >/dev/null 2>&1
		virsh undefine $d >/dev/null 2>&1
		rm -f "/var/log/libvirt/qemu/$d.log" "/var/log/libvirt/qemu/$d.vcpufreq.log"
	done
	stop_libvirtd
	restore_kvm
	rm -f "$HOOK"
	unload_vcpufreq
	rm -rf "$TMP"
}

need_files "$KERNEL" "$MODULE" "$BRIDGE" "$VF" /bin/busybox
for c in libvirtd virsh virtlogd; do
	command -v $c >/dev/null || { echo "Error: $c is missing; apt-get install libvirt-daemon-system libvirt-clients" >&2; echo "RESULT 0 1 0"; exit 1; }
done
if libvirtd_running; then
	echo "  skip libvirt: a libvirtd already runs; stop it, so the test starts one that reads its hook"
	skipped=1; report; exit 0
fi
if [ -e "$(dirname "$HOOK")/vcpufreq" ]; then	# it would serve our domains too
	echo "  skip libvirt: the vcpufreq hook is installed ($(dirname "$HOOK")/vcpufreq); the test installs its own: move it away for the run"
	skipped=1; report; exit 0
fi
vcpufreq_not_loaded "the libvirt test" || { echo "RESULT 0 1 0"; exit 1; }
trap cleanup EXIT
install_hook
kvm_as_udev_would
STARTED_LIBVIRTD=1
if out=$(start_libvirtd 2>&1) && out=$(define_domains 2>&1); then
	ok "libvirtd runs with the hook; domain $A has the <shmem> device, $B gets it from 'vcpufreq-libvirt enable'"
else
	bad "libvirtd runs with the hook; domain $A has the <shmem> device, $B gets it from 'vcpufreq-libvirt enable'" "$out"
	report; exit 1
fi

check "virsh start $A before 'vcpufreq-bpf load': refused with the bridge's Error: line, nothing left" \
	start_refused $A
load_vcpufreq "the libvirt test" || { echo "RESULT 0 1 0"; exit 1; }
started $A
check "hook enrolled $A's cgroup (from /proc/QEMU_PID/cgroup)" hook_enrolled_the_domain_cgroup $A
check "bridge of $A registered exactly $A's vCPU threads, as libvirt lists them" \
	bridge_registered_exactly_the_vcpu_threads $A
check "hog in $A on vCPU 1: that vCPU's thread carries a high request, vCPU 0 a low one" \
	wait_for 90 hog_raises_vcpu1_only $A
started $B
check "hook enrolled $B's cgroup, another one" hook_enrolled_the_domain_cgroup $B
check "bridge of $B registered exactly $B's vCPU threads" \
	bridge_registered_exactly_the_vcpu_threads $B
check "$B stays idle beside $A's hog: both its requests low" wait_for 60 both_low $B
check "libvirtd restarts: both domains, bridges and vCPU threads carry on" \
	libvirtd_restart_keeps_both
check "virsh destroy $A: its requests, bridge, files and enrollment are gone" \
	destroy_removes_everything $A
check "$B is untouched by $A's end: its bridge and vCPU threads remain" still_running $B
check "virsh destroy $B: nothing of it is left either" destroy_removes_everything $B
report
