#!/usr/bin/env bash
# tests/vm/check-scx-decls.sh: the sched_ext constants bpf/scx_decls.h
# declares by hand equal the test kernel's (its BTF, build/vm/obj/vmlinux),
# and every kfunc it declares exists there (under either 6.12 or 6.13+
# name).  Last line: "RESULT passed failed skipped".
set -uo pipefail
cd "$(dirname "$0")/../.."
BPFTOOL=build/bpftool/bpftool
VMLINUX=${1:-build/vm/obj/vmlinux}
. tests/vm/report.sh
c=$(mktemp); raw=$(mktemp)
trap 'rm -f "$c" "$raw"' EXIT
"$BPFTOOL" btf dump file "$VMLINUX" format c >"$c" 2>/dev/null &&
	"$BPFTOOL" btf dump file "$VMLINUX" >"$raw" 2>/dev/null ||
	{ echo "Error: cannot read the BTF of $VMLINUX" >&2; echo "RESULT 0 1 0"; exit 0; }

# "#define SCX_X  <number or expression>" whose name is an enum value in BTF
while read -r name expr; do
	want=$(grep -E "^\s+$name = " "$c" | head -n1 | sed -E 's/.*= ([0-9]+)(ULL|LL|U)?,.*/\1/')
	[ -n "$want" ] || continue
	have=$(python3 -c "print($(sed -E 's/\b([0-9]+)(ULL|UL|U|LL)\b/\1/g; s/\(u64\)//g' <<<"$expr" | sed -E 's/SCX_DSQ_FLAG_BUILTIN/(1 << 63)/'))")
	[ "$have" = "$want" ]
	result "scx_decls.h $name = $have matches the kernel" $? "kernel says $want"
done < <(sed -nE 's/^#define (SCX_[A-Z_]+)\s+(.*)$/\1 \2/p' bpf/scx_decls.h)

for k in $(perl -0777 -ne 'print "$1\n" while /\b(\w+)\([^;()]*\)\s*__ksym/g' bpf/scx_decls.h); do
	grep -q "FUNC '$k'" "$raw"
	rc=$?
	case $k in	# one of each renamed pair is enough
	scx_bpf_dispatch|scx_bpf_dsq_insert) grep -qE "FUNC '(scx_bpf_dispatch|scx_bpf_dsq_insert)'" "$raw"; rc=$? ;;
	scx_bpf_consume|scx_bpf_dsq_move_to_local) grep -qE "FUNC '(scx_bpf_consume|scx_bpf_dsq_move_to_local)'" "$raw"; rc=$? ;;
	esac
	result "kfunc $k (or its other name) exists in the kernel" $rc "not in $VMLINUX's BTF"
done
report
