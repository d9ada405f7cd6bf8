#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# lab/lab-vm.sh: the effect lab's part inside the test VM (started by
# lab/run.sh through tests/vm/run-in-vm.sh; root, project directory).
#
# Loads vcpufreq_labhost.ko (the emulated Pixel-6-like host), prints the
# host it made, checks its speed against the emulated one per OPP, then
# runs every workload under every row, rows in a new random order each
# round.  Each result is one console line "LAB-RESULT {json}"; the host
# side (lab/report.py) turns them into the table.
#
#   lab-vm.sh [--rounds N] [--seconds S] [--rows LIST] [--workloads LIST]
#             [--fidelity all|ends|none] [--seed N]
set -uo pipefail
cd "$(dirname "$0")/.."
. lab/lab-lib.sh

ROUNDS=3 SECONDS_PER_RUN=4 FIDELITY=all SEED=$RANDOM
ALL_ROWS="performance powersave baseline baseline-aa pinned crosvm observe scx uclamp cpufreq affinity boost"
ROWS=$ALL_ROWS WORKLOADS="io frame mixed"

while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=${2:?}; shift 2 ;;
	--seconds) SECONDS_PER_RUN=${2:?}; shift 2 ;;
	--rows) ROWS=${2//,/ }; shift 2 ;;
	--workloads) WORKLOADS=${2//,/ }; shift 2 ;;
	--fidelity) FIDELITY=${2:?}; shift 2 ;;
	--seed) SEED=${2:?}; shift 2 ;;
	-h|--help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
done
for r in $ROWS; do [[ " $ALL_ROWS " == *" $r "* ]] || die "unknown row '$r' (rows: $ALL_ROWS)"; done

CG=$CG2/lab-vm
LOADED=

# --- the emulated host -----------------------------------------------------
lab_host_up
mkdir -p "$CG"
for c in $(seq 0 $((NCPU - 1))); do
	say "cpu$c: $(cat $CPU_SYS/cpu$c/cpufreq/scaling_driver) $(cat $CPU_SYS/cpu$c/cpufreq/scaling_governor)," \
	    "$(cat $CPU_SYS/cpu$c/cpufreq/cpuinfo_min_freq)-$(cat $CPU_SYS/cpu$c/cpufreq/cpuinfo_max_freq) kHz," \
	    "capacity $(awk -v c=$c '$2 == c { print $4 }' "$TOPO")"
done
EAS=off
echo 1 >/proc/sys/kernel/sched_energy_aware 2>/dev/null && EAS=on
say "energy-aware scheduling: $EAS"
echo "LAB-HOST $(jq -nc --argjson cpus "$NCPU" --arg little "$LITTLE" --arg big "$BIG" --arg eas "$EAS" \
	--argjson speed_pct "$(head -n1 $PROC | awk '{ print $4 }')" \
	'{cpus: $cpus, little: $little, big: $big, eas: $eas, speed_pct: $speed_pct}')"

# --- fidelity: achieved speed vs the emulated one, per OPP ------------------
fidelity() {
	local cpu list khz exp ach
	for cpu in "$LITTLE0" "$BIG0"; do
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
		if [[ ",$BIG," == *",$i,"* ]]; then list+=("$BIG"); else list+=("$LITTLE"); fi
	done
	local IFS=';'; echo "${list[*]}"
}

# row -> governor, backend, lab-guest mode, pinning
row_setup() {
	GOV=schedutil BACKEND= MODE=none PIN=
	case "$1" in
	performance|powersave) GOV=$1 ;;
	baseline|baseline-aa) ;;
	pinned) PIN=$(cluster_pins) ;;
	crosvm) MODE=crosvm PIN=$(cluster_pins) ;;
	observe|scx|uclamp|cpufreq|affinity) BACKEND=$1 MODE=hints ;;
	boost) BACKEND=scx MODE=boost ;;
	esac
	set_governor "$GOV"
	if [ -n "$BACKEND" ]; then
		"$CLI" --topology "$TOPO" load --backend "$BACKEND" >/dev/null || return 1
		LOADED=1
		"$CLI" enroll "$CG" >/dev/null || return 1
	fi
}

# energy and busy time since the last reset, as a JSON object
energy_json() {
	opps | awk -v big="$BIG" '
		BEGIN { n = split(big, b, ","); for (i = 1; i <= n; i++) isbig[b[i]] = 1 }
		{ busy = $7 / 1e6; mas += $7 / 1e9 * $6 / 1000; stall += $8 / 1e6
		  if ($1 in isbig) bigms += busy; else littlems += busy }
		END { printf "{\"energy_mah\":%.6f,\"host_busy_big_ms\":%.1f,\"host_busy_little_ms\":%.1f,\"host_stall_ms\":%.1f}\n",
			mas / 3600, bigms, littlems, stall }'
}

run_one() {	# round row workload
	local out args=(--workload "$3" --seconds "$SECONDS_PER_RUN" --vcpus "$NCPU" --mode "$MODE"
		--cgroup "$CG" --topology "$TOPO" --iters-per-us "$IPU" --seed "$SEED" -j)
	[ -n "$PIN" ] && args+=(--vcpu-affinity "$PIN")
	echo reset >"$PROC"
	if ! out=$("$GUEST" "${args[@]}" 2>/tmp/lab-guest.err); then
		say "warning: $2/$3 failed: $(tail -n 3 /tmp/lab-guest.err)"
		return
	fi
	echo "LAB-RESULT $(jq -c --argjson round "$1" --arg row "$2" --argjson e "$(energy_json)" \
		'{round: $round, row: $row} + . + $e' <<<"$out")"
}

shuffled() { printf '%s\n' $ROWS | awk -v s="$1" 'BEGIN { srand(s) } { print rand() "\t" $0 }' | sort -n | cut -f2; }

case "$FIDELITY" in none) ;; *) fidelity ;; esac
total=$(( ROUNDS * $(wc -w <<<"$ROWS") * $(wc -w <<<"$WORKLOADS") )) n=0
for ((round = 1; round <= ROUNDS; round++)); do
	for row in $(shuffled $((SEED + round))); do
		if ! row_setup "$row"; then
			say "warning: row $row could not be set up; skipped"
			unload; continue
		fi
		for w in $WORKLOADS; do
			n=$((n + 1))
			say "[$n/$total] round $round: $row / $w"
			run_one "$round" "$row" "$w"
		done
		unload
	done
done
say "done"
