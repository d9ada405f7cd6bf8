#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The guest model against a real guest kernel, per workload (lab/fidelity.sh).

Inputs: the runs (one JSON line per workload: the real guest's lab-guest
report with the host times its run started and ended, and the model's
report with its request stream), and the patched QEMU's trace of every
request the real guest wrote:
  TID@SEC.USEC:virtual_cpufreq_request vCPU V thread T guest perf G host perf H: RET
Both sides' requests are compared in capacity units (0..1024: the vCPU's
capacity x perf / its fmax, from the topology both saw; vCPU i on host
CPU i) over
the middle of each run (the first and last TRIM seconds dropped): the
time each vCPU's request in effect spent at each level, its time-weighted
mean, how often it changed, and the overlap of the two time-at-level
distributions (1 - total variation distance).
"""
import argparse
import json
import re
import sys

TRIM = 0.5          # s dropped at each end of a run
DETECT_LAG = 0.3    # s between the guest run's end and the host seeing it
LINE = re.compile(r'^\d+@(\d+\.\d+):virtual_cpufreq_request vCPU (\d+) thread \d+ '
                  r'guest perf (\d+) host perf (\d+): (-?\d+)')


def read_topology(path):
    """{cpu: (capacity, fmax kHz)} from a topology file (docs/usage.md)"""
    cpus = {}
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) >= 2 and w[0] == 'cpu':
                kv = dict(zip(w[2::2], w[3::2]))
                top = kv.get('freqs') or kv.get('freq', '0').split('-')[-1]
                cpus[int(w[1])] = (int(kv['capacity']), max(int(x) for x in top.split(',')))
    return cpus


def read_trace(path, topo):
    """per vCPU: [(host time s, capacity units)], in time order"""
    per = {}
    with open(path, errors='replace') as f:
        for line in f:
            m = LINE.match(line)
            if m:
                v = int(m.group(2))
                cap, fmax = topo[v]
                per.setdefault(v, []).append((float(m.group(1)), cap * int(m.group(3)) // fmax))
    for v in per.values():
        v.sort()
    return per


def time_at_levels(events, start, end):
    """{level: seconds} of the request in effect over [start, end], and the
    number of requests written inside it.  Before the first request the
    level is unknown: that time is left out."""
    at, level, n = {}, None, 0
    t = start
    for when, cap in events:
        if when <= start:
            level = cap
            continue
        if when >= end:
            break
        if level is not None:
            at[level] = at.get(level, 0.0) + when - t
        t, level = when, cap
        n += 1
    if level is not None:
        at[level] = at.get(level, 0.0) + end - t
    return at, n


def summary(per_vcpu, start, end):
    out = {}
    for v, events in sorted(per_vcpu.items()):
        at, n = time_at_levels(events, start, end)
        total = sum(at.values())
        out[v] = {
            'at': at, 'requests': n,
            'rate_per_s': n / (end - start),
            'mean': sum(k * s for k, s in at.items()) / total if total else None,
        }
    return out


def overlap(a, b):
    """1 - total variation distance of two {level: seconds}"""
    ta, tb = sum(a.values()), sum(b.values())
    if not ta or not tb:
        return None
    levels = set(a) | set(b)
    return 1 - 0.5 * sum(abs(a.get(k, 0) / ta - b.get(k, 0) / tb) for k in levels)


def ratio(x, y):
    return x / y if x is not None and y else None


def compare(run, trace):
    secs = run['seconds']
    r_end = run['t1'] - DETECT_LAG
    r_start = r_end - run['real']['seconds']
    real = summary({v: [e for e in ev if r_start - 60 <= e[0] <= r_end]
                    for v, ev in trace.items()}, r_start + TRIM, r_end - TRIM)
    model_ev = {}
    for t_ms, v, _perf, cap in run['model'].get('stream', []):
        model_ev.setdefault(v, []).append((t_ms / 1e3, cap))
    model = summary(model_ev, TRIM, run['model']['seconds'] - TRIM)
    vcpus = []
    for v in sorted(set(real) | set(model)):
        r, m = real.get(v), model.get(v)
        vcpus.append({
            'vcpu': v,
            'real_mean': r and r['mean'], 'model_mean': m and m['mean'],
            'real_rate': r and r['rate_per_s'], 'model_rate': m and m['rate_per_s'],
            'overlap': overlap(r['at'], m['at']) if r and m else None,
            'real_at': r and {str(k): round(s, 4) for k, s in sorted(r['at'].items())},
            'model_at': m and {str(k): round(s, 4) for k, s in sorted(m['at'].items())},
        })

    def mean_of(key):
        xs = [x[key] for x in vcpus if x[key] is not None]
        return sum(xs) / len(xs) if xs else None

    def total_of(key):
        xs = [x[key] for x in vcpus if x[key] is not None]
        return sum(xs) if xs else None
    out = {
        'workload': run['workload'], 'seconds': secs,
        'real_mean': mean_of('real_mean'), 'model_mean': mean_of('model_mean'),
        'real_rate': total_of('real_rate'), 'model_rate': total_of('model_rate'),
        'overlap': mean_of('overlap'),
        'real_perf': run['real'].get('perf'), 'model_perf': run['model'].get('perf'),
        'vcpus': vcpus,
    }
    out['mean_ratio'] = ratio(out['model_mean'], out['real_mean'])
    out['rate_ratio'] = ratio(out['model_rate'], out['real_rate'])
    out['perf_ratio'] = ratio(out['model_perf'], out['real_perf'])
    return out


def fmt(x, spec):
    return format(x, spec) if x is not None else 'n/a'


def markdown(results):
    rows = ['| workload | mean request real / model | ratio | requests/s real / model | ratio '
            '| overlap of time at each level | workload perf model ÷ real |',
            '|---|---|---|---|---|---|---|']
    for r in results:
        rows.append('| {} | {} / {} | {} | {} / {} | {} | {} | {} |'.format(
            r['workload'], fmt(r['real_mean'], '.0f'), fmt(r['model_mean'], '.0f'),
            fmt(r['mean_ratio'], '.2f'), fmt(r['real_rate'], '.1f'), fmt(r['model_rate'], '.1f'),
            fmt(r['rate_ratio'], '.2f'), fmt(r['overlap'], '.2f'), fmt(r['perf_ratio'], '.2f')))
    return '\n'.join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', required=True, help='one JSON line per workload (lab/fidelity.sh)')
    ap.add_argument('--trace', required=True, help="the patched QEMU's -D log")
    ap.add_argument('--topology', required=True, help='the host both sides saw (vCPU i on CPU i)')
    ap.add_argument('--json', help='write the results here')
    ap.add_argument('--markdown', help='write the table here')
    a = ap.parse_args()
    trace = read_trace(a.trace, read_topology(a.topology))
    results = []
    with open(a.runs) as f:
        for line in f:
            if line.strip():
                results.append(compare(json.loads(line), trace))
    for r in results:
        print('LAB-GUEST-FIDELITY ' + json.dumps(
            {k: v for k, v in r.items() if k != 'vcpus'}, separators=(',', ':')))
    print(markdown(results))
    with open(a.topology) as f:
        doc = {'topology': f.read(), 'results': results}
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(doc, f, indent=1)
    if a.markdown:
        with open(a.markdown, 'w') as f:
            f.write(markdown(results) + '\n')
    if not results:
        print('Error: no workload ran on both sides', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
