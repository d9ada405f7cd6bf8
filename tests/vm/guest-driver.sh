#!/usr/bin/env bash
# tests/vm/guest-driver.sh: the guest driver builds warning-free (W=1)
# against the VM's Linux 6.12 (x86_64), Debian's 6.1 headers and the arm64
# test kernel (cross compiler), carries both device aliases, and
# scripts/checkpatch.pl is clean.  Last line: "RESULT passed failed skipped".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/vm/report.sh
OUT=build/guest-driver

# kbuild is incremental: an unchanged tree compiles nothing and prints no
# warning, so each target is built from scratch (a few seconds each)
build() {	# build TARGET TITLE
	local log rc
	rm -rf "${OUT:?}/$1"
	log=$(make -C guest-driver "$1" W=1 2>&1); rc=$?
	grep -q ' CC \[M\] ' <<<"$log" || rc=1
	if [ $rc = 0 ] && grep -qE 'warning:|error:|WARNING:' <<<"$log"; then rc=1; fi
	[ -f "$OUT/$1/vcpufreq_guest.ko" ] || rc=1
	result "builds without warnings: $2" $rc "$log"
}

build vm "Linux 6.12 x86_64 (the VM kernel)"
build debian "Debian 6.1 headers ($(ls -d /usr/src/linux-headers-6.1.*-amd64 2>/dev/null | tail -n1))"
build arm64 "Linux 6.12 arm64 (cross, the arm64 test kernel)"

info=$(modinfo "$OUT/vm/vcpufreq_guest.ko" 2>&1)
grep -q '^alias: *of:N\*T\*Cqemu,virtual-cpufreq' <<<"$info" && grep -q '^alias: *pci:v00001AF4d00001110' <<<"$info"
result "module binds by devicetree compatible and by ivshmem PCI id" $? "$info"
grep -q '^license: *GPL' <<<"$info"
result "module is GPL" $? "$info"

log=$(make -s -C guest-driver checkpatch 2>&1)
files=$(grep -c '^total: ' <<<"$log"); clean=$(grep -c '^total: 0 errors, 0 warnings' <<<"$log")
[ "$files" -gt 0 ] && [ "$files" = "$clean" ]
result "checkpatch.pl --no-tree -f is clean ($clean of $files files)" $? "$log"

report
