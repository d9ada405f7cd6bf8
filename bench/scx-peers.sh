#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# bench/scx-peers.sh [OUTDIR]: build the kernel's own example sched_ext
# schedulers, scx_simple and scx_central, from the test kernel's source
# tree (tests/vm/build-kernel.sh extracts Debian's linux-source-6.12 into
# build/vm) against that kernel's BTF, into OUTDIR (default
# build/scx-peers).  make vm-bench runs them beside ours on the same load
# (bench/run.sh, section 4).  Built once; rebuilt when the kernel is.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-}" in -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;; esac
OUT=$(realpath -m "${1:-$ROOT/build/scx-peers}")
SRC=$ROOT/build/vm/linux-source-6.12/tools/sched_ext
VMLINUX=$ROOT/build/vm/obj/vmlinux
BIN=$OUT/build/bin

[ -d "$SRC" ] && [ -s "$VMLINUX" ] || {
	echo "Error: no test kernel tree in build/vm; run tests/vm/build-kernel.sh first" >&2; exit 1; }
if [ -x "$BIN/scx_simple" ] && [ -x "$BIN/scx_central" ] &&
   [ "$BIN/scx_simple" -nt "$VMLINUX" ] && [ "$BIN/scx_central" -nt "$VMLINUX" ]; then
	printf '  %-9s %s\n' SCX-PEERS "cached $BIN/scx_simple, scx_central"
	exit 0
fi
printf '  %-9s %s\n' SCX-PEERS "building scx_simple, scx_central (tools/sched_ext of the test kernel)"
mkdir -p "$OUT"
if ! make -C "$SRC" O="$OUT" VMLINUX_BTF="$VMLINUX" -j"$(nproc)" scx_simple scx_central \
	>"$OUT/build.log" 2>&1; then
	tail -n 20 "$OUT/build.log" >&2
	echo "Error: building the kernel's example schedulers failed (log: $OUT/build.log)" >&2
	exit 1
fi
touch "$BIN/scx_simple" "$BIN/scx_central"
