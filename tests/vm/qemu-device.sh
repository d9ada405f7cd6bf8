#!/usr/bin/env bash
# tests/vm/qemu-device.sh: the virtual cpufreq device of the patched QEMU
# (qemu/patches, `make qemu` -> build/qemu/qemu-system-aarch64), end to
# end on arm64, the way a user would run it: no bridge, no hand-made
# devicetree.
#
# On this host: `vcpufreq-bpf load --backend observe`, a cgroup v2
# enrolled, and the patched qemu-system-aarch64 -M virt,virtual-cpufreq=on
# (TCG, GICv3, 4 vCPUs) started inside it with the arm64 test kernel and
# the DT QEMU itself generates.  The device describes the emulated
# Pixel-6-like host of tests/vm/arm64-guest.sh (-global
# virtual-cpufreq.topology=FILE, vCPU i on host CPU i) and reads the
# host's current frequency from a stand-in sysfs (VCPUFREQ_SYSFS_CPU_DIR)
# the test turns down.  Asserted: without the option the board's DT is
# stock QEMU 7.2's; with it the DT has the binding's node (reg: one 4 KiB
# block per vCPU), capacity-dmips-mhz and one cpu-map cluster per host
# perf domain; the device registers each vCPU thread with vcpufreq-bpf;
# the project's guest driver binds through its MMIO transport with the
# host's policies and tables; the capacities reach the guest's scheduler;
# a hog on vCPU 3 raises exactly that vCPU thread's request in
# `vcpufreq-bpf vcpus -j`; frequency invariance follows CUR_PERF; a
# request written into vCPU 0's block (policy {0, 1}) raises the thread of
# the vCPU that wrote it, and every request is served on the trapping
# vCPU's thread, for that thread (crosvm's semantics); bad accesses from a guest module
# (tests/vm/badio: unaligned, 64-bit, write to a read-only register, a
# block past the last vCPU's) read 0 or are ignored, each logged as a
# guest error, and QEMU, the guest and vcpufreq-bpf keep running.
# Last line: "RESULT passed failed skipped".  Loads BPF programs into
# this host's kernel: run it alone (flock /tmp/vcpufreq-host.lock).
# VCPUFREQ_VM_KEEP=1 keeps the logs.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT" || exit 1
TMP=$(mktemp -d /tmp/vcpufreq-qemu-device.XXXXXX)
BOOT_TIMEOUT=${ARM64_BOOT_TIMEOUT:-180}
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
CG=$CG2/vcpufreq-qemu-device
QEMU_PID='' BRIDGE_PID=''
# shellcheck source=SCRIPTDIR/report.sh
. "$HERE/report.sh"
# shellcheck source=SCRIPTDIR/guest.sh
. "$HERE/guest.sh"	# check, wait_for, perf_of, vcpufreq_not_loaded
# shellcheck source=SCRIPTDIR/arm64-guest.sh
. "$HERE/arm64-guest.sh"	# the host, the initramfs, asking the guest
QEMU=${VCPUFREQ_QEMU:-$ROOT/build/qemu/qemu-system-aarch64}
STOCK_QEMU=/usr/bin/qemu-system-aarch64	# Debian's, for the stock DT
BASE=0x090c0000
BADIO=$TMP/badio/vcpufreq_badio.ko
NR=4
# the device's options, as a user gives them to the board's device
DEVICE_OPTS=(-global "virtual-cpufreq.topology=$HOST"
	-global "virtual-cpufreq.affinity=$AFFINITY")

build_badio() {	# the bad-access module, against the arm64 test kernel
	mkdir -p "$TMP/badio"
	cp "$HERE"/badio/* "$TMP/badio/"
	make -s -C "$KTREE/obj" M="$TMP/badio" ARCH=arm64 \
		CROSS_COMPILE=aarch64-linux-gnu- VCPUFREQ_INCLUDE="$ROOT/include" \
		modules >"$TMP/badio.log" 2>&1 && [ -f "$BADIO" ] || { cat "$TMP/badio.log"; return 1; }
}

# ---- the devicetree QEMU generates -------------------------------------------
dump_dt() {	# dump_dt QEMU OUT.dtb [MACHINE OPTIONS]: the board's own tree
	"$1" -M "virt,gic-version=3,dtb-randomness=off${3:-},dumpdtb=$2" \
		-cpu cortex-a57 -m 256 -smp $NR -display none -nodefaults \
		"${DEVICE_OPTS[@]}" >"$TMP/dumpdtb.log" 2>&1
}
same_dt_as_stock() {
	dump_dt "$STOCK_QEMU" "$TMP/stock.dtb" && dump_dt "$QEMU" "$TMP/off.dtb" ||
		{ cat "$TMP/dumpdtb.log"; return 1; }
	diff <(dtc -q -I dtb -O dts "$TMP/stock.dtb") <(dtc -q -I dtb -O dts "$TMP/off.dtb")
}
dt_get() { fdtget "$TMP/on.dtb" "$@"; }	# dt_get NODE PROPERTY
device_node_is_the_bindings() {
	local node=/cpufreq@${BASE#0x0}
	[ "$(dt_get "$node" compatible)" = qemu,virtual-cpufreq ] &&
		[ "$(dt_get -t x "$node" reg)" = "0 90c0000 0 $(printf %x $((NR * 0x1000)))" ] ||
		{ dtc -q -I dtb -O dts "$TMP/on.dtb" | grep -A4 cpufreq; return 1; }
}
cpus_are() {	# cpus_are "D0 D1 ...": capacity-dmips-mhz of each cpu node
	local got='' i
	for i in $(seq 0 $((NR - 1))); do got+="$(dt_get /cpus/cpu@"$i" capacity-dmips-mhz) "; done
	[ "$got" = "$1 " ] || { echo "capacity-dmips-mhz: $got"; return 1; }
}
# cpu-map: the little pair shares cluster0, mid and big have one each
cpu_map_is_the_hosts() {
	local want='cluster0/core0=0 cluster0/core1=1 cluster1/core0=2 cluster2/core0=3'
	local got='' w cpu ph
	for w in $want; do
		ph=$(dt_get "/cpus/cpu-map/socket0/${w%=*}" cpu) || { echo "no ${w%=*}"; return 1; }
		cpu=${w#*=}
		[ "$ph" = "$(dt_get /cpus/cpu@"$cpu" phandle)" ] || got+="${w%=*} is not cpu@$cpu; "
	done
	[ "$(dt_get -l /cpus/cpu-map/socket0 | tr '\n' ' ')" = 'cluster0 cluster1 cluster2 ' ] ||
		got+="clusters: $(dt_get -l /cpus/cpu-map/socket0 | tr '\n' ' ')"
	[ -z "$got" ] || { echo "$got"; return 1; }
}
devicetree_checks() {
	check "virtual-cpufreq off (the default): the board's devicetree is stock QEMU 7.2's" \
		same_dt_as_stock
	if ! dump_dt "$QEMU" "$TMP/on.dtb" ",virtual-cpufreq=on"; then
		bad "virtual-cpufreq=on: QEMU builds the board's devicetree" "$(cat "$TMP/dumpdtb.log")"
		return
	fi
	check "virtual-cpufreq=on: /cpufreq@90c0000 is qemu,virtual-cpufreq, reg one 4 KiB block per vCPU" \
		device_node_is_the_bindings
	check "virtual-cpufreq=on: cpu nodes get capacity-dmips-mhz from the host (683 683 922 1024)" \
		cpus_are "683 683 922 1024"
	check "virtual-cpufreq=on: cpu-map has one cluster per host perf domain" \
		cpu_map_is_the_hosts
}

# ---- one VM ------------------------------------------------------------------
start_vm() {	# QEMU in the enrolled cgroup, console on fd 3 / console.out
	rm -f "$TMP"/console.* "$TMP/qemu.log"
	mkfifo "$TMP/console.in"
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" \
		env VCPUFREQ_SYSFS_CPU_DIR="$TMP/sysfs" \
		"$QEMU" "${MACHINE[@]}" -machine virtual-cpufreq=on \
		-accel tcg,thread=multi -smp $NR "${DEVICE_OPTS[@]}" \
		-name vcpufreq-qemu-device,debug-threads=on \
		-d guest_errors -trace virtual_cpufreq_request -msg timestamp=on \
		-D "$TMP/qemu.log" \
		-display none -nodefaults -no-reboot -serial stdio \
		-kernel "$KERNEL" -initrd "$TMP/initramfs.cpio" \
		-append "console=ttyAMA0 rdinit=/init panic=-1 loglevel=4" \
		<"$TMP/console.in" >"$TMP/console.out" 2>&1 &
	QEMU_PID=$!
	exec 3>"$TMP/console.in"
	expect A64-BOOTED "$BOOT_TIMEOUT"
}
stop_qemu() {
	send quit 2>/dev/null
	wait_for 30 sh -c "! kill -0 $QEMU_PID" || kill "$QEMU_PID" 2>/dev/null
	wait "$QEMU_PID" 2>/dev/null
	exec 3>&-
	QEMU_PID=''
}
vcpu_thread() {	# vcpu_thread N: QEMU's "CPU N/TCG" thread
	grep -lx "CPU $1/TCG" /proc/"$QEMU_PID"/task/*/comm 2>/dev/null |
		sed -n 's|.*/task/\([0-9]*\)/comm|\1|p'
}
qemu_alive() { kill -0 "$QEMU_PID" 2>/dev/null; }
qemu_log_has() { grep -q -- "$1" "$TMP/qemu.log"; }

# the device registered vCPU i's thread as vCPU i of VM QEMU_PID
threads_registered() {
	local i row got=''
	for i in $(seq 0 $((NR - 1))); do
		row=$("$VF" vcpus -j | jq -c ".[] | select(.tid==${T[$i]}) | [.vm_id, .vcpu]")
		[ "$row" = "[$QEMU_PID,$i]" ] || got+="vCPU $i thread ${T[$i]}: ${row:-not listed}; "
	done
	[ -z "$got" ] || { echo "$got"; "$VF" vcpus -j; return 1; }
}
# The device traces each request it submits (-trace virtual_cpufreq_request,
# -msg timestamp=on): "TID@TIME:virtual_cpufreq_request vCPU V thread T
# guest perf G host perf H: RET", TID the thread the handler ran on.
# Under crosvm's semantics (the device's default scope, writer) T is TID.
requests_served_on_their_own_thread() {
	local all own
	all=$(grep -c ':virtual_cpufreq_request ' "$TMP/qemu.log")
	own=$(grep -c '^\([0-9]*\)@[0-9.]*:virtual_cpufreq_request vCPU [0-9]* thread \1 ' "$TMP/qemu.log")
	[ "$all" -gt 0 ] && [ "$all" = "$own" ] ||
		{ echo "$own of $all requests for the thread that wrote them"; grep -v '^\([0-9]*\)@[0-9.]*:virtual_cpufreq_request vCPU [0-9]* thread \1 ' "$TMP/qemu.log" | grep _request | head -n 5; return 1; }
}
# policy {0, 1}'s top request (1.8 GHz, host perf 512) goes into vCPU 0's
# block from whichever of vCPU 0 and 1 ran schedutil's update when the
# frequency changed (it writes only then: which one is a race); the
# vCPU whose thread the device submitted it for, on that thread
domain0_top_writer() {
	sed -n 's/^\([0-9]*\)@[0-9.]*:virtual_cpufreq_request vCPU \([01]\) thread \1 guest perf 1800000 host perf 512: 0$/\2/p' \
		"$TMP/qemu.log" | tail -n1
}
writer_thread_high() {
	local w; w=$(domain0_top_writer)
	[ -n "$w" ] && [ "$(vcpu_thread "$w")" = "${T[$w]}" ] && is_high "$w" 460
}
others_low() { mostly low_or_quiet 2 400 && mostly low_or_quiet 3 400; }
badio_answers() {	# the binding's answers, read back by the module
	local l; l=$(last_line A64-BADIO)
	[ "$(field "$l" unaligned)" = 0 ] && [ "$(field "$l" read64)" = 0 ] &&
		[ "$(field "$l" ro_write)" = 3 ] && [ "$(field "$l" past_end)" = 0 ] &&
		[ "$(field "$l" past_end_write)" = 0 ] && [ "$(field "$l" len)" = 3 ] ||
		{ echo "guest read: ${l:-no A64-BADIO line}"; return 1; }
}
bad_accesses_logged() {
	local want missing=''
	for want in "8-byte read at offset 0x8 (vCPU 0 PERFTBL_LEN): not a 32-bit access, reads as 0" \
		"write of 0x3f at offset 0x8 (PERFTBL_LEN): read-only register, ignored" \
		"read at offset 0xc (PERFTBL_SEL): write-only register, reads as 0" \
		"read at offset $(printf 0x%x $((NR * 0x1000 + 8))) (PERFTBL_LEN): past the last vCPU's block, reads as 0" \
		"write of 0x7 at offset $(printf 0x%x $((NR * 0x1000 + 12))) (PERFTBL_SEL): past the last vCPU's block, ignored"; do
		qemu_log_has "virtual-cpufreq: $want" || missing+="$want; "
	done
	[ -z "$missing" ] || { echo "not logged: $missing"; grep virtual-cpufreq: "$TMP/qemu.log" | grep -v _request | head; return 1; }
}
still_running() {
	qemu_alive && ask show A64-SHOWN 60 && [ "$(field "$(policy 0)" driver)" = vcpufreq ] &&
		"$VF" status -j | jq -e .loaded >/dev/null
}

four_vcpus() {
	local i
	host_speed 100
	if ! start_vm; then
		bad "arm64 guest boots on the patched QEMU with its own devicetree (virtual-cpufreq=on)" \
			"$(tail -n 20 "$TMP/console.out")"
		return
	fi
	ok "arm64 guest boots on the patched QEMU with its own devicetree ($(last_line A64-BOOTED))"
	for i in $(seq 0 $((NR - 1))); do T[i]=$(vcpu_thread "$i"); done
	check "the device registered each vCPU thread with vcpufreq-bpf (vcpus -j: vm_id = QEMU's pid, vcpu = i)" \
		threads_registered
	check "guest's cpu_capacity before the driver: QEMU's capacity-dmips-mhz" \
		caps_are "cpu0=683 cpu1=683 cpu2=922 cpu3=1024"
	if ask insmod A64-INSMOD && console_has "A64-INSMOD ok"; then
		ok "guest driver binds qemu,virtual-cpufreq through its MMIO transport (no ivshmem in this VM)"
	else
		bad "guest driver binds qemu,virtual-cpufreq through its MMIO transport" "$(tail -n 20 "$TMP/console.out")"
	fi
	check "cpufreq sysfs: three policies (little pair, mid, big) with the host's tables" \
		policies_show_the_host
	check "big.LITTLE capacities reach the guest's scheduler (cpu_capacity 512 512 768 1024)" \
		caps_are "cpu0=512 cpu1=512 cpu2=768 cpu3=1024"
	check "idle guest: every vCPU thread's request is low, or its thread quiet" shown wait_for 90 all_low

	hog_raises_only_vcpu_3 "QEMU's device"
	frequency_invariance_follows_cur_perf "QEMU's device"

	# Linux writes policy {0, 1}'s SET_PERF into vCPU 0's block, from the
	# CPU of the policy that runs the update
	ask "hog 1" A64-HOG
	check "hog on vCPU 1: policy {0, 1}'s top request (written into vCPU 0's block) raises the thread of the vCPU that wrote it" \
		wait_for 90 writer_thread_high
	check "hog on vCPU 1: vCPUs 2 and 3 stay low or quiet" others_low
	ask stop A64-STOPPED
	check "every request was served on the trapping vCPU's thread and submitted for that thread (device trace)" \
		requests_served_on_their_own_thread

	if ask "insmod vcpufreq_badio nr_vcpus=$NR" A64-INSMOD && expect A64-BADIO 30; then
		check "bad accesses read 0 or are ignored (unaligned, 64-bit, write to PERFTBL_LEN, block past the last vCPU's)" \
			badio_answers
	else
		bad "the bad-access module runs" "$(tail -n 20 "$TMP/console.out")"
	fi
	check "each bad access is logged as a guest error (-d guest_errors)" bad_accesses_logged
	check "after the bad accesses QEMU, the guest's driver and vcpufreq-bpf keep running" \
		still_running
	if ask rmmod A64-RMMOD 30 && console_has "A64-RMMOD ok"; then ok "guest driver unloads"
	else bad "guest driver unloads" "$(tail -n 10 "$TMP/console.out")"; fi
	check "guest kernel log has no warning or oops" no_oops
	stop_qemu
}

cleanup() {
	[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null
	wait 2>/dev/null
	unload_vcpufreq
	rmdir "$CG" 2>/dev/null
	if [ -n "${VCPUFREQ_VM_KEEP:-}" ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

need_files "$KERNEL" "$MODULE" "$VF"
[ -x "$QEMU" ] || { echo "Error: $QEMU is missing; build it with \`make qemu\`" >&2; echo "RESULT 0 1 0"; exit 1; }
for c in dtc fdtget jq aarch64-linux-gnu-gcc "$STOCK_QEMU"; do
	command -v "$c" >/dev/null ||
		{ echo "Error: need $c (scripts/deps.sh and scripts/deps.sh --vm)" >&2; echo "RESULT 0 1 0"; exit 1; }
done
build_badio || { echo "Error: could not build tests/vm/badio against $KTREE/obj" >&2; echo "RESULT 0 1 0"; exit 1; }
build_initramfs_arm64 "$BADIO" || { echo "Error: could not build the arm64 initramfs" >&2; echo "RESULT 0 1 0"; exit 1; }
vcpufreq_not_loaded "the QEMU device test" && "$VF" load --backend observe >/dev/null && VF_LOADED=1 ||
	{ echo "RESULT 0 1 0"; exit 1; }
mkdir -p "$CG" && "$VF" enroll "$CG" >/dev/null || { echo "RESULT 0 1 0"; exit 1; }

declare -a T
devicetree_checks
four_vcpus
report
