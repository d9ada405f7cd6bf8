#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# lab/lab-check.sh: the effect lab's functional check, run inside the
# test VM by tests/vm/effect-lab.sh (part of make test).  Not a benchmark:
# it asserts that the emulated host is what the lab's figures rest on --
# big.LITTLE capacities the scheduler uses, EAS possible, speed that follows
# frequency -- and that a hinted workload ends on the big CPUs.
# Last line: "RESULT passed failed skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
. lab/lab-lib.sh
. tests/vm/report.sh
# how far the achieved speed may stray from the emulated one (TCG, shared host)
TOLERANCE=${LAB_SPEED_TOLERANCE:-0.25}

lab_host_up
CG=$CG2/lab-check
mkdir -p "$CG"

caps=$(awk '{ printf "%s%s", sep, $4; sep = "," }' "$TOPO")
drivers=$(cat "$CPU_SYS"/cpu*/cpufreq/scaling_driver | sort -u | paste -sd,)
govs=$(cat "$CPU_SYS"/cpu*/cpufreq/scaling_governor | sort -u | paste -sd,)
if [ "$LITTLE" = 0,1 ] && [ "$BIG" = 2,3 ] && [ "$caps" = 499,499,1024,1024 ] &&
	[ "$drivers" = labhost ] && [ "$govs" = schedutil ]; then
	ok "the emulated host: CPUs 0-1 little (499), 2-3 big (1024), driver labhost, schedutil"
else
	bad "the emulated host: CPUs 0-1 little (499), 2-3 big (1024), driver labhost, schedutil" \
		"little $LITTLE big $BIG capacities $caps drivers $drivers governors $govs"
fi

if err=$(echo 1 2>&1 >/proc/sys/kernel/sched_energy_aware); then
	ok "EAS is possible: asymmetric capacities, frequency invariance, energy model, schedutil"
else
	bad "EAS is possible: asymmetric capacities, frequency invariance, energy model, schedutil" "$err"
fi

# the slowest and fastest OPP of each cluster
for cpu in "$LITTLE0" "$BIG0"; do
	ends=$(opps | awk -v c="$cpu" '$1 == c { print $4 }' | sed -n '1p;$p' | paste -sd' ')
	# shellcheck disable=SC2086
	out=$(speed_ratios "$cpu" $ends 2>&1)
	if awk -v t="$TOLERANCE" 'NF != 3 || $3 < $2 * (1 - t) || $3 > $2 * (1 + t) { bad = 1 } END { exit bad || NR != 2 }' <<<"$out"; then
		ok "cpu$cpu's speed follows its frequency (achieved vs emulated within ${TOLERANCE}): $(
			awk '{ printf "%s%s kHz %s vs %s", sep, $1, $3, $2; sep = ", " }' <<<"$out")"
	else
		bad "cpu$cpu's speed follows its frequency (achieved vs emulated within ${TOLERANCE})" \
			"khz expected achieved:" "$out"
	fi
done

# big CPUs' share of the vCPU threads' busy time, from lab-guest -j
big_share() {
	jq -r --arg big "$BIG" '($big | split(",") | map(tonumber)) as $b
		| .cpu_busy_ms as $t | ([$b[] | $t[.]] | add) / ([$t[]] | add)' <<<"$1"
}
"$CLI" --topology "$TOPO" load --backend scx >/dev/null || bad "load --backend scx" "$("$CLI" status 2>&1)"
"$CLI" enroll "$CG" >/dev/null
# a VM of one big vCPU (its view: host CPU BIG0's capacity and table) whose
# guest hogs it asks for the most, and the scx backend runs it on a big CPU
sed -n "s/^cpu $BIG0 /cpu 0 /p" "$TOPO" >/run/lab-big-vcpu.topology
hint=$("$GUEST" --workload hog --seconds 4 --vcpus 1 --mode hints --cgroup "$CG" \
	--topology /run/lab-big-vcpu.topology --iters-per-us "$IPU" -j 2>&1)
"$CLI" unload >/dev/null
h=$(big_share "$hint" 2>/dev/null)
if awk -v h="$h" 'BEGIN { exit !(h != "" && h >= 0.7) }'; then
	ok "a hinted hog runs on the big CPUs (scx): big share of its busy time $h"
else
	bad "a hinted hog runs on the big CPUs (scx): big share of its busy time '$h' (want >= 0.7)" "$hint"
fi
report
