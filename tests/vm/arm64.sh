#!/usr/bin/env bash
# tests/vm/arm64.sh: the guest side on arm64 with a devicetree, end to end.
#
# On this host: `vcpufreq-bpf load`, a cgroup v2 enrolled, the QEMU bridge,
# and qemu-system-aarch64 -M virt (TCG, GICv3) started inside the cgroup
# with the arm64 test kernel (tests/vm/build-kernel.sh --arch arm64), an
# initramfs of one static program (arm64-init.c) plus the module, and a
# devicetree that is QEMU's own (-machine dumpdtb) with /cpus replaced by
# `vcpufreq-bpf topology --dts` of an emulated Pixel-6-like host (two
# little CPUs sharing a cluster, one mid, one big).  The guest reaches the
# device over ivshmem PCI (stock QEMU has no MMIO one); the host's current
# frequency comes from a stand-in sysfs (VCPUFREQ_SYSFS_CPU_DIR) the test
# can turn down.  Asserted: the big.LITTLE capacities reach the guest's
# scheduler, the driver binds with the host's tables, a hog on vCPU 3
# raises exactly that vCPU thread's request, the guest's frequency
# invariance follows CUR_PERF (a duty-cycled task's utilization and its
# request fall when the host runs at half speed), a hog on a little vCPU
# raises its whole perf domain (the bridge's scope), under the bridge's
# --scope writer a request boosts the vCPU that wrote it (vCPU 1 writing
# vCPU 0's block) and a vCPU of a host CPU without a table runs in
# continuous mode, a 17-vCPU guest (MPIDR 0x100
# for vCPU 16) starts every CPU and binds, and an ACPI guest under UEFI
# (no devicetree) ramps up under load.  Last line: "RESULT
# passed failed skipped".  Loads BPF programs into this host's kernel
# (one vcpufreq-bpf instance at a time on a host: run it alone).
# ARM64_SCENARIOS="four_vcpus" runs one; VCPUFREQ_VM_KEEP=1 keeps the logs.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT" || exit 1
TMP=$(mktemp -d /tmp/vcpufreq-arm64.XXXXXX)
BOOT_TIMEOUT=${ARM64_BOOT_TIMEOUT:-180}
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
CG=$CG2/vcpufreq-arm64
QEMU_PID='' BRIDGE_PID=''
# shellcheck source=SCRIPTDIR/report.sh
. "$HERE/report.sh"
# shellcheck source=SCRIPTDIR/guest.sh
. "$HERE/guest.sh"	# check, wait_for, perf_of, load_vcpufreq
# shellcheck source=SCRIPTDIR/arm64-guest.sh
. "$HERE/arm64-guest.sh"	# the host, the initramfs, asking the guest
DTB_BASE=0x1040000	# topology --dts's default; QEMU has no device there
EFI_FW=/usr/share/qemu-efi-aarch64/QEMU_EFI.fd	# qemu-efi-aarch64
BRIDGE_ARGS=()			# more options for the bridge

# ---- the guest's devicetree --------------------------------------------------
# QEMU's own tree for this machine, its /cpus replaced by ours; the MMIO
# device node goes too: the guest reaches the device over ivshmem
build_dtb() {	# build_dtb NR_VCPUS AFFINITY OUT.dtb
	local n=$1 aff=$2 out=$3
	qemu-system-aarch64 "${MACHINE[@]}" -smp "$n" -display none \
		-machine dumpdtb="$TMP/qemu.dtb" >/dev/null 2>&1 || return 1
	"$VF" --topology "$HOST" topology --dts --vcpus "$n" \
		--affinity "$aff" >"$TMP/ours.dts" || return 1
	{
		dtc -q -I dtb -O dts "$TMP/qemu.dtb"
		echo '/ { /delete-node/ cpus; };'
		grep -v '^/dts-v1/;' "$TMP/ours.dts"
		echo "/ { /delete-node/ cpufreq@${DTB_BASE#0x}; };"
	} >"$TMP/merged.dts"
	dtc -q -I dts -O dtb -o "$out" "$TMP/merged.dts"
}

# ---- one VM ----------------------------------------------------------------
start_vm() {	# start_vm NR_VCPUS AFFINITY [acpi]: devicetree, or UEFI + ACPI
	local n=$1 aff=$2 boot=() args=''
	rm -f "$TMP"/console.* "$TMP"/*.sock "$TMP/bridge.log"
	if [ "${3:-}" = acpi ]; then
		boot=(-bios "$EFI_FW") args=' acpi=force'
	else
		build_dtb "$n" "$aff" "$TMP/guest.dtb" || { echo "could not build the devicetree"; return 1; }
		boot=(-dtb "$TMP/guest.dtb")
	fi
	VCPUFREQ_SYSFS_CPU_DIR=$TMP/sysfs start_bridge "$BRIDGE" \
		--topology "$HOST" --affinity "$aff" "${BRIDGE_ARGS[@]}" -v || return 1
	start_qemu qemu-system-aarch64 "${MACHINE[@]}" -accel tcg,thread=multi -smp "$n" \
		-name vcpufreq-arm64,debug-threads=on \
		-display none -nodefaults -no-reboot -serial stdio \
		-kernel "$KERNEL" -initrd "$TMP/initramfs.cpio" "${boot[@]}" \
		-append "console=ttyAMA0 rdinit=/init panic=-1 loglevel=4$args"
	expect A64-BOOTED "$BOOT_TIMEOUT" || return 1
	wait_for 30 grep -q '^bridge: attached' "$TMP/bridge.log"
}
stop_and_keep() {	# stop_and_keep NAME: its logs kept as TMP/NAME.console, NAME.bridge
	stop_vm
	cp "$TMP/console.out" "$TMP/$1.console"
	cp "$TMP/bridge.log" "$TMP/$1.bridge"
}
trap vm_cleanup EXIT

# ---- what the bridge says ----------------------------------------------------
# the host perf of the last request vCPU WRITER wrote into vCPU 0's block
# (policy {0, 1}'s), as the bridge logs the guest's writer hint
last_write_by() {	# last_write_by WRITER [HOST]: HOST to match the top only
	tr -d '\r' <"$TMP/bridge.log" |
		sed -n "s/^request vcpu 0 .* writer $1 -> .* host \(${2:-[0-9]*}\): ok$/\1/p" | tail -n1
}
# the top request reached vCPU 0's block: written by vCPU 1 (the hog's) or
# by vCPU 0, whichever ran schedutil's update of the shared policy when the
# frequency changed (it writes only then, so which one it is is a race)
top_written() { [ -n "$(last_write_by 1 512)$(last_write_by 0 512)" ]; }
# under the writer scope a thread carries the last request its own vCPU
# wrote, whatever block; the domain scope would give both the last one
each_thread_has_its_writes() {
	local p0 p1 w0 w1
	p0=$(perf_of "${T[0]}") p1=$(perf_of "${T[1]}")
	w0=$(last_write_by 0) w1=$(last_write_by 1)
	[ -n "$w0$w1" ] && { [ -z "$w1" ] || [ "$p1" = "$w1" ]; } && { [ -z "$w0" ] || [ "$p0" = "$w0" ]; } ||
		{ echo "threads: vcpu0=$p0 vcpu1=$p1; last written by vCPU 0: ${w0:-none}, by vCPU 1: $w1"; return 1; }
}

# ---- the scenarios -----------------------------------------------------------
four_vcpus() {
	local i
	host_speed 100
	if ! start_vm 4 "$AFFINITY"; then
		bad "arm64 guest boots from QEMU's devicetree merged with topology --dts" \
			"$(tail -n 20 "$TMP/console.out")" "$(tail -n 5 "$TMP/bridge.log")"
		stop_and_keep four
		return
	fi
	ok "arm64 guest boots from QEMU's devicetree merged with topology --dts ($(last_line A64-BOOTED))"
	for i in 0 1 2 3; do T[i]=$(tid_of_vcpu $i); done
	# capacity-dmips-mhz alone until cpufreq gives each CPU its maximum
	check "guest's cpu_capacity before the driver: capacity-dmips-mhz" \
		caps_are "cpu0=683 cpu1=683 cpu2=922 cpu3=1024"
	send insmod
	if expect "A64-INSMOD ok" 60; then ok "module loads and binds the ivshmem device"
	else bad "module loads and binds the ivshmem device" "$(tail -n 20 "$TMP/console.out")"; fi
	check "cpufreq sysfs: three policies (little pair, mid, big) with the host's tables" \
		policies_show_the_host
	check "big.LITTLE capacities reach the guest's scheduler (cpu_capacity 512 512 768 1024)" \
		caps_are "cpu0=512 cpu1=512 cpu2=768 cpu3=1024"
	check "idle guest: every vCPU thread's request is low, or its thread quiet" shown wait_for 90 all_low

	hog_raises_only_vcpu_3 "bridge"
	frequency_invariance_follows_cur_perf "bridge"

	ask "hog 0" A64-HOG
	check "hog on vCPU 0: its perf domain's threads (vCPU 0 and 1) carry the request, the others not" \
		shown raised 0 460 only_domain_0_high
	ask stop A64-STOPPED
	send rmmod
	if expect "A64-RMMOD ok" 30; then ok "module unloads"
	else bad "module unloads" "$(tail -n 10 "$TMP/console.out")"; fi
	check "guest kernel log has no warning or oops" no_oops
	stop_and_keep four
}

# The crosvm-like writer scope: a request boosts the vCPU that wrote it
# (over ivshmem the guest names it in the block's writer field), not the
# block's vCPU nor its whole domain.  Linux's driver writes only
# policy->cpu's block, so a hog on vCPU 1 of policy {0, 1} shows whose
# thread gets it: vCPU 1's alone (domain scope: both; no writer: vCPU 0's).
# The big CPU has no table on this host: its vCPU runs in continuous mode
# (one entry, the maximum; the driver's minimum 1 kHz on arm64).
writer_scope_continuous() {
	local i p3
	host_speed 100
	HOST=$TMP/host-continuous.topology BRIDGE_ARGS=(--scope writer)
	if ! start_vm 4 "$AFFINITY"; then
		bad "arm64 guest boots (bridge --scope writer, a host CPU without a table)" \
			"$(tail -n 20 "$TMP/console.out")" "$(tail -n 5 "$TMP/bridge.log")"
		HOST=$TMP/host.topology BRIDGE_ARGS=()
		stop_and_keep writer
		return
	fi
	HOST=$TMP/host.topology BRIDGE_ARGS=()
	ok "arm64 guest boots (bridge --scope writer, a host CPU without a table)"
	for i in 0 1 2 3; do T[i]=$(tid_of_vcpu $i); done
	if ask insmod A64-INSMOD && console_has 'A64-INSMOD ok'; then ok "writer scope: module loads and binds"
	else bad "writer scope: module loads and binds" "$(tail -n 20 "$TMP/console.out")"; fi
	ask show A64-SHOWN
	p3=$(policy 3)
	if [ "$(field "$p3" min)" = 1 ] && [ "$(field "$p3" max)" = 2400000 ] &&
		[[ "$(field "$p3" freqs)" =~ ^\??$ ]]; then	# none, or unreadable
		ok "continuous mode: vCPU 3's policy spans 1 kHz to 2.4 GHz, no table"
	else
		bad "continuous mode: vCPU 3's policy spans 1 kHz to 2.4 GHz, no table" "$p3"
	fi
	# under the writer scope a thread keeps the last request its own vCPU
	# wrote: one that once wrote a high one (an idle vCPU looks busy under
	# TCG for a while) keeps it after its sibling writes the fall, so the
	# policy is low when one of its threads is and the other is low too
	# or quiet (the stale request of a thread that barely runs)
	check "writer scope: idle, policy {0, 1}'s request falls (one thread low, the other low or quiet)" \
		shown wait_for 90 pair_low
	# vCPU 1 is not policy->cpu: its requests go into vCPU 0's block
	ask "hog 1" A64-HOG
	check "writer scope: a hog on vCPU 1 raises policy {0, 1}: the top request is written into vCPU 0's block" \
		wait_for 90 top_written
	check "writer scope: vCPU 0's and 1's threads each carry the last request their own vCPU wrote" \
		wait_for 30 each_thread_has_its_writes
	ask stop A64-STOPPED

	check "continuous mode: idle, vCPU 3's request is low" wait_for 90 quiet_3
	ask "hog 3" A64-HOG
	check "continuous mode: a hog on vCPU 3 raises its request to the top" \
		shown raised 3 950 mostly_3_high
	ask stop A64-STOPPED
	check "continuous mode: the hog stops, vCPU 3's request falls" wait_for 90 quiet_3
	send rmmod
	expect "A64-RMMOD ok" 30 || bad "writer scope: module unloads" "$(tail -n 10 "$TMP/console.out")"
	check "writer scope: guest kernel log has no warning or oops" no_oops
	stop_and_keep writer
}

# vCPU 16 is MPIDR 0x100: only a cpu node with that reg starts it
# (a long wait for the answer: asking again while a starved guest is
# still printing the last one glues the echoed command into its lines)
ours_over() {	# ours_over LINE CPUS: an A64-POLICY line of our driver over CPUS
	[ "$(field "$1" driver)" = vcpufreq ] && [ "$(field "$1" cpus)" = "$2" ]
}
policy_spans() {	# policy_spans N CPUS: a fresh policyN line, ours, over CPUS
	ask show A64-SHOWN 170 && ours_over "$(policy "$1")" "$2"
}
seventeen_vcpus() {
	local p
	host_speed 100
	if ! start_vm 17 0-3; then
		bad "17-vCPU arm64 guest boots" "$(tail -n 20 "$TMP/console.out")"
		stop_and_keep seventeen
		return
	fi
	if [ "$(field "$(last_line A64-BOOTED)" online)" = 0-16 ]; then
		ok "17 vCPUs: every CPU comes online (cpu node reg = MPIDR, enable-method psci)"
	else
		bad "17 vCPUs: every CPU comes online (cpu node reg = MPIDR, enable-method psci)" "$(last_line A64-BOOTED)" \
			"$(tr -d '\r' <"$TMP/console.out" | grep -iE 'cpu16|failed to come|psci' | head -n 5)"
	fi
	# 17 TCG threads on a loaded 2-core host can starve the guest (RCU
	# stalls): then the binding is not judged.  The policies appear once
	# the driver has bound (once, in a full make test, the first answer
	# had none yet), and a kernel message can cut the line that shows
	# them (once: an RCU stall report inside it, after driver=vcpufreq):
	# ask again until a whole line says it
	ask insmod A64-INSMOD 180 && wait_for 180 policy_spans 0 "$(seq -s, 0 16)"
	p=$(policy 0)
	if ours_over "$p" "$(seq -s, 0 16)"; then
		ok "17 vCPUs: the driver binds, one policy over vCPUs 0-16"
	elif [ -z "$p" ] && console_has 'rcu_sched kthread starved'; then
		echo "  skip 17 vCPUs: the driver binds (the guest starved on this host: RCU stall)"
		skipped=$((skipped + 1))
	else
		bad "17 vCPUs: the driver binds, one policy over vCPUs 0-16" "$(last_line A64-INSMOD)" "$p"
	fi
	stop_and_keep seventeen
}

# ACPI, no devicetree: arch_topology never sets capacity_freq_ref, which
# stays 1 unless the driver sets it, and schedutil then asks for the
# minimum whatever the load (6.8+)
acpi_boot() {
	host_speed 100
	if ! start_vm 2 '2;3' acpi || ! console_has 'firmware=acpi'; then
		bad "arm64 guest boots with UEFI and ACPI, no devicetree" "$(last_line A64-BOOTED)" "$(tail -n 20 "$TMP/console.out")"
		stop_and_keep acpi
		return
	fi
	ok "arm64 guest boots with UEFI and ACPI, no devicetree ($(last_line A64-BOOTED))"
	T[0]=$(tid_of_vcpu 0) T[1]=$(tid_of_vcpu 1)
	if ask insmod A64-INSMOD && console_has 'A64-INSMOD ok'; then ok "ACPI: module loads and binds the ivshmem device"
	else bad "ACPI: module loads and binds the ivshmem device" "$(tail -n 20 "$TMP/console.out")"; fi
	# the first request after insmod can be the top one: only a request
	# that was low and rises proves schedutil follows the load
	check "ACPI: idle, vCPU 1's request falls to its lowest entry" wait_for 90 is_low 1 400
	ask "hog 1" A64-HOG
	check "ACPI: a hog on vCPU 1 raises its request (schedutil's reference frequency is the policy's maximum, not 1)" \
		wait_for 90 is_high 1 950
	ask stop A64-STOPPED
	stop_and_keep acpi
}

need_files "$KERNEL" "$MODULE" "$BRIDGE" "$VF"
command -v qemu-system-aarch64 >/dev/null && command -v dtc >/dev/null &&
	command -v aarch64-linux-gnu-gcc >/dev/null && [ -r "$EFI_FW" ] ||
	{ echo "Error: need qemu-system-aarch64, dtc, aarch64-linux-gnu-gcc, $EFI_FW (scripts/deps.sh --vm)" >&2; echo "RESULT 0 1 0"; exit 1; }
build_initramfs_arm64 || { echo "Error: could not build the arm64 initramfs" >&2; echo "RESULT 0 1 0"; exit 1; }
load_vcpufreq "the arm64 test" || { echo "RESULT 0 1 0"; exit 1; }
mkdir -p "$CG" && "$VF" enroll "$CG" >/dev/null || { echo "RESULT 0 1 0"; exit 1; }

declare -a T
for scenario in ${ARM64_SCENARIOS:-four_vcpus writer_scope_continuous seventeen_vcpus acpi_boot}; do
	"$scenario"
done
report
