#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# bench/run.sh: the vcpufreq-bpf benchmarks (run by `sudo make bench`).
#
#   1. sched_switch cost of on_switch vs an empty tp_btf/sched_switch
#      program (bpf_stats), for 0, 1, 64 and 4096 tracked threads.
#   2. request -> effect latency with the affinity backend on a host
#      described as big.LITTLE (CPU 0 capacity 512, CPU 1 capacity 1024),
#      against the cost of the request write alone.
#
# Every figure is a ratio against a baseline measured in the same run.
# Uses its own pin dir, state dir and cgroup, so it never touches a
# vcpufreq-bpf instance that is already loaded; unloads and removes them
# on exit, whatever happens.  Exit 0 when the benchmarks ran (a missed
# target is reported, not a failure).
#
# Environment: BENCH_COUNTS (default 0,1,64,4096), BENCH_WINDOW_MS (1000),
# BENCH_REPS (5), BENCH_REQUESTS (10000), BENCH_CPU (0; -1 = unpinned).
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${OUT:-build}
CLI=$OUT/vcpufreq-bpf
BENCH=$OUT/bench-sched
PIN=/sys/fs/bpf/vcpufreq-bench
export VCPUFREQ_STATE_DIR=/run/vcpufreq-bench
unset VCPUFREQ_TOPOLOGY

if [ "$(id -u)" -ne 0 ]; then
	echo "Error: the benchmarks load BPF programs; run 'sudo make bench'" >&2
	exit 1
fi
for f in "$CLI" "$BENCH"; do
	[ -x "$f" ] || { echo "Error: $f is missing; run 'make' first" >&2; exit 1; }
done

CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
if [ -z "$CG2" ]; then
	echo "Error: no cgroup v2 hierarchy is mounted" >&2
	exit 1
fi
CG=$CG2/vcpufreq-bench-$$
TMP=$(mktemp -d /tmp/vcpufreq-bench.XXXXXX)
TOPO=$TMP/big-little.topology

cli() { "$CLI" --pin-dir "$PIN" "$@"; }

# bench-sched runs in the background so that a signal reaches the trap at
# once (bash runs traps only between foreground commands)
BENCH_PID=
bench() {
	"$BENCH" --pin-dir "$PIN" --cgroup "$CG" "$@" &
	BENCH_PID=$!
	wait "$BENCH_PID"
	BENCH_PID=
}

unload_quiet() {
	if [ -e "$PIN/requests" ]; then
		cli unload >/dev/null || echo "warning: unload failed" >&2
	fi
}

cleanup() {
	local rc=$?
	set +e
	if [ -n "$BENCH_PID" ]; then
		kill -TERM "$BENCH_PID" 2>/dev/null
		wait "$BENCH_PID" 2>/dev/null
	fi
	unload_quiet
	if [ -d "$CG" ]; then
		# only our bench's children can be in it; they should be gone
		for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			rmdir "$CG" 2>/dev/null && break
			sleep 0.2
		done
		[ -d "$CG" ] && echo "warning: could not remove $CG" >&2
	fi
	rm -rf "$TMP" "$VCPUFREQ_STATE_DIR"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# a previous run that was killed hard may have left its pins behind
unload_quiet

cat >"$TOPO" <<'EOF'
# this 2-CPU host described as big.LITTLE for the affinity backend
cpu 0 capacity 512 cluster 0
cpu 1 capacity 1024 cluster 1
EOF
mkdir "$CG"

model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "vcpufreq-bpf benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "host: $(uname -r), $(nproc) CPUs${model:+ ($model)}," \
     "$(awk '/MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo)"
echo "pins: $PIN, cgroup: $CG"
read -r l1 l5 _ runq _ </proc/loadavg
echo "background: load average $l1 (1 min) $l5 (5 min), ${runq%/*} runnable," \
     "$(ps -e --no-headers | wc -l) processes"
echo

# --- 1: sched_switch cost -------------------------------------------------
echo "== 1. sched_switch cost (backend observe) =="
cli load --backend observe >/dev/null
cli enroll "$CG" >/dev/null
bench switch \
	--counts "${BENCH_COUNTS:-0,1,64,4096}" \
	--window-ms "${BENCH_WINDOW_MS:-1000}" --reps "${BENCH_REPS:-5}" \
	--cpu "${BENCH_CPU:-0}"
cli unload >/dev/null
echo

# --- 2: request -> effect latency -----------------------------------------
echo "== 2. request -> effect latency (backend affinity, --topology big.LITTLE) =="
cli --topology "$TOPO" load --backend affinity >/dev/null
cli enroll "$CG" >/dev/null
bench latency \
	--requests "${BENCH_REQUESTS:-10000}" --high 900:1 --low 100:0-1
cli unload >/dev/null
echo

# --- 3: what one request costs the VMM ------------------------------------
echo "== 3. request cost for the VMM (libvcpufreq fast path vs bpf() vs sched_setattr) =="
cli load --backend observe >/dev/null
"$OUT/bench-request" "$PIN"
cli unload >/dev/null
