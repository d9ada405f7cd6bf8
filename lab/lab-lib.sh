# shellcheck shell=bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Sourced inside the test VM by lab/lab-vm.sh (the lab) and
# lab/lab-check.sh (its functional check in make test): load the
# emulated host and drive its frequencies.  Run from the project directory.
OUT=${OUT:-build}
CLI=$OUT/vcpufreq-bpf
GUEST=$OUT/lab-guest
MODULE=$OUT/lab/vcpufreq_labhost.ko
IO_MODULE=$OUT/lab/vcpufreq_labio.ko
PROC=/proc/vcpufreq_labhost
CPU_SYS=/sys/devices/system/cpu
TOPO=/run/lab.topology
CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)	# guest-init mounts it

die() { echo "Error: $*" >&2; exit 1; }
say() { echo "lab: $*"; }

# lines of /proc/vcpufreq_labhost: cpu cluster capacity khz speed_ppm ua busy_ns stall_ns
opps() { grep -v '^#' "$PROC"; }
cpus_of() { opps | awk -v c="$1" '$2 == c { print $1 }' | sort -un | paste -sd, -; }

# insmod the modules (the host, its iowait device); sets A55, A76, X1
# (cpulists), A550, A760, X10 (their first CPUs), NCPU, RAW_IPU (a
# full-speed vCPU's loop iterations per us), IPU (loop iterations per us of
# an X1 at fmax: lab-guest's work unit is defined at that speed) and writes
# $TOPO, the
# topology vcpufreq-bpf and lab-guest are given (x86 has no cpu_capacity in
# sysfs)
lab_host_up() {
	local f
	for f in "$CLI" "$GUEST" "$MODULE" "$IO_MODULE"; do
		[ -e "$f" ] || die "$f is missing; run 'make effect' on the host"
	done
	# a full-speed vCPU's rate before the module slows any (the best of
	# three: a sample the host slowed reads low): the lab's work units
	# declare their iterations, and the module holds each for exactly the
	# time it takes at the emulated speed (lab/host, "Declared work")
	RAW_IPU=$(for i in 1 2 3; do calibrate "$(($(nproc) - 1))"; done | sort -g | tail -n1)
	[ -n "$RAW_IPU" ] || die "lab-guest --calibrate printed nothing"
	insmod "$MODULE" work_ipms="$(awk -v x="$RAW_IPU" 'BEGIN { printf "%d", x * 1000 }')" ||
		die "insmod $MODULE failed (is this the test kernel with tests/vm/patches?)"
	insmod "$IO_MODULE" || die "insmod $IO_MODULE failed"
	A55=$(cpus_of a55) A76=$(cpus_of a76) X1=$(cpus_of x1) NCPU=$(nproc)
	A550=${A55%%,*} A760=${A76%%,*} X10=${X1%%,*}
	# power: each OPP's per-core current (uA), as the energy model has it
	opps | awk '{ cap[$1] = $3; cl[$1] = ($2 == "x1") * 2 + ($2 == "a76"); f[$1] = f[$1] (f[$1] ? "," : "") $4
		      p[$1] = p[$1] (p[$1] ? "," : "") $6 }
		END { for (c in cap) printf "cpu %d capacity %d cluster %d freqs %s power %s\n", c, cap[c], cl[c], f[c], p[c] }' \
		| sort -k2n >"$TOPO"
	set_governor performance
	IPU=$(calibrate "$X10")
	set_governor schedutil
	[ -n "$IPU" ] || die "lab-guest --calibrate printed nothing"
}

policies() { ls -d "$CPU_SYS"/cpufreq/policy*; }
set_governor() {
	local p
	for p in $(policies); do
		cat "$p/cpuinfo_min_freq" >"$p/scaling_min_freq"
		cat "$p/cpuinfo_max_freq" >"$p/scaling_max_freq"
		echo "$1" >"$p/scaling_governor" || die "cannot set governor $1 on $p"
	done
}
# run CPU $1's policy at $2 kHz
pin_opp() {
	local p=$CPU_SYS/cpu$1/cpufreq
	echo performance >"$p/scaling_governor"
	cat "$p/cpuinfo_min_freq" >"$p/scaling_min_freq"
	echo "$2" >"$p/scaling_max_freq"
}

calibrate() { taskset -c "$1" "$GUEST" --calibrate -j | jq -r .iters_per_us; }

# speed_ratios CPU KHZ...: one "khz expected achieved" line per OPP, both
# relative to the X1 cluster at fmax, one CPU busy at a time.  The
# reference is measured again beside each sample, so that a change in what
# else runs on the machine moves both alike, and "achieved" is the median of
# LAB_SPEED_SAMPLES such pairs (default 3): one pair that a neighbour on a
# shared host slowed (seen in CI: 1.36x off at the slowest OPP) is outvoted
speed_ratios() {
	local cpu=$1 khz ref ref_ppm ppm rate i ratios; shift
	ref_ppm=$(opps | awk -v c="$X10" '$1 == c { p = $5 } END { print p }')
	for khz in "$@"; do
		ppm=$(opps | awk -v c="$cpu" -v f="$khz" '$1 == c && $4 == f { print $5 }')
		ratios=
		for ((i = 0; i < ${LAB_SPEED_SAMPLES:-3}; i++)); do
			set_governor performance	# the X1 cluster back at fmax
			ref=$(calibrate "$X10")
			pin_opp "$cpu" "$khz"
			rate=$(calibrate "$cpu")
			ratios+=" $(awk -v r="$rate" -v rr="$ref" 'BEGIN { if (rr > 0) printf "%.6f", r / rr }')"
		done
		# shellcheck disable=SC2086
		printf '%s\n' $ratios | sort -g | awk -v f="$khz" -v p="$ppm" -v rp="$ref_ppm" \
			'{ r[NR] = $1 } END { printf "%d %.4f %.4f\n", f, p / rp, r[int((NR + 1) / 2)] }'
	done
	set_governor schedutil
}

# Android's CPU energy since the last reset, as a JSON object: per-OPP
# active current x busy time (core), cluster current x the time the cluster
# was awake, i.e. not cluster-off (cluster), cpu.active x the time any CPU
# was busy (active); with busy time per cluster and idle-state residency
energy_json() {
	awk '
		$1 == "#" && $2 == "system" { el = $4; act = $6; actua = $8 }
		$1 == "#cluster" { clmas += $4 / 1e9 * $3 / 1000; awake[$2] = $4 / 1e6; off[$2] = $6 / 1e6 }
		$1 == "#idle" { wfi += $3 / 1e6; c2 += $4 / 1e6; exits += $5 }
		$1 !~ /^#/ { coremas += $7 / 1e9 * $6 / 1000; busy[$2] += $7 / 1e6; stall += $8 / 1e6 }
		END {
			actmas = act / 1e9 * actua / 1000
			printf "{\"energy_mah\":%.6f,\"core_mah\":%.6f,\"cluster_mah\":%.6f,\"active_mah\":%.6f,",
				(coremas + clmas + actmas) / 3600, coremas / 3600, clmas / 3600, actmas / 3600
			printf "\"elapsed_ms\":%.1f,\"active_ms\":%.1f,\"host_stall_ms\":%.1f,\"wfi_ms\":%.1f,\"c2_ms\":%.1f,\"c2_exits\":%d",
				el / 1e6, act / 1e6, stall, wfi, c2, exits
			for (c in busy) printf ",\"busy_%s_ms\":%.1f", c, busy[c]
			for (c in awake) printf ",\"awake_%s_ms\":%.1f,\"off_%s_ms\":%.1f", c, awake[c], c, off[c]
			print "}"
		}' "$PROC"
}
