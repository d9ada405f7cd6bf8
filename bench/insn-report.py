#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""bench/insn-report.py LOGS VMLINUX N...: instructions per call of each
BPF program, from what bench/scx-curve.sh kept in LOGS for each vCPU count
N: the QEMU plugin's counts (insn-N.txt, bench/insncount.c) and the VM's
console (smp-N.log: "insn-phase P SCHED", one phase per scheduler's window,
and "insn-image P ID NAME FUNC ADDR LEN", the JITed functions of every
program loaded then).  VMLINUX's symbols name the kernel functions the
programs call (helpers, kfuncs and what those call).

A program's instructions are those executed inside its JITed functions
(its image, subprograms included) plus those of the kernel functions it
calls; per call is over the executions of its entry block.  The plot of
ours / scx_simple per callback goes to LOGS/insn-curve.svg (or
BENCH_CURVE_SVG)."""
import bisect
import os
import subprocess
import sys

CALLBACKS = ["select_cpu", "enqueue", "dispatch", "running", "stopping"]
SCHEDS = {"vcpufreq": "vf_", "scx_simple": "simple_", "scx_central": "central_"}
HOOKS = ["on_switch", "on_exit", "bench_switch", "bench_exit"]	# bench_*: empty programs


def kernel_symbols(vmlinux):
    out = subprocess.run(["nm", "-n", vmlinux], capture_output=True, text=True).stdout
    addrs, names = [], []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "tTwW":
            addrs.append(int(f[0], 16))
            names.append(f[2])
    return addrs, names


def symbol(syms, addr):
    i = bisect.bisect_right(syms[0], addr) - 1
    return syms[1][i] if i >= 0 else hex(addr)


def read_run(logs, n):
    phases, images = {}, {}
    for line in open(f"{logs}/smp-{n}.log", errors="replace"):
        f = line.strip("\r\n").split()
        if len(f) == 3 and f[0] == "insn-phase":
            phases[int(f[1])] = f[2]
        elif len(f) == 7 and f[0] == "insn-image":
            images.setdefault(int(f[1]), []).append(
                (int(f[5], 16), int(f[6]), int(f[2]), f[3], int(f[4])))
    tbs = []
    path = f"{logs}/insn-{n}.txt"
    if os.path.exists(path):
        for line in open(path):
            f = line.split()
            if len(f) == 7 and f[0] == "tb":
                tbs.append((int(f[1], 16), int(f[2]), int(f[3], 16), int(f[4]),
                            int(f[5]), int(f[6])))
    return phases, images, tbs


def per_program(phases, images, tbs, syms):
    """(sched, program name) -> counts, over the phase of that scheduler"""
    progs = {}
    spans = {p: sorted(v) for p, v in images.items()}
    for vaddr, insns, callee, phase, execs, callee_insns in tbs:
        if phase not in phases or phase not in spans:
            continue
        sp = spans[phase]
        i = bisect.bisect_right(sp, (vaddr, float("inf"))) - 1
        if i < 0 or not (sp[i][0] <= vaddr < sp[i][0] + sp[i][1]):
            continue	# a trampoline or another image: not a program's
        addr, _, pid, name, func = sp[i]
        r = progs.setdefault((phases[phase], name), {
            "id": pid, "entries": 0, "image": 0, "callee": 0, "callees": {}})
        if r["id"] != pid:
            continue	# two programs of one name: the first one's
        r["image"] += execs * insns
        r["callee"] += callee_insns
        if callee_insns:
            s = symbol(syms, callee)
            r["callees"][s] = r["callees"].get(s, 0) + callee_insns
        if func == 0 and vaddr == addr:
            r["entries"] += execs
    return progs


def find(progs, sched, full):
    # the kernel keeps 15 characters of a program's name
    for (s, name), r in progs.items():
        if s == sched and (name == full or (len(name) == 15 and full.startswith(name))):
            return r
    return None


def main():
    logs, vmlinux, sizes = sys.argv[1], sys.argv[2], [int(n) for n in sys.argv[3:]]
    syms = kernel_symbols(vmlinux)
    fig = {}	# (sched, program, n) -> (per call total, image, callee, entries, callees)
    for n in sizes:
        phases, images, tbs = read_run(logs, n)
        if not tbs:
            print(f"  (no instruction counts at {n} vCPUs: {logs}/insn-{n}.txt missing or empty)")
            continue
        progs = per_program(phases, images, tbs, syms)
        for sched, prefix in SCHEDS.items():
            names = [prefix + cb for cb in CALLBACKS]
            names += HOOKS if sched == "vcpufreq" else []
            for full in names:
                r = find(progs, sched, full)
                if r and r["entries"]:
                    e = r["entries"]
                    fig[(sched, full, n)] = ((r["image"] + r["callee"]) / e, r["image"] / e,
                                             r["callee"] / e, e, r["callees"])
    lo, hi = min(sizes), max(sizes)

    print()
    print("Guest instructions per call (its JITed image + the kernel functions it calls),")
    print("counted by bench/insncount.c over each scheduler's window; -: not called;")
    print(f"last column: at {hi} / at {lo} vCPUs (goal: within 10 %)")
    print(f"{'program':<20} {'scheduler':<12}" + "".join(f"{str(n) + ' vCPUs':>18}" for n in sizes) + f"{'ratio':>8}")
    rows = [(s, p + cb) for cb in CALLBACKS for s, p in SCHEDS.items()]
    rows += [("vcpufreq", h) for h in HOOKS]
    for s, full in rows:
        if not any((s, full, n) in fig for n in sizes):
            continue
        line = f"{full:<20} {s:<12}"
        for n in sizes:
            v = fig.get((s, full, n))
            line += f"{v[0]:>8.0f} ({v[1]:>4.0f}+{v[2]:<4.0f})" if v else f"{'-':>18}"
        a, b = fig.get((s, full, lo)), fig.get((s, full, hi))
        if a and b and lo != hi:
            line += f"{b[0] / a[0]:>8.2f}"
        print(line)
    print("(each cell: total (image + called kernel functions) per call)")

    print()
    print("vcpufreq / scx_simple, instructions per call at the same vCPU count (goal: <= 2)")
    print(f"{'callback':<11}" + "".join(f"{str(n) + ' vCPUs':>11}" for n in sizes))
    ratios = {}
    for cb in CALLBACKS:
        line = f"{cb:<11}"
        for n in sizes:
            a, b = fig.get(("vcpufreq", "vf_" + cb, n)), fig.get(("scx_simple", "simple_" + cb, n))
            if a and b:
                ratios[(cb, n)] = a[0] / b[0]
                line += f"{a[0] / b[0]:>11.2f}"
            else:
                line += f"{'-':>11}"
        print(line)

    print()
    print(f"what our callbacks and hooks call, at {hi} vCPUs: instructions per call by kernel function entered")
    for s, full in rows:
        v = fig.get((s, full, hi))
        if s != "vcpufreq" or not v or not v[4]:
            continue
        top = sorted(v[4].items(), key=lambda kv: -kv[1])[:6]
        print(f"  {full:<14} " + ", ".join(f"{k} {c / v[3]:.0f}" for k, c in top))

    svg = os.environ.get("BENCH_CURVE_SVG") or f"{logs}/insn-curve.svg"
    plot(svg, sizes, ratios)
    print(f"plot: {svg}")


def plot(svg, sizes, ratios):
    pts = {cb: [(n, ratios[(cb, n)]) for n in sizes if (cb, n) in ratios] for cb in CALLBACKS}
    top = max([2.5] + [v for p in pts.values() for _, v in p])
    W, H, L, B, T, R = 560, 320, 50, 40, 20, 130
    xs = lambda n: L + (W - L - R) * (sizes.index(n) / max(1, len(sizes) - 1))
    ys = lambda v: H - B - (H - B - T) * v / top
    colors = {"select_cpu": "#1f77b4", "enqueue": "#ff7f0e", "dispatch": "#9467bd",
              "running": "#2ca02c", "stopping": "#d62728"}
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L}" y="13">vcpufreq / scx_simple, guest instructions per call (QEMU plugin)</text>',
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
        c = colors[cb]
        o.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' %
                 (c, " ".join(f"{xs(n):.1f},{ys(v):.1f}" for n, v in p)))
        o.extend(f'<circle cx="{xs(n):.1f}" cy="{ys(v):.1f}" r="3" fill="{c}"/>' for n, v in p)
        o.append(f'<text x="{W - R + 4}" y="{T + 30 + 16 * i}" fill="{c}">{cb}</text>')
    o.append("</svg>")
    with open(svg, "w") as f:
        f.write("\n".join(o) + "\n")


if __name__ == "__main__":
    main()
