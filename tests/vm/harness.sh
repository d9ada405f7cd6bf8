#!/usr/bin/env bash
# tests/vm/harness.sh: the VM harness's own options.  Bad options are
# refused before anything is built or booted (exit 125, an "Error:" line
# naming the option); --icount boots a guest whose clock counts executed
# guest instructions: a fixed loop's guest time is then the same in two
# boots, whatever else this host runs.  Prints "ok"/"FAIL" lines, then
# "N passed, N failed" and, last, "RESULT passed failed skipped".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
passed=0 failed=0
ok() { echo "  ok   $1"; passed=$((passed + 1)); }
bad() { echo "  FAIL $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/       /'; failed=$((failed + 1)); }

# refused NAME WANT ARGS...: run-in-vm.sh ARGS exits 125 saying WANT
refused() {
	local name=$1 want=$2 out rc=0; shift 2
	out=$(timeout 20 tests/vm/run-in-vm.sh "$@" -- true 2>&1) || rc=$?
	if [ "$rc" = 125 ] && grep -q "^Error: .*$want" <<<"$out"; then
		ok "$name"
	else
		bad "$name (exit $rc, want 125 and '$want')" "$out"
	fi
}
refused "an --icount shift out of range is refused" "--icount 12" --icount 12
refused "an --icount that is not a number is refused" "--icount x" --icount x
refused "--icount with KVM is refused (KVM runs instructions natively)" "needs --accel tcg" \
	--accel kvm --icount 0
refused "more vCPUs than the kernel's NR_CPUS are refused" "--smp 999" --smp 999

# guest ns for a fixed loop of 2^16 bash arithmetic steps, in one boot
loop_ns() {
	tests/vm/run-in-vm.sh --smp 2 --icount 0 --timeout 300 -- bash -c '
		s=$(date +%s%N); i=0; while [ $i -lt 65536 ]; do i=$((i + 1)); done
		echo "LOOP-NS $(( $(date +%s%N) - s ))"' 2>&1 | sed -n 's/^LOOP-NS //p' | tr -d '\r'
}
a=$(loop_ns) b=$(loop_ns)
if [[ $a =~ ^[0-9]+$ && $b =~ ^[0-9]+$ ]] && [ "$a" -gt 0 ]; then
	diff=$(( (a > b ? a - b : b - a) * 1000 / a ))
	if [ "$diff" -le 20 ]; then
		ok "--icount: the same loop takes the same guest time in two boots ($a ns, $b ns)"
	else
		bad "--icount: the same loop took $a ns and $b ns of guest time (more than 2% apart)"
	fi
else
	bad "--icount: a guest booted and timed the loop (got '$a', '$b')"
fi

echo "$passed passed, $failed failed"
echo "RESULT $passed $failed 0"
[ "$failed" = 0 ]
