#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# bench/scx-curve.sh [N...]: the sched_ext callbacks against the CPU count
# (run by `sudo make vm-bench VM_BENCH_SMP="4 8 16"`).  Boots the test VM
# once per vCPU count N (default 4 8 16) and runs section 5 of bench/run.sh
# there: ours and the kernel's scx_simple and scx_central, each on the same
# load (2 threads per CPU waking every ms).  Prints, per callback, the ns
# per call of each scheduler at each N, and ours' ratio largest-N vs
# smallest-N (the goal: flat within 10%, O(1) in the CPU count).
#
# Each boot is bounded by BENCH_CURVE_TIMEOUT (default 600 s); the window
# per scheduler is BENCH_SCX_SECONDS (default 3).  TCG runs every vCPU on
# the host's cores: at 16 vCPUs on 2 cores a boot takes a few minutes.
# Every VM's console is kept in build/scx-curve/smp-N.log.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-}" in -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;; esac
cd "$ROOT"
SIZES=("${@:-4 8 16}")
read -r -a SIZES <<<"${SIZES[*]}"
LOGS=$ROOT/build/scx-curve
mkdir -p "$LOGS"

for n in "${SIZES[@]}"; do
	echo "== scx callbacks at $n vCPUs =="
	start=$SECONDS
	tests/vm/run-in-vm.sh --smp "$n" --timeout "${BENCH_CURVE_TIMEOUT:-600}" -- \
		env BENCH_SECTIONS=5 BENCH_SCX_JSON=1 \
		BENCH_SCX_SECONDS="${BENCH_SCX_SECONDS:-3}" bench/run.sh \
		>"$LOGS/smp-$n.log" 2>&1 || echo "  (the VM at $n vCPUs failed: $LOGS/smp-$n.log)"
	tr -d '\r' <"$LOGS/smp-$n.log" | sed -n '/^== 5\./,/^stopping /{/^== 5\./d;/^scx-json /d;p}'
	echo "  ($((SECONDS - start)) s)"
done

python3 - "$LOGS" "${SIZES[@]}" <<'PY'
import json, sys
logs, sizes = sys.argv[1], [int(n) for n in sys.argv[2:]]
ns = {}		# (sched, callback, n) -> ns per call
for n in sizes:
    for line in open(f"{logs}/smp-{n}.log", errors="replace"):
        line = line.strip("\r\n")
        if line.startswith("scx-json "):
            r = json.loads(line[len("scx-json "):])
            if r["ns"]:
                ns[(r["sched"], r["callback"], n)] = r["ns"]
scheds = ["vcpufreq", "scx_simple", "scx_central"]
cbs = ["select_cpu", "enqueue", "dispatch", "running", "stopping"]
lo, hi = min(sizes), max(sizes)
print()
print("ns per call by vCPU count (-: not measured); last column: vcpufreq at %d / at %d vCPUs" % (hi, lo))
head = f"{'callback':<11} {'scheduler':<12}" + "".join(f"{str(n) + ' vCPUs':>11}" for n in sizes)
print(head + f"{'ratio':>8}")
for cb in cbs:
    for s in scheds:
        row = [ns.get((s, cb, n)) for n in sizes]
        line = f"{cb:<11} {s:<12}" + "".join(f"{v:>11.0f}" if v else f"{'-':>11}" for v in row)
        a, b = ns.get((s, cb, lo)), ns.get((s, cb, hi))
        if s == "vcpufreq" and a and b:
            line += f"{b / a:>8.2f}"
        print(line)
PY
