#!/usr/bin/env bash
# tests/fuzz/run.sh [RUNS] [libFuzzer options...]
#
# Fuzz the register model (lib/regmodel.c) with libFuzzer + ASan + UBSan.
# Builds build/fuzz_regmodel when it is missing or older than its sources,
# then runs RUNS inputs (default 20000; -1: until another limit, such as
# -max_total_time=120, stops it) from seed 1, growing the corpus kept in
# build/fuzz-corpus/regmodel.  Crash inputs land in build/ as
# crash-*/leak-*/timeout-*.  Ends with one summary line; exits non-zero on
# a crash or a failed build.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

runs=${1:-20000}
[ $# -gt 0 ] && shift
case $runs in
-1 | [0-9] | [0-9]*[0-9]) ;;
*) echo "usage: $0 [RUNS] [libFuzzer options...]" >&2; exit 2 ;;
esac

bin=build/fuzz_regmodel
srcs=(lib/regmodel.c common/util.c tests/fuzz/fuzz_regmodel.c
      common/util.h include/vcpufreq/regmodel.h include/vcpufreq/abi.h)
corpus=build/fuzz-corpus/regmodel
log=build/fuzz_regmodel.log
CLANG=${CLANG:-clang}

mkdir -p build "$corpus"

stale=0
[ -x "$bin" ] || stale=1
for s in "${srcs[@]}"; do
	[ "$s" -nt "$bin" ] && stale=1
done
if [ "$stale" -eq 1 ]; then
	if ! "$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -Iinclude -Ilib -Icommon \
		lib/regmodel.c common/util.c tests/fuzz/fuzz_regmodel.c -o "$bin"; then
		echo "fuzz_regmodel: FAILED to build with $CLANG"
		exit 1
	fi
fi

start=$(date +%s)
"$bin" -runs="$runs" -seed=1 -artifact_prefix=build/ "$@" "$corpus" \
	>"$log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))

# "Done 20000 runs in 3 second(s)", and the last status line for coverage
done_runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n1)
status=$(grep -E '#[0-9]+.*cov: ' "$log" | tail -n1 |
	 sed -E 's/.*(cov: [0-9]+ ft: [0-9]+ corp: [0-9]+).*/\1/')
nfiles=$(find "$corpus" -type f | wc -l)

if [ "$rc" -eq 0 ]; then
	echo "fuzz_regmodel: OK, ${done_runs:-?} runs in ${secs}s, ${status:-no stats}, corpus $nfiles files (log $log)"
	exit 0
fi
artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)
echo "fuzz_regmodel: CRASH (exit $rc) after ${secs}s, input ${artifact:-none saved} (log $log)"
exit 1
