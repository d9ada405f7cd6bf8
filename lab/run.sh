#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# lab/run.sh: the effect lab (sudo make effect).  Does guest-driven
# vcpufreq make VM work faster and cheaper than the host's own schedutil?
#
# Boots the test kernel under QEMU (TCG, -smp 6) as an emulated Google
# Tensor host (lab/host: A55, A76 and X1 clusters, two CPUs each; DVFS
# whose frequency sets speed; idle states; EAS; Android's CPU energy
# terms) and runs lab/lab-vm.sh there: the seed's workloads (fio shapes,
# bursty inference, a PCMark-like mix, a game loop) as host-native threads
# (the yardstick) and as a VM (build/lab-guest) under every configuration
# -- host schedutil without hints (unpinned, pinned per cluster), crosvm
# as it is and as it would act on a >= 6.8 host, each vcpufreq backend
# unpinned and pinned, boost-everything, the governors' two ends, and the
# baseline again (A/A) -- interleaved, in a new random order each round.
# Before it, lab/fidelity.sh checks the VM model's guest kernel against a
# real one (the arm64 6.12 guest under the patched QEMU, the same
# workloads as its threads) on this host.
# Prints the table (VM / native, ratios against the pooled baseline, gap
# closed, 95 % bootstrap intervals) and writes build/lab/: console.log,
# results.json, effect.md, one SVG plot per workload (effect-*.svg),
# fidelity.json (the model against the real guest).
#
#   lab/run.sh [--rounds N] [--seconds S] [--rows LIST]
#              [--workloads LIST] [--fidelity all|ends|none] [--seed N]
#              [--split tune|report] [--guest-check SECONDS|none]
# Defaults: 3 rounds of 3 s runs, every row and workload, the ends of each
# cluster's OPP range checked, 8 s per workload in the real guest and in
# the model (about 70 minutes on 2 idle host cores).
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
rounds=3 secs=3 nrows=20 nwork=13 guest_check=8 workloads=''
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--guest-check) guest_check=${2:?}; shift 2; continue ;;
	--rounds) rounds=$2 ;; --seconds) secs=$2 ;;
	--rows) nrows=$(tr , ' ' <<<"$2" | wc -w) ;;
	--workloads) nwork=$(tr , ' ' <<<"$2" | wc -w) workloads=$2 ;;
	esac
	args+=("$1")
	shift
done
case "$guest_check" in
none) ;;
*[!0-9]*|'') echo "Error: --guest-check takes seconds per workload or none, not '$guest_check'" >&2; exit 1 ;;
esac
timeout=$(( rounds * nrows * (nwork * (secs * 2 + 8) + 20) + 900 ))

lab/build-module.sh
mkdir -p "$OUT"
rm -f "$OUT/fidelity.json"
if [ "$guest_check" != none ]; then
	echo "  LAB      the guest model against a real guest (lab/fidelity.sh, ${guest_check} s per workload)"
	lab/fidelity.sh --seconds "$guest_check" ${workloads:+--workloads "$workloads"} --out "$OUT" |
		grep -v '^LAB-GUEST-FIDELITY ' ||
		echo "warning: lab/fidelity.sh failed; the report has no real-guest fidelity" >&2
fi
echo "  LAB      booting the emulated host (QEMU TCG, -smp 6; budget ${timeout} s)"
set +e
# -cpu Skylake-Client: constant_tsc, so schedutil can fast-switch; --favour:
# the vCPUs get most of the host cores (see tests/vm/effect-lab.sh)
tests/vm/run-in-vm.sh --smp 6 --cpu Skylake-Client --favour --timeout "$timeout" -- \
	lab/lab-vm.sh ${args[@]+"${args[@]}"} 2>&1 | tee "$OUT/console.log" | grep --line-buffered -E '^lab: |^Error'
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || echo "warning: the lab VM exited with status $rc (console: $OUT/console.log)" >&2
echo
python3 lab/report.py "$OUT/console.log" --svg "$OUT/effect-%s.svg" \
	--markdown "$OUT/effect.md" --plot-link "effect-%s.svg" --json "$OUT/results.json" \
	--guest-fidelity "$OUT/fidelity.json"
echo
echo "written: $OUT/effect-*.svg $OUT/effect.md $OUT/results.json $OUT/console.log $OUT/fidelity.json"
