#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# `vcpufreq-bpf topology --dts` end to end: the guest devicetree for a
# big.LITTLE host description (an override file, so any machine will do),
# compiled with dtc, read back with fdtget, and checked with dt-validate
# when Debian's dt-schema is installed -- against our own binding for
# qemu,virtual-cpufreq too once the tree has one.  Needs no root.
#
#   tests/live/dts.sh [path/to/vcpufreq-bpf]     (default build/vcpufreq-bpf)
#
# One "ok NAME", "FAIL NAME" or "skip NAME (why)" line per check; last
# line "RESULT passed failed skipped"; exit 1 when anything failed.
set -uo pipefail
VF=$(realpath "${1:-$(dirname "$0")/../../build/vcpufreq-bpf}")
cd "$(dirname "$0")/../.."
ROOT=$PWD
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
unset VCPUFREQ_TOPOLOGY VCPUFREQ_SYSFS_CPU_DIR

TOPO=$TMP/big-little.topology
cat >"$TOPO" <<'EOF'
# cpu0,1 little, cpu2,3 big
cpu 0 capacity 512 cluster 0 freqs 300000,900000,1800000
cpu 1 capacity 512 cluster 0 freqs 300000,900000,1800000
cpu 2 capacity 1024 cluster 1 freqs 500000,1500000,2400000
cpu 3 capacity 1024 cluster 1 freqs 500000,1500000,2400000
EOF

PASSED=0 FAILED=0 SKIPPED=0
ok()   { echo "ok   $1"; PASSED=$((PASSED + 1)); }
bad()  { echo "FAIL $1"; shift; for l in "$@"; do echo "    $l"; done; FAILED=$((FAILED + 1)); }
skip() { echo "skip $1 ($2)"; SKIPPED=$((SKIPPED + 1)); }
have() { command -v "$1" >/dev/null 2>&1; }
dts()  { "$VF" --topology "$TOPO" topology --dts "$@"; }

finish() {
	echo "RESULT $PASSED $FAILED $SKIPPED"
	[ "$FAILED" -eq 0 ]
	exit
}

if [ ! -x "$VF" ]; then
	bad binary "$VF is not an executable; run make first"
	finish
fi

# --- the big.LITTLE tree: 4 vCPUs, two little, one big, one anywhere -----
DTS=$TMP/guest.dts DTB=$TMP/guest.dtb
if ! dts --vcpus 4 --affinity '0;1;2-3;0-3' >"$DTS" 2>"$TMP/err"; then
	bad generate "topology --dts failed: $(cat "$TMP/err")" \
		"(is 'topology --dts' wired to cmd_topology_dts in cli/cmd_topology.c?)"
	finish
fi
if [ "$(head -n1 "$DTS")" = "/dts-v1/;" ] &&
   grep -q 'compatible = "qemu,virtual-cpufreq";' "$DTS"; then
	ok generate
else
	bad generate "output is not the expected dts source:" "$(head -n3 "$DTS")"
fi

if ! have dtc; then
	skip dtc_compiles "dtc not installed: apt-get install device-tree-compiler"
	finish
fi
if dtc -I dts -O dtb -o "$DTB" "$DTS" 2>"$TMP/dtc.log" && [ ! -s "$TMP/dtc.log" ]; then
	ok dtc_compiles
else
	bad dtc_compiles "$(cat "$TMP/dtc.log")"
	finish
fi

# --- what the guest will read --------------------------------------------
get() { fdtget -t "$1" "$DTB" "$2" "$3" 2>&1; }
expect_prop() {	# expect_prop TYPE NODE PROP WANT
	local got; got=$(get "$1" "$2" "$3")
	[ "$got" = "$4" ] || { echo "$2 $3 = '$got', want '$4'"; return 1; }
}
check_values() {
	# 0x1000 of registers per vCPU at crosvm's base
	expect_prop s /cpufreq@1040000 compatible qemu,virtual-cpufreq &&
	expect_prop u /cpufreq@1040000 reg "0 17039360 0 16384" &&
	# host 512 @ 1.8 GHz vs 1024 @ 2.4 GHz, scaled for the guest's cpufreq max
	expect_prop u /cpus/cpu@0 capacity-dmips-mhz 683 &&
	expect_prop u /cpus/cpu@1 capacity-dmips-mhz 683 &&
	expect_prop u /cpus/cpu@2 capacity-dmips-mhz 1024 &&
	expect_prop u /cpus/cpu@3 capacity-dmips-mhz 1024 &&
	expect_prop u /opp-table-0/opp-1800000000 opp-hz "0 1800000000" &&
	expect_prop u /opp-table-3/opp-2400000000 opp-hz "0 2400000000" &&
	expect_prop u /cpus/cpu@3 operating-points-v2 "$(get u /opp-table-3 phandle)" &&
	# perf domains 0 and 1 become cluster0 {cpu0 cpu1} and cluster1 {cpu2 cpu3}
	expect_prop u /cpus/cpu-map/cluster0/core1 cpu "$(get u /cpus/cpu@1 phandle)" &&
	expect_prop u /cpus/cpu-map/cluster1/core1 cpu "$(get u /cpus/cpu@3 phandle)" &&
	[ "$(fdtget -l "$DTB" /cpus/cpu-map | tr '\n' ' ')" = "cluster0 cluster1 " ] ||
		{ echo "cpu-map clusters: $(fdtget -l "$DTB" /cpus/cpu-map | tr '\n' ' ')"; return 1; }
}
if ! have fdtget; then
	skip values "fdtget not installed"
elif out=$(check_values); then
	ok values
else
	bad values "$out"
fi

# --- schema validation -----------------------------------------------------
# Debian's dt-schema (2022.08) exits 0 even when a node breaks a schema, so
# any output at all is a failure.
if ! have dt-validate; then
	skip dt_validate "dt-validate not installed: apt-get install dt-schema"
else
	if out=$(dt-validate "$DTB" 2>&1) && [ -z "$out" ]; then
		ok dt_validate_core_schemas
	else
		bad dt_validate_core_schemas "$out"
	fi
	# our own binding for the device, wherever the tree keeps it
	binding=$(grep -rl --include='*.yaml' --exclude-dir=build --exclude-dir=.git \
		'qemu,virtual-cpufreq' "$ROOT" 2>/dev/null | head -n1)
	if [ -z "$binding" ]; then
		skip dt_validate_binding "no qemu,virtual-cpufreq binding YAML in the tree yet"
	else
		mkdir -p "$TMP/schema"
		cp "$binding" "$TMP/schema/"
		out=$(dt-validate -m -s "$TMP/schema" "$DTB" 2>&1)
		errs=$(grep -v 'failed to match any schema' <<<"$out")
		if grep -q "failed to match any schema with compatible: \['qemu,virtual-cpufreq'\]" <<<"$out"; then
			bad dt_validate_binding "${binding#"$ROOT"/} did not match the cpufreq node" \
				${errs:+"$errs"}
		elif [ -n "$errs" ]; then
			bad dt_validate_binding "against ${binding#"$ROOT"/}:" "$errs"
		else
			ok dt_validate_binding
		fi
		# the binding itself against the meta-schemas ($id must match its path)
		out=$(cd "$ROOT/guest-driver/bindings" &&
		      dt-doc-validate -u . "cpufreq/$(basename "$binding")" 2>&1)
		if [ -z "$out" ]; then
			ok dt_doc_validate_binding
		else
			bad dt_doc_validate_binding "$out"
		fi
	fi
fi

# --- other shapes ------------------------------------------------------------
if dts --vcpus 2 --affinity 2-3 --base 0x20000000 >"$TMP/b.dts" 2>"$TMP/err" &&
   dtc -q -I dts -O dtb -o "$TMP/b.dtb" "$TMP/b.dts" &&
   [ "$(fdtget -t u "$TMP/b.dtb" /cpufreq@20000000 reg 2>&1)" = "0 536870912 0 8192" ]; then
	ok one_affinity_for_all_and_base
else
	bad one_affinity_for_all_and_base "$(cat "$TMP/err")" "$(grep -A3 'cpufreq@' "$TMP/b.dts")"
fi

# without --affinity every vCPU may run anywhere: all look like the big CPUs
if dts --vcpus 3 >"$TMP/c.dts" 2>"$TMP/err" &&
   [ "$(grep -c 'capacity-dmips-mhz = <1024>;' "$TMP/c.dts")" = 3 ] &&
   [ "$(grep -c 'perf domain 1 \*/' "$TMP/c.dts")" = 4 ]; then
	ok default_affinity_is_every_host_cpu
else
	bad default_affinity_is_every_host_cpu "$(cat "$TMP/err")" "$(grep -E 'capacity|domain' "$TMP/c.dts")"
fi

# --- errors that say what to do --------------------------------------------
expect_error() {	# expect_error NAME PATTERN ARGS...
	local name=$1 pat=$2 out; shift 2
	if out=$(dts "$@" 2>&1); then
		bad "$name" "'topology --dts $*' succeeded"
	elif grep -q "^Error: .*$pat" <<<"$out"; then
		ok "$name"
	else
		bad "$name" "'topology --dts $*': no 'Error: ...$pat' in:" "$out"
	fi
}
expect_error error_vcpus_missing '--vcpus N is required' --affinity 0
expect_error error_vcpus_zero 'out of range; the device takes 1..1024' --vcpus 0
expect_error error_vcpus_too_many 'out of range; the device takes 1..1024' --vcpus 1025
expect_error error_vcpus_not_a_number 'not a number' --vcpus four
expect_error error_affinity_count "has 2 ';'-separated cpulists for 4 vCPUs" --vcpus 4 --affinity '0;1'
expect_error error_affinity_cpu_not_on_host 'CPU 9 is not on this host (host CPUs: 0-3)' --vcpus 2 --affinity 9
expect_error error_affinity_per_vcpu_names_the_vcpu 'affinity of vCPU 2: CPU 4 is not on this host' --vcpus 3 --affinity '0;1;4'
expect_error error_affinity_syntax 'bad cpu list element' --vcpus 1 --affinity 3-1
expect_error error_affinity_empty 'empty cpu list' --vcpus 2 --affinity '0;'
expect_error error_base_alignment 'not 4 KiB aligned' --vcpus 1 --base 0x1040800
expect_error error_base_syntax 'not an address' --vcpus 1 --base 1040000h
expect_error error_unknown_option "unexpected argument '--cpus'" --cpus 4
expect_error error_json 'not JSON' --vcpus 1 -j

finish
