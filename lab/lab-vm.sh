#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# lab/lab-vm.sh: the effect lab's part inside the test VM (started by
# lab/run.sh through tests/vm/run-in-vm.sh; root, project directory).
#
# Loads vcpufreq_labhost.ko (the emulated Google Tensor host), prints the
# host it made, checks its speed against the emulated one per OPP, then
# runs every workload under every row: rows in a new random order each
# round, workloads in a new random order within each row, the baseline
# twice per round (the pooled denominator).  Each result is one console
# line "LAB-RESULT {json}"; the host side (lab/report.py) turns them into
# the table.
#
#   lab-vm.sh [--rounds N] [--seconds S] [--rows LIST] [--workloads LIST]
#             [--fidelity all|ends|none] [--seed N] [--split tune|report]
#
# --split: the seeds (device jitter, row order) of a run: 'tune' draws
# them from one set, 'report' (default) from another, so that a policy
# constant tuned on 'tune' runs is reported on runs it was not tuned on.
set -uo pipefail
cd "$(dirname "$0")/.."
. lab/lab-lib.sh

ROUNDS=3 SECONDS_PER_RUN=3 FIDELITY=ends SEED= SPLIT=report
ALL_ROWS="native baseline baseline-aa pinned crosvm crosvm68 observe scx scx-pinned scx-perf uclamp uclamp-pinned uclamp-perf cpufreq cpufreq-pinned affinity boost performance powersave"
ALL_WORKLOADS="seq-read-qd1 seq-read-qd8 rand-read-qd1 rand-read-qd8 seq-write-qd1 seq-write-qd8 rand-write-qd1 rand-write-qd8 infer-cached infer-small infer-large pcmark game"
ROWS=$ALL_ROWS WORKLOADS=$ALL_WORKLOADS

while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=${2:?}; shift 2 ;;
	--seconds) SECONDS_PER_RUN=${2:?}; shift 2 ;;
	--rows) ROWS=${2//,/ }; shift 2 ;;
	--workloads) WORKLOADS=${2//,/ }; shift 2 ;;
	--fidelity) FIDELITY=${2:?}; shift 2 ;;
	--seed) SEED=${2:?}; shift 2 ;;
	--split) SPLIT=${2:?}; shift 2 ;;
	-h|--help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
done
for r in $ROWS; do [[ " $ALL_ROWS " == *" $r "* ]] || die "unknown row '$r' (rows: $ALL_ROWS)"; done
for w in $WORKLOADS; do [[ " $ALL_WORKLOADS io frame mixed " == *" $w "* ]] || die "unknown workload '$w' (workloads: $ALL_WORKLOADS)"; done
# the two seed sets: tune 1..9999, report 10000..19999
case "$SPLIT" in
tune) SEED=$(( ${SEED:-$RANDOM} % 10000 )) ;;
report) SEED=$(( 10000 + ${SEED:-$RANDOM} % 10000 )) ;;
*) die "--split takes tune or report, not '$SPLIT'" ;;
esac

CG=$CG2/lab-vm
LOADED=

# --- the emulated host -----------------------------------------------------
lab_host_up
mkdir -p "$CG"
for c in $(seq 0 $((NCPU - 1))); do
	say "cpu$c: $(opps | awk -v c=$c '$1 == c { print $2; exit }')," \
	    "$(cat $CPU_SYS/cpu$c/cpufreq/scaling_driver) $(cat $CPU_SYS/cpu$c/cpufreq/scaling_governor)," \
	    "$(cat $CPU_SYS/cpu$c/cpufreq/cpuinfo_min_freq)-$(cat $CPU_SYS/cpu$c/cpufreq/cpuinfo_max_freq) kHz," \
	    "capacity $(awk -v c=$c '$2 == c { print $4 }' "$TOPO")"
done
EAS=off
echo 1 >/proc/sys/kernel/sched_energy_aware 2>/dev/null && EAS=on
say "energy-aware scheduling: $EAS"
echo "LAB-HOST $(jq -nc --argjson cpus "$NCPU" --arg a55 "$A55" --arg a76 "$A76" --arg x1 "$X1" --arg eas "$EAS" \
	--argjson speed_pct "$(head -n1 $PROC | awk '{ print $4 }')" --argjson seed "$SEED" --arg split "$SPLIT" \
	--argjson rounds "$ROUNDS" --argjson seconds "$SECONDS_PER_RUN" \
	'{cpus: $cpus, a55: $a55, a76: $a76, x1: $x1, eas: $eas, speed_pct: $speed_pct, seed: $seed, split: $split, rounds: $rounds, seconds: $seconds}')"

# --- fidelity: achieved speed vs the emulated one, per OPP ------------------
fidelity() {
	local cpu list khz exp ach
	for cpu in "$A550" "$A760" "$X10"; do
		list=$(opps | awk -v c="$cpu" '$1 == c { print $4 }')
		[ "$FIDELITY" = ends ] && list=$(printf '%s\n' "$list" | sed -n '1p;$p')
		# shellcheck disable=SC2086
		speed_ratios "$cpu" $list | while read -r khz exp ach; do
			echo "LAB-FIDELITY {\"cpu\":$cpu,\"khz\":$khz,\"expected\":$exp,\"achieved\":$ach}"
		done
	done
}

# --- rows -------------------------------------------------------------------
unload() {
	[ -n "$LOADED" ] && { "$CLI" unload >/dev/null || say "warning: unload failed"; }
	LOADED=
}
cleanup() { unload; set_governor schedutil 2>/dev/null; }
trap cleanup EXIT

# vCPU i pinned to the cluster of host CPU i, as the seed's crosvm setup
cluster_pins() {
	local i list=()
	for ((i = 0; i < NCPU; i++)); do
		if [[ ",$X1," == *",$i,"* ]]; then list+=("$X1")
		elif [[ ",$A76," == *",$i,"* ]]; then list+=("$A76")
		else list+=("$A55"); fi
	done
	local IFS=';'; echo "${list[*]}"
}

# row -> governor, backend, lab-guest mode, pinning
row_setup() {
	GOV=schedutil BACKEND= MODE=none PIN= POWER=balanced
	case "$1" in
	native) MODE=native ;;
	performance|powersave) GOV=$1 ;;
	baseline|baseline-aa) ;;
	pinned) PIN=$(cluster_pins) ;;
	crosvm) MODE=crosvm PIN=$(cluster_pins) ;;
	crosvm68) MODE=crosvm68 PIN=$(cluster_pins) ;;
	observe|scx|uclamp|cpufreq|affinity) BACKEND=$1 MODE=hints ;;
	*-pinned) BACKEND=${1%-pinned} MODE=hints PIN=$(cluster_pins) ;;
	*-perf) BACKEND=${1%-perf} MODE=hints POWER=performance ;;
	boost) BACKEND=scx MODE=boost ;;
	esac
	set_governor "$GOV"
	if [ -n "$BACKEND" ]; then
		"$CLI" --topology "$TOPO" load --backend "$BACKEND" --power "$POWER" >/dev/null || return 1
		LOADED=1
		"$CLI" enroll "$CG" >/dev/null || return 1
	fi
}

run_one() {	# round row workload
	local out args=(--workload "$3" --seconds "$SECONDS_PER_RUN" --vcpus "$NCPU" --mode "$MODE"
		--cgroup "$CG" --topology "$TOPO" --iters-per-us "$IPU" --seed "$((SEED * 100 + $1))" -j)
	[ -n "$PIN" ] && args+=(--vcpu-affinity "$PIN")
	echo reset >"$PROC"
	if ! out=$("$GUEST" "${args[@]}" 2>/tmp/lab-guest.err); then
		say "warning: $2/$3 failed: $(tail -n 3 /tmp/lab-guest.err)"
		return
	fi
	echo "LAB-RESULT $(jq -c --argjson round "$1" --arg row "$2" --argjson e "$(energy_json)" \
		'{round: $round, row: $row} + . + $e' <<<"$out")"
}

# the words of $2 in an order drawn from seed $1
shuffled() { printf '%s\n' $2 | awk -v s="$1" 'BEGIN { srand(s) } { print rand() "\t" $0 }' | sort -n | cut -f2; }

case "$FIDELITY" in none) ;; *) fidelity ;; esac
# the baseline twice per round: the pooled denominator of every ratio
round_rows=$ROWS
[[ " $ROWS " == *" baseline "* ]] && round_rows+=" baseline"
total=$(( ROUNDS * $(wc -w <<<"$round_rows") * $(wc -w <<<"$WORKLOADS") )) n=0
for ((round = 1; round <= ROUNDS; round++)); do
	for row in $(shuffled $((SEED * 100 + round)) "$round_rows"); do
		if ! row_setup "$row"; then
			say "warning: row $row could not be set up; skipped"
			unload; continue
		fi
		for w in $(shuffled $((SEED * 1000 + round * 37 + ${#row})) "$WORKLOADS"); do
			n=$((n + 1))
			say "[$n/$total] round $round: $row / $w"
			run_one "$round" "$row" "$w"
		done
		unload
	done
done
say "done"
