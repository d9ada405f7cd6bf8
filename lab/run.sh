#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# lab/run.sh: the effect lab (sudo make effect).  Does guest-driven
# vcpufreq make VM work faster and cheaper than the host's own schedutil?
#
# Boots the test kernel under QEMU (TCG, -smp 4) as an emulated Pixel-6-like
# host (lab/host: big.LITTLE capacities, DVFS whose frequency sets
# speed, EAS, Android-style energy accounting) and runs lab/lab-vm.sh
# there: three guest-shaped workloads (build/lab-guest: I/O-bound, frames,
# mixed) under every configuration -- the governors' two ends, host
# schedutil without hints (unpinned, pinned per cluster), crosvm's
# uclamp_min, each vcpufreq backend, boost-everything, and the baseline
# again (A/A) -- interleaved, in a new random order each round.  Prints the
# table (ratios against the baseline of the same round) and writes
# build/lab/: console.log, results.json, effect.md, effect.svg.
#
#   lab/run.sh [--rounds N] [--seconds S] [--rows LIST]
#                    [--workloads LIST] [--fidelity all|ends|none] [--seed N]
# Defaults: 3 rounds of 4 s runs, every row and workload, every OPP checked
# (about 15 minutes on 2 host cores).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=build/lab
case "${1:-}" in -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;; esac
[ "$(id -u)" = 0 ] || { echo "Error: the lab boots a VM as root and loads BPF there; run 'sudo make effect'" >&2; exit 1; }
for f in build/vcpufreq-bpf build/lab-guest; do
	[ -x "$f" ] || { echo "Error: $f is missing; run 'make' first" >&2; exit 1; }
done

# the VM's time budget: runs, row setups, boot and fidelity
rounds=3 secs=4 nrows=12 nwork=3
args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) rounds=$2 ;; --seconds) secs=$2 ;;
	--rows) nrows=$(tr , ' ' <<<"$2" | wc -w) ;;
	--workloads) nwork=$(tr , ' ' <<<"$2" | wc -w) ;;
	esac
	shift
done
timeout=$(( rounds * nrows * (nwork * (secs * 2 + 10) + 20) + 600 ))

lab/build-module.sh
mkdir -p "$OUT"
echo "  LAB      booting the emulated host (QEMU TCG, -smp 4; budget ${timeout} s)"
set +e
# -cpu Skylake-Client: constant_tsc, so schedutil can fast-switch (see tests/vm/effect-lab.sh)
tests/vm/run-in-vm.sh --smp 4 --cpu Skylake-Client --timeout "$timeout" -- \
	lab/lab-vm.sh ${args[@]+"${args[@]}"} 2>&1 | tee "$OUT/console.log" | grep --line-buffered -E '^lab: |^Error'
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || echo "warning: the lab VM exited with status $rc (console: $OUT/console.log)" >&2
echo
python3 lab/report.py "$OUT/console.log" --svg "$OUT/effect.svg" \
	--markdown "$OUT/effect.md" --json "$OUT/results.json"
echo
echo "written: $OUT/effect.svg $OUT/effect.md $OUT/results.json $OUT/console.log"
