# shellcheck shell=bash
# Sourced by the tests/vm scripts: one "ok"/"FAIL" line per test, and
# report() for the last line tests/run.sh reads: "RESULT passed failed skipped".
passed=0 failed=0 skipped=0
ok() { echo "  ok   $1"; passed=$((passed + 1)); }
bad() {	# bad NAME DETAIL...: each DETAIL printed indented below
	echo "  FAIL $1"; shift
	printf '%s\n' "$@" | sed 's/^/      /'
	failed=$((failed + 1))
}
result() {	# result NAME STATUS DETAIL: ok when STATUS is 0, else the end of DETAIL
	if [ "$2" = 0 ]; then ok "$1"; else bad "$1" "$(printf '%s\n' "$3" | tail -n 15)"; fi
}
report() { echo "RESULT $passed $failed $skipped"; }
