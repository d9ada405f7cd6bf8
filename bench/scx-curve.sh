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
# Each boot is bounded by BENCH_CURVE_TIMEOUT (default 600 s); the window
# per scheduler is BENCH_SCX_SECONDS (default 3).  TCG runs every vCPU on
# the host's cores: at 16 vCPUs on 2 cores a boot takes a few minutes.
# SCX_PEERS=/none measures ours alone (at 16 vCPUs on 2 host cores, 6.12's
# scx_simple starved the RCU kthread and never finished its window).
# Every VM's console is kept in build/scx-curve/smp-N.log, the plot of ours
# / scx_simple against N in build/scx-curve/curve.svg (BENCH_CURVE_SVG);
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

for n in "${SIZES[@]}"; do
	[ "${BENCH_CURVE_REPORT:-0}" = 1 ] && break
	echo "== scx callbacks at $n vCPUs =="
	start=$SECONDS
	tests/vm/run-in-vm.sh --smp "$n" ${ICOUNT:+--icount "$ICOUNT"} --timeout "${BENCH_CURVE_TIMEOUT:-600}" -- \
		env BENCH_SECTIONS=5 BENCH_SCX_JSON=1 ${SCX_PEERS:+SCX_PEERS="$SCX_PEERS"} \
		BENCH_SCX_SECONDS="${BENCH_SCX_SECONDS:-3}" bench/run.sh \
		>"$LOGS/smp-$n.log" 2>&1 || echo "  (the VM at $n vCPUs failed: $LOGS/smp-$n.log)"
	tr -d '\r' <"$LOGS/smp-$n.log" | sed -n '/^== 5\./,/^stopping /{/^== 5\./d;/^scx-json /d;p}'
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

# the plot: ours / scx_simple per callback against the vCPU count
import os
svg = os.environ.get("BENCH_CURVE_SVG") or f"{logs}/curve.svg"
pts = {cb: [(n, ns[("vcpufreq", cb, n)] / ns[("scx_simple", cb, n)]) for n in sizes
            if ns.get(("vcpufreq", cb, n)) and ns.get(("scx_simple", cb, n))]
       for cb in cbs if cb != "dispatch"}
top = max([2.5] + [v for p in pts.values() for _, v in p])
W, H, L, B, T, R = 560, 320, 50, 40, 20, 130
xs = lambda n: L + (W - L - R) * (sizes.index(n) / max(1, len(sizes) - 1))
ys = lambda v: H - B - (H - B - T) * v / top
colors = {"select_cpu": "#1f77b4", "enqueue": "#ff7f0e", "running": "#2ca02c", "stopping": "#d62728"}
o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
     f'<rect width="{W}" height="{H}" fill="white"/>',
     f'<text x="{L}" y="13">vcpufreq / scx_simple, ns per call at the same vCPU count (QEMU -icount)</text>',
     f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
     f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>',
     f'<line x1="{L}" y1="{ys(2):.1f}" x2="{W - R}" y2="{ys(2):.1f}" stroke="gray" stroke-dasharray="4 3"/>',
     f'<text x="{W - R + 4}" y="{ys(2) + 4:.1f}" fill="gray">goal: 2x</text>']
for n in sizes:
    o.append(f'<text x="{xs(n):.1f}" y="{H - B + 15}" text-anchor="middle">{n} vCPUs</text>')
step = 5 if top > 12 else 1
for v in range(0, int(top) + 1, step):
    o.append(f'<text x="{L - 6}" y="{ys(v) + 4:.1f}" text-anchor="end">{v}x</text>')
for i, (cb, p) in enumerate(pts.items()):
    if not p:
        continue
    c = colors.get(cb, "black")
    o.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' %
             (c, " ".join(f"{xs(n):.1f},{ys(v):.1f}" for n, v in p)))
    o.extend(f'<circle cx="{xs(n):.1f}" cy="{ys(v):.1f}" r="3" fill="{c}"/>' for n, v in p)
    o.append(f'<text x="{W - R + 4}" y="{T + 30 + 16 * i}" fill="{c}">{cb}</text>')
o.append("</svg>")
with open(svg, "w") as f:
    f.write("\n".join(o) + "\n")
print(f"plot: {svg}")
PY
