#!/usr/bin/env bash
# tests/vm/e2e.sh: the guest driver end to end, under stock QEMU.
#
# On this host: `vcpufreq-bpf load`, a cgroup v2 enrolled, the QEMU bridge
# serving an ivshmem-doorbell device, QEMU (TCG, -smp 2) started inside
# that cgroup.  In the guest (the tests/vm kernel and a busybox initramfs
# carrying the module): load the module, read cpufreq sysfs, run a CPU hog
# on vCPU 1.  Asserted on the host from `vcpufreq-bpf vcpus -j`: QEMU's
# vCPU 1 thread carries a high request and vCPU 0 a low one, and vCPU 1's
# request falls when the hog stops.  Then the same guest against a broken
# host (bridge --corrupt KIND): the driver refuses to probe with one log
# line, and unloads cleanly; a descending table (crosvm's order) is taken.  Last line: "RESULT passed failed skipped".
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
TEST_BRIDGE=$ROOT/build/tests/vcpufreq-qemu-bridge	# with --corrupt KIND
DRIVER=vcpufreq
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
CG=$CG2/vcpufreq-e2e
TMP=$(mktemp -d /tmp/vcpufreq-e2e.XXXXXX)
BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-180}
QEMU_PID='' BRIDGE_PID=''
. "$HERE/report.sh"
. "$HERE/guest.sh"	# check, wait_for, the host topology, the guest

write_host_topology "$TMP/host.topology"

# ---- one VM: bridge, QEMU in the enrolled cgroup, console over a fifo -------
console_has() { grep -q -- "$1" "$TMP/console.out"; }
expect() {	# expect PATTERN [SECONDS]
	wait_for "${2:-60}" console_has "$1"
}
start_vm() {	# start_vm [BRIDGE_ARGS...]: --corrupt needs the test build
	local bridge=$BRIDGE
	[ "${1:-}" = --corrupt ] && bridge=$TEST_BRIDGE
	rm -f "$TMP"/console.* "$TMP"/*.sock "$TMP"/bridge.log
	start_bridge "$bridge" --topology "$TMP/host.topology" --affinity '0;1' -v "$@" || return 1
	start_qemu qemu-system-x86_64 -M q35 -accel tcg,thread=multi -cpu Skylake-Client -smp 2 -m 256 \
		-name vcpufreq-e2e,debug-threads=on \
		-display none -nodefaults -no-reboot -serial stdio \
		-kernel "$KERNEL" -initrd "$TMP/initramfs.cpio" \
		-append "console=ttyS0 rdinit=/init panic=-1 loglevel=4"
	expect E2E-BOOTED "$BOOT_TIMEOUT" || return 1
	# the driver looks for the bridge's magic once, at probe
	wait_for 30 grep -q '^bridge: attached' "$TMP/bridge.log"
}
trap vm_cleanup EXIT

# ---- assertions on the host -------------------------------------------------
policy_line() { grep "E2E-POLICY policy$1 " "$TMP/console.out" | tr -d '\r'; }
policy_field() { policy_line "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

guest_policies_show_the_host_tables() {
	[ "$(policy_field 0 driver)" = "$DRIVER" ] || { echo "policy0: $(policy_line 0)"; return 1; }
	[ "$(policy_field 0 cpus)" = 0 ] || { echo "policy0 cpus: $(policy_line 0)"; return 1; }
	[ "$(policy_field 0 freqs)" = 300000,900000,1800000 ] || { echo "policy0 freqs: $(policy_line 0)"; return 1; }
	[ "$(policy_field 1 driver)" = "$DRIVER" ] || { echo "policy1: $(policy_line 1)"; return 1; }
	[ "$(policy_field 1 cpus)" = 1 ] || { echo "policy1 cpus: $(policy_line 1)"; return 1; }
	[ "$(policy_field 1 max)" = 2400000 ] || { echo "policy1 max: $(policy_line 1)"; return 1; }
	[ "$(policy_field 1 freqs)" = 500000,1500000,2400000 ] || { echo "policy1 freqs: $(policy_line 1)"; return 1; }
	[ "$(policy_field 1 gov)" = schedutil ] || { echo "policy1 governor: $(policy_line 1)"; return 1; }
}
bridge_found_qemus_vcpu_threads() {
	local i t comm
	for i in 0 1; do
		t=$(tid_of_vcpu $i)
		[ -n "$t" ] || { echo "bridge printed no tid for vcpu $i"; cat "$TMP/bridge.log"; return 1; }
		comm=$(cat "/proc/$QEMU_PID/task/$t/comm" 2>/dev/null)
		[ "$comm" = "CPU $i/TCG" ] || { echo "vcpu $i: tid $t is '$comm', not QEMU's 'CPU $i/TCG'"; return 1; }
	done
}
DMESG_NONCE=0
guest_dmesg() {	# the guest's whole kernel log, fresh (a nonce per call)
	local n=$((++DMESG_NONCE)) out
	send "dmesg $n"
	expect "E2E-DMESG-END $n" 30 || return 1
	out=$(tr -d '\r' <"$TMP/console.out")
	# this call's dump: after the previous end marker
	awk -v prev="E2E-DMESG-END $((n - 1))" -v end="E2E-DMESG-END $n" '
		index($0, prev) && prev != "E2E-DMESG-END 0" { seen = 1; next }
		index($0, end) { exit }
		(seen || prev == "E2E-DMESG-END 0") && sub(/.*E2E-DMESG /, "")' <<<"$out"
}

both_low() { perf_between "$T0" 1 400 && perf_between "$T1" 1 400; }
vcpu1_high_vcpu0_low() { perf_between "$T1" 900 1024 && perf_between "$T0" 1 400; }
vcpu1_low() { perf_between "$T1" 1 400; }
guest_rmmod() {	# guest_rmmod TEST_NAME
	send rmmod
	if expect "E2E-RMMOD ok" 30; then ok "$1"
	else bad "$1" "$(tail -n 10 "$TMP/console.out")"; fi
}
OOPS='BUG:|Oops|WARNING:|Call Trace|general protection'
no_oops() {
	local log
	log=$(guest_dmesg) || { echo "the guest did not answer"; return 1; }
	! grep -E "$OOPS" <<<"$log"
}
# what the driver logged (not the kernel's taint notice)
driver_lines() { grep -E 'vcpufreq[-_](ivshmem|mmio|guest)|vcpufreq:' | grep -v 'taints kernel'; }
fast_switch_used() {
	local log
	log=$(guest_dmesg) || { echo "the guest did not answer"; return 1; }
	! grep 'Fast frequency switching not enabled' <<<"$log" || return 1
	send sugov
	expect E2E-SUGOV-THREADS 30 || { echo "the guest did not answer"; return 1; }
	grep -q 'E2E-SUGOV-THREADS 0' "$TMP/console.out" ||
		{ grep E2E-SUGOV "$TMP/console.out"; return 1; }
}
no_requests_left() {
	[ "$("$VF" vcpus -j | jq "[.[] | select(.tid==$T0 or .tid==$T1)] | length")" = 0 ]
}

# ---- the scenario -----------------------------------------------------------
main_scenario() {
	start_vm || { bad "guest boots with the bridge attached" "$(tail -n 20 "$TMP/console.out")" "$(cat "$TMP/bridge.log")"; return; }
	ok "guest boots with the bridge attached"
	check "bridge registers QEMU's vCPU threads by QMP thread id" bridge_found_qemus_vcpu_threads
	T0=$(tid_of_vcpu 0) T1=$(tid_of_vcpu 1)
	send insmod
	if expect "E2E-INSMOD ok" 60; then ok "module loads and binds the ivshmem device"
	else bad "module loads and binds the ivshmem device" "$(tail -n 20 "$TMP/console.out")"; fi
	send show
	expect E2E-SHOWN 30
	check "cpufreq sysfs shows the driver and the host-derived tables" guest_policies_show_the_host_tables
	# idle guest: both vCPUs ask for little; host units (0..1024)
	check "idle guest: vCPU 0 and vCPU 1 requests are low" wait_for 60 both_low
	send hog
	expect E2E-HOG 30
	if wait_for 90 vcpu1_high_vcpu0_low; then
		ok "hog on vCPU 1: QEMU's vCPU 1 thread carries a high request, vCPU 0 a low one"
	else
		bad "hog on vCPU 1: QEMU's vCPU 1 thread carries a high request, vCPU 0 a low one" \
			"vcpu0 tid $T0 perf $(perf_of "$T0"), vcpu1 tid $T1 perf $(perf_of "$T1")" "$(tail -n 5 "$TMP/bridge.log")"
	fi
	send stop
	expect E2E-STOPPED 30
	if wait_for 90 vcpu1_low; then
		ok "hog stops: vCPU 1's request falls"
	else
		bad "hog stops: vCPU 1's request falls" "vcpu1 tid $T1 perf $(perf_of "$T1")"
	fi
	guest_rmmod "module unloads"
	check "guest kernel log has no warning or oops" no_oops
	check "schedutil switches frequency the fast way (fast_switch)" fast_switch_used
	stop_vm
	local rc=$?
	if [ $rc = 0 ] && grep -q "unregistered 2" "$TMP/bridge.log"; then
		ok "bridge stops cleanly when QEMU exits"
	else
		bad "bridge stops cleanly when QEMU exits" "exit $rc" "$(tail -n 3 "$TMP/bridge.log")"
	fi
	check "QEMU's vCPU threads carry no request afterwards" no_requests_left
}

# a broken host: KIND and the driver's one log line for it ('' : silent)
broken_host() {
	local kind=$1 want=$2 log errs
	start_vm --corrupt "$kind" || { bad "broken host ($kind): guest boots" "$(tail -n 20 "$TMP/console.out")"; return; }
	send insmod
	send show
	if ! expect E2E-SHOWN 60 || ! log=$(guest_dmesg); then
		bad "broken host ($kind): guest answers after insmod" "$(tail -n 20 "$TMP/console.out")"
		stop_vm
		return
	fi
	errs=$(driver_lines <<<"$log" | grep -c .)
	if grep -q "E2E-POLICY" "$TMP/console.out"; then
		bad "broken host ($kind): driver refuses to probe" "a cpufreq policy appeared: $(grep E2E-POLICY "$TMP/console.out")"
	elif grep -qE "$OOPS" <<<"$log"; then
		bad "broken host ($kind): driver refuses to probe" "$log"
	elif [ -z "$want" ] && [ "$errs" = 0 ]; then
		ok "broken host ($kind): driver never binds, says nothing"
	elif [ -n "$want" ] && [ "$errs" = 1 ] && driver_lines <<<"$log" | grep -qiE "$want"; then
		ok "broken host ($kind): driver refuses to probe with one log line"
	else
		bad "broken host ($kind): driver refuses to probe with one log line matching '$want'" "$(driver_lines <<<"$log")"
	fi
	guest_rmmod "broken host ($kind): module unloads"
	stop_vm
}

# crosvm passes the host's frequencies in its own order: taken, sorted
descending_host() {
	start_vm --corrupt descending || { bad "descending host table: guest boots" "$(tail -n 20 "$TMP/console.out")"; return; }
	send insmod
	send show
	if expect "E2E-SHOWN" 60 && [ "$(policy_field 0 freqs)" = 300000,900000,1800000 ] &&
		[ "$(policy_field 0 min)" = 300000 ] && [ "$(policy_field 0 max)" = 1800000 ]; then
		ok "descending host table (crosvm's order): driver binds, table sorted"
	else
		bad "descending host table (crosvm's order): driver binds, table sorted" "$(policy_line 0)" "$(tail -n 10 "$TMP/console.out")"
	fi
	guest_rmmod "descending host table: module unloads"
	stop_vm
}

need_files "$KERNEL" "$MODULE" "$BRIDGE" "$TEST_BRIDGE" "$VF" /bin/busybox
build_initramfs "$TMP/initramfs.cpio" || { echo "Error: could not build the initramfs" >&2; echo "RESULT 0 1 0"; exit 1; }
load_vcpufreq "the end-to-end test" || { echo "RESULT 0 1 0"; exit 1; }
mkdir -p "$CG" && "$VF" enroll "$CG" >/dev/null || { echo "RESULT 0 1 0"; exit 1; }

main_scenario
broken_host len0 'table length 0'
broken_host len65 'table length 65'
broken_host zero 'is 0 kHz'
broken_host dup 'twice'
descending_host
broken_host domain 'perf domain .* out of range'
broken_host nomagic ''

report
