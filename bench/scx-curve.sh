#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# bench/scx-curve.sh [N...]: the sched_ext callbacks against the CPU count
# (run by `sudo make vm-bench VM_BENCH_SMP="4 8 16"`).  Boots the test VM
# once per vCPU count N (default 4 8 16) and runs section 5 of bench/run.sh
# there: ours and the kernel's scx_simple and scx_central, each on the same
# load (2 threads per CPU waking every ms).  Prints, per callback, the ns
# per call of each scheduler at each N, and ours' ratio largest-N vs
# smallest-N (the goal: flat within 10%, O(1) in the CPU count); then the
# same as multiples of an empty tp_btf program timed in the same window,
# then ours as a multiple of scx_simple's at the same N.
#
# The VMs run under QEMU's -icount (BENCH_ICOUNT, default 0: one guest
# instruction per guest ns; BENCH_ICOUNT= runs them multi-threaded): all
# vCPUs take turns on one host thread and the guest's clock counts the
# instructions they execute, so the figures do not depend on what else the
# host runs.  A callback's ns are its own instructions plus those of any
# other vCPU that ran while it was switched out (an IPI it sends, a timer
# it programs, the end of a turn), which grows with N for every scheduler:
# the ratio to scx_simple at the same N is the figure to compare between
# sizes.
#
# Instructions (BENCH_INSN=1, the default when build/insncount.so is
# built): each VM also runs under bench/insncount.c, a TCG plugin that
# counts the guest instructions executed inside each BPF program's JITed
# image and in the kernel functions it calls, per scheduler's window
# (build/scx-curve/insn-N.txt); bench/insn-report.py prints instructions
# per call of every callback of the three schedulers and of our tracking
# hooks, which neither the host's load nor the other vCPUs change.
#
# Each boot is bounded by BENCH_CURVE_TIMEOUT (default 600 s); the window
# per scheduler is BENCH_SCX_SECONDS (default 3).  TCG runs every vCPU on
# the host's cores: at 16 vCPUs on 2 cores a boot takes a few minutes.
# SCX_PEERS=/none measures ours alone (at 16 vCPUs on 2 host cores, 6.12's
# scx_simple starved the RCU kthread and never finished its window).
# Every VM's console is kept in build/scx-curve/smp-N.log, the plot of ours
# / scx_simple in instructions per call against N in
# build/scx-curve/curve.svg (BENCH_CURVE_SVG);
# BENCH_CURVE_REPORT=1 prints the tables from those logs without a VM.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-}" in -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;; esac
cd "$ROOT"
SIZES=("${@:-4 8 16}")
ICOUNT=${BENCH_ICOUNT-0}
read -r -a SIZES <<<"${SIZES[*]}"
LOGS=$ROOT/build/scx-curve
mkdir -p "$LOGS"
PLUGIN_SO=$ROOT/build/insncount.so
INSN=${BENCH_INSN-$([ -r "$PLUGIN_SO" ] && echo 1)}

for n in "${SIZES[@]}"; do
	[ "${BENCH_CURVE_REPORT:-0}" = 1 ] && break
	echo "== scx callbacks at $n vCPUs =="
	start=$SECONDS
	plugin=()
	if [ "$INSN" = 1 ]; then
		rm -f "$LOGS/insn-$n.txt"
		plugin=(--plugin "file=$PLUGIN_SO,out=$LOGS/insn-$n.txt")
	fi
	tests/vm/run-in-vm.sh --smp "$n" ${ICOUNT:+--icount "$ICOUNT"} --timeout "${BENCH_CURVE_TIMEOUT:-600}" \
		"${plugin[@]}" -- \
		env BENCH_SECTIONS=5 BENCH_SCX_JSON=1 BENCH_INSN="${INSN:-0}" ${SCX_PEERS:+SCX_PEERS="$SCX_PEERS"} \
		BENCH_SCX_SECONDS="${BENCH_SCX_SECONDS:-3}" bench/run.sh \
		>"$LOGS/smp-$n.log" 2>&1 || echo "  (the VM at $n vCPUs failed: $LOGS/smp-$n.log)"
	tr -d '\r' <"$LOGS/smp-$n.log" | sed -n '/^== 5\./,/^stopping /{/^== 5\./d;/^scx-json /d;/^insn-/d;p}'
	echo "  ($((SECONDS - start)) s)"
done

python3 - "$LOGS" "${SIZES[@]}" <<'PY'
import json, sys
logs, sizes = sys.argv[1], [int(n) for n in sys.argv[2:]]
ns, xe = {}, {}	# (sched, callback, n) -> ns per call, x the empty program
for n in sizes:
    for line in open(f"{logs}/smp-{n}.log", errors="replace"):
        line = line.strip("\r\n")
        if line.startswith("scx-json "):
            r = json.loads(line[len("scx-json "):])
            if r["ns"]:
                ns[(r["sched"], r["callback"], n)] = r["ns"]
                xe[(r["sched"], r["callback"], n)] = r["x_empty"]
scheds = ["vcpufreq", "scx_simple", "scx_central"]
cbs = ["select_cpu", "enqueue", "dispatch", "running", "stopping"]
lo, hi = min(sizes), max(sizes)

def table(title, fig, fmt):
    print()
    print(f"{title} by vCPU count (-: not measured); last column: vcpufreq at {hi} / at {lo} vCPUs")
    print(f"{'callback':<11} {'scheduler':<12}" + "".join(f"{str(n) + ' vCPUs':>11}" for n in sizes) + f"{'ratio':>8}")
    for cb in cbs:
        for s in scheds:
            row = [fig.get((s, cb, n)) for n in sizes]
            line = f"{cb:<11} {s:<12}" + "".join(format(v, fmt).rjust(11) if v else f"{'-':>11}" for v in row)
            a, b = fig.get((s, cb, lo)), fig.get((s, cb, hi))
            if s == "vcpufreq" and a and b:
                line += f"{b / a:>8.2f}"
            print(line)

table("ns per call", ns, ".0f")
table("x an empty tp_btf program in the same window", xe, ".1f")

print()
print(f"vcpufreq / scx_simple, ns at the same vCPU count; last column: at {hi} / at {lo}")
print(f"{'callback':<11}" + "".join(f"{str(n) + ' vCPUs':>11}" for n in sizes) + f"{'ratio':>8}")
for cb in cbs:
    r = {n: ns[("vcpufreq", cb, n)] / ns[("scx_simple", cb, n)]
         for n in sizes if ns.get(("vcpufreq", cb, n)) and ns.get(("scx_simple", cb, n))}
    line = f"{cb:<11}" + "".join(f"{r[n]:>11.2f}" if n in r else f"{'-':>11}" for n in sizes)
    if lo in r and hi in r:
        line += f"{r[hi] / r[lo]:>8.2f}"
    print(line)
PY

# instructions per call, and the plot of ours / scx_simple in instructions
if [ "${INSN:-0}" = 1 ]; then
	BENCH_CURVE_SVG=${BENCH_CURVE_SVG:-$LOGS/curve.svg} \
		python3 bench/insn-report.py "$LOGS" "$ROOT/build/vm/obj/vmlinux" "${SIZES[@]}"
fi
