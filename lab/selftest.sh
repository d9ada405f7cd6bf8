#!/usr/bin/env bash
# lab/selftest.sh: lab-guest against the real host side on this
# kernel.  Loads vcpufreq-bpf under its own pin dir (backend affinity on a
# big.LITTLE description: every CPU capacity 512 but the last, 1024; or
# LAB_BACKEND), enrolls a cgroup, and runs every workload in every mode for
# LAB_SECONDS (3) inside it.  Asserted: the run exits 0 with one JSON
# object that shows work done; while it runs, `vcpufreq-bpf vcpus -j` lists
# all its vCPU threads (hints, boost: every vCPU at 1024) or none of them
# (none, crosvm); afterwards none is left.  Then --vcpu-affinity, SIGTERM
# mid-run, the hog's request stream (up while hogging, down after), the
# effect lab's workloads (each reports its headline), the native mode
# (host threads, no vCPU registered; iodepth 8 beats 1) and crosvm68 (no
# x 0.8).
# Needs root; prints each run's JSON.  Last line: "RESULT passed failed
# skipped".
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT" || exit 1
. "$ROOT/tests/vm/report.sh"
VF=$ROOT/build/vcpufreq-bpf
LAB=$ROOT/build/lab-guest
PIN=${LAB_PIN:-/sys/fs/bpf/vcpufreq-labtest}
BACKEND=${LAB_BACKEND:-affinity}
SECS=${LAB_SECONDS:-3}
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
CGNAME=vcpufreq-labtest
CG=$CG2/$CGNAME
TMP=$(mktemp -d /tmp/lab-selftest.XXXXXX)
TOPO=$TMP/big-little.topology
export VCPUFREQ_STATE_DIR=$TMP/state
vf() { "$VF" --pin-dir "$PIN" "$@"; }

cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	vf unload >/dev/null 2>&1
	rmdir "$CG" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

if [ "$(id -u)" != 0 ] || [ ! -x "$LAB" ] || [ -z "$CG2" ]; then
	echo "  skip lab-guest selftest: needs root, a cgroup2 mount and 'make all'"
	skipped=1; report; exit 0
fi
BIG=$(($(nproc) - 1))
for c in $(seq 0 $BIG); do
	echo "cpu $c capacity $([ $c = $BIG ] && echo 1024 || echo 512) cluster $([ $c = $BIG ] && echo 1 || echo 0)"
done >"$TOPO"

# the vCPU threads of this cgroup that the host side tracks
ours() { vf vcpus -j | jq -c --arg cg "/$CGNAME" '[.[] | select(.cgroup == $cg)]'; }

test_cli() {
	local out rc
	out=$("$LAB" --help) && grep -q '^SYNOPSIS' <<<"$out" || { echo "--help: no SYNOPSIS"; return 1; }
	out=$("$LAB" --workload nope 2>&1); rc=$?
	[ $rc = 2 ] && grep -q '^Error: unknown workload' <<<"$out" || { echo "bad workload: rc $rc: $out"; return 1; }
	out=$("$LAB" -w io --vcpus 2 --vcpu-affinity '0' 2>&1); rc=$?
	[ $rc = 2 ] && grep -q '^Error: --vcpu-affinity' <<<"$out" || { echo "bad affinity: rc $rc: $out"; return 1; }
	out=$("$LAB" --calibrate -j) && jq -e '.iters_per_us > 0' <<<"$out" >/dev/null || { echo "calibrate: $out"; return 1; }
}

# run WORKLOAD MODE: one run, checked while running and after
run() {
	local wl=$1 mode=$2 pid live after json rc want
	"$LAB" -w "$wl" -m "$mode" -s "$SECS" -p "$PIN" -c "/$CGNAME" -T "$TOPO" \
		-i "$ITERS" -j >"$TMP/out" 2>"$TMP/err" &
	pid=$!
	sleep "$(awk "BEGIN { print $SECS / 2 }")"
	live=$(ours)
	wait $pid; rc=$?
	after=$(ours)
	json=$(cat "$TMP/out")
	echo "$json" | sed 's/^/      /'
	[ $rc = 0 ] || { echo "exit $rc: $(cat "$TMP/err")"; return 1; }
	jq -e . <<<"$json" >/dev/null || { echo "not JSON: $json"; return 1; }
	case $mode in
	hints) jq -e 'length == 4 and any(.[]; .perf > 0)' <<<"$live" >/dev/null ;;
	boost) jq -e 'length == 4 and all(.[]; .perf == 1024)' <<<"$live" >/dev/null ;;
	*) jq -e 'length == 0' <<<"$live" >/dev/null ;;
	esac || { echo "while running, vcpus -j showed: $live"; return 1; }
	[ "$after" = "[]" ] || { echo "left behind: $after"; return 1; }
	case $wl in
	io) want='.ops > 0 and .mb_per_s > 0' ;;
	frame) want='.frames > 0 and .lat_p99_us > 0' ;;
	mixed) want='.frames > 0 and .bg_ops_per_s > 0' ;;
	hog) want='(.stream | length) > 0' ;;
	esac
	case $mode in
	none) want="$want and .requests == 0 and .uclamp == \"n/a\"" ;;
	crosvm) want="$want and .requests > 0 and (.uclamp == \"ok\" or .uclamp == \"unsupported\")" ;;
	*) want="$want and .requests > 0" ;;
	esac
	jq -e "$want" <<<"$json" >/dev/null || { echo "want $want"; return 1; }
}

test_sigterm_stops_and_unregisters() {
	local pid t0 live
	"$LAB" -w frame -m hints -s 60 -p "$PIN" -c "/$CGNAME" -T "$TOPO" -i "$ITERS" -j >"$TMP/out" &
	pid=$!
	sleep 1
	live=$(ours)
	t0=$SECONDS
	kill -TERM $pid
	wait $pid || { echo "exit $? after SIGTERM"; return 1; }
	[ $((SECONDS - t0)) -le 2 ] || { echo "took $((SECONDS - t0)) s to stop"; return 1; }
	jq -e '.seconds < 5' "$TMP/out" >/dev/null || { echo "no report: $(cat "$TMP/out")"; return 1; }
	jq -e 'length == 4' <<<"$live" >/dev/null || { echo "while running: $live"; return 1; }
	[ "$(ours)" = "[]" ] || { echo "left behind: $(ours)"; return 1; }
}

# the guest's requests rise while the hog runs and fall once it stops
test_hog_request_stream_rises_then_falls() {
	local json
	json=$("$LAB" -w hog -m hints -s 4 -p "$PIN" -c "/$CGNAME" -T "$TOPO" -i "$ITERS" -j) || return 1
	jq -e '[.stream[] | select(.[0] < 2000) | .[3]] | max >= 400' <<<"$json" >/dev/null ||
		{ echo "no high request while hogging: $json"; return 1; }
	jq -e '.stream[-1][0] > 2000 and .stream[-1][3] <= 400' <<<"$json" >/dev/null ||
		{ echo "no fall back after the hog: $json"; return 1; }
}

# the model against a real guest: tests/vm/e2e.sh saw a Linux 6.12 guest
# with the driver ask for 900..1024 on a hogged vCPU and <= 400 idle
test_hog_on_a_big_vcpu_asks_like_a_real_guest() {
	local json
	json=$("$LAB" -w hog -m hints -s 4 --vcpus 1 --vcpu-affinity "$BIG" -p "$PIN" -c "/$CGNAME" \
		-T "$TOPO" -i "$ITERS" -j) || return 1
	jq -e '([.stream[] | select(.[0] < 1900)] | last | .[3] >= 900) and
		([.stream[] | select(.[3] >= 900)][0][0] < 200)' <<<"$json" >/dev/null ||
		{ echo "not at 900..1024 within 200 ms and until the hog stops: $json"; return 1; }
	jq -e '.stream[-1][3] <= 400' <<<"$json" >/dev/null ||
		{ echo "not <= 400 once idle: $json"; return 1; }
}

# pinned vCPUs run only where pinned and see that CPU's capacity
test_vcpu_affinity_pins_and_sets_the_view() {
	local json lists
	lists=$(for i in 1 2 3 4; do printf '0;'; done)
	json=$("$LAB" -w frame -m none -s 1 -T "$TOPO" -i "$ITERS" -a "${lists%;}" -j) || return 1
	jq -e '(.cpu_busy_ms[0] > 0) and ([.cpu_busy_ms[1:][]] | add // 0) == 0' <<<"$json" >/dev/null ||
		{ echo "ran outside CPU 0: $json"; return 1; }
	jq -e '.vcpu_capacity == [512,512,512,512]' <<<"$json" >/dev/null ||
		{ echo "not CPU 0's view: $json"; return 1; }
}

# every effect-lab workload runs and reports its headline and its work
test_lab_workloads_report_a_headline() {
	local wl json
	for wl in seq-read-qd1 seq-read-qd8 rand-read-qd1 rand-read-qd8 seq-write-qd1 \
		seq-write-qd8 rand-write-qd1 rand-write-qd8 infer-cached infer-small \
		infer-large pcmark game; do
		json=$("$LAB" -w "$wl" -m none -s 1.2 -T "$TOPO" -i "$ITERS" -j) || { echo "$wl: exit $?"; return 1; }
		jq -e '.perf > 0 and .work > 0' <<<"$json" >/dev/null || { echo "$wl: $json"; return 1; }
	done
	json=$("$LAB" -w pcmark -m none -s 1.2 -T "$TOPO" -i "$ITERS" -j)
	jq -e '.pc_web_lat_us > 0 and .pc_writing_ops_per_s > 0 and .pc_photo_lat_us > 0 and
		.pc_data_units_per_s > 0' <<<"$json" >/dev/null || { echo "pcmark phases: $json"; return 1; }
}

# native: the tasks are host threads (no vCPU registered even in an
# enrolled cgroup), and at iodepth 8 the device overlaps ops
test_native_runs_host_threads() {
	local q1 q8 pid live
	"$LAB" -w rand-read-qd1 -m native -s 2 -c "/$CGNAME" -i "$ITERS" -j >"$TMP/q1" 2>/dev/null &
	pid=$!
	sleep 1
	live=$(ours)
	wait $pid || { echo "native exit $?"; return 1; }
	[ "$live" = "[]" ] || { echo "native registered vCPUs: $live"; return 1; }
	q1=$(jq .ops "$TMP/q1")
	q8=$("$LAB" -w rand-read-qd8 -m native -s 2 -i "$ITERS" -j 2>/dev/null | jq .ops)
	jq -e '.mode == "native" and .ops > 0 and ([.cpu_busy_ms[]] | add) > 0' "$TMP/q1" >/dev/null ||
		{ echo "native qd1: $(cat "$TMP/q1")"; return 1; }
	[ "$q8" -gt "$q1" ] || { echo "iodepth 8: $q8 ops, iodepth 1: $q1"; return 1; }
}

# crosvm takes 20 % off each request; crosvm68 passes it as it is
test_crosvm68_has_no_discount() {
	local a b
	a=$("$LAB" -w frame -m crosvm -s 1.5 -T "$TOPO" -i "$ITERS" -j) || return 1
	b=$("$LAB" -w frame -m crosvm68 -s 1.5 -T "$TOPO" -i "$ITERS" -j) || return 1
	jq -e '.requests > 0 and .mean_host_request < 0.85 * .mean_request' <<<"$a" >/dev/null ||
		{ echo "crosvm: $a"; return 1; }
	jq -e '.requests > 0 and .mean_host_request > 0.95 * .mean_request' <<<"$b" >/dev/null ||
		{ echo "crosvm68: $b"; return 1; }
}

vf unload >/dev/null 2>&1
if ! out=$(vf --topology "$TOPO" load --backend "$BACKEND" 2>&1); then
	bad "load --backend $BACKEND" "$out"; report; exit 1
fi
mkdir -p "$CG" && vf enroll "$CG" >/dev/null || { bad "enroll $CG" ""; report; exit 1; }
ITERS=$("$LAB" --calibrate -j | jq .iters_per_us)

out=$(test_cli 2>&1); result "cli: help, usage errors, calibrate" $? "$out"
for wl in io frame mixed hog; do
	for mode in none hints crosvm boost; do
		out=$(run $wl $mode 2>&1); rc=$?
		result "$wl/$mode" $rc "$out"
		[ $rc = 0 ] && printf '%s\n' "$out"
	done
done
out=$(test_vcpu_affinity_pins_and_sets_the_view 2>&1); result "--vcpu-affinity pins and sets the view" $? "$out"
out=$(test_sigterm_stops_and_unregisters 2>&1); result "SIGTERM stops, unregisters, reports" $? "$out"
out=$(test_hog_request_stream_rises_then_falls 2>&1); result "hog: requests rise, then fall" $? "$out"
out=$(test_hog_on_a_big_vcpu_asks_like_a_real_guest 2>&1)
result "hog on a big vCPU: 900..1024 while hogging, <= 400 idle, as a real guest asks (e2e)" $? "$out"
out=$(test_lab_workloads_report_a_headline 2>&1); result "effect-lab workloads: each reports perf and work" $? "$out"
out=$(test_native_runs_host_threads 2>&1); result "native: host threads, no vCPU registered; iodepth 8 > 1" $? "$out"
out=$(test_crosvm68_has_no_discount 2>&1); result "crosvm takes 20 % off a request, crosvm68 does not" $? "$out"
report
