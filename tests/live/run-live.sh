#!/usr/bin/env bash
# Live tests: the real BPF programs in the running kernel, real cgroups,
# real threads.  Each test_* function is one behaviour; a test fails on the
# first unmet expectation.  Last line: "RESULT passed failed skipped".
# LIVE_ONLY=REGEX runs only the tests whose names match.
set -uo pipefail	# so no "cmd | grep -q": grep's early exit fails the pipe
cd "$(dirname "$0")/../.."
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

# ---- load / unload ---------------------------------------------------------
test_load_pins_maps_and_links_and_unload_removes_them() {
	$VF load >/dev/null || fail "load failed"
	for m in requests cgroups vcpu_state actions stats settings events tid_bits tid_pending; do
		[ -e $PIN/$m ] || fail "$PIN/$m not pinned"
	done
	[ -e $PIN/links/on_switch ] || fail "on_switch link not pinned"
	local link prog
	link=$(bpftool link show pinned $PIN/links/on_switch -j)
	jq_is "$link" .tp_name sched_switch
	prog=$(jq -r .prog_id <<<"$link")
	$VF unload >/dev/null || fail "unload failed"
	[ ! -e $PIN ] || fail "$PIN still exists after unload"
	wait_for 5 sh -c "! bpftool prog show id $prog" || fail "on_switch (prog $prog) still loaded"
}
test_agent_keeps_nothing_its_caller_had_open() {
	# a lock a flock(1) wrapper holds while load runs: the agent outlives it
	flock "$TMP/caller.lock" $VF load >/dev/null || fail "load under flock failed"
	flock -n "$TMP/caller.lock" true || fail "the agent holds its caller's lock"
	local agent; agent=$($VF status -j | jq -r .agent_pid)
	[ -z "$(find /proc/$agent/fd -lname "$TMP/caller.lock")" ] || fail "the agent has caller.lock open"
}
test_load_twice_is_refused_and_keeps_the_first() {
	$VF load >/dev/null || fail "load failed"
	local pid; pid=$($VF status -j | jq -r .agent_pid)
	expect_fail "already loaded" $VF load
	jq_is "$($VF status -j)" .agent_pid "$pid"
	jq_is "$($VF status -j)" .agent_running true
}
test_foreground_load_runs_until_sigterm_then_unloads() {
	$VF load --foreground >/dev/null 2>&1 &
	local pid=$!
	echo $pid >>"$PIDFILE"
	wait_for 10 test -e $PIN/requests || fail "not loaded"
	jq_is "$($VF status -j)" .agent_pid "$pid"
	kill -TERM $pid
	wait_for 10 sh -c "! test -e $PIN" || fail "pins left after SIGTERM"
}
test_unload_when_nothing_is_loaded_fails() {
	expect_fail "not loaded" $VF unload
}
test_pin_dir_not_on_bpffs_is_refused_and_leaves_nothing() {
	local before; before=$(on_switch_progs)
	expect_fail "not on a BPF filesystem" $VF --pin-dir "$TMP/pins/vcpufreq" load
	[ ! -e "$TMP/pins" ] || fail "created $TMP/pins"
	[ "$(on_switch_progs)" -le "$before" ] || fail "programs left loaded"
}
test_missing_bpffs_for_pin_dir_is_refused() {
	expect_fail "missing" $VF --pin-dir /sys/fs/bpf-missing/vcpufreq load
}
test_custom_pin_dir_on_bpffs_works() {
	$VF --pin-dir /sys/fs/bpf/vcpufreq-alt load >/dev/null || fail "load failed"
	[ -e /sys/fs/bpf/vcpufreq-alt/requests ] || fail "not pinned there"
	$VF --pin-dir /sys/fs/bpf/vcpufreq-alt unload >/dev/null || fail "unload failed"
	[ ! -e /sys/fs/bpf/vcpufreq-alt ] || fail "pins left"
}
test_unavailable_backend_is_refused_with_the_reason() {
	local why; why=$($VF status -j | jq -r .backends.uclamp)
	if [ "$why" = available ]; then echo "    (uclamp available here)"; return 0; fi
	expect_fail "backend uclamp is unavailable here: ${why#unavailable: }" $VF load --backend uclamp
	expect_fail "unknown backend" $VF load --backend turbo
	[ ! -e $PIN ] || fail "pins left behind"
}
test_status_explains_every_backend() {
	local s; s=$($VF status -j)
	jq_is "$s" .loaded false
	for b in uclamp affinity cpufreq observe; do
		[ -n "$(jq -r ".backends.$b" <<<"$s")" ] || fail "no word on $b"
	done
	$VF load >/dev/null
	s=$($VF status -j)
	jq_is "$s" .loaded true
	jq_is "$s" .backend "$(jq -r '.backends | to_entries[] | select(.value=="in use") | .key' <<<"$s")"
}

# ---- bad input -------------------------------------------------------------
test_bad_requests_are_refused_and_write_nothing() {
	$VF load >/dev/null
	spawn 1
	expect_fail "no thread with TID" $VF request 4000000 100
	expect_fail "not a thread id" $VF request abc 100
	expect_fail "out of range" $VF request "${TIDS[0]}" 1025
	expect_fail "not a number" $VF request "${TIDS[0]}" fast
	expect_fail "not a number" $VF request "${TIDS[0]}" -5
	expect_fail "no request to drop" $VF request "${TIDS[0]}" --drop
	[ "$(bpftool map dump pinned $PIN/requests -j | jq length)" = 0 ] || fail "requests map not empty"
}
test_bad_cgroups_are_refused() {
	$VF load >/dev/null
	expect_fail "does not exist" $VF enroll /no/such/cgroup
	local v1; v1=$(findmnt -n -t cgroup -o TARGET | head -n1)
	[ -n "$v1" ] && expect_fail "cgroup v1" $VF enroll "$v1"
	expect_fail "not a cgroup directory" $VF enroll /tmp
	expect_fail "not enrolled" $VF leave /
	[ "$($VF status -j | jq '.cgroups | length')" = 0 ] || fail "something got enrolled"
}
test_commands_without_load_say_to_load() {
	spawn 1
	expect_fail "run 'vcpufreq-bpf load' first" $VF request "${TIDS[0]}" 10
	expect_fail "run 'vcpufreq-bpf load' first" $VF vcpus
	expect_fail "run 'vcpufreq-bpf load' first" $VF enroll /
}
test_every_command_has_help() {
	for c in load unload status enroll leave request vcpus topology; do
		grep -q "^Usage: vcpufreq-bpf $c" <<<"$($VF $c --help)" || fail "$c --help"
	done
	grep -q Commands: <<<"$($VF --help)" || fail "--help"
	expect_fail "unknown command" $VF frobnicate
}
# like bpftool: under -j/-p an error is {"error":"..."} on stdout, not text
test_errors_under_json_are_a_json_object_on_stdout() {
	expect_json_error() {	# PATTERN CMD...: non-zero exit, stdout {"error":"...PATTERN"}, stderr empty
		local pat=$1 out rc=0; shift
		out=$("$@" 2>"$TMP/stderr") || rc=$?
		[ $rc -ne 0 ] || fail "'$*' succeeded: $out"
		[ -n "$out" ] && jq -e --arg p "$pat" '(keys == ["error"]) and (.error | test($p))' <<<"$out" >/dev/null ||
			fail "'$*': no JSON {\"error\": \"...$pat\"} on stdout: $out"
		[ ! -s "$TMP/stderr" ] || fail "'$*' wrote to stderr: $(cat "$TMP/stderr")"
	}
	expect_json_error "not a thread id" $VF -j request abc 100
	expect_json_error "unknown command" $VF frobnicate --json
	expect_json_error "run 'vcpufreq-bpf load' first" $VF -p vcpus
	expect_json_error "is not a number" $PWD/build/vcpufreq-qemu-bridge --json --vm-id x
	# without -j the same error is still text on stderr
	expect_fail "not a thread id" $VF request abc 100
}

# ---- requests, enrollment, tracking ----------------------------------------
test_request_in_enrolled_cgroup_is_accepted_and_visible() {
	$VF load >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	spawn 1 0 "$CGT"; local t=${TIDS[0]}
	jq_is "$($VF request "$t" 700 -j)" .accepted true
	local row; row=$($VF vcpus -j | jq -c ".[] | select(.tid==$t)")
	jq_is "$row" .perf 700
	jq_is "$row" .enrolled true
	jq_is "$row" .cgroup /vcpufreq-test
	wait_for 3 sh -c "$VF vcpus -j | jq -e '.[] | select(.tid==$t) | .runtime_ns > 0 and .switches > 0'" \
		|| fail "no runtime/switches tracked"
	grep -q '"perf": 700' <<<"$(bpftool map dump pinned $PIN/requests)" || fail "bpftool dump lacks named perf field"
	jq_is "$($VF status -j)" .requests.accepted 1
}
test_request_outside_enrolled_cgroups_is_rejected_and_untouched() {
	$VF --topology "$BIG_LITTLE" load --backend affinity >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	spawn 1; local t=${TIDS[0]} before; before=$(cpus_of "$t")
	jq_is "$($VF request "$t" 900 -j)" .accepted false
	sleep 0.3
	[ "$(cpus_of "$t")" = "$before" ] || fail "affinity changed to $(cpus_of "$t")"
	jq_is "$($VF vcpus -j | jq -c ".[] | select(.tid==$t)")" .action.backend none
	jq_is "$($VF status -j)" .requests.rejected_not_enrolled 1
}
test_child_cgroup_of_an_enrolled_one_is_enrolled() {
	$VF load >/dev/null
	mkdir -p "$CGT/vm1"; $VF enroll "$CGT" >/dev/null
	spawn 1 0 "$CGT/vm1"
	jq_is "$($VF request "${TIDS[0]}" 300 -j)" .accepted true
}
test_affinity_follows_request_and_drop_restores() {
	affinity_vcpu; local t=${TIDS[0]}
	$VF request "$t" 900 >/dev/null
	wait_for 3 affinity_is "$t" "$BIG" || fail "affinity $(cpus_of "$t"), want 1"
	jq_is "$($VF vcpus -j | jq -c ".[] | select(.tid==$t)")" .action.affinity "$BIG"
	$VF request "$t" 100 >/dev/null
	wait_for 3 affinity_is "$t" "$ALL" || fail "perf 100 fits all: affinity $(cpus_of "$t")"
	$VF request "$t" 900 >/dev/null
	wait_for 3 affinity_is "$t" "$BIG" || fail "not re-applied"
	$VF request "$t" --drop >/dev/null
	wait_for 3 affinity_is "$t" "$ALL" || fail "drop did not restore: $(cpus_of "$t")"
}
test_affinity_within_what_the_vmm_allowed() {
	affinity_vcpu; local t=${TIDS[0]}
	taskset -cp 0 "$t" >/dev/null
	$VF request "$t" 900 >/dev/null
	sleep 0.3
	[ "$(cpus_of "$t")" = 0 ] || fail "VMM pinned it to 0, now $(cpus_of "$t")"
}
test_vmm_repinning_a_boosted_thread_is_kept_on_drop() {
	affinity_vcpu; local t=${TIDS[0]}
	$VF request "$t" 900 >/dev/null
	wait_for 3 affinity_is "$t" "$BIG" || fail "not applied"
	taskset -cp 0 "$t" >/dev/null	# the VMM decides otherwise
	$VF request "$t" --drop >/dev/null
	sleep 0.3
	affinity_is "$t" 0 || fail "drop undid the VMM's pinning: $(cpus_of "$t")"
}
test_unload_restores_even_when_the_topology_file_is_gone() {
	cp "$BIG_LITTLE" "$TMP/gone.topology"
	$VF --topology "$TMP/gone.topology" load --backend affinity >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	spawn 1 0 "$CGT"; local t=${TIDS[0]}
	$VF request "$t" 900 >/dev/null
	wait_for 3 affinity_is "$t" "$BIG" || fail "not applied"
	kill_agent
	rm "$TMP/gone.topology"
	$VF unload >/dev/null 2>&1 || fail "unload failed"
	affinity_is "$t" "$ALL" || fail "not restored: $(cpus_of "$t")"
}
test_leave_and_enroll_restore_and_reapply_at_once() {
	affinity_vcpu; local t=${TIDS[0]}
	$VF request "$t" 900 >/dev/null
	wait_for 3 affinity_is "$t" "$BIG" || fail "not applied"
	$VF leave "$CGT" >/dev/null
	wait_for 3 affinity_is "$t" "$ALL" || fail "leave did not restore: $(cpus_of "$t")"
	jq_is "$($VF vcpus -j | jq -c ".[] | select(.tid==$t)")" .enrolled false
	$VF enroll "$CGT" >/dev/null
	wait_for 3 affinity_is "$t" "$BIG" || fail "enroll did not re-apply"
}
test_unload_restores_boosted_threads() {
	$VF --topology "$BIG_LITTLE" load --backend affinity >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	spawn 2 0 "$CGT"
	$VF request "${TIDS[0]}" 900 >/dev/null; $VF request "${TIDS[1]}" 1000 >/dev/null
	wait_for 3 affinity_is "${TIDS[1]}" "$BIG" || fail "not applied"
	$VF unload >/dev/null
	affinity_is "${TIDS[0]}" "$ALL" && affinity_is "${TIDS[1]}" "$ALL" || fail "unload left affinity changed"
}
test_unload_restores_even_after_the_agent_crashed() {
	affinity_vcpu; local t=${TIDS[0]}
	$VF request "$t" 900 >/dev/null
	wait_for 3 affinity_is "$t" "$BIG" || fail "not applied"
	kill_agent
	$VF unload >/dev/null || fail "unload failed"
	affinity_is "$t" "$ALL" || fail "affinity still $(cpus_of "$t")"
}
test_load_after_an_agent_crash_restores_and_carries_on_with_the_same_pins() {
	affinity_vcpu; local t=${TIDS[0]}
	$VF request "$t" 900 >/dev/null
	wait_for 3 affinity_is "$t" "$BIG" || fail "not applied"
	local old; old=$($VF status -j | jq -r .agent_pid)
	kill_agent "$old"
	local out; out=$($VF --topology "$BIG_LITTLE" load --backend affinity 2>&1) || fail "load after the crash: $out"
	grep -q "pid $old) had stopped: restored what it applied" <<<"$out" || fail "no word of the restore: $out"
	local st; st=$($VF status -j)
	jq_is "$st" .agent_running true
	[ "$(jq -r .agent_pid <<<"$st")" != "$old" ] || fail "still the old agent"
	# the request written before the crash is applied again by the new agent
	wait_for 3 affinity_is "$t" "$BIG" || fail "the kept request is not applied again: $(cpus_of "$t")"
	jq_is "$($VF vcpus -j | jq -c ".[] | select(.tid==$t)")" .perf 900
	expect_fail "already loaded" $VF load
	$VF unload >/dev/null || fail "unload"
	affinity_is "$t" "$ALL" || fail "unload did not restore"
}
test_unload_restore_only_puts_the_host_back_and_keeps_the_pins() {
	affinity_vcpu; local t=${TIDS[0]}
	$VF request "$t" 900 >/dev/null
	wait_for 3 affinity_is "$t" "$BIG" || fail "not applied"
	expect_fail "is running" $VF unload --restore-only
	kill_agent
	$VF unload --restore-only >/dev/null || fail "restore-only failed"
	affinity_is "$t" "$ALL" || fail "not restored: $(cpus_of "$t")"
	[ -e $PIN/requests ] || fail "the pins went"
}
test_systemd_unit_is_installed_sandboxed_and_its_capabilities_suffice() {
	make -s install DESTDIR="$TMP/inst" PREFIX=/usr >/dev/null || fail "make install failed"
	local unit=$TMP/inst/etc/systemd/system/vcpufreq-bpf.service
	[ -f "$unit" ] || fail "no unit installed"
	grep -qx 'ExecStart=/usr/sbin/vcpufreq-bpf load --foreground --backend auto' "$unit" || fail "ExecStart: $(grep ExecStart "$unit")"
	for k in 'ExecStopPost=-/usr/sbin/vcpufreq-bpf unload --restore-only' NoNewPrivileges=yes \
		 ProtectSystem=strict ProtectHome=yes PrivateNetwork=yes 'CapabilityBoundingSet=CAP_'; do
		grep -q "^$k" "$unit" || fail "the unit lacks $k"
	done
	if command -v systemd-analyze >/dev/null; then
		sed "s|/usr/sbin|$PWD/build|" "$unit" >"$TMP/vcpufreq-bpf.service"
		systemd-analyze verify --man=no "$TMP/vcpufreq-bpf.service" 2>&1 | grep . && fail "systemd-analyze verify"
	fi
	# the agent under exactly the unit's capabilities and no_new_privs
	local caps; caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z ' 'a-z,' | sed 's/cap_/+/g')
	setpriv --bounding-set "-all,$caps" --inh-caps=-all --no-new-privs \
		$VF --topology "$BIG_LITTLE" load --foreground --backend affinity >"$TMP/unit.out" 2>&1 &
	local pid=$!; echo $pid >>"$PIDFILE"
	wait_for 10 test -e $PIN/requests || fail "did not load: $(cat "$TMP/unit.out")"
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	spawn 1 0 "$CGT"; local t=${TIDS[0]}
	$VF request "$t" 900 >/dev/null
	wait_for 3 affinity_is "$t" "$BIG" || fail "not applied under the unit's capabilities: $(cat "$TMP/unit.out")"
	kill -TERM $pid
	wait_for 10 sh -c "! test -e $PIN" || fail "pins left after SIGTERM: $(cat "$TMP/unit.out")"
	affinity_is "$t" "$ALL" || fail "stop did not restore"
}
test_exited_thread_entry_is_gone() {
	$VF load >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	# lives 3 s: long enough for the request to land on a loaded machine
	spawn 1 3000 "$CGT"; local t=${TIDS[0]}
	$VF request "$t" 500 >/dev/null || fail "request for live TID $t refused"
	wait_for 10 request_gone "$t" || fail "request for exited TID $t still in the map"
	$VF vcpus -j | jq -e ".[] | select(.tid==$t)" >/dev/null && fail "still listed"
	jq_is "$($VF status -j)" .requests.exits 1
}
# ---- the latest request always takes effect (request-storm) ---------------
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
test_latest_request_takes_effect_under_affinity_by_every_path() {
	$VF --topology "$BIG_LITTLE" load --backend affinity >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	storm_every_path --effect affinity --high "900:$BIG" --low "100:$ALL"
}
test_latest_request_takes_effect_under_observe_by_every_path() {
	$VF load --backend observe >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	storm_every_path --effect state
}
backend_or_skip() {	# backend_or_skip NAME: 0 when this kernel can run it
	local why; why=$($VF status -j | jq -r ".backends.$1")
	[ "$why" = available ] || { echo "    skipped: $1 $why" >&2; return 1; }
}
test_latest_request_takes_effect_under_uclamp_by_every_path() {
	backend_or_skip uclamp || return $SKIP
	$VF load --backend uclamp >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	storm_every_path --effect uclamp
}
test_latest_request_takes_effect_under_scx_by_every_path() {
	scx_or_skip || return $SKIP
	$VF --topology "$SCX_TOPO" load --backend scx >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	storm_every_path --effect state
}
test_latest_request_takes_effect_under_cpufreq_by_every_path() {
	backend_or_skip cpufreq || return $SKIP
	$VF load --backend cpufreq >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	storm_every_path --effect applied
}
test_request_storm_refuses_bad_arguments() {
	expect_fail "give --path" "$STORM" --effect state
	expect_fail "needs --user" "$STORM" --path broker --effect state
	expect_fail "must differ" "$STORM" --path bpf --effect affinity --high 900:1 --low 100:1
	expect_fail "is vcpufreq-bpf loaded" "$STORM" --pin-dir /sys/fs/bpf/no-such --path bpf --effect state
}

test_request_for_a_dead_tid_written_by_a_vmm_is_deleted() {
	$VF load >/dev/null
	spawn 1 100; local t=${TIDS[0]}
	wait_for 3 sh -c "! test -e /proc/$t/task/$t" || fail "thread did not exit"
	# a VMM writing straight into the map, as bpftool does
	bpftool map update pinned $PIN/requests key $(le32 "$t") value $(le32 900) 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
	wait_for 3 request_gone "$t" || fail "stale request for dead TID $t kept: a new thread could inherit it"
	jq_is "$($VF status -j)" .requests.rejected_no_thread 1
}
# the thread exits before its request was taken in (it never got task
# storage): the agent deletes the request and frees the VMM's slot, so a
# thread that gets the TID next inherits neither
test_dead_tid_registered_by_a_vmm_loses_its_request_and_slot() {
	$VF load >/dev/null
	spawn 1 100; local t=${TIDS[0]}
	wait_for 3 sh -c "! test -e /proc/$t/task/$t" || fail "thread did not exit"
	vmm_shell dead
	[ "$(vmm_do dead "register $t 1 0")" = ok ] || fail "VMM: $(cat "$TMP/dead.out")"
	wait_for 3 request_gone "$t" || fail "stale request for dead TID $t kept"
	wait_for 3 sh -c "[ \$(bpftool map dump pinned $PIN/slots -j | jq '[.[] | select((.formatted.value.tid // .value.tid) == $t)] | length') = 0 ]" \
		|| fail "slot still owned by dead TID $t"
	local got; got=$(vmm_do dead "request $t 500")
	grep -q "^error -3" <<<"$got" || fail "the handle of a dead TID was not refused: $got"
}
test_raw_map_write_is_taken_in_without_the_cli() {
	affinity_vcpu; local t=${TIDS[0]}
	bpftool map update pinned $PIN/requests key $(le32 "$t") value $(le32 950) 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
	wait_for 3 affinity_is "$t" "$BIG" || fail "raw write not applied: $(cpus_of "$t")"
}
test_topology_override_is_shown() {
	local j; j=$($VF --topology "$BIG_LITTLE" topology -j)
	jq_is "$j" .symmetric false
	jq_is "$j" ".cpus[$BIG].capacity" 1024
	expect_fail "topology" $VF --topology /no/such/file topology
}

# ---- uclamp (kernels with CONFIG_UCLAMP_TASK: the VM harness) --------------
SKIP=77
uclamp_min() {	# the thread's uclamp_min, read with sched_getattr(2) (x86_64)
	python3 - "$1" <<'PY'
import ctypes, sys
class Attr(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("policy", ctypes.c_uint32),
                ("flags", ctypes.c_uint64), ("nice", ctypes.c_int32),
                ("prio", ctypes.c_uint32), ("runtime", ctypes.c_uint64),
                ("deadline", ctypes.c_uint64), ("period", ctypes.c_uint64),
                ("util_min", ctypes.c_uint32), ("util_max", ctypes.c_uint32)]
a = Attr()
libc = ctypes.CDLL(None, use_errno=True)
ok = libc.syscall(315, int(sys.argv[1]), ctypes.byref(a), ctypes.sizeof(a), 0) == 0
print(a.util_min if ok else -1)
PY
}
uclamp_is() { [ "$(uclamp_min "$1")" = "$2" ]; }
test_uclamp_backend_sets_and_restores_uclamp_min() {
	local why; why=$($VF status -j | jq -r .backends.uclamp)
	[ "$why" = available ] || { echo "    skipped: uclamp $why" >&2; return $SKIP; }
	$VF load --backend uclamp >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	spawn 2 0 "$CGT"; local t=${TIDS[0]} u=${TIDS[1]} before; before=$(uclamp_min "$t")
	$VF request "$t" 700 >/dev/null
	wait_for 3 uclamp_is "$t" 700 || fail "uclamp_min $(uclamp_min "$t"), want 700"
	jq_is "$($VF vcpus -j | jq -c ".[] | select(.tid==$t)")" .action.uclamp_min 700
	$VF request "$t" --drop >/dev/null
	wait_for 3 uclamp_is "$t" "$before" || fail "drop: uclamp_min $(uclamp_min "$t"), want $before"
	$VF request "$u" 900 >/dev/null
	wait_for 3 uclamp_is "$u" 900 || fail "not applied to the second thread"
	$VF unload >/dev/null
	uclamp_is "$u" "$before" || fail "unload: uclamp_min $(uclamp_min "$u"), want $before"
}

# ---- sched_ext backend (kernels with CONFIG_SCHED_CLASS_EXT: make vm-test) --
# the issue's big.LITTLE: the first half of the CPUs capacity 512, the rest 1024
SCX_TOPO=$TMP/scx.topology
HALF=$(($(nproc) / 2))
for c in $(seq 0 $(($(nproc) - 1))); do
	echo "cpu $c capacity $([ $c -lt $HALF ] && echo 512 || echo 1024) cluster $([ $c -lt $HALF ] && echo 0 || echo 1)"
done >"$SCX_TOPO"
SCX_SOAK_SECONDS=${SCX_SOAK_SECONDS:-60}
policy_of() { awk '{print $41}' "/proc/$1/task/$1/stat"; }	# 7: SCHED_EXT
policy_is() { [ "$(policy_of "$1")" = "$2" ]; }
cpu_time() { awk '{print $14 + $15}' "/proc/$1/task/$1/stat"; }	# ticks
scx_or_skip() {
	local why; why=$($VF status -j | jq -r .backends.scx)
	[ "$why" = available ] || { echo "    skipped: scx $why" >&2; return 1; }
}
scx_vcpus() {	# scx_vcpus N [hog]: load scx, N vCPU threads enrolled
	$VF --topology "$SCX_TOPO" load --backend scx >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	spawn "$1" 0 "$CGT" "${2:-}"
}
# scx_cpu_sum JQ_PER_CPU CPU_SELECT: sum of a per-CPU figure over some CPUs
scx_cpu_sum() {
	$VF status -j | jq "[.sched_ext.cpus[] | select($2) | $1] | add // 0"
}
test_auto_picks_scx_where_the_kernel_has_it_else_refuses_scx() {
	if ! scx_or_skip 2>/dev/null; then
		expect_fail "CONFIG_SCHED_CLASS_EXT" $VF load --backend scx
		[ -d $PIN ] && fail "a refused load left pins"
		$VF load >/dev/null
		[ "$($VF status -j | jq -r .backend)" != scx ] || fail "auto picked scx"
		return 0
	fi
	$VF load >/dev/null
	jq_is "$($VF status -j)" .backend scx
	jq_is "$($VF status -j)" .sched_ext.state enabled
	jq_is "$($VF status -j)" .sched_ext.ops vcpufreq
}
test_scx_places_by_capacity_and_cpuperf_follows_the_running_vcpu() {
	scx_or_skip || return $SKIP
	[ "$(nproc)" -ge 4 ] || { echo "    skipped: needs 4 CPUs" >&2; return $SKIP; }
	scx_vcpus 1 hog; local big=${TIDS[0]}
	spawn 2 0 "$CGT"; local small=("${TIDS[@]}")
	$VF request "$big" 900 >/dev/null
	for t in "${small[@]}"; do $VF request "$t" 100 >/dev/null; done
	for t in "$big" "${small[@]}"; do
		wait_for 5 policy_is "$t" 7 || fail "TID $t policy $(policy_of "$t"), want 7 (SCHED_EXT)"
	done
	# the scheduler starts every CPU's target at 0 (the kernel: 1024)
	[ "$($VF status -j | jq '.sched_ext.cpus | length')" = "$(nproc)" ] || fail "not every CPU has a target: $($VF status -j | jq -c .sched_ext.cpus)"
	# while the 900 hog runs, a big CPU's target is at least 720
	# (schedutil adds 25%: it then runs at 900 or more) and no little
	# one's; a request is a floor: the hog's own load, flat out, takes it
	# up to 819 (4/5 of 1024), as the fair class's schedutil would
	wait_for 10 sh -c "$VF status -j | jq -e '[.sched_ext.cpus[] | select(.cpu >= $HALF and .cpuperf_target >= 720 and .cpuperf_target <= 819)] | length == 1'" \
		|| fail "no big CPU has a cpuperf target in 720..819: $($VF status -j | jq -c .sched_ext.cpus)"
	# over a window in which nothing else needs the big CPUs (the
	# scheduler lets a little CPU help after 1 s without a big one)
	local little0 big0 little_900 big_900 little_100
	little0=$(scx_cpu_sum '.run_ns[2]' ".cpu < $HALF"); big0=$(scx_cpu_sum '.run_ns[2]' ".cpu >= $HALF")
	sleep 3
	little_900=$(($(scx_cpu_sum '.run_ns[2]' ".cpu < $HALF") - little0))
	big_900=$(($(scx_cpu_sum '.run_ns[2]' ".cpu >= $HALF") - big0))
	little_100=$(scx_cpu_sum '.run_ns[1]' ".cpu < $HALF")
	[ "$big_900" -gt 1000000000 ] || fail "the 900 vCPU ran only ${big_900} ns on big CPUs in 3 s"
	[ "$little_900" -lt $((big_900 / 20)) ] || fail "the 900 vCPU ran ${little_900} ns on little CPUs (${big_900} ns on big ones) in 3 s"
	[ "$little_100" -gt 0 ] || fail "the 100 vCPUs never ran on a little CPU"
	# the 100 vCPUs' targets: 80, or their own load's when higher (they
	# run about a sixth of the time), never the 900 vCPU's
	[ "$(scx_cpu_sum '.cpuperf_target' ".cpu < $HALF and .cpuperf_target >= 720")" = 0 ] \
		|| fail "a little CPU carries the 900 vCPU's target: $($VF status -j | jq -c .sched_ext.cpus)"
	# the vCPUs leave: no CPU stays boosted
	xargs -r kill <"$PIDFILE"
	wait_for 10 sh -c "$VF status -j | jq -e '[.sched_ext.cpus[].cpuperf_target] | add == 0'" \
		|| fail "a CPU stayed boosted: $($VF status -j | jq -c .sched_ext.cpus)"
}
# split_run LEVEL SECONDS: "LITTLE BIG", the ns the vCPUs of demand level
# LEVEL (run_ns index) ran on little and on big CPUs over SECONDS
split_run() {
	local l0 b0
	l0=$(scx_cpu_sum ".run_ns[$1]" ".cpu < $HALF"); b0=$(scx_cpu_sum ".run_ns[$1]" ".cpu >= $HALF")
	sleep "$2"
	echo "$(($(scx_cpu_sum ".run_ns[$1]" ".cpu < $HALF") - l0)) $(($(scx_cpu_sum ".run_ns[$1]" ".cpu >= $HALF") - b0))"
}
# with power figures a demand prefers the level that does it for the least
# energy (here: 100 on a little CPU, 300 on a big one), and a vCPU there by
# preference makes way for one that needs the level
test_scx_runs_a_demand_where_it_costs_least_energy_and_makes_way() {
	scx_or_skip || return $SKIP
	[ "$(nproc)" -ge 4 ] || { echo "    skipped: needs 4 CPUs" >&2; return $SKIP; }
	local topo=$TMP/energy.topology c
	for c in $(seq 0 $(($(nproc) - 1))); do
		if [ $c -lt $HALF ]; then echo "cpu $c capacity 512 cluster 0 freqs 500000,1000000,2000000 power 10,40,200"
		else echo "cpu $c capacity 1024 cluster 1 freqs 500000,1000000,2000000 power 20,60,400"; fi
	done >"$topo"
	# without figures, 300 fits the little CPUs and runs there
	scx_vcpus 1; local t=${TIDS[0]}
	$VF request "$t" 300 >/dev/null
	wait_for 5 policy_is "$t" 7 || fail "TID $t policy $(policy_of "$t")"
	sleep 1
	local little big
	read -r little big < <(split_run 1 2)
	[ "$little" -gt "$big" ] || fail "without power figures the 300 vCPU ran $big ns on big CPUs, $little ns on little ones"
	jq -e '.sched_ext.energy_levels == []' <<<"$($VF status -j)" >/dev/null || fail "an energy table without figures: $($VF status -j | jq -c .sched_ext.energy_levels)"
	xargs -r kill <"$PIDFILE"; : >"$PIDFILE"; $VF unload >/dev/null

	$VF --topology "$topo" load --backend scx >/dev/null
	$VF enroll "$CGT" >/dev/null
	local levels; levels=$($VF status -j | jq -c .sched_ext.energy_levels)
	jq -e 'any(.[]; .from <= 100 and .to >= 100 and .capacity == 512) and
	       any(.[]; .from <= 300 and .to >= 300 and .capacity == 1024)' <<<"$levels" >/dev/null \
		|| fail "energy levels: $levels (want 100 on 512, 300 on 1024)"
	$VF status | grep -q "energy preference: demand 0\.\." || fail "status: $($VF status | grep energy)"
	spawn 1 0 "$CGT"; t=${TIDS[0]}
	$VF request "$t" 300 >/dev/null
	wait_for 5 policy_is "$t" 7 || fail "TID $t policy $(policy_of "$t")"
	sleep 1
	read -r little big < <(split_run 1 2)
	[ "$big" -gt $((4 * little)) ] || fail "with power figures the 300 vCPU ran $big ns on big CPUs, $little ns on little ones"
	xargs -r kill <"$PIDFILE"; : >"$PIDFILE"

	# two 300 hogs take the big CPUs by preference; a 900 hog needs one
	spawn $(($(nproc) - HALF)) 0 "$CGT" hog; local g=("${TIDS[@]}")
	for t in "${g[@]}"; do $VF request "$t" 300 >/dev/null; done
	for t in "${g[@]}"; do wait_for 5 policy_is "$t" 7 || fail "TID $t policy $(policy_of "$t")"; done
	spawn 1 0 "$CGT" hog; t=${TIDS[0]}
	$VF request "$t" 900 >/dev/null
	wait_for 5 policy_is "$t" 7 || fail "TID $t policy $(policy_of "$t")"
	sleep 1
	read -r little big < <(split_run 2 3)
	[ "$big" -gt 1000000000 ] && [ "$little" -lt $((big / 10)) ] \
		|| fail "the 900 vCPU ran $big ns on big CPUs and $little ns on little ones in 3 s behind two 300 vCPUs"
}
# a VMM on the fast path changes a request in its slot alone: no bpf()
# call, no event for the agent; the scheduler follows it from the next
# wakeup (select_cpu checks the slot; the switch-in takes it in too)
test_scx_follows_a_fast_path_request_change_without_a_syscall() {
	scx_or_skip || return $SKIP
	[ "$(nproc)" -ge 4 ] || { echo "    skipped: needs 4 CPUs" >&2; return $SKIP; }
	scx_vcpus 1; local t=${TIDS[0]} little big
	vmm_shell a
	[ "$(vmm_do a "register $t 1 0")" = ok ] && [ "$(vmm_do a "request $t 100")" = ok ] \
		|| fail "VMM a: $(cat "$TMP/a.out")"
	wait_for 5 policy_is "$t" 7 || fail "TID $t policy $(policy_of "$t"), want 7 (SCHED_EXT)"
	sleep 0.5
	read -r little big < <(split_run 1 2)
	[ "$little" -gt "$big" ] || fail "at 100 the vCPU ran $big ns on big CPUs, $little ns on little ones"
	[ "$(vmm_do a "request $t 900")" = ok ] || fail "VMM a: $(cat "$TMP/a.out")"
	sleep 0.5
	read -r little big < <(split_run 2 2)
	[ "$big" -gt 0 ] && [ "$big" -gt $((4 * little)) ] \
		|| fail "at 900 (slot only) the vCPU ran $big ns on big CPUs, $little ns on little ones"
	jq_is "$($VF vcpus -j | jq -c ".[] | select(.tid==$t)")" .perf 900
	# back down: the peak of its requests halves every 32 ms
	[ "$(vmm_do a "request $t 100")" = ok ] || fail "VMM a: $(cat "$TMP/a.out")"
	sleep 0.5
	read -r little big < <(split_run 1 2)
	[ "$little" -gt "$big" ] || fail "back at 100 the vCPU ran $big ns on big CPUs, $little ns on little ones"
}
test_scx_demanding_vcpu_runs_elsewhere_when_fair_tasks_hold_every_fitting_cpu() {
	scx_or_skip || return $SKIP
	[ "$(nproc)" -ge 2 ] || { echo "    skipped: needs 2 CPUs" >&2; return $SKIP; }
	local c
	# a fair-class hog on every big CPU: fair outranks sched_ext there
	for c in $(seq "$HALF" $(($(nproc) - 1))); do
		taskset -c "$c" sh -c 'while :; do :; done' &
		echo $! >>"$PIDFILE"
	done
	scx_vcpus 1 hog; local t=${TIDS[0]}
	$VF request "$t" 900 >/dev/null
	wait_for 5 policy_is "$t" 7 || fail "not switched to SCHED_EXT"
	sleep 2
	local before; before=$(cpu_time "$t")
	sleep 4
	# ticks of 10 ms: well over a tenth of a CPU, not a trickle
	[ $(($(cpu_time "$t") - before)) -gt 40 ] || fail "the 900 vCPU starved behind fair tasks on the big CPUs: $(($(cpu_time "$t") - before)) ticks in 4 s"
	[ "$(scx_cpu_sum '.run_ns[2]' ".cpu < $HALF")" -gt 0 ] || fail "it never ran on a little CPU"
	jq_is "$($VF status -j)" .sched_ext.state enabled
	jq_is "$($VF status -j)" .backend scx
}
test_scx_switches_only_enrolled_vcpus_and_leave_switches_back() {
	scx_or_skip || return $SKIP
	scx_vcpus 1; local t=${TIDS[0]}
	spawn 1; local o=${TIDS[0]}
	$VF request "$t" 500 >/dev/null; $VF request "$o" 500 >/dev/null
	wait_for 5 policy_is "$t" 7 || fail "enrolled TID $t policy $(policy_of "$t"), want 7"
	policy_is "$o" 0 || fail "TID $o outside enrolled cgroups was switched: policy $(policy_of "$o")"
	jq_is "$($VF vcpus -j | jq -c ".[] | select(.tid==$t)")" .action.policy SCHED_EXT
	$VF leave "$CGT" >/dev/null
	wait_for 5 policy_is "$t" 0 || fail "leave: policy $(policy_of "$t"), want 0"
	$VF enroll "$CGT" >/dev/null
	wait_for 5 policy_is "$t" 7 || fail "enroll: policy $(policy_of "$t"), want 7"
	$VF request "$t" --drop >/dev/null
	wait_for 5 policy_is "$t" 0 || fail "drop: policy $(policy_of "$t"), want 0"
}
test_scx_ejection_falls_back_to_the_next_backend_keeping_requests() {
	scx_or_skip || return $SKIP
	scx_vcpus 1; local t=${TIDS[0]}
	$VF request "$t" 800 >/dev/null
	wait_for 5 policy_is "$t" 7 || fail "not switched to SCHED_EXT"
	echo S >/proc/sysrq-trigger	# SysRq-S: the kernel ejects the scheduler
	wait_for 10 sh -c "$VF status -j | jq -e '.backend != \"scx\"'" || fail "no fallback: $($VF status -j | jq -c '{backend,sched_ext}')"
	local st; st=$($VF status -j)
	jq -e '.sched_ext.last_exit | test("sysrq")' <<<"$st" >/dev/null || fail "no reason given: $(jq -c .sched_ext <<<"$st")"
	jq_is "$st" .agent_running true
	wait_for 5 policy_is "$t" 0 || fail "policy $(policy_of "$t") after the fallback, want 0"
	jq_is "$($VF vcpus -j | jq -c ".[] | select(.tid==$t)")" .perf 800
	if [ "$(jq -r .backend <<<"$st")" = uclamp ]; then
		wait_for 5 uclamp_is "$t" 800 || fail "uclamp fallback did not apply the kept request: $(uclamp_min "$t")"
	fi
}
test_scx_keeps_vcpus_of_cpu_limited_cgroups_in_the_fair_class() {
	scx_or_skip || return $SKIP
	grep -qw cpu "$CG2/cgroup.controllers" && echo +cpu >"$CG2/cgroup.subtree_control" \
		|| { echo "    skipped: no cgroup v2 cpu controller" >&2; return $SKIP; }
	two_users
	mkdir -p "$CGT/lim" "$CGT/free"
	echo +cpu >"$CGT/cgroup.subtree_control" || fail "cannot enable the cpu controller"
	# cpu.max needs CONFIG_CFS_BANDWIDTH (the test kernel has it): else a weight
	local quota=; [ -e "$CGT/lim/cpu.max" ] && quota=1
	case "$(uname -r)" in *-vcpufreq-vm) [ -n "$quota" ] || fail "no cpu.max in the test kernel (CONFIG_CFS_BANDWIDTH)" ;; esac
	if [ -n "$quota" ]; then echo "20000 100000" >"$CGT/lim/cpu.max"; else echo 50 >"$CGT/lim/cpu.weight"; fi
	$VF --topology "$SCX_TOPO" load --backend scx >/dev/null
	$VF enroll "$CGT" >/dev/null
	$VF grant --user $VMM_USER --cgroup "$CGT/lim" >/dev/null
	SPAWN_AS=$AS_VMM spawn 1 0 "$CGT/lim" hog; local l=${TIDS[0]}
	spawn 1 0 "$CGT/free" hog; local f=${TIDS[0]}
	$AS_VMM $VF request "$l" 800 >/dev/null || fail "the tenant cannot steer its own vCPU"
	$VF request "$f" 800 >/dev/null
	wait_for 5 policy_is "$f" 7 || fail "the vCPU of an unlimited cgroup was not switched"
	sleep 1
	policy_is "$l" 0 || fail "a vCPU of a CPU-limited cgroup was moved to SCHED_EXT (escaping its limit)"
	jq_is "$($VF vcpus -j | jq -c ".[] | select(.tid==$l)")" .action.summary "fair class: its cgroup limits CPU"
	jq_is "$($VF status -j)" .sched_ext.cgroup_limited 1
	# the tenant puts its registered vCPU in SCHED_EXT itself: moved back
	tenant_tries_sched_ext() {	# LIMIT RESETS_SO_FAR
		$AS_VMM $PY3 -c "import os; os.sched_setscheduler($l, 7, os.sched_param(0))" \
			|| fail "the tenant could not put its vCPU in SCHED_EXT"
		wait_for 5 policy_is "$l" 0 || fail "the tenant's vCPU stays in SCHED_EXT, escaping its $1: policy $(policy_of "$l")"
		jq_is "$($VF status -j)" .sched_ext.foreign_reset "$2"
	}
	if [ -n "$quota" ]; then
		echo "    cpu.max 20000 100000, then cpu.weight 50" >&2
		local before; before=$(cpu_time "$l"); sleep 3
		[ $(($(cpu_time "$l") - before)) -le 90 ] || fail "cpu.max 20% not kept: $(($(cpu_time "$l") - before)) ticks in 3 s"
		tenant_tries_sched_ext cpu.max 1
		# a weight is a limit too
		echo max >"$CGT/lim/cpu.max"; echo 50 >"$CGT/lim/cpu.weight"
		$AS_VMM $VF request "$l" 900 >/dev/null
		sleep 1
		policy_is "$l" 0 || fail "a vCPU of a cpu.weight cgroup was moved to SCHED_EXT"
		tenant_tries_sched_ext cpu.weight 2
	else
		echo "    cpu.weight 50 only (no cpu.max here)" >&2
		tenant_tries_sched_ext cpu.weight 1
	fi
	policy_is "$f" 7 || fail "the unlimited vCPU was moved too"
	# without a limit, it may go
	echo 100 >"$CGT/lim/cpu.weight"
	$VF request "$l" 700 >/dev/null
	wait_for 5 policy_is "$l" 7 || fail "not switched once its cgroup has no limit"
	jq_is "$($VF status -j)" .sched_ext.cgroup_limited 0
}
test_scx_a_task_another_user_put_in_sched_ext_is_moved_back() {
	scx_or_skip || return $SKIP
	two_users
	scx_vcpus 1 hog; local v=${TIDS[0]}
	$VF request "$v" 800 >/dev/null
	wait_for 5 policy_is "$v" 7 || fail "the vCPU was not switched"
	SPAWN_AS=$AS_VMM spawn 1 0 "$CGT" hog; local o=${TIDS[0]}
	$AS_VMM $PY3 -c "import os; os.sched_setscheduler($o, 7, os.sched_param(0))" \
		|| fail "the user could not put its thread in SCHED_EXT"
	wait_for 5 policy_is "$o" 0 || fail "TID $o stays in our scheduler: policy $(policy_of "$o")"
	local st; st=$($VF status -j)
	jq_is "$st" .sched_ext.foreign_reset 1
	jq_is "$st" .sched_ext.state enabled
	jq_is "$st" .backend scx
	policy_is "$v" 7 || fail "our vCPU was moved too"
}
test_scx_unload_restores_policies_even_after_the_agent_crashed() {
	scx_or_skip || return $SKIP
	scx_vcpus 1; local t=${TIDS[0]}
	$VF request "$t" 700 >/dev/null
	wait_for 5 policy_is "$t" 7 || fail "not switched to SCHED_EXT"
	kill -9 "$($VF status -j | jq -r .agent_pid)"
	# the agent held the scheduler: the kernel detaches it when it dies
	wait_for 10 sh -c "$VF status -j | jq -e '.sched_ext.state == \"disabled\"'" || fail "scheduler still attached"
	$VF unload >/dev/null || fail "unload failed"
	policy_is "$t" 0 || fail "policy $(policy_of "$t") after unload, want 0"
}
test_scx_soak_hogs_on_every_cpu_nothing_starves_no_ejection() {
	scx_or_skip || return $SKIP
	local n=$(($(nproc) * 2)) i
	scx_vcpus "$n" hog; local vcpus=("${TIDS[@]}")
	for i in "${!vcpus[@]}"; do
		$VF request "${vcpus[$i]}" $((i % 2 ? 900 : 100)) >/dev/null
	done
	spawn 1 0 "" hog; local fair=${TIDS[0]}	# a fair-class hog outranks sched_ext
	for t in "${vcpus[@]}"; do wait_for 10 policy_is "$t" 7 || fail "TID $t not switched"; done
	local half=$((SCX_SOAK_SECONDS / 2)) before=() fair_before
	sleep "$half"
	for t in "${vcpus[@]}"; do before+=("$(cpu_time "$t")"); done
	fair_before=$(cpu_time "$fair")
	sleep "$half"
	local st; st=$($VF status -j)
	jq_is "$st" .backend scx
	jq_is "$st" .sched_ext.state enabled
	jq_is "$st" .sched_ext.last_exit ""
	for i in "${!vcpus[@]}"; do
		[ "$(cpu_time "${vcpus[$i]}")" -gt "${before[$i]}" ] || fail "vCPU TID ${vcpus[$i]} starved in the last ${half} s"
	done
	[ "$(cpu_time "$fair")" -gt "$fair_before" ] || fail "the fair-class task starved"
}

# ---- libvcpufreq: a VMM through the library -------------------------------
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
test_a_reused_tid_is_not_steered_by_the_old_vmms_handle() {
	[ -w /proc/sys/kernel/ns_last_pid ] || { echo "    skipped: no ns_last_pid (CONFIG_CHECKPOINT_RESTORE)" >&2; return $SKIP; }
	$VF load >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	spawn 1 1000 "$CGT"; local t=${TIDS[0]}
	vmm_shell a
	[ "$(vmm_do a "register $t 1 0")" = ok ] && [ "$(vmm_do a "request $t 300")" = ok ] || fail "VMM a: $(cat "$TMP/a.out")"
	wait_for 5 request_gone "$t" || fail "thread $t did not exit"
	# a new process gets the same TID (ns_last_pid), in VMM b's VM
	local p='' i
	for i in $(seq 50); do
		echo $((t - 1)) >/proc/sys/kernel/ns_last_pid
		sh -c 'while :; do sleep 0.01; done' & p=$!
		[ "$p" = "$t" ] && break
		kill "$p"; p=''
	done
	[ -n "$p" ] || { echo "    skipped: TID $t was not handed out again" >&2; return $SKIP; }
	echo "$p" >>"$PIDFILE"; echo "$p" >"$CGT/cgroup.procs"
	vmm_shell b
	[ "$(vmm_do b "register $t 2 0")" = ok ] && [ "$(vmm_do b "request $t 700")" = ok ] || fail "VMM b: $(cat "$TMP/b.out")"
	wait_for 5 sh -c "[ \"\$($VF vcpus -j | jq -r '.[] | select(.tid==$t) | .perf')\" = 700 ]" || fail "b's request not taken in"
	local got; got=$(vmm_do a "request $t 1024")
	grep -q "^error -3: the vCPU thread has exited" <<<"$got" || fail "the old handle was not refused: $got"
	sleep 0.5
	jq_is "$($VF vcpus -j | jq -c ".[] | select(.tid==$t)")" .perf 700
	jq_is "$($VF vcpus -j | jq -c ".[] | select(.tid==$t)")" .vm_id 2
}
# observe (and scx) read requests in BPF: a change between two nonzero
# values is a RETUNE the agent takes in once per pass, the latest winning
test_request_changes_between_nonzero_values_are_coalesced_by_the_agent() {
	$VF load --backend observe >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	spawn 1 0 "$CGT"; local t=${TIDS[0]}
	vmm_shell coal
	[ "$(vmm_do coal "register $t 1 0")" = ok ] && [ "$(vmm_do coal "request $t 300")" = ok ] || fail "VMM: $(cat "$TMP/coal.out")"
	wait_for 5 sh -c "$VF vcpus -j | jq -e '.[] | select(.tid == $t and .action.perf == 300)' >/dev/null" ||
		fail "a start is applied at once: $($VF vcpus -j)"
	local st0 st1 i fd=$VMMFD_coal
	st0=$($VF status -j | jq -c .requests)
	# 300 changes, 2 ms apart, then 777; the time they took, in ms
	python3 -c '
import sys, time
t0 = time.monotonic()
for i in range(300):
    print("request %s %d" % (sys.argv[1], 400 + i % 2 * 100), flush=True)
    time.sleep(0.002)
print("request %s 777" % sys.argv[1], flush=True)
print(int((time.monotonic() - t0) * 1000), file=sys.stderr)' "$t" >&"$fd" 2>"$TMP/coal.ms"
	wait_for 10 sh -c "[ \$(grep -c '^ok' $TMP/coal.out) -ge 303 ]" || fail "VMM: $(tail -n 3 "$TMP/coal.out")"
	wait_for 5 sh -c "$VF vcpus -j | jq -e '.[] | select(.tid == $t and .action.perf == 777)' >/dev/null" ||
		fail "the latest change was not applied: $($VF vcpus -j)"
	st1=$($VF status -j | jq -c .requests)
	local took applied coalesced
	took=$(( $(jq .accepted <<<"$st1") - $(jq .accepted <<<"$st0") ))
	applied=$(( $(jq .agent_applies <<<"$st1") - $(jq .agent_applies <<<"$st0") ))
	coalesced=$(( $(jq .retunes_coalesced <<<"$st1") - $(jq .retunes_coalesced <<<"$st0") ))
	# at most one apply per pass (100 ms) while the changes came, and the last
	local passes=$(( $(cat "$TMP/coal.ms") / 100 + 3 ))
	echo "    $took changes taken in by BPF in $(cat "$TMP/coal.ms") ms, $applied applied by the agent, $coalesced coalesced" >&2
	[ "$took" -gt $((2 * passes)) ] || fail "BPF took in only $took changes in $(cat "$TMP/coal.ms") ms (the thread did not switch?)"
	[ "$coalesced" -gt 0 ] && [ "$applied" -le "$passes" ] || fail "not coalesced: $took taken in, $applied applied, at most $passes passes"
}
test_vmm_fast_path_requests_follow_the_guest_load() {
	$VF load >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	run_vmm "$CGT" 60
	local seen; seen=$(perfs_seen 1024 128)
	grep -qw 1024 <<<"$seen" && grep -qw 128 <<<"$seen" || fail "perf values seen: $seen (want busy 1024 and idle 128)"
	local dump; dump=$(bpftool map dump pinned $PIN/requests -j)
	jq -e 'all(.[]; .formatted.value.slot > 0 and .formatted.value.vm_id == 1)' <<<"$dump" >/dev/null \
		|| jq -e 'all(.[]; .value.slot > 0 and .value.vm_id == 1)' <<<"$dump" >/dev/null \
		|| fail "bpftool dump: $dump"
	jq_is "$($VF vcpus -j | jq -c '[.[] | select(.vm_id==1)] | length')" . 2
}
test_register_model_turns_set_perf_into_host_capacity() {
	# the device's table is the big CPU's (the vCPUs may run anywhere)
	printf 'cpu 0 capacity 512 cluster 0 freqs 300000,900000,1800000\ncpu 1 capacity 1024 cluster 1 freqs 500000,1500000,2400000\n' >"$TMP/tables.topology"
	$VF load >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	run_vmm "$CGT" 60 env VCPUFREQ_TOPOLOGY="$TMP/tables.topology"
	local pairs=" " end=$((SECONDS + 15)) p
	while [ $SECONDS -lt $end ]; do
		for p in $($VF vcpus -j | jq -r '.[] | select(.vm_id==1) | "\(.guest_perf)=\(.perf)"'); do
			grep -qw "$p" <<<"$pairs" || pairs="$pairs$p "
		done
		grep -qw 2400000=1024 <<<"$pairs" && grep -qw 500000=213 <<<"$pairs" && break
		sleep 0.1
	done
	# busy: 1.25 x 0.9 x 2.4 GHz snaps to 2.4 GHz = 1024; idle: 0.3 GHz snaps up to 0.5 GHz = 1024 x 0.5/2.4
	grep -qw 2400000=1024 <<<"$pairs" || fail "no busy request 2400000=1024 in: $pairs"
	grep -qw 500000=213 <<<"$pairs" || fail "no idle request 500000=213 in: $pairs"
}
test_vmm_unregister_removes_requests_and_frees_slots() {
	$VF load >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	run_vmm "$CGT" 1
	wait_for 6 sh -c "[ \$(bpftool map dump pinned $PIN/requests -j | jq length) = 0 ]" || fail "requests left"
	wait_for 6 sh -c "[ \$(bpftool map dump pinned $PIN/slots -j | jq '[.[] | select((.formatted.value.tid // .value.tid) != 0)] | length') = 0 ]" \
		|| fail "slots still owned"
}
test_unprivileged_vmm_is_refused_without_a_grant() {
	id $VMM_USER >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin $VMM_USER
	$VF load >/dev/null
	out=$(as_vmm_user $VMM -n 1 -t 1 2>&1) && fail "VMM ran without a grant: $out"
	grep -q "permission denied" <<<"$out" || fail "no clear error: $out"
}
test_unprivileged_vmm_gets_exactly_what_was_granted() {
	id $VMM_USER >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin $VMM_USER
	load_on_open_bpffs
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	local mode; mode=$(stat -c %a /sys/fs/bpf)
	$VF grant --user $VMM_USER >/dev/null || fail "grant failed"
	run_vmm "$CGT" 60 $AS_VMM
	local seen; seen=$(perfs_seen 1024)
	grep -qw 1024 <<<"$seen" || fail "unprivileged VMM's requests not taken in: $seen"
	expect_fail "Permission denied" as_vmm_user $VF enroll "$CGT"
	# its requests went through the broker: no map is open to it at all
	maps_closed_to $VMM_USER cgroups actions requests slots
	$VF unload >/dev/null
	[ "$(stat -c %a /sys/fs/bpf)" = "$mode" ] || fail "bpffs mode not restored"
}
test_granted_user_request_exits_zero_and_takes_effect() {
	id $VMM_USER >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin $VMM_USER
	$VF load >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	# the thread is not the CLI's own: the grant names the VM's cgroup
	$VF grant --user $VMM_USER --cgroup "$CGT" >/dev/null || fail "grant failed"
	sh -c "echo \$\$ > $CGT/cgroup.procs && exec $AS_VMM sleep 60" &
	local t=$!; echo $t >>"$PIDFILE"
	wait_for 5 grep -qx "$t" "$CGT/cgroup.procs" || fail "thread not in $CGT"
	local out
	out=$(as_vmm_user $VF request $t 700 2>&1) || fail "granted 'request' exited $?: $out"
	grep -q "700 written" <<<"$out" || fail "no clear report: $out"
	wait_for 6 sh -c "$VF vcpus -j | jq -e '.[] | select(.tid==$t and .perf==700)'" \
		|| fail "request not taken in: $($VF vcpus -j)"
	out=$(as_vmm_user $VF request $t --drop 2>&1) || fail "granted '--drop' exited $?: $out"
	$VF unload >/dev/null
}
test_grant_bad_input_is_refused() {
	expect_fail "not loaded" $VF grant --user root
	$VF load >/dev/null
	expect_fail "no user" $VF grant --user no-such-user-xyz
	expect_fail "no group" $VF grant --group no-such-group-xyz
	expect_fail "give --user" $VF grant
	expect_fail "does not exist" $VF grant --user root --cgroup /no/such/cgroup
	expect_fail "1..4096" $VF grant --user root --max-vcpus 0
}

# ---- one VM cannot touch another (issue 14) ---------------------------------
VMM_USER2=vcpufreq-vmm2
AS_VMM2="setpriv --reuid=$VMM_USER2 --regid=$VMM_USER2 --clear-groups"
two_users() {
	local u; for u in $VMM_USER $VMM_USER2; do
		id $u >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin $u
	done
}
PY3=$(PATH=/usr/bin:/bin command -v python3)	# not root's own (pyenv)
perf_of() { $VF vcpus -j | jq -r ".[] | select(.tid==$1) | .perf"; }
# broker_send USER OP TID [PERF]: one raw message to the broker, as a hostile
# VMM would send it; prints the answer's error (none for an accepted request)
broker_send() {
	local user=$1; shift
	setpriv --reuid="$user" --regid="$user" --clear-groups $PY3 - "$VCPUFREQ_STATE_DIR/vcpufreq.sock" "$@" <<'PY'
import socket, struct, sys
ops = {"register": 2, "request": 3, "unregister": 4, "reload": 5}
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.send(struct.pack("6I", 1, 1, 0, 0, 0, 0))	# HELLO, version 1
print("hello", struct.unpack("3I", s.recv(16)[:12])[2])
tid, perf = int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 0
s.send(struct.pack("6I", ops[sys.argv[2]], tid, 7, 0, perf, 0))
s.settimeout(1)
try:
    op, t, e = struct.unpack("IIi", s.recv(16)[:12])
    print(sys.argv[2], e)
except socket.timeout:
    print(sys.argv[2], "no answer")
PY
}
# load_on_open_bpffs [LOAD OPTIONS]: load with the pins on a bpffs mounted
# 1777, which every user may enter (unlike /sys/fs/bpf here, 0700): a
# user's attempt on a pin then meets the pin dir's and the pins' own
# modes, not the mount's.  Sets VF and PIN for the rest of the test.
load_on_open_bpffs() {
	mkdir -p "$TMP/bpffs" && mount -t bpf -o mode=1777 bpf "$TMP/bpffs" || fail "cannot mount a bpffs"
	PIN=$TMP/bpffs/vcpufreq VF="$VF --pin-dir $TMP/bpffs/vcpufreq"
	$VF load "$@" >/dev/null || fail "load failed"
}
# obj_get PATH rdonly|wronly|rdwr [PREFIX...]: a raw BPF_OBJ_GET (what any
# write, freeze or read of a pinned map starts with); "ok" or the errno
obj_get() {
	local path=$1 mode=$2; shift 2
	"$@" $PY3 - "$path" "$mode" <<'PY'
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
class Attr(ctypes.Structure):
    _fields_ = [("pathname", ctypes.c_uint64), ("bpf_fd", ctypes.c_uint32),
                ("file_flags", ctypes.c_uint32), ("path_fd", ctypes.c_int32),
                ("pad", ctypes.c_uint32)]
name = ctypes.create_string_buffer(sys.argv[1].encode())
flags = {"rdonly": 1 << 3, "wronly": 1 << 4, "rdwr": 0}[sys.argv[2]]
attr = Attr(ctypes.addressof(name), 0, flags, 0, 0)
nr = {"x86_64": 321, "aarch64": 280}[os.uname().machine]
fd = libc.syscall(nr, 7, ctypes.byref(attr), ctypes.sizeof(attr))	# BPF_OBJ_GET
print("ok" if fd >= 0 else errno.errorcode[ctypes.get_errno()])
PY
}
# maps_closed_to USER MAP...: USER cannot open any of them, any way: EACCES
maps_closed_to() {
	local user=$1 m mode got; shift
	for m in "$@"; do
		[ "$(obj_get "$PIN/$m" rdonly)" = ok ] || fail "root cannot open $PIN/$m: the check is broken"
		for mode in rdonly wronly rdwr; do
			got=$(obj_get "$PIN/$m" $mode setpriv --reuid="$user" --regid="$user" --clear-groups)
			[ "$got" = EACCES ] || fail "$user opening $PIN/$m $mode: $got, want EACCES"
		done
	done
}
test_two_tenants_every_cross_vm_operation_is_refused_and_counted() {
	two_users
	load_on_open_bpffs
	mkdir -p "$CGT/vm1" "$CGT/vm2"; $VF enroll "$CGT" >/dev/null
	$VF grant --user $VMM_USER --cgroup "$CGT/vm1" >/dev/null || fail "grant 1"
	$VF grant --user $VMM_USER2 --cgroup "$CGT/vm2" >/dev/null || fail "grant 2"
	SPAWN_AS=$AS_VMM spawn 1 0 "$CGT/vm1"; local a=${TIDS[0]}
	SPAWN_AS=$AS_VMM2 spawn 1 0 "$CGT/vm2"; local b=${TIDS[0]}
	$AS_VMM $VF request "$a" 300 >/dev/null || fail "tenant 1 cannot steer its own vCPU"
	$AS_VMM2 $VF request "$b" 700 >/dev/null || fail "tenant 2 cannot steer its own vCPU"
	wait_for 5 sh -c "[ \"\$($VF vcpus -j | jq -r '[.[] | select(.tid==$a or .tid==$b) | .perf] | sort | join(\",\")')\" = 300,700 ]" \
		|| fail "own requests not taken in: $($VF vcpus -j)"
	# tenant 1 against tenant 2's vCPU, every way there is
	expect_fail "not a thread of your VM" $AS_VMM $VF request "$b" 1024
	expect_fail "not a thread of your VM" $AS_VMM $VF request "$b" --drop
	[ "$(broker_send $VMM_USER register "$b")" = $'hello 0\nregister -1' ] || fail "raw register: $(broker_send $VMM_USER register "$b")"
	[ "$(broker_send $VMM_USER request "$b" 1024)" = $'hello 0\nrequest -1' ] || fail "raw request not refused"
	[ "$(broker_send $VMM_USER unregister "$b")" = $'hello 0\nunregister -1' ] || fail "raw unregister not refused"
	# no map to write, freeze or read (every VM's TIDs in slots)
	maps_closed_to $VMM_USER requests slots
	# and tenant 2 against tenant 1's, through its own VMM's library
	expect_fail "not a thread of your VM" $AS_VMM2 $VF request "$a" 1024
	sleep 0.5
	[ "$(perf_of "$a")" = 300 ] || fail "tenant 1's request changed: $(perf_of "$a")"
	[ "$(perf_of "$b")" = 700 ] || fail "tenant 2's request changed: $(perf_of "$b")"
	local st; st=$($VF status -j)
	[ "$(jq .broker.refused_cross_vm <<<"$st")" -ge 6 ] || fail "refusals not counted: $(jq -c .broker <<<"$st")"
	grep -q "refused op 2 on TID $b for uid $(id -u $VMM_USER)" "$VCPUFREQ_STATE_DIR/agent.log" || fail "not in the agent's log"
	# root still inspects and steers everything
	$VF request "$b" 900 >/dev/null && bpftool map dump pinned $PIN/requests >/dev/null || fail "root lost access"
}
# KubeVirt runs every VM's pod as uid 107: one user, one grant per pod
test_two_vms_of_one_user_cannot_steer_each_other() {
	two_users
	$VF load >/dev/null
	mkdir -p "$CGT/pod1" "$CGT/pod2"; $VF enroll "$CGT" >/dev/null
	$VF grant --user $VMM_USER --cgroup "$CGT/pod1" >/dev/null || fail "grant pod1"
	$VF grant --user $VMM_USER --cgroup "$CGT/pod2" >/dev/null || fail "grant pod2"
	SPAWN_AS=$AS_VMM spawn 1 0 "$CGT/pod1"; local a=${TIDS[0]}
	SPAWN_AS=$AS_VMM spawn 1 0 "$CGT/pod2"; local b=${TIDS[0]}
	in_pod() {	# in_pod POD CMD...: the user's process inside that pod
		local pod=$1; shift
		sh -c "echo \$\$ > $CGT/$pod/cgroup.procs && exec $AS_VMM $*"
	}
	in_pod pod1 $VF request "$a" 300 >/dev/null || fail "pod1 cannot steer its own vCPU"
	in_pod pod2 $VF request "$b" 700 >/dev/null || fail "pod2 cannot steer its own vCPU"
	wait_for 5 sh -c "[ \"\$($VF vcpus -j | jq -r '[.[] | select(.tid==$a or .tid==$b) | .perf] | sort | join(\",\")')\" = 300,700 ]" \
		|| fail "own requests not taken in: $($VF vcpus -j)"
	# the same user, from inside pod1, against pod2's registered vCPU
	expect_fail "not a thread of your VM" in_pod pod1 $VF request "$b" 1024
	expect_fail "not a thread of your VM" in_pod pod1 $VF request "$b" --drop
	expect_fail "not a thread of your VM" in_pod pod2 $VF request "$a" 1024
	sleep 0.5
	[ "$(perf_of "$a")" = 300 ] && [ "$(perf_of "$b")" = 700 ] || fail "a pod steered the other's vCPU: $(perf_of "$a") $(perf_of "$b")"
	# outside every pod (a bridge on the host) the user has both grants
	$AS_VMM $VF request "$b" 800 >/dev/null || fail "the user outside the pods lost its grants"
}
test_granted_vmm_steers_its_own_process_only() {
	two_users
	$VF load >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	$VF grant --user $VMM_USER >/dev/null	# no cgroup: its own process
	SPAWN_AS=$AS_VMM spawn 1 0 "$CGT"; local other=${TIDS[0]}	# its, but another process
	run_vmm "$CGT" 60 $AS_VMM
	local seen; seen=$(perfs_seen 1024)
	grep -qw 1024 <<<"$seen" || fail "the VMM's own threads were refused: $seen"
	expect_fail "not a thread of your VM" $AS_VMM $VF request "$other" 500
	expect_fail "not a thread of your VM" $AS_VMM2 $VF request "$other" 500
	[ -z "$(perf_of "$other")" ] || fail "another process's thread got a request"
}
test_grant_quota_keeps_a_vmm_from_filling_the_requests_map() {
	two_users
	$VF load >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	$VF grant --user $VMM_USER --cgroup "$CGT" --max-vcpus 2 >/dev/null
	SPAWN_AS=$AS_VMM spawn 3 0 "$CGT"
	$AS_VMM $VF request "${TIDS[0]}" 100 >/dev/null || fail "first"
	$AS_VMM $VF request "${TIDS[1]}" 100 >/dev/null || fail "second"
	expect_fail "quota" $AS_VMM $VF request "${TIDS[2]}" 100
	jq_is "$($VF status -j)" .broker.refused_quota 1
	# dropping one frees its place
	$AS_VMM $VF request "${TIDS[0]}" --drop >/dev/null || fail "drop"
	$AS_VMM $VF request "${TIDS[2]}" 100 >/dev/null || fail "quota not given back"
}
test_pin_dir_or_state_dir_planted_by_another_user_is_never_used() {
	two_users
	local fs=$TMP/bpffs
	mkdir -p "$fs" && mount -t bpf -o mode=1777 bpf "$fs" || fail "cannot mount a bpffs"
	$AS_VMM mkdir "$fs/vcpufreq" || fail "the user cannot plant a directory"
	expect_fail "not created by vcpufreq-bpf" $VF --pin-dir "$fs/vcpufreq" load
	$VF --pin-dir "$fs/vcpufreq" unload >/dev/null 2>&1 && fail "unload took the user's directory"
	[ -d "$fs/vcpufreq" ] && [ -z "$(ls -A "$fs/vcpufreq")" ] || fail "root pinned into the user's directory"
	$AS_VMM rmdir "$fs/vcpufreq" && $AS_VMM ln -s /sys/fs/bpf "$fs/vcpufreq" || fail "the user cannot plant a symlink"
	expect_fail "not created by vcpufreq-bpf" $VF --pin-dir "$fs/vcpufreq" load
	[ -L "$fs/vcpufreq" ] || fail "the symlink was replaced"
	rm "$fs/vcpufreq"
	# a state dir (agent log, grants, the broker's socket) must be root's too
	mkdir -p "$TMP/planted" && chown $VMM_USER "$TMP/planted"
	VCPUFREQ_STATE_DIR=$TMP/planted expect_fail "state dir .* is not ours" $VF --pin-dir "$fs/vcpufreq" load
	[ ! -e "$fs/vcpufreq" ] || fail "a refused load left pins"
	# the same bpffs, a pin dir of ours: works
	$VF --pin-dir "$fs/vcpufreq" load >/dev/null || fail "load on a 1777 bpffs"
	[ "$(stat -c '%u %a' "$fs/vcpufreq")" = "0 700" ] || fail "pin dir $(stat -c '%u %a' "$fs/vcpufreq")"
	$VF --pin-dir "$fs/vcpufreq" unload >/dev/null || fail "unload"
}
agent_cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
flood() {	# flood COMMAND: start a flood.py writer, wait until it writes
	local out=$TMP/flood.$RANDOM
	$1 >"$out" 2>&1 &
	echo $! >>"$PIDFILE"; FLOODERS+=("$!")
	wait_for 20 grep -q flooding "$out" || fail "flood did not start: $1: $(cat "$out")"
}
cpu_ticks_of() { local p t=0; for p in "$@"; do t=$((t + $(agent_cpu_ticks "$p"))); done; echo $t; }
test_agent_keeps_control_under_a_request_flood_and_sigterm_still_restores() {
	two_users
	$VF --topology "$BIG_LITTLE" load --backend affinity >/dev/null
	mkdir -p "$CGT/vm1" "$CGT/vm2"; $VF enroll "$CGT" >/dev/null
	$VF grant --user $VMM_USER --cgroup "$CGT/vm1" >/dev/null
	$VF grant --user $VMM_USER2 --cgroup "$CGT/vm2" >/dev/null
	SPAWN_AS=$AS_VMM spawn 1 0 "$CGT/vm1"; local a=${TIDS[0]}
	SPAWN_AS=$AS_VMM2 spawn 1 0 "$CGT/vm2"; local b=${TIDS[0]}
	local agent; agent=$($VF status -j | jq -r .agent_pid)
	# tenant 1 floods its own vCPU's requests, and tenant 2's (refused)
	local sock=$VCPUFREQ_STATE_DIR/vcpufreq.sock; FLOODERS=()
	flood "$AS_VMM $PY3 tests/live/flood.py broker $sock $a"
	flood "$AS_VMM $PY3 tests/live/flood.py hostile $sock $b"
	sleep 1
	local t0 f0 s0 t1 f1 s1
	t0=$(agent_cpu_ticks "$agent"); f0=$(cpu_ticks_of "${FLOODERS[@]}"); s0=$(date +%s%N)
	sleep 3
	t1=$(agent_cpu_ticks "$agent"); f1=$(cpu_ticks_of "${FLOODERS[@]}"); s1=$(date +%s%N)
	local pct=$(((t1 - t0) * 1000000000 / (s1 - s0))) fpct=$(((f1 - f0) * 1000000000 / (s1 - s0)))
	echo "    under the broker flood: agent $pct% of one CPU, the flooders $fpct%" >&2
	# the broker's limits are per second of wall time: under TCG, where a
	# system call costs ~50 times more, the same work takes more CPU
	local most=50; case "$(uname -r)" in *-vcpufreq-vm) most=90 ;; esac
	[ "$pct" -lt "$most" ] || fail "the agent used $pct% of a CPU (at most $most%), the flooders $fpct%"
	# tenant 2 is still served, at once
	$AS_VMM2 $VF request "$b" 900 >/dev/null || fail "tenant 2's request refused under the flood"
	wait_for 3 affinity_is "$b" "$BIG" || fail "tenant 2's request not applied under the flood: $(cpus_of "$b")"
	local st; st=$($VF status -j)
	jq -e '.broker.coalesced > 0 and .broker.rate_limited > 0 and .broker.log_suppressed > 0' <<<"$st" >/dev/null \
		|| fail "flood not counted: $(jq -c .broker <<<"$st")"
	[ "$(wc -l <"$VCPUFREQ_STATE_DIR/agent.log")" -lt 300 ] || fail "agent.log grew to $(wc -l <"$VCPUFREQ_STATE_DIR/agent.log") lines"
	# a root VMM floods the map with bpf() too; SIGTERM still restores
	# and ends the agent by itself
	flood "$PY3 tests/live/flood.py bpf $PIN $a"
	sleep 1
	local out start=$SECONDS
	out=$($VF unload 2>&1) || fail "unload under the flood: $out"
	[ $((SECONDS - start)) -le 5 ] || fail "unload took $((SECONDS - start)) s: $out"
	grep -q "did not stop" <<<"$out" && fail "the agent ignored SIGTERM: $out"
	affinity_is "$b" "$ALL" || fail "not restored: $(cpus_of "$b")"
	wait_for 3 sh -c "[ ! -e /proc/$agent ] || grep -q ') Z' /proc/$agent/stat" || fail "the agent still runs"
}
test_agent_log_rolls_over_at_1_mib_keeping_one_older_file() {
	two_users
	$VF load >/dev/null
	local log=$VCPUFREQ_STATE_DIR/agent.log
	# the agent's log past 1 MiB (LOG_MAX_BYTES): as if it had logged that much
	head -c $((1024 * 1024)) /dev/zero | tr '\0' x >>"$log"
	wait_for 3 test -e "$log.1" || fail "no rollover: agent.log is $(stat -c %s "$log") bytes"
	[ "$(stat -c %s "$log.1")" -ge $((1024 * 1024)) ] || fail "agent.log.1 is not the full log"
	# the agent writes on in a new agent.log
	expect_fail "" $AS_VMM $VF request 1 100	# refused (no grant) and logged
	wait_for 3 grep -q "refused op 1 .* no grant" "$log" || fail "the agent no longer logs to agent.log: $(head -c 300 "$log")"
	[ "$(stat -c %s "$log")" -lt 4096 ] || fail "agent.log not started anew: $(stat -c %s "$log") bytes"
	# once more: the older file is replaced, never a third
	head -c $((1024 * 1024)) /dev/zero | tr '\0' y >>"$log"
	wait_for 3 sh -c "grep -q y $log.1" || fail "no second rollover"
	[ ! -e "$log.2" ] && [ "$(ls "$VCPUFREQ_STATE_DIR" | grep -c '^agent.log')" = 2 ] || fail "files: $(ls "$VCPUFREQ_STATE_DIR")"
}
test_revoke_ends_what_open_connections_can_do() {
	two_users
	$VF load >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	$VF grant --user $VMM_USER >/dev/null
	run_vmm "$CGT" 60 $AS_VMM
	perfs_seen 1024 >/dev/null
	[ -n "$(tids_of_vm 1)" ] || fail "the VMM is not running"
	$VF grant --revoke --user $VMM_USER >/dev/null || fail "revoke failed"
	# the VMM's handle is still open: nothing it sends counts any more
	wait_for 5 sh -c "[ -z \"\$($VF vcpus -j | jq -r '.[] | select(.vm_id==1) | .tid')\" ]" \
		|| fail "the revoked VMM's vCPUs keep requests: $($VF vcpus -j)"
	sleep 1
	[ -z "$(tids_of_vm 1)" ] || fail "the revoked VMM steered again: $($VF vcpus -j)"
	jq_is "$($VF status -j)" '.broker.grants | length' 0
}
# hold_conns PREFIX N: a local user (PREFIX: setpriv ...) opens N
# connections to the broker, says HELLO on every other one, and holds them;
# once the broker answered (or closed) the last HELLO, it has taken in
# (or refused) every connection before it
hold_conns() {
	local out=$TMP/hold.$RANDOM
	$1 $PY3 - "$VCPUFREQ_STATE_DIR/vcpufreq.sock" "$2" >"$out" 2>&1 <<'PY' &
import socket, struct, sys, time
held = []
for i in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(sys.argv[1])	# blocking: waits while the backlog is full
        s.settimeout(5)
        if i % 2:
            s.send(struct.pack("6I", 1, 1, 0, 0, 0, 0))	# HELLO
        held.append(s)
    except OSError:
        pass
for s in held[1::2]:
    try:
        s.recv(16)
    except OSError:
        pass
print("connected", len(held), flush=True)
time.sleep(600)
PY
	echo $! >>"$PIDFILE"
	wait_for 30 grep -q '^connected' "$out" || fail "holder did not start: $(cat "$out")"
}
test_a_user_holding_broker_connections_shuts_out_no_vmm_and_no_revoke() {
	two_users
	$VF load >/dev/null
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	$VF grant --user $VMM_USER --cgroup "$CGT" >/dev/null
	SPAWN_AS=$AS_VMM spawn 1 0 "$CGT"; local t=${TIDS[0]}
	hold_conns "$AS_VMM2" 300	# a user without a grant
	$AS_VMM $VF request "$t" 600 >/dev/null || fail "the granted VMM was shut out by another user's connections"
	wait_for 5 sh -c "$VF vcpus -j | jq -e '.[] | select(.tid==$t and .perf==600)'" || fail "request not taken in"
	[ "$(jq .broker.refused_connections <<<"$($VF status -j)")" -gt 0 ] || fail "refused connections not counted"
	# the granted user fills its own share; root's revoke still applies
	hold_conns "$AS_VMM" 300
	local out; out=$($VF grant --revoke --user $VMM_USER 2>&1) || fail "revoke: $out"
	[ -z "$(perf_of "$t")" ] || fail "the revoked user's request is still in force: $(perf_of "$t")"
	expect_fail "" $AS_VMM $VF request "$t" 700
	[ -z "$(perf_of "$t")" ] || fail "the revoked user steered again"
}

# ---- the QEMU bridge under libvirt, with a stand-in QEMU ---------------------
BRIDGE=$PWD/build/vcpufreq-qemu-bridge
# bridge_libvirt [fake-qemu.py options]: sets BRIDGE_PID FAKE_PID FAKE_TIDS;
# BRIDGE_AS: a command prefix (setpriv ...) for the bridge, FAKE_CG: the
# cgroup the stand-in QEMU runs in
bridge_libvirt() {
	# an earlier test's output must not pass for this one's "ready"
	mkdir -p "$TMP/lv" "$TMP/bs" && rm -f "$TMP/lv/"* "$TMP/fake.out" "$TMP/bridge.out"
	[ -n "${BRIDGE_AS:-}" ] && chown $VMM_USER "$TMP/bs"
	BSOCK=$TMP/bs/b.sock
	${BRIDGE_AS:-} $BRIDGE --socket "$BSOCK" --libvirt vm1 --libvirt-dir "$TMP/lv" >"$TMP/bridge.out" 2>&1 &
	BRIDGE_PID=$!; echo $BRIDGE_PID >>"$PIDFILE"
	wait_for 10 test -S "$BSOCK" || fail "bridge did not listen: $(cat "$TMP/bridge.out")"
	sh -c "${FAKE_CG:+echo \$\$ > $FAKE_CG/cgroup.procs && }exec tests/live/fake-qemu.py $BSOCK $TMP/lv vm1 2 $*" >"$TMP/fake.out" 2>&1 &
	FAKE_PID=$!; echo $FAKE_PID >>"$PIDFILE"
	wait_for 10 grep -q '^ready' "$TMP/fake.out" || fail "stand-in QEMU: $(cat "$TMP/fake.out")"
	FAKE_TIDS=$(sed -n 's/^ready //p' "$TMP/fake.out")
}
tids_of_vm() { $VF vcpus -j | jq -r "[.[] | select(.vm_id==$1) | .tid] | sort | map(tostring) | join(\" \")"; }
test_bridge_registers_the_vcpu_threads_libvirt_lists_and_stops_with_qemu() {
	$VF load >/dev/null
	bridge_libvirt
	wait_for 10 grep -q '^bridge: attached' "$TMP/bridge.out" || fail "not attached: $(cat "$TMP/bridge.out")"
	[ "$(tids_of_vm $FAKE_PID)" = "$FAKE_TIDS" ] ||
		fail "registered '$(tids_of_vm $FAKE_PID)', libvirt lists '$FAKE_TIDS'"
	kill $FAKE_PID
	wait_for 10 sh -c "! kill -0 $BRIDGE_PID" || fail "the bridge outlived QEMU"
	wait $BRIDGE_PID || fail "bridge exited $?: $(cat "$TMP/bridge.out")"
	[ -z "$(tids_of_vm $FAKE_PID)" ] || fail "threads left registered: $(tids_of_vm $FAKE_PID)"
	[ ! -e "$BSOCK" ] || fail "socket left behind"
}
test_bridge_rate_limits_a_guest_ringing_the_doorbell_in_a_loop() {
	$VF load >/dev/null
	bridge_libvirt --ring 3
	wait_for 15 grep -q '^rang' "$TMP/fake.out" || fail "the guest did not ring: $(cat "$TMP/fake.out")"
	local rang; rang=$(sed -n 's/^rang //p' "$TMP/fake.out")
	# while it runs, its counters are in SOCKET.stats for the admin
	wait_for 3 sh -c "awk '{exit !(\$6 > 0)}' $BSOCK.stats" || fail "no deferred doorbells in $BSOCK.stats: $(cat "$BSOCK.stats" 2>&1)"
	kill $FAKE_PID
	wait_for 10 sh -c "! kill -0 $BRIDGE_PID" || fail "the bridge outlived QEMU"
	[ ! -e "$BSOCK.stats" ] || fail "$BSOCK.stats left behind"
	local line; line=$(grep '^bridge: stopping' "$TMP/bridge.out")
	local fwd rings deferred
	read -r fwd rings deferred <<<"$(sed -E 's/.*forwarded ([0-9]+) requests.*; ([0-9]+) doorbells, ([0-9]+) deferred.*/\1 \2 \3/' <<<"$line")"
	echo "    guest rang $rang times in 3 s: bridge woke $rings times, forwarded $fwd, deferred $deferred" >&2
	# 1000 a second (and a burst of 50): about 3050 in 3 s, wherever it ran
	[ "$fwd" -le 3300 ] || fail "forwarded $fwd requests in 3 s: $line"
	[ "$deferred" -gt 0 ] || fail "nothing deferred: $line"
	[ "$rang" -gt $((fwd * 2)) ] || fail "the guest rang only $rang times"
}
test_bridge_as_a_granted_user_serves_a_qemu_it_is_not_and_no_other() {
	two_users
	$VF load >/dev/null
	mkdir -p "$CGT/vm1"; $VF enroll "$CGT" >/dev/null
	# the bridge's user is granted the VM's cgroup, not the host
	$VF grant --user $VMM_USER --cgroup "$CGT/vm1" >/dev/null
	BRIDGE_AS=$AS_VMM FAKE_CG=$CGT/vm1 bridge_libvirt
	wait_for 10 grep -q '^bridge: attached' "$TMP/bridge.out" || fail "not attached: $(cat "$TMP/bridge.out")"
	[ "$(tids_of_vm $FAKE_PID)" = "$FAKE_TIDS" ] ||
		fail "registered '$(tids_of_vm $FAKE_PID)', libvirt lists '$FAKE_TIDS'"
	kill $FAKE_PID
	wait $BRIDGE_PID || fail "bridge exited $?: $(cat "$TMP/bridge.out")"
	[ -z "$(tids_of_vm $FAKE_PID)" ] || fail "threads left registered"
	# a QEMU outside that cgroup is another VM: refused
	BRIDGE_AS=$AS_VMM FAKE_CG=$CGT bridge_libvirt
	wait $BRIDGE_PID && fail "the bridge registered another VM's vCPUs"
	grep -q "^Error: cannot register vCPU 0 thread .*not a thread of your VM" "$TMP/bridge.out" || fail "$(cat "$TMP/bridge.out")"
	[ -z "$(tids_of_vm $FAKE_PID)" ] || fail "threads registered: $(tids_of_vm $FAKE_PID)"
}
test_bridge_ignores_another_qemus_status_and_refuses_foreign_threads() {
	$VF load >/dev/null
	bridge_libvirt --pid 1		# an older run's file: not this QEMU
	sleep 1
	grep -q '^bridge: attached' "$TMP/bridge.out" && fail "attached to another QEMU's threads"
	kill $FAKE_PID
	wait $BRIDGE_PID && fail "bridge exited 0 without vCPUs"
	grep -q '^Error: QEMU pid .* exited before libvirt listed' "$TMP/bridge.out" || fail "$(cat "$TMP/bridge.out")"
	bridge_libvirt --tid 1		# a thread that is not QEMU's
	wait $BRIDGE_PID && fail "bridge registered pid 1 as a vCPU"
	grep -q '^Error: vCPU 1 thread 1 .* is not a thread of QEMU' "$TMP/bridge.out" || fail "$(cat "$TMP/bridge.out")"
	[ -z "$(tids_of_vm $FAKE_PID)" ] || fail "threads registered: $(tids_of_vm $FAKE_PID)"
}
test_bridge_builds_from_the_installed_headers_alone() {
	make -s install DESTDIR="$TMP/inst" PREFIX=/usr >/dev/null || fail "make install failed"
	# shellcheck disable=SC2046
	cc -std=gnu11 -I"$TMP/inst/usr/include" $(pkg-config --cflags jansson libxml-2.0) \
		$(ls bridge/*.c | grep -v corrupt.c) -L"$TMP/inst/usr/lib" -lvcpufreq -lelf -lz \
		$(pkg-config --libs jansson libxml-2.0) -o "$TMP/bridge" || fail "does not build"
	# grep reads it all: -q would close the pipe at the match, and the
	# bridge's SIGPIPE fails the pipeline under pipefail (a flake seen once)
	"$TMP/bridge" --help | grep '^SYNOPSIS' >/dev/null || fail "--help"
	"$TMP/bridge" --corrupt len0 >/dev/null 2>&1 && fail "the product bridge takes --corrupt"
	true
}

test_installed_library_links_through_pkg_config() {
	make -s install DESTDIR="$TMP/inst" PREFIX=/usr >/dev/null || fail "make install failed"
	local pc="$TMP/inst/usr/lib/pkgconfig"
	printf '#include <vcpufreq/vcpufreq.h>\nint main(void){struct vcpufreq *v;return vcpufreq_open("/nonexistent",&v)==-ENOENT?0:1;}\n' \
		| sed 's/-ENOENT/-2/' >"$TMP/ffi.c"
	cc "$TMP/ffi.c" -I"$TMP/inst/usr/include" -L"$TMP/inst/usr/lib" \
		$(PKG_CONFIG_PATH=$pc pkg-config --libs --static vcpufreq | sed "s|-L/usr/lib||") -o "$TMP/ffi" || fail "does not link"
	"$TMP/ffi" || fail "vcpufreq_open on a missing dir did not return -ENOENT"
}

passed=0 failed=0 skipped=0
mkdir -p "$VCPUFREQ_STATE_DIR"
for t in $(declare -F | awk '{print $3}' | grep '^test_' | grep -E -- "${LIVE_ONLY:-.}"); do
	cleanup
	( set -e; $t ) 2>"$TMP/err"
	case $? in
	0) echo "  ok   ${t#test_}"; passed=$((passed + 1)) ;;
	$SKIP) echo "  skip ${t#test_}"; sed 's/^/  /' "$TMP/err"; skipped=$((skipped + 1)) ;;
	*) echo "  FAIL ${t#test_}"; sed 's/^/  /' "$TMP/err"; failed=$((failed + 1)) ;;
	esac
done
cleanup
rm -rf "$TMP"
echo "RESULT $passed $failed $skipped"
