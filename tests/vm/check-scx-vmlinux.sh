#!/usr/bin/env bash
# tests/vm/check-scx-vmlinux.sh [VMLINUX]: the sched_ext scheduler's
# checked-in vmlinux.h (bpf/vmlinux/x86/vmlinux.h, `make vmlinux-scx`) is
# what the test kernel's BTF (build/vm/obj/vmlinux) dumps to, and every
# scx_bpf_* and bpf_cpumask_* kfunc the scheduler calls exists there
# (under either its 6.12 or its 6.13+ name).  Last line: "RESULT passed failed skipped".
set -uo pipefail
cd "$(dirname "$0")/../.."
BPFTOOL=build/bpftool/bpftool
VMLINUX=${1:-build/vm/obj/vmlinux}
CHECKED_IN=bpf/vmlinux/x86/vmlinux.h
SCHED=bpf/vcpufreq_scx.bpf.c
. tests/vm/report.sh
c=$(mktemp); raw=$(mktemp)
trap 'rm -f "$c" "$raw"' EXIT
"$BPFTOOL" btf dump file "$VMLINUX" format c >"$c" 2>/dev/null &&
	"$BPFTOOL" btf dump file "$VMLINUX" >"$raw" 2>/dev/null ||
	{ echo "Error: cannot read the BTF of $VMLINUX" >&2; echo "RESULT 0 1 0"; exit 0; }

out=$(diff -q "$CHECKED_IN" "$c" 2>&1)
result "$CHECKED_IN is the BTF of $VMLINUX (else: make vmlinux-scx)" $? "$out"

for k in $(grep -oE '\b(scx_bpf|bpf_cpumask)_[a-z_]+\(' "$SCHED" | tr -d '(' | sort -u); do
	grep -q "FUNC '$k'" "$raw"
	rc=$?
	case $k in	# one of each renamed pair is enough
	scx_bpf_dispatch|scx_bpf_dsq_insert) grep -qE "FUNC '(scx_bpf_dispatch|scx_bpf_dsq_insert)'" "$raw"; rc=$? ;;
	scx_bpf_consume|scx_bpf_dsq_move_to_local) grep -qE "FUNC '(scx_bpf_consume|scx_bpf_dsq_move_to_local)'" "$raw"; rc=$? ;;
	esac
	result "kfunc $k (or its other name) exists in the kernel" $rc "not in $VMLINUX's BTF"
done
report
