#!/usr/bin/env bash
# tests/ops/metrics.sh: the agent's metrics through a real monitoring
# stack.  The tree's vcpufreq-bpf loads with --metrics DIR; Debian's
# prometheus-node-exporter serves DIR with its textfile collector on
# loopback, and Debian's prometheus scrapes it every second (a config and
# a data dir of the test's own); then two VMs (two enrolled cgroups, 2 and
# 3 vCPU threads asking for 900 and 300) and a request for a thread
# outside any enrolled cgroup, and the figures they must cause are
# queried from Prometheus's HTTP API.  Root.
# Last line: "RESULT passed failed skipped".
set -uo pipefail
cd "$(dirname "$0")/../.."
VF=$PWD/build/vcpufreq-bpf
SPAWN=$PWD/build/tests/spawn-threads
PIN=/sys/fs/bpf/vcpufreq
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
CGT=$CG2/vcpufreq-metrics-test
TMP=$(mktemp -d)
export VCPUFREQ_STATE_DIR=$TMP/state
fail() { echo "    $*" >&2; exit 1; }
wait_for() { local i; for i in $(seq $(($1 * 10))); do "${@:2}" && return 0; sleep 0.1; done; return 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cleanup() {	# what the tests started ($TMP/pids: they run in subshells)
	[ -f "$TMP/pids" ] && xargs -r kill <"$TMP/pids" 2>/dev/null
	sleep 0.5
	$VF unload >/dev/null 2>&1
	for d in "$CGT"/* "$CGT"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
	rm -rf "$TMP"
}

# vcpu threads in a new cgroup: vm NAME N -> TIDS
vm() {
	mkdir -p "$CGT/$1"
	sh -c "echo \$\$ > $CGT/$1/cgroup.procs && exec $SPAWN $2 0" >"$TMP/$1.tids" & echo $! >>"$TMP/pids"
	wait_for 5 sh -c "[ \$(wc -l <$TMP/$1.tids) -ge $2 ]" || fail "no threads for $1"
}

# query PROMQL: the result vector as JSON lines {"labels": value}
query() {
	curl -sf --get "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
		jq -c '.data.result[] | {(.metric.cgroup // .metric.result // .metric.backend // "value"): (.value[1] | tonumber)}'
}
# has PROMQL JQ_FILTER: the query's result, as one object, satisfies the filter
has() { query "$1" | jq -s -e "add // {} | $2" >/dev/null; }

test_prometheus_scrapes_two_vms_figures_through_node_exporter() {
	local n=$(($(nproc) - 1)) c t
	for c in $(seq 0 $n); do
		echo "cpu $c capacity $([ $c = $n ] && echo 1024 || echo 512) cluster $([ $c = $n ] && echo 1 || echo 0)"
	done >"$TMP/topology"
	mkdir -p "$TMP/textfile" "$TMP/state"
	$VF --topology "$TMP/topology" load --backend affinity --metrics "$TMP/textfile" >/dev/null || fail "load"
	NODE_PORT=$(free_port) PROM_PORT=$(free_port)
	prometheus-node-exporter --web.listen-address="127.0.0.1:$NODE_PORT" --collector.disable-defaults \
		--collector.textfile --collector.textfile.directory="$TMP/textfile" >"$TMP/node.log" 2>&1 & echo $! >>"$TMP/pids"
	cat >"$TMP/prometheus.yml" <<-CONF
	global:
	  scrape_interval: 1s
	scrape_configs:
	  - job_name: node
	    static_configs:
	      - targets: ['127.0.0.1:$NODE_PORT']
	CONF
	prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/data" \
		--web.listen-address="127.0.0.1:$PROM_PORT" >"$TMP/prom.log" 2>&1 & echo $! >>"$TMP/pids"
	vm vm1 2; vm vm2 3
	$VF enroll "$CGT/vm1" >/dev/null && $VF enroll "$CGT/vm2" >/dev/null || fail "enroll"
	for t in $(cat "$TMP/vm1.tids"); do $VF request "$t" 900 >/dev/null || fail "request"; done
	for t in $(cat "$TMP/vm2.tids"); do $VF request "$t" 300 >/dev/null || fail "request"; done
	# a thread in no enrolled cgroup: its request is rejected
	mkdir -p "$CGT/other"
	sh -c "echo \$\$ > $CGT/other/cgroup.procs && exec $SPAWN 1 0" >"$TMP/other.tids" & echo $! >>"$TMP/pids"
	wait_for 5 test -s "$TMP/other.tids" || fail "no thread"
	$VF request "$(head -n1 "$TMP/other.tids")" 500 >/dev/null
	# the file every 5 s, a scrape every second: the second file has on-CPU time
	wait_for 30 has 'vcpufreq_vm_vcpus' '.["/vcpufreq-metrics-test/vm1"] == 2 and .["/vcpufreq-metrics-test/vm2"] == 3' ||
		fail "vcpus per VM: $(query vcpufreq_vm_vcpus; tail -n 5 "$TMP/prom.log" "$TMP/node.log")"
	has 'vcpufreq_vm_request_mean' '.["/vcpufreq-metrics-test/vm1"] == 900 and .["/vcpufreq-metrics-test/vm2"] == 300' ||
		fail "mean request: $(query vcpufreq_vm_request_mean)"
	has 'vcpufreq_requests_total' '.accepted >= 5 and .rejected_not_enrolled >= 1' ||
		fail "requests: $(query vcpufreq_requests_total)"
	has 'vcpufreq_agent_applies_total' '.value >= 5' || fail "applies: $(query vcpufreq_agent_applies_total)"
	has 'vcpufreq_backend_info' '.affinity == 1' || fail "backend: $(query vcpufreq_backend_info)"
	# 900 runs at the top level, 300 at the second quarter; never the other's
	wait_for 20 has 'vcpufreq_vm_cpu_seconds_total{level="1024"}' '.["/vcpufreq-metrics-test/vm1"] > 0' ||
		fail "vm1's time at level 1024: $(query 'vcpufreq_vm_cpu_seconds_total{level="1024"}')"
	wait_for 20 has 'vcpufreq_vm_cpu_seconds_total{level="512"}' '.["/vcpufreq-metrics-test/vm2"] > 0' ||
		fail "vm2's time at level 512: $(query 'vcpufreq_vm_cpu_seconds_total{level="512"}')"
	has 'vcpufreq_vm_cpu_seconds_total{level="512"}' '.["/vcpufreq-metrics-test/vm1"] == 0' || fail "vm1 counted at 512"
	has 'vcpufreq_vm_cpu_seconds_total{level="1024"}' '.["/vcpufreq-metrics-test/vm2"] == 0' || fail "vm2 counted at 1024"
	# bounded: no series per thread, a fixed number per VM
	curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/labels" | jq -e '.data | index("tid") == null' >/dev/null ||
		fail "a tid label"
	has 'count({__name__=~"vcpufreq_.+"})' '.value <= 20 + 2 * 7' || fail "series: $(query 'count({__name__=~"vcpufreq_.+"})')"
	$VF unload >/dev/null || fail "unload"
	[ ! -e "$TMP/textfile/vcpufreq-bpf.prom" ] || fail "the metrics file outlived the agent"
}

if [ "$(id -u)" -ne 0 ]; then
	echo "  skip metrics test: it loads BPF programs (root)"; echo "RESULT 0 0 1"; exit 0
fi
for p in prometheus prometheus-node-exporter curl; do
	command -v $p >/dev/null || { echo "  FAIL no $p (scripts/deps.sh installs it)"; echo "RESULT 0 1 0"; exit 0; }
done
trap cleanup EXIT
passed=0 failed=0
for t in $(sed -n 's/^\(test_[a-z0-9_]*\)() {.*/\1/p' "$0"); do
	if ( set -e; $t ) 2>"$TMP/err"; then
		echo "  ok   ${t#test_}"; passed=$((passed + 1))
	else
		echo "  FAIL ${t#test_}"; sed 's/^/  /' "$TMP/err"; failed=$((failed + 1))
	fi
done
echo "RESULT $passed $failed 0"
