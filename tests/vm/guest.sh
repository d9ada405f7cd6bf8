# shellcheck shell=bash
# Sourced by the tests/vm scripts that boot the guest driver in a VM
# (e2e.sh under plain QEMU, libvirt.sh under libvirt): the guest's
# initramfs, the host's topology, waiting, and reading requests back.
# Needs ROOT and TMP set, and report.sh sourced.

VF=$ROOT/build/vcpufreq-bpf
BRIDGE=$ROOT/build/vcpufreq-qemu-bridge
KERNEL=$ROOT/build/vm/bzImage
MODULE=$ROOT/build/guest-driver/vm/vcpufreq_guest.ko

check() {	# check NAME CMD...: one test
	local name=$1 out; shift
	if out=$("$@" 2>&1); then ok "$name"; else bad "$name" "$out"; fi
}
wait_for() {	# wait_for SECONDS CMD...
	local end=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}

# a big.LITTLE host, one vCPU on each cluster: vCPU 0 sees the little
# cluster, vCPU 1 the big one, so two perf domains and two guest policies
write_host_topology() {	# write_host_topology FILE
	cat >"$1" <<EOF
cpu 0 capacity 512 cluster 0 freqs 300000,900000,1800000
cpu 1 capacity 1024 cluster 1 freqs 500000,1500000,2400000
EOF
}

# ---- one VM: the bridge, QEMU in the enrolled cgroup $CG, console on fd 3 --
# (e2e.sh, arm64.sh; they set CG and define their own console reading)
send() { echo "$*" >&3; }
start_bridge() {	# start_bridge BRIDGE ARGS...: on $TMP/ivshmem.sock, QMP $TMP/qmp.sock
	"$1" --socket "$TMP/ivshmem.sock" --qmp "$TMP/qmp.sock" "${@:2}" \
		>"$TMP/bridge.log" 2>&1 &
	BRIDGE_PID=$!
	wait_for 10 test -S "$TMP/ivshmem.sock" || { cat "$TMP/bridge.log"; return 1; }
}
start_qemu() {	# start_qemu QEMU ARGS...: with the bridge's device, output in $TMP/console.out
	rm -f "$TMP/console.in"
	mkfifo "$TMP/console.in"
	# shellcheck disable=SC2046
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "$@" \
		$("$BRIDGE" --socket "$TMP/ivshmem.sock" --qmp "$TMP/qmp.sock" --print-qemu-args) \
		<"$TMP/console.in" >"$TMP/console.out" 2>&1 &
	QEMU_PID=$!
	exec 3>"$TMP/console.in"
}
stop_vm() {	# the guest told to quit; returns the bridge's exit status
	local rc
	send quit 2>/dev/null
	wait_for 30 sh -c "! kill -0 $QEMU_PID" || kill "$QEMU_PID" 2>/dev/null
	wait "$QEMU_PID" 2>/dev/null
	exec 3>&-
	wait_for 10 sh -c "! kill -0 $BRIDGE_PID" || kill "$BRIDGE_PID" 2>/dev/null
	wait "$BRIDGE_PID"
	rc=$?
	QEMU_PID='' BRIDGE_PID=''
	return $rc
}

# the EXIT trap: nothing of the suite is left (VCPUFREQ_VM_KEEP=1: its $TMP)
vm_cleanup() {
	[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null
	[ -n "$BRIDGE_PID" ] && kill "$BRIDGE_PID" 2>/dev/null
	wait 2>/dev/null
	unload_vcpufreq
	rmdir "$CG" 2>/dev/null
	if [ -n "${VCPUFREQ_VM_KEEP:-}" ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
tid_of_vcpu() { sed -n "s/^vcpu $1 tid \([0-9]*\) .*/\1/p" "$TMP/bridge.log" | head -n1; }

# a vCPU thread's request as `vcpufreq-bpf vcpus` shows it
perf_of() { "$VF" vcpus -j | jq -r ".[] | select(.tid==$1) | .perf"; }
perf_between() {	# perf_between TID LO HI
	local p; p=$(perf_of "$1")
	[ -n "$p" ] && [ "$p" -ge "$2" ] && [ "$p" -le "$3" ]
}

# The guest: busybox and the module.  Its init runs the commands named on
# the kernel command line (e2e.run=insmod,hog) and then one per console
# line from the host, each answered with an E2E-... line.
need_files() {	# need_files FILE...: else the suite fails at once
	local f
	for f; do
		[ -e "$f" ] && continue
		echo "Error: $f is missing (make all, tests/vm/build-kernel.sh, make -C guest-driver vm; apt-get install busybox-static)" >&2
		echo "RESULT 0 1 0"
		exit 1
	done
}

# a vcpufreq-bpf of the suite's own; unloaded at the end only if it is
# ours (another suite's must survive this one's "already loaded" exit)
VF_LOADED=''
vcpufreq_not_loaded() {	# vcpufreq_not_loaded SUITE
	! "$VF" status -j | jq -e .loaded >/dev/null && return 0
	echo "Error: vcpufreq-bpf is already loaded; $1 loads its own (run 'vcpufreq-bpf unload')" >&2
	return 1
}
load_vcpufreq() {	# load_vcpufreq SUITE
	vcpufreq_not_loaded "$1" && "$VF" load >/dev/null && VF_LOADED=1
}
unload_vcpufreq() { [ -z "$VF_LOADED" ] || "$VF" unload >/dev/null 2>&1; }

build_initramfs() {	# build_initramfs OUT.cpio
	local r=$TMP/root
	mkdir -p "$r"/{bin,proc,sys,dev}
	cp /bin/busybox "$r/bin/busybox" || return 1
	cp "$MODULE" "$r/" || return 1
	cat >"$r/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "E2E-BOOTED"
HOG=
run() {
	case "${1%% *}" in
	insmod)
		if insmod /vcpufreq_guest.ko; then echo "E2E-INSMOD ok"
		else echo "E2E-INSMOD failed"; fi ;;
	show)
		for p in /sys/devices/system/cpu/cpufreq/policy*; do
			[ -d "$p" ] || continue
			echo "E2E-POLICY ${p##*/} driver=$(cat $p/scaling_driver)" \
				"cpus=$(cat $p/related_cpus)" \
				"min=$(cat $p/cpuinfo_min_freq) max=$(cat $p/cpuinfo_max_freq)" \
				"gov=$(cat $p/scaling_governor)" \
				"freqs=$(cat $p/scaling_available_frequencies 2>/dev/null | tr -s ' ' ',' | sed 's/,$//')"
		done
		echo "E2E-SHOWN" ;;
	hog)
		taskset -c 1 sh -c 'while :; do :; done' &
		HOG=$!
		echo "E2E-HOG" ;;
	stop)
		kill $HOG
		echo "E2E-STOPPED" ;;
	dmesg)
		dmesg | sed 's/^/E2E-DMESG /'
		echo "E2E-DMESG-END ${1#* }" ;;
	sugov)
		# schedutil runs a sugov:N kthread only when it cannot fast-switch
		echo "E2E-SUGOV-THREADS $(ps | grep -c '[s]ugov:')" ;;
	rmmod)
		if rmmod vcpufreq_guest; then echo "E2E-RMMOD ok"
		else echo "E2E-RMMOD failed"; fi ;;
	quit)
		poweroff -f ;;
	esac
}
for cmd in $(sed -n 's/.*e2e\.run=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' '); do
	run "$cmd"
done
while read -r cmd; do run "$cmd"; done </dev/console
EOF
	chmod 755 "$r/init"
	(cd "$r" && find . | cpio -o -H newc --quiet) >"$1"
}
