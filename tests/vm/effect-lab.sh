#!/usr/bin/env bash
# tests/vm/effect-lab.sh: the effect lab's functional check (make test).
# Builds the lab's host module, boots the test kernel under QEMU (TCG,
# -smp 6) and runs lab/lab-check.sh there: the emulated Tensor's three
# clusters and capacities, EAS, speed that follows frequency, Android's
# energy terms, idle states, the host-native row, and a hinted workload
# on the X1 CPUs.  The benchmark itself is `sudo make effect`.
# Last line: "RESULT passed failed skipped".
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/report.sh"

if ! out=$("$ROOT/lab/build-module.sh" 2>&1); then
	bad "build the lab's host module (lab/build-module.sh)" "$out"
	report; exit 1
fi
ok "build the lab's host module (W=1, no warnings)"
# -cpu Skylake-Client: TCG's -cpu max lacks constant_tsc, and without it
# x86 keeps a cpufreq transition notifier that rules out fast switching
# --favour: the emulated CPUs' speed must not be what the rest of the host leaves
console=$("$HERE/run-in-vm.sh" --smp 6 --cpu Skylake-Client --favour --timeout 600 -- lab/lab-check.sh 2>&1)
rc=$?
printf '%s\n' "$console" | grep -E '^  (ok|FAIL) |^      '
r=$(printf '%s\n' "$console" | grep -a '^RESULT ' | tail -n1)
if [ -z "$r" ]; then
	bad "the check ran in the VM (run-in-vm.sh exit $rc)" "$(printf '%s\n' "$console" | tail -n 25)"
	report; exit 1
fi
read -r _ p f s <<<"$r"
passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
report
