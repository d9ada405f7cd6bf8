# shellcheck shell=bash
# tests/live/lib.sh: what every area of the live suite shares, sourced by
# run-live.sh before the areas (tests/live/*.sh): the paths, the setup (a
# temporary dir, the state dir, a big.LITTLE topology file), the helpers the
# tests call, cleanup between tests, and the VMM helpers more than one area
# uses (a stand-in VMM, a second VMM process, the VMM users).

VF=$PWD/build/vcpufreq-bpf
SPAWN=$PWD/build/tests/spawn-threads
PIN=/sys/fs/bpf/vcpufreq
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
CGT=$CG2/vcpufreq-test
TMP=$(mktemp -d)
chmod 711 "$TMP"	# the broker's socket is in the state dir below: VMM users reach it
BIG_LITTLE=$TMP/big-little.topology
# every CPU little (512) but the last one, big (1024): perf 900 fits only $BIG
BIG=$(($(nproc) - 1))
for c in $(seq 0 $BIG); do
	echo "cpu $c capacity $([ $c = $BIG ] && echo 1024 || echo 512) cluster $([ $c = $BIG ] && echo 1 || echo 0)"
done >"$BIG_LITTLE"
ALL=$(taskset -cp $$ | sed 's/.*: //')	# what a thread starts with (and gets back)
export VCPUFREQ_STATE_DIR=$TMP/state
PIDFILE=$TMP/pids	# tests run in subshells: remember what they spawned here

fail() { echo "    $*" >&2; exit 1; }
expect_fail() {	# expect_fail PATTERN CMD...: non-zero exit, "Error: ...PATTERN"
	local pat=$1 out; shift
	out=$("$@" 2>&1) && fail "'$*' succeeded: $out"
	grep -q "^Error: .*$pat" <<<"$out" || fail "'$*': no 'Error: ...$pat' in: $out"
}
jq_is() {	# jq_is JSON FILTER WANT
	local got; got=$(jq -r "$2" <<<"$1")
	[ "$got" = "$3" ] || fail "$2 = '$got', want '$3' in $1"
}
# spawn N [LIFETIME_MS] [CGROUP] [hog]: start threads (inside CGROUP),
# TIDs in $TIDS; "hog": threads that never sleep; SPAWN_AS: a command
# prefix (setpriv ...) to run them as another user
spawn() {
	local n=$1 life=${2:-0} cg=${3:-} mode=${4:-} fifo=$TMP/tids.$RANDOM
	mkfifo "$fifo"
	if [ -n "$cg" ]; then
		sh -c "echo \$\$ > $cg/cgroup.procs && exec ${SPAWN_AS:-} $SPAWN $n $life $mode" >"$fifo" &
	else
		$SPAWN "$n" "$life" $mode >"$fifo" &
	fi
	echo $! >>"$PIDFILE"
	mapfile -t -n "$n" TIDS <"$fifo"
	rm -f "$fifo"
}
cpus_of() { taskset -cp "$1" | sed 's/.*: //'; }
wait_for() {	# wait_for SECONDS CMD...: retry until CMD succeeds
	local end=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.05
	done
}
# kill_agent [PID]: the agent dies by SIGKILL, as in a crash; SIGKILL is
# delivered at once, the exit takes a moment
kill_agent() {
	kill -9 "${1:-$($VF status -j | jq -r .agent_pid)}"
	wait_for 5 sh -c "$VF status -j | jq -e '.agent_running == false'" >/dev/null || fail "the agent outlived SIGKILL"
}
on_switch_progs() { bpftool prog show -j | jq '[.[] | select(.name=="on_switch")] | length'; }
affinity_is() { [ "$(cpus_of "$1")" = "$2" ]; }
request_gone() { ! bpftool map lookup pinned $PIN/requests key $(le32 "$1") >/dev/null 2>&1; }
le32() { printf '%d %d %d %d' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }

# affinity backend on a big.LITTLE description, one vCPU thread enrolled
affinity_vcpu() {
	$VF --topology "$BIG_LITTLE" load --backend affinity >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	spawn 1 0 "$CGT"
}

cleanup() {
	[ -f "$PIDFILE" ] && xargs -r kill <"$PIDFILE" 2>/dev/null
	rm -f "$PIDFILE"
	$VF unload >/dev/null 2>&1
	$VF --pin-dir /sys/fs/bpf/vcpufreq-alt unload >/dev/null 2>&1
	if mountpoint -q "$TMP/bpffs"; then
		$VF --pin-dir "$TMP/bpffs/vcpufreq" unload >/dev/null 2>&1
		umount "$TMP/bpffs"
	fi
	for d in "$CGT"/* "$CGT"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
	true
}

# a test that cannot run here (the kernel lacks a feature) returns $SKIP
SKIP=77

# ---- VMMs: the stand-in VMM, a second VMM process, the VMM users -----------
VMM=$PWD/build/standin-vmm
VMM_USER=vcpufreq-vmm
AS_VMM="setpriv --reuid=$VMM_USER --regid=$VMM_USER --clear-groups"
as_vmm_user() { $AS_VMM "$@"; }
# run_vmm CGROUP SECONDS [PREFIX...]: a stand-in VMM of 2 vCPUs in CGROUP
run_vmm() {
	local cg=$1 secs=$2; shift 2
	sh -c "echo \$\$ > $cg/cgroup.procs && exec $* $VMM -n 2 -t $secs" >"$TMP/vmm.out" 2>&1 &
	echo $! >>"$PIDFILE"
	wait_for 5 sh -c "[ \$(grep -c '^vcpu' $TMP/vmm.out) = 2 ]" || fail "VMM did not start: $(cat "$TMP/vmm.out")"
}
# perfs_seen WANT...: distinct perf values the VMM's vCPUs showed, sampled
# until every WANT was seen or 15 s passed (slow under emulation)
perfs_seen() {
	local seen=" " end=$((SECONDS + 15)) v
	while [ $SECONDS -lt $end ]; do
		for v in $($VF vcpus -j | jq -r '.[] | select(.vm_id==1) | .perf'); do
			grep -qw "$v" <<<"$seen" || seen="$seen$v "
		done
		local all=1
		for v in "$@"; do grep -qw "$v" <<<"$seen" || all=0; done
		[ $all = 1 ] && break
		sleep 0.1
	done
	echo "$seen"
}
# vmm_shell NAME [PREFIX...]: a second VMM process (tests/live/vmm-shell.c)
# holding its libvcpufreq handle; vmm_do NAME COMMAND prints its answer
vmm_shell() {
	local name=$1 fd; shift
	rm -f "$TMP/$name.in" "$TMP/$name.out"	# a name an earlier test of the suite used
	mkfifo "$TMP/$name.in"
	"$@" "$PWD/build/tests/vmm-shell" <"$TMP/$name.in" >"$TMP/$name.out" 2>&1 &
	echo $! >>"$PIDFILE"
	exec {fd}>"$TMP/$name.in"
	eval "VMMFD_$name=$fd"
	wait_for 5 grep -q '^open' "$TMP/$name.out" || fail "VMM $name: $(cat "$TMP/$name.out")"
}
vmm_do() {
	local out=$TMP/$1.out fdv=VMMFD_$1 n; n=$(wc -l <"$out")
	echo "$2" >&"${!fdv}"
	wait_for 5 sh -c "[ \$(wc -l <$out) -gt $n ]" || fail "VMM $1 did not answer '$2'"
	tail -n1 "$out"
}
VMM_USER2=vcpufreq-vmm2
AS_VMM2="setpriv --reuid=$VMM_USER2 --regid=$VMM_USER2 --clear-groups"
two_users() {
	local u; for u in $VMM_USER $VMM_USER2; do
		id $u >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin $u
	done
}
PY3=$(PATH=/usr/bin:/bin command -v python3)	# not root's own (pyenv)
# two_tenants [LOAD OPTION...]: loaded, $CGT enrolled, $VMM_USER granted
# $CGT/vm1 and $VMM_USER2 $CGT/vm2, a vCPU thread of each: $A and $B
two_tenants() {
	two_users
	$VF load "$@" >/dev/null || fail "load $* failed"
	mkdir -p "$CGT/vm1" "$CGT/vm2"; $VF enroll "$CGT" >/dev/null
	$VF grant --user $VMM_USER --cgroup "$CGT/vm1" >/dev/null || fail "grant vm1"
	$VF grant --user $VMM_USER2 --cgroup "$CGT/vm2" >/dev/null || fail "grant vm2"
	SPAWN_AS=$AS_VMM spawn 1 0 "$CGT/vm1"; A=${TIDS[0]}
	SPAWN_AS=$AS_VMM2 spawn 1 0 "$CGT/vm2"; B=${TIDS[0]}
}
# granted_vcpu: loaded, $CGT enrolled and granted to $VMM_USER, its vCPU thread $T there
granted_vcpu() {
	two_users
	$VF load >/dev/null || fail "load failed"
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	$VF grant --user $VMM_USER --cgroup "$CGT" >/dev/null || fail "grant failed"
	SPAWN_AS=$AS_VMM spawn 1 0 "$CGT"; T=${TIDS[0]}
}

# ---- floods: isolation.sh and faults.sh ------------------------------------
agent_cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
flood() {	# flood COMMAND: start a flood.py writer, wait until it writes
	local out=$TMP/flood.$RANDOM
	$1 >"$out" 2>&1 &
	echo $! >>"$PIDFILE"; FLOODERS+=("$!")
	wait_for 60 grep -q flooding "$out" || fail "flood did not start: $1: $(cat "$out")"
}
cpu_ticks_of() { local p t=0; for p in "$@"; do t=$((t + $(agent_cpu_ticks "$p"))); done; echo $t; }

# ---- request-storm: the latest request always takes effect ---------------
# Thousands of requests through bpf(), the fast path and the broker, to
# sleeping and to running threads, each waited for or all at once: the
# latest of each thread must reach the backend (the effect a user sees:
# the thread's affinity or uclamp_min, else what BPF took in).
STORM=$PWD/build/tests/request-storm
# under TCG a request costs ~10x: the test VM writes fewer per storm
case "$(uname -r)" in *-vcpufreq-vm) STORM_REQUESTS=${STORM_REQUESTS:-300} ;; esac
STORM_REQUESTS=${STORM_REQUESTS:-1000}
storm() {	# storm ARGS...: request-storm for threads in $CGT, on $PIN
	local out
	# lost is never, not late: the bench measures how soon (under TCG on a
	# busy host a request can take half a second)
	out=$("$STORM" --pin-dir $PIN --cgroup "$CGT" --timeout-ms 5000 "$@" 2>&1) ||
		fail "request-storm $*: $out"
	echo "    $out" >&2
}
# storm_every_path EFFECT_ARGS...: each path, target and mode under the
# backend loaded now (the broker as $VMM_USER, granted $CGT)
storm_every_path() {
	local n=$STORM_REQUESTS
	storm --path bpf --target sleeping --threads 1 --requests "$n" "$@"
	storm --path bpf --target sleeping --threads 3 --requests "$n" "$@"
	storm --path bpf --target running --threads 1 --requests $((n / 2)) "$@"
	storm --path bpf --target sleeping --threads 4 --requests $((n * 2)) --flood "$@"
	storm --path bpf --target running --threads 1 --requests $((n * 2)) --flood "$@"
	storm --path fast --target sleeping --threads 2 --requests "$n" "$@"
	storm --path fast --target running --threads 1 --requests $((n * 2)) --flood "$@"
	id $VMM_USER >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin $VMM_USER
	$VF grant --user $VMM_USER --cgroup "$CGT" >/dev/null || fail "grant failed"
	storm --path broker --user $VMM_USER --target sleeping --threads 2 --requests $((n / 4)) "$@"
	storm --path broker --user $VMM_USER --target sleeping --threads 2 --requests "$n" --flood "$@"
}
load_enrolled() {	# load_enrolled BACKEND [GLOBAL_OPTION...]: loaded, $CGT enrolled
	$VF "${@:2}" load --backend "$1" >/dev/null || fail "load --backend $1 failed"
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
}
backend_or_skip() {	# backend_or_skip NAME: 0 when this kernel can run it
	local why; why=$($VF status -j | jq -r ".backends.$1")
	[ "$why" = available ] || { echo "    skipped: $1 $why" >&2; return 1; }
}
