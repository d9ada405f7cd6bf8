#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""lab/report.py: the effect lab's table from the lines lab-vm.sh printed.

    report.py CONSOLE_OR_JSONL [--svg FILE] [--markdown FILE] [--json FILE]

Reads the LAB-HOST, LAB-FIDELITY and LAB-RESULT lines (any other line is
ignored), and prints: the emulated host, the fidelity of its speed per OPP,
and per workload one row per configuration with every figure as a ratio
against the baseline row of the same round (host schedutil, no hints,
vCPUs unpinned), median over the rounds and [min..max] spread.
"""
import argparse
import json
import statistics
import sys

ROW_ORDER = ["performance", "powersave", "baseline", "baseline-aa", "pinned",
             "crosvm", "observe", "scx", "uclamp", "cpufreq", "affinity", "boost"]
ROW_TITLE = {
    "performance": "performance governor",
    "powersave": "powersave governor",
    "baseline": "schedutil, no hints (baseline)",
    "baseline-aa": "baseline again (A/A)",
    "pinned": "no hints, pinned per cluster",
    "crosvm": "crosvm: uclamp_min, pinned",
    "observe": "vcpufreq observe (cost)",
    "scx": "vcpufreq scx",
    "uclamp": "vcpufreq uclamp",
    "cpufreq": "vcpufreq cpufreq floor",
    "affinity": "vcpufreq affinity",
    "boost": "boost everything (scx, 1024)",
}
BASELINE = "baseline"

# per workload: (field, column title, higher is better)
METRICS = {
    "io": [("ops_per_s", "IOPS", True)],
    "frame": [("lat_p50_us", "p50", False), ("lat_p99_us", "p99", False)],
    "mixed": [("lat_p99_us", "UI p99", False), ("bg_ops_per_s", "bg ops/s", True)],
}
# work done in a run, for perf per energy
WORK = {"io": "ops", "frame": "frames", "mixed": "frames"}


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


def work_done(r):
    key = WORK.get(r["workload"])
    if key and key in r:
        return r[key]
    if "ops_per_s" in r:
        return r["ops_per_s"] * r.get("seconds", 1)
    return None


def derived(r, host):
    """add energy per work, perf per energy and the big CPUs' share"""
    w = work_done(r)
    if w and r.get("energy_mah"):
        r["work_per_mah"] = w / r["energy_mah"]
    busy = r.get("cpu_busy_ms")
    if host and isinstance(busy, list) and sum(busy) > 0:
        big = [int(c) for c in host["big"].split(",")]
        r["big_share"] = sum(busy[c] for c in big if c < len(busy)) / sum(busy)
    return r


def ratios(results, workload, field):
    """row -> per-round ratio value(row, round) / value(baseline, round)"""
    base = {r["round"]: r.get(field) for r in results
            if r["workload"] == workload and r["row"] == BASELINE}
    out = {}
    for r in results:
        if r["workload"] != workload:
            continue
        b, v = base.get(r["round"]), r.get(field)
        if b and v is not None:
            out.setdefault(r["row"], []).append(v / b)
    return out


def fmt_ratio(vals):
    if not vals:
        return "-"
    m = statistics.median(vals)
    if len(vals) == 1:
        return f"{m:.2f}"
    return f"{m:.2f} [{min(vals):.2f}..{max(vals):.2f}]"


def table(results, host):
    """list of (workload, header, rows) with formatted cells"""
    out = []
    for w in ("io", "frame", "mixed"):
        rs = [r for r in results if r["workload"] == w]
        if not rs:
            continue
        cols = [(f, t) for f, t, _ in METRICS[w]]
        cols += [("energy_mah", "energy"), ("work_per_mah", "perf/energy")]
        header = ["configuration"] + [t + " ×" for _, t in cols] + ["on big"]
        rat = {f: ratios(rs, w, f) for f, _ in cols}
        rows = []
        for row in [x for x in ROW_ORDER if any(r["row"] == x for r in rs)]:
            shares = [r["big_share"] for r in rs if r["row"] == row and "big_share" in r]
            cells = [ROW_TITLE.get(row, row)]
            cells += [fmt_ratio(rat[f].get(row, [])) for f, _ in cols]
            cells.append(f"{statistics.median(shares) * 100:.0f}%" if shares else "-")
            rows.append((row, cells))
        out.append((w, header, rows))
    return out


def render_text(tables, host, fidelity, nrounds):
    lines = []
    if host:
        lines.append(f"emulated host: {host['cpus']} CPUs, little {host['little']} "
                     f"(capacity 499), big {host['big']} (1024), speed at big fmax "
                     f"{host['speed_pct']}% of a vCPU, EAS {host['eas']}")
    if fidelity:
        devs = [f["achieved"] / f["expected"] - 1 for f in fidelity if f["expected"]]
        lines.append(f"fidelity: achieved/emulated speed over {len(fidelity)} OPPs: "
                     f"median {statistics.median(devs) * 100:+.1f}%, "
                     f"worst {max(devs, key=abs) * 100:+.1f}%")
    lines.append(f"ratios vs '{ROW_TITLE[BASELINE]}' of the same round, median "
                 f"[min..max] over {nrounds} rounds; latency and energy: lower is better")
    for w, header, rows in tables:
        widths = [max(len(header[i]), *(len(c[i]) for _, c in rows))
                  for i in range(len(header))]
        lines.append("")
        lines.append(f"== {w} ==")
        lines.append("  ".join(h.ljust(widths[i]) for i, h in enumerate(header)))
        for _, cells in rows:
            lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(cells)))
    return "\n".join(lines)


def render_markdown(tables):
    md = []
    for w, header, rows in tables:
        md.append(f"**{w}**\n")
        md.append("| " + " | ".join(header) + " |")
        md.append("|" + "---|" * len(header))
        for _, cells in rows:
            md.append("| " + " | ".join(cells) + " |")
        md.append("")
    return "\n".join(md)


def render_svg(results):
    """one panel per headline figure: bars of the median ratio per row"""
    panels = [("io", "ops_per_s", "I/O: IOPS ×", True),
              ("frame", "lat_p99_us", "frame: p99 latency ×", False),
              ("mixed", "lat_p99_us", "mixed: UI p99 ×", False),
              ("io", "work_per_mah", "I/O: ops per mAh ×", True)]
    rows = [r for r in ROW_ORDER if any(x["row"] == r for x in results)]
    pw, rh, left, top = 230, 18, 190, 40
    width, height = left + pw * len(panels) + 20, top + rh * len(rows) + 40
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
         f'font-family="sans-serif" font-size="11">',
         f'<rect width="{width}" height="{height}" fill="white"/>']
    for i, row in enumerate(rows):
        y = top + i * rh + rh * 0.7
        s.append(f'<text x="{left - 6}" y="{y:.0f}" text-anchor="end">{ROW_TITLE.get(row, row)}</text>')
    for p, (w, field, title, higher) in enumerate(panels):
        x0 = left + p * pw
        rat = ratios([r for r in results if r["workload"] == w], w, field)
        meds = {r: statistics.median(v) for r, v in rat.items() if v}
        hi = max([2.0] + list(meds.values()))
        scale = (pw - 40) / hi
        s.append(f'<text x="{x0 + 10}" y="{top - 18}" font-weight="bold">{title}</text>')
        s.append(f'<text x="{x0 + 10}" y="{top - 6}" fill="#555">'
                 f'{"higher" if higher else "lower"} is better</text>')
        one = x0 + 10 + scale
        for i, row in enumerate(rows):
            if row not in meds:
                continue
            v = meds[row]
            good = (v >= 1) == higher
            color = "#999" if row.startswith("baseline") else ("#2a7" if good else "#c54")
            y = top + i * rh + 3
            s.append(f'<rect x="{x0 + 10}" y="{y}" width="{v * scale:.1f}" height="{rh - 6}" fill="{color}"/>')
            s.append(f'<text x="{x0 + 14 + v * scale:.1f}" y="{y + rh - 8}">{v:.2f}</text>')
        s.append(f'<line x1="{one:.1f}" y1="{top}" x2="{one:.1f}" y2="{top + rh * len(rows)}" '
                 f'stroke="black" stroke-dasharray="3,2"/>')
    s.append(f'<text x="10" y="{height - 12}" fill="#555">vcpufreq-bpf effect lab: median ratio '
             f'vs the baseline of the same round (dashed line: 1.0)</text>')
    s.append("</svg>")
    return "\n".join(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("--svg")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    a = ap.parse_args()
    host, fidelity, results = parse(a.input)
    if not results:
        print(f"Error: no LAB-RESULT lines in {a.input}; see the VM's console output there",
              file=sys.stderr)
        return 1
    results = [derived(r, host) for r in results]
    nrounds = len({r["round"] for r in results})
    tables = table(results, host)
    print(render_text(tables, host, fidelity, nrounds))
    if fidelity:
        print("\nfidelity per OPP (speed relative to big at fmax):")
        print("  cpu      kHz  emulated  achieved  achieved/emulated")
        for f in fidelity:
            print(f"  {f['cpu']:>3} {f['khz']:>8}  {f['expected']:8.3f}  {f['achieved']:8.3f}"
                  f"  {f['achieved'] / f['expected']:8.2f}")
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(render_markdown(tables))
    if a.svg:
        with open(a.svg, "w") as f:
            f.write(render_svg(results))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"host": host, "fidelity": fidelity, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
