# shellcheck shell=bash
# Sourced by the arm64 guest suites (arm64.sh: stock QEMU and the bridge;
# qemu-device.sh: the patched QEMU's own device): the emulated big.LITTLE
# host, the guest's static init (arm64-init.c) and initramfs, and asking
# the guest and the host what they see.  Needs ROOT, HERE and TMP set,
# report.sh and guest.sh sourced, and T[i] the host thread of vCPU i.

# shellcheck disable=SC2034	# used by the suites that source this
KERNEL=$ROOT/build/vm-arm64/Image
KTREE=$ROOT/build/vm-arm64
MODULE=$ROOT/build/guest-driver/arm64/vcpufreq_guest.ko
MACHINE=(-M 'virt,gic-version=3' -cpu cortex-a57 -m 256)

# ---- the emulated host ---------------------------------------------------
# vCPU i runs on host CPU i (--affinity '0;1;2;3'): 0-1 little (one perf
# domain), 2 mid, 3 big
cat >"$TMP/host.topology" <<EOF
cpu 0 capacity 512 cluster 0 freqs 300000,900000,1800000
cpu 1 capacity 512 cluster 0 freqs 300000,900000,1800000
cpu 2 capacity 768 cluster 1 freqs 500000,1200000,2000000
cpu 3 capacity 1024 cluster 2 freqs 500000,1500000,2400000
EOF
AFFINITY='0;1;2;3'
# the same host with a big CPU that has no frequency table, only a range:
# the device then offers its vCPU continuous perf (PERFTBL_LEN 1)
sed 's/^cpu 3 .*/cpu 3 capacity 1024 cluster 2 freq 500000-2400000/' \
	"$TMP/host.topology" >"$TMP/host-continuous.topology"
HOST=$TMP/host.topology		# the host the VMM describes

# where the VMM reads each host CPU's current frequency (libvcpufreq's
# vcpufreq_host_cur_perf): every CPU of this host at PERCENT of 2 GHz
host_speed() {	# host_speed PERCENT
	local d
	for d in /sys/devices/system/cpu/cpu[0-9]*; do
		d=$TMP/sysfs/${d##*/}
		mkdir -p "$d/cpufreq"
		echo 1024 >"$d/cpu_capacity"
		echo 2000000 >"$d/cpufreq/cpuinfo_max_freq"
		echo $((20000 * $1)) >"$d/cpufreq/scaling_cur_freq.tmp"
		mv "$d/cpufreq/scaling_cur_freq.tmp" "$d/cpufreq/scaling_cur_freq"
	done
}

# ---- the guest: kernel and initramfs ------------------------------------------
build_init() {	# the static PID 1, against the kernel's nolibc and UAPI headers
	local log=$TMP/init-build.log
	if [ ! -f "$KTREE/sysroot/include/nolibc.h" ]; then
		make -s -C "$KTREE/linux-source-6.12/tools/include/nolibc" ARCH=arm64 \
			OUTPUT="$KTREE/" headers >"$log" 2>&1 || { cat "$log"; return 1; }
	fi
	if [ ! -f "$KTREE/obj/usr/include/linux/reboot.h" ]; then
		make -s -C "$KTREE/linux-source-6.12" O="$KTREE/obj" ARCH=arm64 \
			CROSS_COMPILE=aarch64-linux-gnu- headers >>"$log" 2>&1 || { cat "$log"; return 1; }
	fi
	aarch64-linux-gnu-gcc -Os -Wall -Werror -static -nostdlib -nostdinc \
		-fno-stack-protector -I "$KTREE/sysroot/include" -I "$KTREE/obj/usr/include" \
		-include nolibc.h -o "$TMP/root/init" "$HERE/arm64-init.c" -lgcc
}
build_initramfs_arm64() {	# build_initramfs_arm64 [MORE.ko...]: init + the modules
	mkdir -p "$TMP/root"/{proc,sys,dev}
	build_init || return 1
	cp "$MODULE" "$@" "$TMP/root/" || return 1
	(cd "$TMP/root" && find . | cpio -o -H newc --quiet) >"$TMP/initramfs.cpio"
}

# ---- the console (fd 3 in, $TMP/console.out out) ----------------------------
console_has() { tr -d '\r' <"$TMP/console.out" | grep -q -- "$1"; }
expect() { wait_for "${2:-60}" console_has "$1"; }
last_line() { tr -d '\r' <"$TMP/console.out" | grep -- "$1" | tail -n1; }

# ---- what the guest and the host say ----------------------------------------
field() {	# field LINE NAME: NAME=VALUE from an A64- line
	tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"
}
policy() { last_line "A64-POLICY policy$1 "; }
count_of() { tr -d '\r' <"$TMP/console.out" | grep -c -- "$1"; }
more_than() { [ "$(count_of "$1")" -gt "$2" ]; }	# more_than MARKER N
ask() {	# ask COMMAND MARKER [SECONDS]: send it, wait for one more MARKER line
	local before; before=$(count_of "$2")
	send "$1"
	wait_for "${3:-60}" more_than "$2" "$before"
}
guest_util() {	# the hog's util_avg, fresh
	ask util A64-UTIL || return 1
	last_line A64-UTIL | awk '{print $2}'
}
util_between() {	# util_between LO HI
	local u; u=$(guest_util) || return 1
	[ "$u" -ge "$1" ] && [ "$u" -le "$2" ]
}
caps_are() {	# caps_are "cpu0=A cpu1=B ...": each within 2 of the guest's
	local want got c v g
	ask caps A64-CAP || return 1
	got=$(last_line A64-CAP)
	for want in $1; do
		c=${want%%=*} v=${want#*=}
		g=$(field "$got" "$c")
		[ -n "$g" ] && [ $((g - v)) -le 2 ] && [ $((v - g)) -le 2 ] ||
			{ echo "want $1, guest says: $got"; return 1; }
	done
}
is_high() { perf_between "${T[$1]}" "$2" 1024; }	# is_high VCPU MIN
is_low() { perf_between "${T[$1]}" 1 "$2"; }		# is_low VCPU MAX

cur_khz_between() {	# cur_khz_between POLICY LO HI
	local c
	ask show A64-SHOWN || return 1
	c=$(field "$(policy "$1")" cur)
	[ -n "$c" ] && [ "$c" -ge "$2" ] && [ "$c" -le "$3" ]
}
# TCG on two shared host cores: a guest's housekeeping on an idle vCPU
# whose thread waits for a host CPU looks like load for a while, so a
# request is judged by most of 10 samples over 5 s, not by one
mostly() {	# mostly CMD...: true in at least 6 of 10 samples
	local n=0 i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		"$@" && n=$((n + 1))
		sleep 0.5
	done
	[ $n -ge 6 ]
}
# thread_ticks TID: the CPU time (USER_HZ ticks of 10 ms) the vCPU thread
# used; /proc/TID/stat would be all of QEMU's threads: the thread's own
# is under task/
thread_ticks() { awk '{print $14 + $15}' "/proc/$1/task/$1/stat"; }
cpu_pct() {	# cpu_pct TID: the share of a CPU (%) it used over 0.5 s
	local a b
	a=$(thread_ticks "$1") || return 1
	sleep 0.5
	b=$(thread_ticks "$1") || return 1
	echo $(((b - a) * 100 / 50))
}
# requests VCPU...: each one's request and how busy its thread is
requests() {
	local i; for i in "$@"; do
		printf 'vcpu%s=%s (cpu %s %%) ' "$i" "$(perf_of "${T[$i]}")" "$(cpu_pct "${T[$i]}")"
	done
}
# low_or_quiet VCPU MAX: an idle vCPU keeps the last request it wrote
# (Linux updates a CPU's request only on scheduler events on that CPU,
# and in a shared policy the sibling may write the fall), so a stale
# request can sit on a thread that only wakes for the guest's timers and
# interrupts (under a tenth of a CPU); a vCPU that runs must be low
low_or_quiet() {
	local p
	is_low "$1" "$2" && return
	p=$(cpu_pct "${T[$1]}") && [ "$p" -lt 10 ]
}
all_low() {
	low_or_quiet 0 300 && low_or_quiet 1 300 && low_or_quiet 2 400 && low_or_quiet 3 400
}
shown() { "$@" || { requests 0 1 2 3; return 1; }; }	# shown CMD...: or every request shown
pair_low() {	# policy {0, 1}: one thread low, the other low or quiet
	{ is_low 0 300 && low_or_quiet 1 300; } || { is_low 1 300 && low_or_quiet 0 300; }
}
only_3_high() {
	mostly is_high 3 950 && mostly low_or_quiet 0 300 &&
		mostly low_or_quiet 1 300 && mostly low_or_quiet 2 400
}
# continuous mode's 1 kHz minimum is 0 in host capacity units ("no
# demand"): a continuous vCPU 3 is low at 0 too
quiet_3() { perf_between "${T[3]}" 0 400; }
mostly_3_high() { mostly is_high 3 950; }
only_domain_0_high() {
	mostly is_high 0 460 && mostly is_high 1 460 && mostly is_low 2 400 && mostly is_low 3 400
}
raised() {	# raised VCPU MIN PREDICATE: its request rises, then PREDICATE holds
	wait_for 90 is_high "$1" "$2" && "$3"
}
mean_util() {	# the hog's util_avg, mean of 5 reads 0.7 s apart
	local sum=0 u i
	for i in 1 2 3 4 5; do
		u=$(guest_util) || return 1
		sum=$((sum + u))
		sleep 0.7
	done
	echo $((sum / 5))
}

policies_show_the_host() {
	local p0 p2 p3
	ask show A64-SHOWN || return 1
	p0=$(policy 0) p2=$(policy 2) p3=$(policy 3)
	[ "$(field "$p0" driver)" = vcpufreq ] && [ "$(field "$p0" cpus)" = 0,1 ] &&
		[ "$(field "$p0" freqs)" = 300000,900000,1800000 ] &&
		[ "$(field "$p2" cpus)" = 2 ] && [ "$(field "$p2" max)" = 2000000 ] &&
		[ "$(field "$p3" cpus)" = 3 ] && [ "$(field "$p3" freqs)" = 500000,1500000,2400000 ] &&
		[ "$(field "$p3" gov)" = schedutil ] ||
		{ printf '%s\n' "$p0" "$p2" "$p3"; return 1; }
}
OOPS='BUG:|Oops|WARNING:|Call trace|Internal error'
no_oops() { ! tr -d '\r' <"$TMP/console.out" | grep -E "$OOPS"; }

# ---- steps both suites take with a 4-vCPU guest of this host ---------------
hog_raises_only_vcpu_3() {	# hog_raises_only_vcpu_3 HOW: hog on vCPU 3, then stop
	ask "hog 3" A64-HOG
	check "hog on vCPU 3: exactly QEMU's vCPU 3 thread carries a high request, the others low or quiet ($1)" \
		shown raised 3 950 only_3_high
	ask stop A64-STOPPED
	check "hog stops: vCPU 3's request falls ($1)" wait_for 90 is_low 3 400
}

# frequency invariance: a task's util_avg grows with its running time
# scaled by cur / max, so the same duty cycle shows half the util when
# the host runs the vCPU at half speed
frequency_invariance_follows_cur_perf() {	# ... HOW
	local full half
	# 20 of 25 ms: long against the wake-up jitter of TCG on a busy host
	ask "hog 3 20 25" A64-HOG
	sleep 3
	full=$(mean_util) && wait_for 60 is_high 3 950
	check "host at full speed: a 20-of-25 ms task on vCPU 3 (util $full) gets the top request ($1)" \
		is_high 3 950
	host_speed 50
	check "host at half speed: the guest reads CUR_PERF 1.2 GHz of 2.4 (cpuinfo_cur_freq, $1)" \
		wait_for 30 cur_khz_between 3 1150000 1250000
	sleep 3
	half=$(mean_util)
	if [ -n "$full" ] && [ -n "$half" ] && [ $((half * 100)) -ge $((full * 30)) ] &&
		[ $((half * 100)) -le $((full * 70)) ]; then
		ok "host at half speed: the task's util_avg halves, $full -> $half (frequency invariance follows CUR_PERF, $1)"
	else
		bad "host at half speed: the task's util_avg halves (frequency invariance follows CUR_PERF, $1)" "util $full -> $half"
	fi
	# schedutil: 1.25 x util of 1024 x 2.4 GHz resolves to 1.5 GHz -> 640
	check "host at half speed: the task's request follows its util down to 1.5 GHz ($1)" \
		wait_for 60 perf_between "${T[3]}" 500 800
	host_speed 100
	ask stop A64-STOPPED
}
