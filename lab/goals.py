#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""lab/goals.py: the policy's goals, met or not, per workload, from one lab run.

    lab/goals.py [--markdown] [--boot N] [CONSOLE_LOG]   (default build/lab/console.log)

Reads the LAB-RESULT lines of a run (lab/run.sh) and judges, with the 95 %
bootstrap interval of each figure (lab/report.py's), against native and the
peers measured in the same run:

  scx      performance closes >= 80 % of the gap between the VM baseline and
           native (where native is ahead beyond its interval; where it is
           not, "no gap": at least native's performance), at <= 1.1x
           native's energy per unit of work; on I/O, less energy per unit
           of work than boost-everything
  bursts   (infer-*) latency >= 30 % below the VM baseline (perf >= 1/0.7 of
           it) and within 10 % of native (perf >= 0.9 of it)
  uclamp   performance per energy above crosvm's (both of crosvm's rows), and
           at least crosvm's performance

A goal is "met" when its point estimate meets it, and said "(in the noise)"
when the interval still holds the other side.  Rows missing from the run
are left out.
"""
import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

CROSVM = ("crosvm", "crosvm68")
IO = ("seq-", "rand-")


def iv(fn, lists, rng, n):
    return report.interval(fn, lists, rng, n)


def judge(point_ok, lo_ok, hi_ok):
    """met / not met, and whether the interval says the same on both ends"""
    word = "met" if point_ok else "not met"
    if lo_ok is None or lo_ok == hi_ok:
        return word
    return word + " (in the noise)"


def show(v, pct=False):
    if v is None:
        return "-"
    p, lo, hi = v
    if pct:
        s = f"{p * 100:+.0f}%"
        return s if lo is None else f"{s} [{lo * 100:+.0f},{hi * 100:+.0f}]"
    return f"{p:.2f}" if lo is None else f"{p:.2f} [{lo:.2f},{hi:.2f}]"


def goal(v, test):
    """(text, met) of interval v against test(x) -> bool"""
    if v is None:
        return "-", None
    p, lo, hi = v
    ok = test(p)
    both = None if lo is None else (test(lo), test(hi))
    return f"{show(v)}: {judge(ok, *(both or (None, None)))}", ok


def main():
    ap = argparse.ArgumentParser(description="issue 21's goals from a lab run")
    ap.add_argument("log", nargs="?", default="build/lab/console.log")
    ap.add_argument("--boot", type=int, default=2000, help="bootstrap resamples")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    try:
        _, _, results = report.parse(args.log)
    except OSError as e:
        sys.exit(f"Error: cannot read {args.log}: {e.strerror}; run 'sudo make effect' first")
    data = report.samples(results)
    rng = random.Random(args.seed)
    n = args.boot
    gap = report.gap
    ratio = report.ratio

    def eff(p, e):	# performance per unit of energy, per unit of work
        return p / e if e else None

    def eff_ratio(p1, e1, p2, e2):
        a, b = eff(p1, e1), eff(p2, e2)
        return a / b if a and b else None

    met = {"scx": [0, 0], "bursts": [0, 0], "uclamp": [0, 0]}
    print("| workload | scx: gap closed (>= 80 %; no gap: perf / native >= 1) | scx: energy / native (<= 1.1) |"
          " scx: energy / boost-all, I/O (< 1) | burst: perf / baseline (>= 1.43) |"
          " burst: perf / native (>= 0.9) | uclamp: perf per energy / crosvm, crosvm68 (> 1) |"
          " uclamp: perf / crosvm, crosvm68 (>= 1) |")
    print("|---|---|---|---|---|---|---|---|")
    for w in sorted(data):
        rows = data[w]
        base, nat, scx, uc = (rows.get(k) for k in ("baseline", "native", "scx", "uclamp"))
        boost = rows.get("boost")
        cells = []
        if scx and base and nat:
            nb = iv(ratio, [nat["perf"], base["perf"]], rng, n)
            if nb[1] is not None and nb[1] > 1:	# native is ahead: a gap
                g, ok1 = goal(iv(gap, [scx["perf"], base["perf"], nat["perf"]], rng, n),
                              lambda x: x >= 0.8)
            else:	# no gap (the VM is level or ahead): keep native's speed
                g, ok1 = goal(iv(ratio, [scx["perf"], nat["perf"]], rng, n),
                              lambda x: x >= 1)
                g = "no gap; perf / native " + g
            e, ok2 = goal(iv(ratio, [scx["epw"], nat["epw"]], rng, n), lambda x: x <= 1.1)
            cells += [g, e]
            met["scx"][0] += bool(ok1 and ok2)
            met["scx"][1] += 1
        else:
            cells += ["-", "-"]
        if scx and boost and w.startswith(IO):
            cells.append(goal(iv(ratio, [scx["epw"], boost["epw"]], rng, n),
                              lambda x: x < 1)[0])
        else:
            cells.append("-")
        if w.startswith("infer") and scx and base and nat:
            b, ok1 = goal(iv(ratio, [scx["perf"], base["perf"]], rng, n),
                          lambda x: x >= 1 / 0.7)
            t, ok2 = goal(iv(ratio, [scx["perf"], nat["perf"]], rng, n),
                          lambda x: x >= 0.9)
            cells += [b, t]
            met["bursts"][0] += bool(ok1 and ok2)
            met["bursts"][1] += 1
        else:
            cells += ["-", "-"]
        effs, perfs, all_ok = [], [], None
        for c in CROSVM:
            cv = rows.get(c)
            if not (uc and cv):
                continue
            t1, ok1 = goal(iv(eff_ratio, [uc["perf"], uc["epw"], cv["perf"], cv["epw"]],
                              rng, n), lambda x: x > 1)
            t2, ok2 = goal(iv(ratio, [uc["perf"], cv["perf"]], rng, n), lambda x: x >= 1)
            effs.append(t1)
            perfs.append(t2)
            all_ok = (all_ok is not False) and bool(ok1 and ok2)
        cells += ["; ".join(effs) or "-", "; ".join(perfs) or "-"]
        if all_ok is not None:
            met["uclamp"][0] += all_ok
            met["uclamp"][1] += 1
        print(f"| {w} | " + " | ".join(cells) + " |")
    print()
    for k, (m, t) in met.items():
        if t:
            print(f"{k}: every goal met on {m} of {t} workloads")


if __name__ == "__main__":
    main()
