#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# lab/fidelity.sh: the effect lab's guest model (lab-guest's modelled
# guest kernel) against a real one.  Run by `make effect` (lab/run.sh) on
# this host, before the lab's VM; root.
#
# The real guest: the arm64 Linux 6.12 test kernel under the patched QEMU
# (`make qemu`: -M virt,virtual-cpufreq=on, TCG, 2 vCPUs) with the
# project's guest driver bound through the device, schedutil, and the
# lab's workloads run as threads of that guest kernel
# (build/lab/arm64/lab-guest --mode native; device waits in iowait through
# vcpufreq_labio.ko).  Every request the guest's schedutil writes is
# traced by the device (-trace virtual_cpufreq_request).
# The model: build/lab-guest --mode none --trace, the same workload, vCPU
# count, host view, seed and run time, on this host.
# Both see the same host: vCPU 0 on a Tensor A76 (capacity 499), vCPU 1 on
# an X1 (1024), with their OPP tables, held at their top frequency
# (CUR_PERF = the CPU's capacity: a constant host speed schedule).
#
# Per workload: each side's time at each request level, their mean and
# change rate, and the overlap of the two distributions (1 - total
# variation distance; 1 = the same).  Writes OUT/fidelity.json and prints
# one "LAB-GUEST-FIDELITY {json}" line per workload.
#
#   lab/fidelity.sh [--seconds S] [--workloads LIST] [--seed N] [--out DIR]
# Defaults: 8 s per run, every workload of the lab, seed 1, build/lab.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/tests/vm
cd "$ROOT" || exit 1
case "${1:-}" in -h|--help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;; esac

SECS=8 SEED=1 OUTDIR=build/lab
WORKLOADS="seq-read-qd1 seq-read-qd8 rand-read-qd1 rand-read-qd8 seq-write-qd1 seq-write-qd8 rand-write-qd1 rand-write-qd8 infer-cached infer-small infer-large pcmark game"
die() { echo "Error: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) SECS=${2:?}; shift 2 ;;
	--workloads) WORKLOADS=${2//,/ }; shift 2 ;;
	--seed) SEED=${2:?}; shift 2 ;;
	--out) OUTDIR=${2:?}; shift 2 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
done
[[ $SECS =~ ^[0-9]+$ ]] && [ "$SECS" -ge 1 ] && [ "$SECS" -le 600 ] || die "--seconds takes 1..600, not '$SECS'"
[[ $SEED =~ ^[0-9]+$ ]] || die "--seed takes a whole number, not '$SEED'"
[ "$(id -u)" = 0 ] || die "the real guest's device submits through vcpufreq-bpf (BPF on this host); run as root"

TMP=$(mktemp -d /tmp/vcpufreq-lab-fidelity.XXXXXX)
BOOT_TIMEOUT=${ARM64_BOOT_TIMEOUT:-240}
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
CG=$CG2/vcpufreq-lab-fidelity
QEMU=${VCPUFREQ_QEMU:-$ROOT/build/qemu/qemu-system-aarch64}
VF=$ROOT/build/vcpufreq-bpf
GUEST_BIN=$ROOT/build/lab/arm64/lab-guest
LABIO=$ROOT/build/lab/arm64/vcpufreq_labio.ko
MODEL=$ROOT/build/lab-guest
QEMU_PID='' VF_LOADED=''
# shellcheck source=SCRIPTDIR/../tests/vm/guest.sh
. "$HERE/guest.sh"		# wait_for, send, need_files, vcpufreq_not_loaded
# shellcheck source=SCRIPTDIR/../tests/vm/arm64-guest.sh
. "$HERE/arm64-guest.sh"	# KERNEL, MODULE, MACHINE, build_initramfs_arm64, expect, ask

cleanup() {
	[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null
	wait 2>/dev/null
	[ -n "$VF_LOADED" ] && "$VF" unload >/dev/null 2>&1
	rmdir "$CG" 2>/dev/null
	if [ -n "${VCPUFREQ_VM_KEEP:-}" ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# ---- what both sides run on ---------------------------------------------
[ -x "$QEMU" ] || die "$QEMU is missing; build it with 'make qemu'"
for c in jq python3 aarch64-linux-gnu-gcc; do
	command -v "$c" >/dev/null || die "need $c (scripts/deps.sh --vm)"
done
tests/vm/build-kernel.sh --arch arm64 >&2 || die "could not build the arm64 test kernel"
[ -f "$MODULE" ] || make -s -C guest-driver arm64 >&2 || die "could not build the guest driver for arm64"
lab/build-module.sh --arm64 || die "could not build vcpufreq_labio.ko for arm64"
make -s "${GUEST_BIN#"$ROOT"/}" >&2 || die "could not build $GUEST_BIN"
need_files "$KERNEL" "$MODULE" "$LABIO" "$GUEST_BIN" "$MODEL" "$VF" >/dev/null

# the host: an A76 and an X1 of the lab's Tensor (lab/host), both at fmax
A76_KHZ=400000,553000,696000,799000,910000,1024000,1197000,1328000,1491000,1663000,1836000,1999000,2130000,2253000
X1_KHZ=500000,851000,984000,1106000,1277000,1426000,1582000,1745000,1826000,2048000,2188000,2252000,2401000,2507000,2630000,2704000,2802000
TOPO=$TMP/host.topology
cat >"$TOPO" <<EOF
cpu 0 capacity 499 cluster 0 freqs $A76_KHZ
cpu 1 capacity 1024 cluster 1 freqs $X1_KHZ
EOF
for c in 0:499:2253000 1:1024:2802000; do
	IFS=: read -r n cap fmax <<<"$c"
	d=$TMP/sysfs/cpu$n
	mkdir -p "$d/cpufreq"
	echo "$cap" >"$d/cpu_capacity"
	echo "$fmax" >"$d/cpufreq/cpuinfo_max_freq"
	echo "$fmax" >"$d/cpufreq/scaling_cur_freq"
done

# ---- the real guest --------------------------------------------------------
build_initramfs_arm64 "$LABIO" "$GUEST_BIN" || die "could not build the arm64 initramfs"
vcpufreq_not_loaded "lab/fidelity.sh" >/dev/null || die "vcpufreq-bpf is loaded; unload it first (the fidelity run loads its own, backend observe)"
"$VF" load --backend observe >/dev/null || die "vcpufreq-bpf load --backend observe failed"
VF_LOADED=1
mkdir -p "$CG" && "$VF" enroll "$CG" >/dev/null || die "cannot enroll $CG"

echo "  FIDELITY booting the real guest (arm64 6.12, QEMU TCG, 2 vCPUs on an A76 and an X1)" >&2
mkfifo "$TMP/console.in"
# both sides at nice -10, as the lab's VM (run-in-vm.sh --favour): what else
# the machine runs gets a ninth of their share
RT=(nice -n -10)
sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" \
	env VCPUFREQ_SYSFS_CPU_DIR="$TMP/sysfs" \
	"${RT[@]}" "$QEMU" "${MACHINE[@]}" -machine virtual-cpufreq=on \
	-accel tcg,thread=multi -smp 2 -m 512 \
	-global "virtual-cpufreq.topology=$TOPO" -global "virtual-cpufreq.affinity=0;1" \
	-name vcpufreq-lab-fidelity,debug-threads=on \
	-trace virtual_cpufreq_request -msg timestamp=on -D "$TMP/qemu.log" \
	-display none -nodefaults -no-reboot -serial stdio \
	-kernel "$KERNEL" -initrd "$TMP/initramfs.cpio" \
	-append "console=ttyAMA0 rdinit=/init panic=-1 loglevel=4" \
	<"$TMP/console.in" >"$TMP/console.out" 2>&1 &
QEMU_PID=$!
exec 3>"$TMP/console.in"
expect A64-BOOTED "$BOOT_TIMEOUT" || die "the guest did not boot in $BOOT_TIMEOUT s: $(tail -n 5 "$TMP/console.out")"
ask insmod A64-INSMOD 120 && [ "$(last_line A64-INSMOD)" = "A64-INSMOD ok" ] ||
	die "the guest driver did not load: $(last_line A64-INSMOD)"
ask "insmod vcpufreq_labio" A64-INSMOD 60 && [ "$(last_line A64-INSMOD)" = "A64-INSMOD ok" ] ||
	die "vcpufreq_labio.ko did not load in the guest: $(last_line A64-INSMOD)"
ask show A64-SHOWN 60
for p in 0 1; do
	l=$(policy "$p")
	[ "$(field "$l" driver)" = vcpufreq ] && [ "$(field "$l" gov)" = schedutil ] ||
		die "guest policy$p is not vcpufreq/schedutil: ${l:-none}"
done

# run_guest ARGS...: the guest's lab-guest; its JSON line on stdout
run_guest() {
	local n; n=$(count_of A64-EXEC)
	send "exec lab-guest $*"
	wait_for $((SECS * 6 + 120)) more_than A64-EXEC "$n" || { echo "timeout" >&2; return 1; }
	[ "$(last_line A64-EXEC)" = "A64-EXEC status=0" ] || { last_line A64-EXEC >&2; return 1; }
	tr -d '\r' <"$TMP/console.out" | grep '^{' | tail -n1
}
now() { date +%s.%N; }

GUEST_IPU=$(run_guest --calibrate -j | jq -r .iters_per_us) || die "calibration in the guest failed"
HOST_IPU=$(taskset -c 1 "${RT[@]}" "$MODEL" --calibrate -j | jq -r .iters_per_us) || die "calibration on the host failed"
echo "  FIDELITY reference speeds: guest vCPU $GUEST_IPU, host CPU $HOST_IPU iterations/us" >&2

mkdir -p "$OUTDIR"
: >"$TMP/runs.jsonl"
for w in $WORKLOADS; do
	echo "  FIDELITY $w: the real guest" >&2
	t0=$(now)
	real=$(run_guest --mode native -w "$w" -s "$SECS" -n 2 -i "$GUEST_IPU" -r "$SEED" -j) || {
		echo "warning: $w in the real guest failed" >&2; continue; }
	t1=$(now)
	echo "  FIDELITY $w: the model" >&2
	model=$("${RT[@]}" "$MODEL" --mode none --trace -w "$w" -s "$SECS" -n 2 --topology "$TOPO" \
		--vcpu-affinity '0;1' -i "$HOST_IPU" -r "$SEED" -j 2>"$TMP/model.err") || {
		echo "warning: $w in the model failed: $(tail -n 2 "$TMP/model.err")" >&2; continue; }
	jq -nc --arg w "$w" --argjson t0 "$t0" --argjson t1 "$t1" --argjson real "$real" \
		--argjson model "$model" --argjson secs "$SECS" \
		'{workload: $w, t0: $t0, t1: $t1, seconds: $secs, real: ($real | del(.stream)), model: $model}' >>"$TMP/runs.jsonl"
done
send quit

python3 lab/fidelity.py --runs "$TMP/runs.jsonl" --trace "$TMP/qemu.log" --topology "$TOPO" \
	--json "$OUTDIR/fidelity.json" --markdown "$OUTDIR/fidelity.md"
