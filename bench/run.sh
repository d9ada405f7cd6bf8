#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# bench/run.sh: the vcpufreq-bpf benchmarks (run by `sudo make bench`).
#
#   1. sched_switch cost of on_switch vs an empty tp_btf/sched_switch
#      program (bpf_stats), for 0, 1, 64, 4096 and 16384 tracked threads,
#      with churn: before each count 4096 more threads are tracked and
#      exit, so the threads ever tracked grow past 36,000.
#   2. request -> effect latency with the affinity backend on a host
#      described as big.LITTLE (CPU 0 capacity 512, CPU 1 capacity 1024),
#      through bpf(), libvcpufreq's fast path and the broker (an
#      unprivileged VMM), against the cost of a bare map write
#      (tests/live/request-storm, also the live suite's lost-request test).
#   3. what one request costs the VMM: libvcpufreq's fast path vs a bpf()
#      map update vs sched_setattr (uclamp_min where the kernel has it).
#   4. the tracking hooks (on_switch, on_exit; there is no on_wakeup) under a
#      fork-heavy load (a loop forking `sleep 0.001`), each against an
#      empty program on the same hook, bpf_stats.
#   5. kernels with sched_ext (make vm-bench): ns per call of the scx
#      scheduler's callbacks (bpf_stats) against an empty tp_btf program
#      on sched_switch running at the same time, and the same for the
#      kernel's own example schedulers scx_simple and scx_central on the
#      same load (bench/scx-peers.sh builds them).
#
# Every figure is a ratio against a baseline measured in the same run.
# Uses its own pin dir, state dir and cgroup, so it never touches a
# vcpufreq-bpf instance that is already loaded; unloads and removes them
# on exit, whatever happens.  Exit 0 when the benchmarks ran (a missed
# target is reported, not a failure).
#
# Environment: BENCH_COUNTS (default 0,1,64,4096,16384), BENCH_CHURN (4096;
# 0: none), BENCH_WINDOW_MS (1000),
# BENCH_REPS (5), BENCH_REQUESTS (10000; the broker gets a fifth),
# BENCH_CPU (0; -1 = unpinned),
# BENCH_SCX_SECONDS (5), BENCH_FORK_SECONDS (5), BENCH_SECTIONS ("1 2 3 4 5":
# which to run), SCX_PEERS
# (where scx_simple and scx_central are; default build/scx-peers/build/bin),
# BENCH_SCX_JSON (1: section 5 also prints each callback's figures as a
# line "scx-json {...}", which bench/scx-curve.sh reads off the VM console),
# BENCH_INSN (1: section 5 marks each scheduler's window as a phase for
# the instruction-counting QEMU plugin, bench/insncount.c, and prints its
# programs' JIT addresses; bench/scx-curve.sh sets it).
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${OUT:-build}
CLI=$OUT/vcpufreq-bpf
BENCH=$OUT/bench-sched
STORM=$OUT/tests/request-storm
BENCH_VMM_USER=${BENCH_VMM_USER:-vcpufreq-vmm}
PIN=/sys/fs/bpf/vcpufreq-bench
export VCPUFREQ_STATE_DIR=/run/vcpufreq-bench
unset VCPUFREQ_TOPOLOGY

if [ "$(id -u)" -ne 0 ]; then
	echo "Error: the benchmarks load BPF programs; run 'sudo make bench'" >&2
	exit 1
fi
for f in "$CLI" "$BENCH" "$STORM" ${BENCH_INSN:+"$OUT/bench-insn"}; do
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

section() { [[ " ${BENCH_SECTIONS:-1 2 3 4 5} " == *" $1 "* ]]; }

# --- 1: sched_switch cost -------------------------------------------------
if section 1; then
echo "== 1. sched_switch cost (backend observe) =="
cli load --backend observe >/dev/null
cli enroll "$CG" >/dev/null
bench switch \
	--counts "${BENCH_COUNTS:-0,1,64,4096,16384}" \
	--churn "${BENCH_CHURN:-4096}" \
	--window-ms "${BENCH_WINDOW_MS:-1000}" --reps "${BENCH_REPS:-5}" \
	--cpu "${BENCH_CPU:-0}"
cli unload >/dev/null
echo
fi

# --- 2: request -> effect latency -----------------------------------------
if section 2; then
echo "== 2. request -> effect latency (backend affinity, --topology big.LITTLE) =="
cli --topology "$TOPO" load --backend affinity >/dev/null
cli enroll "$CG" >/dev/null
id "$BENCH_VMM_USER" >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin "$BENCH_VMM_USER"
cli grant --user "$BENCH_VMM_USER" --cgroup "$CG" >/dev/null
n=${BENCH_REQUESTS:-10000}
echo "One thread in the enrolled cgroup, blocked, gets alternately perf 900 (fits"
echo "only CPU 1: affinity {1}) and perf 100 (affinity back to {0,1}), $n requests"
echo "after 200 warm-up ones (the broker: $((n / 5))); each timed from just before the"
echo "write until sched_getaffinity() of the thread shows the mask (busy-polled);"
echo "one that takes over 1 s is lost.  Fast path: the store into the slot, then"
echo "the thread is woken (a fast-path request is taken in when its vCPU runs)."
echo "Baseline: the same bpf_map_update_elem() into a private hash map, timed"
echo "right before each request; ratios are against its median."
echo
printf '  %-30s %6s %5s %9s %9s %9s %9s %8s\n' path n lost "write p50" "p50 ns" "p99 ns" "max ns" p99/base
p99_bpf=
for path in bpf fast broker; do
	args=(--path "$path" --effect affinity --high 900:1 --low 100:0-1 --threads 1
	      --requests "$n" --warmup 200 --pin-dir "$PIN" --cgroup "$CG" -j)
	case $path in
	broker) args+=(--user "$BENCH_VMM_USER" --requests $((n / 5))) ;;
	esac
	j=$("$STORM" "${args[@]}") || true
	[ -n "$j" ] || { echo "  $path: request-storm failed" >&2; continue; }
	read -r took lost w50 p50 p99 max base <<<"$(jq -r \
		'[.took_effect, .lost, .write_p50_ns, .p50_ns, .p99_ns, .max_ns, .baseline_p50_ns] | @tsv' <<<"$j")"
	case $path in
	bpf) label="bpf() map update" ;;
	fast) label="libvcpufreq fast path" ;;
	broker) label="broker (unprivileged VMM)" ;;
	esac
	printf '  %-30s %6s %5s %9s %9s %9s %9s %7.0fx\n' "$label" $((took + lost)) "$lost" \
		"$w50" "$p50" "$p99" "$max" "$(awk -v a="$p99" -v b="$base" 'BEGIN { print a / (b ? b : 1) }')"
	[ "$path" = bpf ] && p99_bpf=$(jq -r '"\(.p99_ns) \(.lost)"' <<<"$j")
done
read -r p99 lost <<<"${p99_bpf:-0 -1}"
awk -v p="$p99" -v l="$lost" 'BEGIN { printf "  target bpf() p99 < 1 ms, nothing lost: p99 %.3f ms, %d lost: %s\n",
	p / 1e6, l, (p < 1e6 && l == 0) ? "met" : "MISSED" }'
cli unload >/dev/null
echo
fi

# --- 3: what one request costs the VMM ------------------------------------
if section 3; then
echo "== 3. request cost for the VMM (libvcpufreq fast path vs bpf() vs sched_setattr) =="
cli load --backend observe >/dev/null
"$OUT/bench-request" "$PIN"
cli unload >/dev/null
echo
fi

# --- 4: the tracking hooks under a fork-heavy load ---------------------------
# cold, short-lived tasks, as on a busy host: none of them is tracked, so
# this is what vcpufreq costs every other thread
EMPTY=/sys/fs/bpf/vcpufreq-bench-empty
BPFTOOL=$OUT/bpftool/bpftool
# link_prog PATH: the id of the program a pinned link runs (bpftool 7.5
# prints it, then exits 255 on a pinned link)
link_prog() { { "$BPFTOOL" link show pinned "$1" -j 2>/dev/null || true; } | jq -r .prog_id; }
# every program's bpf_stats, read from CPU 0 only: 6.12's scx_central may
# dispatch a migration-disabled task (bpftool, inside bpf()) to another CPU
# and is then killed ("cannot move migration disabled"); a task allowed on
# one CPU is only ever sent there
snapshot_progs() { taskset -c 0 "$BPFTOOL" prog show -j; }
# stats_window CMD...: bpf_stats on while CMD runs (in this shell); every
# program's figures before and after in $TMP/before.json, $TMP/after.json
stats_window() {
	local old; old=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -qw kernel.bpf_stats_enabled=1
	snapshot_progs >"$TMP/before.json"
	"$@"
	snapshot_progs >"$TMP/after.json"
	sysctl -qw kernel.bpf_stats_enabled="$old"
}
# jq, with $a/$b the slurped before/after: per(SELECT) is the newest program
# SELECT picks (a peer's attempt that failed may linger, freed after a grace
# period), its calls (n) and ns per call (ns) over the window
JQ_PER='def per(f): (([$b[0][] | select(f)] | max_by(.id)) // {}) as $x
	| ([$a[0][] | select(.id == $x.id)][0] // {}) as $y
	| {n: (($x.run_cnt // 0) - ($y.run_cnt // 0)),
	   t: (($x.run_time_ns // 0) - ($y.run_time_ns // 0))}
	| . + {ns: (if .n > 0 then .t / .n else 0 end)};'
# fork_load: fork /bin/sleep 0.001 for BENCH_FORK_SECONDS; the count in forks
fork_load() {
	local end=$((SECONDS + ${BENCH_FORK_SECONDS:-5}))
	forks=0
	while [ $SECONDS -lt $end ]; do /bin/sleep 0.001; forks=$((forks + 1)); done
}
if section 4; then
echo "== 4. tracking hooks under a fork-heavy load (backend observe, bpf_stats) =="
# the first program on a tracepoint pays for what the others then find in
# cache (measured: an empty on_wakeup attached first took 1.4-1.9x the same
# empty program attached after it), so the empty programs are attached
# once before vcpufreq's and once after, and ours is compared with both
rm -rf "$EMPTY" "$EMPTY-after"
"$BPFTOOL" prog loadall "$OUT/bench_empty.bpf.o" "$EMPTY" autoattach
cli load --backend observe >/dev/null
cli enroll "$CG" >/dev/null
"$BPFTOOL" prog loadall "$OUT/bench_empty.bpf.o" "$EMPTY-after" autoattach
rows=()
for h in switch wakeup exit switch_word; do
	ours=$(link_prog "$PIN/links/on_$h")
	[ "$h" = switch_word ] && ours=$(link_prog "$EMPTY-after/bench_switch_word")
	rows+=("$h:$ours:$(link_prog "$EMPTY/bench_${h%_word}"):$(link_prog "$EMPTY-after/bench_${h%_word}")")
done
stats_window fork_load
echo "$forks forks of sleep 0.001 in ${BENCH_FORK_SECONDS:-5} s; ns per call against an empty program on the"
echo "same hook attached before ours and after it (x empty: against their mean)"
printf '%-12s %8s %9s %9s %9s %8s\n' hook calls "ns/call" "before ns" "after ns" "x empty"
for row in "${rows[@]}"; do
	IFS=: read -r h ours before after <<<"$row"
	name=on_$h
	[ "$h" = switch_word ] && name="(one word)"	# bench_switch_word: one array-map load
	if [ -z "$ours" ] || [ "$ours" = null ]; then
		printf '%-12s %s\n' "$name" "not attached: vcpufreq has no such hook"
		continue
	fi
	jq -r -n --arg name "$name" --argjson o "$ours" --argjson e1 "$before" --argjson e2 "$after" \
		--slurpfile a "$TMP/before.json" --slurpfile b "$TMP/after.json" "$JQ_PER"'
		def col(w): tostring | " " * (w - length) + .;
		def r1: . * 10 | round / 10;
		per(.id == $o) as $us | per(.id == $e1) as $x | per(.id == $e2) as $y
		| (($x.ns + $y.ns) / 2) as $m
		| "\($name + " " * (12 - ($name | length))) \($us.n | col(8)) \($us.ns | r1 | col(9)) \($x.ns | r1 | col(9)) \($y.ns | r1 | col(9)) \(if $m > 0 then ($us.ns / $m * 100 | round / 100) else 0 end | col(8))"'
done
echo "(one word: bench_switch_word, a switch program that only reads one array-map word)"
rm -rf "$EMPTY" "$EMPTY-after"
cli unload >/dev/null
echo
fi

# --- 5: the sched_ext scheduler's callbacks ---------------------------------
section 5 || exit 0
echo "== 5. sched_ext scheduler callbacks (backend scx, bpf_stats) =="
if ! cli status -j | jq -e '.backends.scx == "available"' >/dev/null; then
	echo "skipped: $(cli status -j | jq -r .backends.scx) (run 'sudo make vm-bench')"
	exit 0
fi
half=$(($(nproc) / 2))
for c in $(seq 0 $(($(nproc) - 1))); do
	echo "cpu $c capacity $([ $c -lt $half ] && echo 512 || echo 1024)" \
	     "cluster $([ $c -lt $half ] && echo 0 || echo 1)"
done >"$TMP/scx.topology"
PEERS=${SCX_PEERS:-$OUT/scx-peers/build/bin}
rm -rf "$EMPTY"
"$BPFTOOL" prog loadall "$OUT/bench_empty.bpf.o" "$EMPTY" autoattach

# spawn_load: 2 threads per CPU in $CG that wake and sleep (the
# select_cpu/enqueue/dispatch paths), their TIDs in $TMP/tids
spawn_load() {
	: >"$TMP/tids"
	sh -c "echo \$\$ >$CG/cgroup.procs && exec $OUT/tests/spawn-threads $(($(nproc) * 2))" \
		>>"$TMP/tids" &
	BENCH_PID=$!
	for _ in $(seq 50); do [ "$(wc -l <"$TMP/tids")" -ge $(($(nproc) * 2)) ] && break; sleep 0.1; done
}
stop_load() { kill "$BENCH_PID"; wait "$BENCH_PID" 2>/dev/null || true; BENCH_PID=; }

# measure SCHED PREFIX: bpf_stats of the attached scheduler's callbacks
# (programs named PREFIX<callback>) and of the empty program over
# BENCH_SCX_SECONDS; one JSON object per callback to $TMP/scx.json
measure() {
	sleep 1
	insn_phase_start "$1"
	stats_window sleep "${BENCH_SCX_SECONDS:-5}"
	insn_phase_end
	jq -c -n --arg sched "$1" --arg prefix "$2" \
		--slurpfile a "$TMP/before.json" --slurpfile b "$TMP/after.json" "$JQ_PER"'
		per(.name == "bench_switch").ns as $base
		| ("select_cpu", "enqueue", "dispatch", "running", "stopping") as $cb
		| ($prefix + $cb) as $name
		| {sched: $sched, callback: $cb, ns: per(.name == $name).ns,
		   calls: per(.name == $name).n, empty_ns: $base}
		| . + {x_empty: (if .empty_ns > 0 then .ns / .empty_ns else null end)}' >>"$TMP/scx.json"
}

# under bench/insncount.c (BENCH_INSN=1, bench/scx-curve.sh): each
# scheduler's window is a phase of its own, its programs' JIT addresses
# printed while they are loaded ("insn-phase N SCHED", "insn-image N ...")
INSN_PHASE=0
insn_phase_start() {
	[ "${BENCH_INSN:-0}" = 1 ] || return 0
	INSN_PHASE=$((INSN_PHASE + 1))
	echo "insn-phase $INSN_PHASE $1"
	"$OUT/bench-insn" mark "$INSN_PHASE"
}
insn_phase_end() {
	[ "${BENCH_INSN:-0}" = 1 ] || return 0
	"$OUT/bench-insn" mark 63	# the idle phase: not reported
	"$OUT/bench-insn" images "$INSN_PHASE"
}

# sched_up NAME PID: wait until the kernel runs scheduler NAME (while its
# loader PID lives)
sched_up() {
	local _
	for _ in $(seq 100); do
		[ "$(cat /sys/kernel/sched_ext/state 2>/dev/null)" = enabled ] &&
			[ "$(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)" = "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# start_peer NAME CPU: the kernel's example scheduler NAME, its loader on
# CPU (scx_central's init must run on its central CPU: -c CPU), bounded so
# that a peer that hangs cannot hold the benchmark (loosely: under TCG on a
# busy host, attaching, starting the load and the window took over 23 s);
# its pid in PEER_PID
start_peer() {
	local args=()
	[ "$1" = central ] && args=(-c "$2")
	taskset -c "$2" timeout -s INT $(( ${BENCH_SCX_SECONDS:-5} + 120 )) \
		"$PEERS/scx_$1" "${args[@]}" >/dev/null 2>&1 &
	PEER_PID=$!
}
stop_peer() {
	kill -INT "$PEER_PID" 2>/dev/null || true
	wait "$PEER_PID" 2>/dev/null || true
}

# peer NAME: the kernel's example scheduler NAME on the same load
peer() {
	local name=$1 cpu
	[ -x "$PEERS/scx_$name" ] || { echo "  (scx_$name not built: make vm-bench builds it)"; return 0; }
	# the kernel may run init on another CPU than the loader's
	for cpu in $(seq 0 $(($(nproc) - 1))); do
		start_peer "$name" "$cpu"
		# scx_central checks its CPU in init, after the kernel enabled it
		sched_up "$name" "$PEER_PID" && sleep 1 && sched_up "$name" "$PEER_PID" && break
		stop_peer
	done
	if [ "$(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)" = "$name" ]; then
		spawn_load
		measure "scx_$name" "${name}_"
		stop_load
	else
		echo "  (scx_$name did not attach)"
	fi
	stop_peer
}

# every scx_bpf_cpuperf_set() our scheduler made so far, all CPUs
cpuperf_sets() { cli status -j | jq '[.sched_ext.cpus[]?.cpuperf_sets] | add // 0'; }
: >"$TMP/scx.json"
cli --topology "$TMP/scx.topology" load --backend scx >/dev/null
cli enroll "$CG" >/dev/null
# half the threads ask for 900 (big CPUs only), half for 100, as a VMM
# asks: libvcpufreq's fast path (a store into each thread's slot), from a
# VMM process holding its handle (tests/live/vmm-shell.c)
spawn_load
exec {vmm_fd}> >(exec "$OUT/tests/vmm-shell" "$PIN" >"$TMP/vmm.out" 2>&1)
i=0
while read -r tid; do
	echo "register $tid 1 $i" >&$vmm_fd
	echo "request $tid $((i++ % 2 ? 900 : 100))" >&$vmm_fd
done <"$TMP/tids"
for _ in $(seq 50); do [ "$(grep -c '^ok' "$TMP/vmm.out")" -ge $((2 * i)) ] && break; sleep 0.1; done
[ "$(grep -c '^ok' "$TMP/vmm.out")" -ge $((2 * i)) ] || echo "  (the VMM's requests: $(grep -v '^ok' "$TMP/vmm.out" | head -3))"
sets=$(cpuperf_sets)
measure vcpufreq vf_
# how often running/tick set a CPU's frequency target in the window
echo "vcpufreq: $(( $(cpuperf_sets) - sets )) frequency-target sets in $(jq -s \
	'map(select(.sched == "vcpufreq" and .callback == "running"))[0].calls' "$TMP/scx.json") running calls"
stop_load
exec {vmm_fd}>&-
cli unload >/dev/null
# the lightest of the kernel's own, both over every task (6.12's have no
# partial mode): scx_simple (one global FIFO) and scx_central (CPU 0
# dispatches for all)
peer simple
peer central
rm -rf "$EMPTY"
[ "${BENCH_SCX_JSON:-0}" = 1 ] && sed "s/^/scx-json /" "$TMP/scx.json"
python3 - "$TMP/scx.json" "$(nproc)" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
scheds = []
for r in rows:
    if r["sched"] not in scheds:
        scheds.append(r["sched"])
cbs = ["select_cpu", "enqueue", "dispatch", "running", "stopping"]
get = {(r["sched"], r["callback"]): r for r in rows}
print(f"{sys.argv[2]} CPUs, the same load (2 threads per CPU waking every ms) under each scheduler in turn;")
print("ns per call (x an empty tp_btf/sched_switch program in the same window); -: not called")
print(f"{'callback':<11}" + "".join(f"{s:>22}" for s in scheds) + "   vcpufreq / lightest peer (ns)")
for cb in cbs:
    line = f"{cb:<11}"
    for s in scheds:
        r = get.get((s, cb))
        line += f"{'-':>22}" if not r or not r["ns"] else f"{r['ns']:>11.1f} ({r['x_empty'] or 0:>5.2f}x)   "
    ours = get.get(("vcpufreq", cb))
    peers = [get[(s, cb)] for s in scheds if s != "vcpufreq" and get.get((s, cb), {}).get("ns")]
    if ours and ours["ns"] and peers:
        light = min(peers, key=lambda r: r["ns"])
        line += f"   {ours['ns'] / light['ns']:.2f}x {light['sched']}"
    print(line)
PY
