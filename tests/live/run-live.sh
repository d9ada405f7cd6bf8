#!/usr/bin/env bash
# Live tests: the real BPF programs in the running kernel, real cgroups,
# real threads.  Each test_* function is one behaviour; a test fails on the
# first unmet expectation.  The tests are in one file per area, over the
# helpers of tests/live/lib.sh; the areas run in the order of AREAS, the
# tests of an area in the order written, and each area ends with a line of
# its counts.  Last line: "RESULT passed failed skipped".
# LIVE_ONLY=REGEX runs only the tests whose names match.
set -uo pipefail	# so no "cmd | grep -q": grep's early exit fails the pipe
cd "$(dirname "$0")/../.."
AREAS=(
	"load:load and pins"
	"requests:requests, enrollment, tracking"
	"backends:backends (uclamp, sched_ext)"
	"vmm:VMM and broker"
	"isolation:one VM cannot touch another"
	"faults:hostile and faulty hosts"
	"bridge:the QEMU bridge"
	"install:install and pkg-config"
)
. tests/live/lib.sh
for area in "${AREAS[@]}"; do
	. "tests/live/${area%%:*}.sh"
done

passed=0 failed=0 skipped=0
mkdir -p "$VCPUFREQ_STATE_DIR"
for area in "${AREAS[@]}"; do
	p=$passed f=$failed s=$skipped ran=0
	for t in $(sed -n 's/^\(test_[A-Za-z0-9_]*\)() {.*/\1/p' "tests/live/${area%%:*}.sh" |
		   grep -E -- "${LIVE_ONLY:-.}"); do
		cleanup
		( set -e; $t ) 2>"$TMP/err"
		case $? in
		0) echo "  ok   ${t#test_}"; passed=$((passed + 1)) ;;
		$SKIP) echo "  skip ${t#test_}"; sed 's/^/  /' "$TMP/err"; skipped=$((skipped + 1)) ;;
		*) echo "  FAIL ${t#test_}"; sed 's/^/  /' "$TMP/err"; failed=$((failed + 1)) ;;
		esac
		ran=1
	done
	[ $ran = 1 ] && echo "  -- ${area#*:} (tests/live/${area%%:*}.sh): $((passed - p)) passed, $((failed - f)) failed, $((skipped - s)) skipped"
done
cleanup
rm -rf "$TMP"
echo "RESULT $passed $failed $skipped"
