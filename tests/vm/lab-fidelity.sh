#!/usr/bin/env bash
# tests/vm/lab-fidelity.sh: the effect lab's real-guest comparison
# (lab/fidelity.sh, part of `make effect`) still runs, in short: one I/O
# workload for 3 s in the arm64 6.12 guest under the patched QEMU's device
# and in the guest model.  Asserted: the guest ran the workload as its
# own threads (lab-guest built without the VMM) and its device waits went
# through vcpufreq_labio, the device traced the guest's requests, the
# model's stream and the real one were both compared, and the figures are
# in range (an overlap in 0..1, positive means and rates).  Not asserted:
# how close the model is (that is the lab's figure, not a pass/fail).
# Loads BPF on this host: run alone (flock /tmp/vcpufreq-host.lock).
# Last line: "RESULT passed failed skipped".
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT" || exit 1
. "$HERE/report.sh"

OUT=$(mktemp -d /tmp/vcpufreq-lab-fidelity-test.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
log=$OUT/run.log
if ! lab/fidelity.sh --seconds 3 --workloads rand-read-qd1 --out "$OUT" >"$log" 2>&1; then
	bad "lab/fidelity.sh ran rand-read-qd1 in the real guest and in the model" "$(tail -n 25 "$log")"
	report; exit 1
fi
ok "lab/fidelity.sh ran rand-read-qd1 in the real arm64 guest and in the model"
r=$(jq -c '.results[0]' "$OUT/fidelity.json" 2>/dev/null)
if jq -e '.workload == "rand-read-qd1" and .real_perf > 0 and .model_perf > 0' <<<"$r" >/dev/null 2>&1; then
	ok "the guest's workload did I/O as its own threads: $(jq -r '"\(.real_perf) IOPS in the guest, \(.model_perf) in the model"' <<<"$r")"
else
	bad "the guest's workload did I/O as its own threads" "$r" "$(tail -n 15 "$log")"
fi
if jq -e '.real_rate >= 0 and .model_rate >= 0 and .real_mean > 0 and .model_mean > 0 and
	.overlap >= 0 and .overlap <= 1 and (.vcpus | length) == 2' <<<"$r" >/dev/null 2>&1; then
	ok "both request streams compared per vCPU: $(jq -r '"mean \(.real_mean | floor) vs \(.model_mean | floor), \(.real_rate | floor) vs \(.model_rate | floor) requests/s, overlap \(.overlap * 100 | floor) %"' <<<"$r")"
else
	bad "both request streams compared per vCPU (the device's trace and the model's --trace)" "$r"
fi
report
