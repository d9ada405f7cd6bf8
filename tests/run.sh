#!/usr/bin/env bash
# sudo make test: unit tests, then live tests against the running kernel.
# Ends with one summary line: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0 failed=0 skipped=0

count_unit() {
	local bin=$1 out
	out=$("$bin" 2>&1)
	printf '%s\n' "$out" | grep -E '^(ok|FAIL) ' | sed "s|^|  $(basename "$bin"): |"
	printf '%s\n' "$out" | grep -E '^    ' || true
	passed=$((passed + $(printf '%s\n' "$out" | grep -c '^ok ')))
	failed=$((failed + $(printf '%s\n' "$out" | grep -c '^FAIL ')))
}

echo "== unit tests"
for t in build/tests/test_*; do
	[ -x "$t" ] && count_unit "$t"
done

echo "== fuzz (register model, libFuzzer + ASan/UBSan, 20000 runs)"
if out=$(tests/fuzz/run.sh 20000 2>&1); then
	echo "  ok   fuzz_regmodel: ${out##*$'\n'}"; passed=$((passed + 1))
else
	printf '%s\n' "$out" | tail -n 5 | sed 's/^/  /'
	echo "  FAIL fuzz_regmodel"; failed=$((failed + 1))
fi

# run_suite TITLE SCRIPT...: a script that ends with "RESULT p f s"
run_suite() {
	local title=$1 out r p f s; shift
	echo "== $title"
	out=$("$@" 2>&1)
	printf '%s\n' "$out" | grep -v '^RESULT'
	r=$(printf '%s\n' "$out" | grep '^RESULT' | tail -n1)
	read -r _ p f s <<<"$r"
	passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1})); skipped=$((skipped + ${s:-0}))
}

run_suite "guest devicetree (topology --dts, dtc, dt-validate)" tests/live/dts.sh build/vcpufreq-bpf

if [ "$(id -u)" -ne 0 ]; then
	echo "== live tests: skipped, they load BPF programs; run 'sudo make test'"
	skipped=$((skipped + 1))
else
	run_suite "live tests (running kernel $(uname -r))" tests/live/run-live.sh
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
