#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""lab/report.py: the effect lab's table from the lines lab-vm.sh printed.

    report.py CONSOLE_OR_JSONL [--svg PATTERN] [--markdown FILE] [--json FILE]
              [--plot-link PATTERN] [--resamples N] [--seed N]
              [--guest-fidelity FIDELITY_JSON]

Reads the LAB-HOST, LAB-FIDELITY and LAB-RESULT lines (any other line is
ignored).  Per workload, per row, two figures from every run: perf (the
workload's headline, higher is better: IOPS, 1 / burst latency, FPS, the
PCMark-like score) and energy per unit of work (mAh by Android's CPU
estimate / ops, bursts, frames or units).  Printed per row:

  perf / native, energy / native   the row against the same work run as
                                   host threads (1.00 = native)
  perf / base, energy / base       against the pooled VM baseline (every
                                   baseline run of every round together)
  gap closed                       (row - baseline) / (native - baseline),
                                   for perf and for energy per work
                                   ("no gap" where native's interval
                                   against the baseline holds 1)

Each figure is the ratio of the means over the runs, with its 95 %
bootstrap interval (runs resampled with replacement within each row,
percentiles 2.5 and 97.5).  --svg PATTERN writes one performance-vs-energy
plot per workload (PATTERN with %s for the workload's name).
--guest-fidelity adds the guest model's fidelity against a real guest
kernel per workload (lab/fidelity.sh's fidelity.json).
"""
import argparse
import os
import json
import math
import random
import sys

ROW_ORDER = ["native", "baseline", "baseline-aa", "pinned", "crosvm", "crosvm68",
             "observe", "scx", "scx-pinned", "scx-perf", "uclamp", "uclamp-pinned",
             "uclamp-perf",
             "cpufreq", "cpufreq-pinned", "affinity", "boost",
             "performance", "powersave"]
ROW_TITLE = {
    "native": "host-native (the yardstick)",
    "baseline": "VM, schedutil, no hints (baseline)",
    "baseline-aa": "baseline again (A/A)",
    "pinned": "VM, no hints, pinned per cluster",
    "crosvm": "crosvm as it is (x0.8), pinned",
    "crosvm68": "crosvm as on a >=6.8 host (no x0.8), pinned",
    "observe": "vcpufreq observe (acts on nothing)",
    "scx": "vcpufreq scx",
    "scx-pinned": "vcpufreq scx, pinned",
    "scx-perf": "vcpufreq scx, --power performance",
    "uclamp": "vcpufreq uclamp",
    "uclamp-pinned": "vcpufreq uclamp, pinned",
    "uclamp-perf": "vcpufreq uclamp, --power performance",
    "cpufreq": "vcpufreq cpufreq floor",
    "cpufreq-pinned": "vcpufreq cpufreq floor, pinned",
    "affinity": "vcpufreq affinity",
    "boost": "boost everything (scx, 1024)",
    "performance": "performance governor (VM)",
    "powersave": "powersave governor (VM)",
}
BASELINE, NATIVE, AA = "baseline", "native", "baseline-aa"
PERF_TITLE = {"game": "FPS", "pcmark": "score"}
# rows drawn in the plots: the yardstick, the baselines, crosvm, ours
PLOT_ROWS = ["native", "baseline", "pinned", "crosvm", "crosvm68", "scx",
             "scx-pinned", "scx-perf", "uclamp", "uclamp-pinned", "uclamp-perf",
             "cpufreq", "affinity", "boost"]


def parse(path):
    host, fidelity, results = None, [], []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            for tag, sink in (("LAB-HOST ", None), ("LAB-FIDELITY ", fidelity),
                              ("LAB-RESULT ", results)):
                i = line.find(tag)
                if i < 0:
                    continue
                try:
                    obj = json.loads(line[i + len(tag):])
                except json.JSONDecodeError:
                    continue
                if sink is None:
                    host = obj
                else:
                    sink.append(obj)
    return host, fidelity, results


def perf_title(w):
    if w in PERF_TITLE:
        return PERF_TITLE[w]
    if w.startswith("infer"):
        return "1/latency"
    return "IOPS" if "-qd" in w or w == "io" else "frames/s"


def samples(results):
    """{workload: {row: {"perf": [...], "epw": [...]}}}"""
    out = {}
    for r in results:
        perf, work, e = r.get("perf"), r.get("work"), r.get("energy_mah")
        if perf is None or not work or not e:
            continue
        d = out.setdefault(r["workload"], {}).setdefault(r["row"], {"perf": [], "epw": []})
        d["perf"].append(perf)
        d["epw"].append(e / work)
    return out


def mean(xs):
    return sum(xs) / len(xs)


def resample(xs, rng):
    return [xs[rng.randrange(len(xs))] for _ in xs]


def interval(fn, lists, rng, n):
    """fn over the lists, and its 95 % bootstrap interval"""
    if any(not xs for xs in lists):
        return None
    point = fn(*[mean(xs) for xs in lists])
    if point is None:
        return None
    if any(len(xs) < 2 for xs in lists):
        return (point, None, None)	# one run: no interval
    vals = []
    for _ in range(n):
        v = fn(*[mean(resample(xs, rng)) for xs in lists])
        if v is not None:
            vals.append(v)
    if len(vals) < n // 2:
        return (point, None, None)
    vals.sort()
    return (point, vals[int(0.025 * (len(vals) - 1))], vals[int(0.975 * (len(vals) - 1))])


def ratio(a, b):
    return a / b if b else None


def gap(r, b, nat):
    return (r - b) / (nat - b) if nat != b else None


def figures(data, rng, n):
    """per workload, per row: the figures with intervals"""
    out = {}
    for w, rows in data.items():
        base, nat = rows.get(BASELINE), rows.get(NATIVE)
        out[w] = {}
        for row, d in rows.items():
            f = {"runs": len(d["perf"]),
                 "perf_mean": mean(d["perf"]), "epw_mean": mean(d["epw"])}
            for k in ("perf", "epw"):
                if nat:
                    f[k + "_vs_native"] = interval(ratio, [d[k], nat[k]], rng, n)
                if base:
                    f[k + "_vs_base"] = interval(ratio, [d[k], base[k]], rng, n)
                if base and nat and row not in (BASELINE, NATIVE):
                    f[k + "_gap"] = interval(gap, [d[k], base[k], nat[k]], rng, n)
                    # no gap to close: native's interval against the baseline holds 1
                    g = out[w].get(NATIVE, {}).get(k + "_vs_base") or \
                        interval(ratio, [nat[k], base[k]], rng, n)
                    if g and g[1] is not None and g[1] <= 1 <= g[2]:
                        f[k + "_gap"] = "no gap"
            out[w][row] = f
    return out


def fmt(iv, pct=False):
    if isinstance(iv, str):
        return iv
    if not iv:
        return "-"
    p, lo, hi = iv
    if pct:
        s = f"{p * 100:+.0f}%"
        return s + (f" [{lo * 100:+.0f},{hi * 100:+.0f}]" if lo is not None else "")
    return f"{p:.2f}" + (f" [{lo:.2f},{hi:.2f}]" if lo is not None else "")


COLS = [("perf/native", "perf_vs_native", False), ("energy/native", "epw_vs_native", False),
        ("perf/base", "perf_vs_base", False), ("energy/base", "epw_vs_base", False),
        ("gap closed: perf", "perf_gap", True), ("gap closed: energy", "epw_gap", True)]


def table_lines(w, rows, markdown):
    lines = []
    head = ["row", "runs", perf_title(w)] + [c[0] for c in COLS]
    if markdown:
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
    else:
        lines.append(f"{w}  (perf = {perf_title(w)}; energy = mAh per unit of work; "
                     "ratios of means, 95 % bootstrap intervals)")
    for row in ROW_ORDER:
        f = rows.get(row)
        if not f:
            continue
        cells = [ROW_TITLE.get(row, row), str(f["runs"]), f"{f['perf_mean']:.1f}"] + \
                [fmt(f.get(k), pct) for _, k, pct in COLS]
        if markdown:
            lines.append("| " + " | ".join(cells) + " |")
        else:
            lines.append(f"  {cells[0]:<44} {cells[1]:>4} {cells[2]:>9}  " +
                         "  ".join(f"{c:<20}" for c in cells[3:]))
    return lines


def aa_summary(figs):
    """the A/A row's widest interval, and what would reach +-5 %"""
    worst, runs = 0.0, None
    for w, rows in figs.items():
        f = rows.get(AA)
        if not f:
            continue
        runs = f["runs"]
        for k in ("perf_vs_base", "epw_vs_base"):
            iv = f.get(k)
            if iv and iv[1] is not None:
                worst = max(worst, (iv[2] - iv[1]) / 2)
    if runs is None:
        return None
    need = math.ceil(runs * (worst / 0.05) ** 2) if worst > 0.05 else runs
    return {"aa_halfwidth": worst, "aa_runs": runs, "runs_for_5pct": need}


def svg(w, rows, path):
    """performance (y) against energy per work (x), both / native"""
    pts = []
    for row in PLOT_ROWS:
        f = rows.get(row)
        if not f or not f.get("perf_vs_native") or not f.get("epw_vs_native"):
            continue
        pts.append((row, f["epw_vs_native"], f["perf_vs_native"]))
    if not pts:
        return False
    xs = [v for _, e, _ in pts for v in e if v is not None]
    ys = [v for _, _, p in pts for v in p if v is not None]
    x0, x1 = min(xs + [1.0]) * 0.9, max(xs + [1.0]) * 1.1
    y0, y1 = min(ys + [1.0]) * 0.9, max(ys + [1.0]) * 1.1
    W, H, L, B = 640, 420, 70, 50

    def X(v):
        return L + (v - x0) / (x1 - x0) * (W - L - 190)

    def Y(v):
        return H - B - (v - y0) / (y1 - y0) * (H - B - 30)
    colour = {"native": "#000", "baseline": "#888", "pinned": "#aaa", "crosvm": "#d62728",
              "crosvm68": "#ff7f0e", "boost": "#9467bd"}
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L}" y="18" font-size="13">{w}: performance vs energy, both / host-native (95 % intervals)</text>',
         f'<line x1="{L}" y1="{H - B}" x2="{W - 190}" y2="{H - B}" stroke="black"/>',
         f'<line x1="{L}" y1="{H - B}" x2="{L}" y2="30" stroke="black"/>',
         f'<text x="{(L + W - 190) / 2}" y="{H - 12}" text-anchor="middle">energy per unit of work / native (lower is better)</text>',
         f'<text x="16" y="{(H - B) / 2}" transform="rotate(-90 16 {(H - B) / 2})" text-anchor="middle">{perf_title(w)} / native (higher is better)</text>']
    for i in range(6):
        xv = x0 + (x1 - x0) * i / 5
        yv = y0 + (y1 - y0) * i / 5
        o.append(f'<text x="{X(xv):.0f}" y="{H - B + 15}" text-anchor="middle">{xv:.2f}</text>')
        o.append(f'<text x="{L - 6}" y="{Y(yv) + 4:.0f}" text-anchor="end">{yv:.2f}</text>')
    o.append(f'<line x1="{X(1):.1f}" y1="30" x2="{X(1):.1f}" y2="{H - B}" stroke="#ddd"/>')
    o.append(f'<line x1="{L}" y1="{Y(1):.1f}" x2="{W - 190}" y2="{Y(1):.1f}" stroke="#ddd"/>')
    for i, (row, e, p) in enumerate(pts):
        c = colour.get(row, "#1f77b4" if "pinned" not in row else "#2ca02c")
        if e[1] is not None:
            o.append(f'<line x1="{X(e[1]):.1f}" y1="{Y(p[0]):.1f}" x2="{X(e[2]):.1f}" y2="{Y(p[0]):.1f}" stroke="{c}"/>')
        if p[1] is not None:
            o.append(f'<line x1="{X(e[0]):.1f}" y1="{Y(p[1]):.1f}" x2="{X(e[0]):.1f}" y2="{Y(p[2]):.1f}" stroke="{c}"/>')
        o.append(f'<circle cx="{X(e[0]):.1f}" cy="{Y(p[0]):.1f}" r="4" fill="{c}"/>')
        o.append(f'<text x="{X(e[0]) + 6:.1f}" y="{Y(p[0]) - 5:.1f}" fill="{c}">{i + 1}</text>')
        o.append(f'<text x="{W - 180}" y="{40 + 15 * i}" fill="{c}">{i + 1} {ROW_TITLE.get(row, row)[:30]}</text>')
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input")
    ap.add_argument("--svg", help="plot per workload: a path with %%s for its name")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    ap.add_argument("--plot-link", help="markdown: link each table's plot (a path with %%s)")
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1, help="the bootstrap's seed")
    ap.add_argument("--guest-fidelity", help="lab/fidelity.sh's fidelity.json: the model against a real guest")
    a = ap.parse_args()
    try:
        host, fidelity, results = parse(a.input)
    except OSError as e:
        sys.exit(f"Error: cannot read {a.input}: {e.strerror}; give the console log of lab/run.sh")
    if not results:
        sys.exit(f"Error: no LAB-RESULT lines in {a.input}; did the lab VM run (see its console)?")
    rng = random.Random(a.seed)
    data = samples(results)
    figs = figures(data, rng, a.resamples)
    aa = aa_summary(figs)
    out, md = [], []
    if host:
        out.append("emulated host: " + json.dumps(host))
    if fidelity:
        out.append("speed per OPP (achieved vs emulated, relative to the X1 at fmax):")
        for f in fidelity:
            out.append(f"  cpu{f['cpu']} {f['khz']:>8} kHz  {f['achieved']:.3f} vs {f['expected']:.3f}")
    for w in sorted(figs):
        out.append("")
        out += table_lines(w, figs[w], False)
        md += ["", f"**{w}** (perf = {perf_title(w)})", ""] + table_lines(w, figs[w], True)
        if a.plot_link and "%s" in a.plot_link:
            md += ["", f"![{w}: performance vs energy]({a.plot_link % w})"]
        if a.svg and "%s" in a.svg:
            svg(w, figs[w], a.svg % w)
    guest = None
    if a.guest_fidelity and os.path.exists(a.guest_fidelity):
        try:
            with open(a.guest_fidelity) as f:
                guest = json.load(f)
        except (OSError, ValueError) as e:
            out.append(f"warning: no guest model fidelity ({a.guest_fidelity}: {e})")
    if guest:
        from fidelity import markdown as fidelity_table
        title = ("the guest model against a real arm64 6.12 guest (lab/fidelity.sh), "
                 "requests in capacity units")
        out += ["", title, fidelity_table(guest["results"])]
        md += ["", f"**{title}**", "", fidelity_table(guest["results"])]
    if aa:
        line = (f"A/A: widest 95 % interval half-width {aa['aa_halfwidth'] * 100:.1f} % "
                f"with {aa['aa_runs']} runs per row; about {aa['runs_for_5pct']} would reach +-5 %")
        out += ["", line]
        md += ["", line]
    print("\n".join(out))
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write("\n".join(md).lstrip() + "\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"host": host, "fidelity": fidelity, "figures": figs, "aa": aa,
                       "guest_fidelity": guest, "runs": results}, f, indent=1)


if __name__ == "__main__":
    main()
