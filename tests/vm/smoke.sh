#!/usr/bin/env bash
# tests/vm/smoke.sh [--smp N]: build what is needed (the project on the host,
# the test kernel), boot the VM and check from inside that it has what the
# live tests need: N CPUs, sched_ext, uclamp, cpufreq/schedutil, BTF,
# tracepoints, kprobes, a writable root, and that vcpufreq-bpf loads there.
# Prints "ok ..." lines and "N passed, N failed"; exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
smp=4
case "${1:-}" in
--smp) smp=${2:?--smp N}; shift 2 ;;
-h|--help) sed -n '2,6s/^# \{0,1\}//p' "$0"; exit 0 ;;
"") ;;
*) echo "Error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "Error: run as root (the VM reads the host's / as root over 9p)" >&2; exit 1; }

make --no-print-directory -s all || { echo "Error: 'make all' failed on the host; the VM runs the host's build/" >&2; exit 1; }
start=$SECONDS
rc=0
tests/vm/run-in-vm.sh --smp "$smp" --timeout 300 -- tests/vm/smoke-guest.sh "$smp" || rc=$?
echo "  VM-SMOKE  $((SECONDS - start)) s (boot, checks, power-off), exit $rc"
exit $rc
