# shellcheck shell=bash
# tests/live/faults.sh: hostile and faulty hosts, each fault as the real
# unprivileged user or with the real broken state: refused with a clear
# error and counted, nothing of another tenant changed, the agent's CPU
# bounded, and after unload nothing of ours left and every thread back.

# our agents: vcpufreq-bpf processes of this run's state dir
our_agents() {
	local p n=0
	for p in $(pgrep -x vcpufreq-bpf); do
		tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qx "VCPUFREQ_STATE_DIR=$VCPUFREQ_STATE_DIR" && n=$((n + 1))
	done
	echo $n
}
nothing_of_ours_left() {	# no pins, no agent, no program of ours attached
	[ ! -e "$PIN" ] || fail "pins left: $(ls -R "$PIN")"
	[ "$(our_agents)" = 0 ] || fail "an agent still runs: $(pgrep -ax vcpufreq-bpf)"
	# the agent's exit drops the last reference to its links and
	# programs; the kernel frees them after an RCU grace period, which
	# a loaded machine stretches: a moment, not forever
	wait_for 5 no_on_switch_progs || fail "our programs are still loaded 5 s after unload"
}
no_on_switch_progs() { [ "$(on_switch_progs)" = 0 ]; }
test_two_loads_a_tenth_of_a_second_apart_leave_one_agent() {
	local gap ok
	for gap in 0.1 0; do
		$VF load >"$TMP/load1" 2>&1 & local first=$!
		sleep $gap
		local second=0 one=0
		$VF load >"$TMP/load2" 2>&1 || second=$?
		wait $first || one=$?
		ok=$(( (one == 0) + (second == 0) ))
		[ $ok = 1 ] || fail "gap $gap s: $ok loads succeeded: $(cat "$TMP/load1" "$TMP/load2")"
		grep -q "^Error: .*already loaded or being loaded" "$TMP/load1" "$TMP/load2" ||
			fail "gap $gap s: no clear refusal: $(cat "$TMP/load1" "$TMP/load2")"
		[ "$(our_agents)" = 1 ] || fail "gap $gap s: $(our_agents) agents run"
		$VF unload >/dev/null || fail "unload after gap $gap s"
		nothing_of_ours_left
	done
}
test_an_empty_or_climbing_cgroup_path_is_never_the_root_cgroup() {
	two_users
	$VF load >/dev/null
	mkdir -p "$CGT"
	expect_fail "empty cgroup path" $VF grant --user $VMM_USER --cgroup ""
	expect_fail "root cgroup" $VF grant --user $VMM_USER --cgroup /
	expect_fail "'\.\.'" $VF grant --user $VMM_USER --cgroup "$CGT/.."
	expect_fail "space or control" sh -c "mkdir -p '$CGT/a 1' && $VF grant --user $VMM_USER --cgroup '$CGT/a 1'"
	expect_fail "empty cgroup path" $VF enroll ""
	expect_fail "'\.\.'" $VF enroll "$CGT/../"
	expect_fail "empty cgroup path" $VF leave ""
	[ "$($VF status -j | jq '.cgroups | length')" = 0 ] || fail "something got enrolled: $($VF status -j | jq -c .cgroups)"
	[ "$($VF status -j | jq '.broker.grants | length')" = 0 ] || fail "something got granted"
	# the user has nothing: PID 1 and root's threads stay out of its reach
	expect_fail "permission denied" $AS_VMM $VF request 1 500
	request_gone 1 || fail "PID 1 got a request"
}
test_the_vcpu_quota_is_per_vm_not_per_user() {
	two_users
	$VF load >/dev/null
	mkdir -p "$CGT/vm1" "$CGT/vm2"; $VF enroll "$CGT" >/dev/null
	$VF grant --user $VMM_USER --cgroup "$CGT/vm1" --max-vcpus 2 >/dev/null || fail "grant vm1"
	$VF grant --user $VMM_USER --cgroup "$CGT/vm2" --max-vcpus 2 >/dev/null || fail "grant vm2"
	SPAWN_AS=$AS_VMM spawn 3 0 "$CGT/vm1"; local a=("${TIDS[@]}")
	SPAWN_AS=$AS_VMM spawn 2 0 "$CGT/vm2"; local b=("${TIDS[@]}")
	$AS_VMM $VF request "${a[0]}" 300 >/dev/null || fail "vm1 vCPU 0"
	$AS_VMM $VF request "${a[1]}" 300 >/dev/null || fail "vm1 vCPU 1"
	# vm1 used its quota; the same user's vm2 still has its own
	$AS_VMM $VF request "${b[0]}" 400 >/dev/null || fail "vm2 locked out by vm1's registrations"
	$AS_VMM $VF request "${b[1]}" 400 >/dev/null || fail "vm2's second vCPU locked out"
	expect_fail "quota" $AS_VMM $VF request "${a[2]}" 300
	[ "$($VF status -j | jq .broker.refused_quota)" -ge 1 ] || fail "quota refusal not counted: $($VF status -j | jq -c .broker)"
}
# py_script NAME <<'PY' ... PY: a Python script in $TMP that the VMM users can read
py_script() { cat >"$TMP/$1.py"; chmod 644 "$TMP/$1.py"; echo "$TMP/$1.py"; }
# nohello.py SOCKET: connect, send REGISTERs without HELLO until the
# broker closes, connect again, for ever (a user with no grant, or one
# that skips HELLO)
nohello_flooder() { py_script nohello <<'PY'
import socket, struct, sys
print("flooding", flush=True)
msg = struct.pack("6I", 2, 1, 9, 0, 0, 0)	# REGISTER PID 1, no HELLO
while True:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(sys.argv[1])
        while True:
            s.send(msg)
    except OSError:
        pass
    s.close()
PY
}
# hello_answer USER: the answer a user's HELLO gets, and what the connection does then
hello_answer() {
	local f; f=$(py_script hello <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1]); s.settimeout(3)
try:
    s.send(struct.pack("6I", 1, 1, 0, 0, 0, 0))
except OSError:
    pass	# answered and closed before we said it
print("hello", struct.unpack("3i", s.recv(16)[:12])[2])
try:
    print("then", len(s.recv(16)))
except ConnectionResetError:
    print("then 0")	# closed, with our message unread: the same
PY
)
	setpriv --reuid="$1" --regid="$1" --clear-groups $PY3 "$f" "$VCPUFREQ_STATE_DIR/vcpufreq.sock"
}
agent_cpu_pct() {	# agent_cpu_pct PID SECONDS: its CPU use over that time, in %
	local t0 t1 s0 s1
	t0=$(agent_cpu_ticks "$1"); s0=$(date +%s%N)
	sleep "$2"
	t1=$(agent_cpu_ticks "$1"); s1=$(date +%s%N)
	echo $(((t1 - t0) * 1000000000 / (s1 - s0)))
}
test_users_without_a_grant_get_a_refusal_and_cost_the_agent_no_cpu() {
	two_users
	id vcpufreq-vmm3 >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin vcpufreq-vmm3
	$VF load >/dev/null
	local agent u; agent=$($VF status -j | jq -r .agent_pid); FLOODERS=()
	local sock=$VCPUFREQ_STATE_DIR/vcpufreq.sock
	# what each of them gets: the refusal, and the connection closed
	local out; out=$(hello_answer $VMM_USER2 2>&1)
	[ "$out" = $'hello -1\nthen 0' ] || fail "no refusal of the HELLO, or the connection stayed: $out"
	local f t0=$SECONDS; f=$(nohello_flooder)
	for u in $VMM_USER $VMM_USER2 vcpufreq-vmm3; do
		flood "setpriv --reuid=$u --regid=$u --clear-groups $PY3 $f $sock"
	done
	sleep 1
	local pct; pct=$(agent_cpu_pct "$agent" 3)
	echo "    three ungranted users flooding: agent $pct% of one CPU" >&2
	local most=15; case "$(uname -r)" in *-vcpufreq-vm) most=40 ;; esac
	[ "$pct" -lt "$most" ] || fail "the agent used $pct% of a CPU (at most $most%)"
	jq -e '.broker.refused > 100' <<<"$($VF status -j)" >/dev/null || fail "refusals not counted: $($VF status -j | jq -c .broker)"
	request_gone 1 || fail "an ungranted user's REGISTER was taken in"
	# each uid's refusals are logged at most 10 lines a second (a second's
	# worth at once): three uids, for as long as they flooded (starting
	# three flooders takes a while in a TCG guest)
	local lines most_lines=$((3 * 10 * (SECONDS - t0 + 2) + 60))
	lines=$(wc -l <"$VCPUFREQ_STATE_DIR/agent.log")
	[ "$lines" -le "$most_lines" ] || fail "agent.log grew to $lines lines in $((SECONDS - t0)) s (at most $most_lines)"
}
test_a_granted_connection_that_skips_hello_is_closed() {
	granted_vcpu; local t=$T
	local out; out=$($AS_VMM $PY3 - "$VCPUFREQ_STATE_DIR/vcpufreq.sock" "$t" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1]); s.settimeout(3)
s.send(struct.pack("6I", 2, int(sys.argv[2]), 9, 0, 0, 0))	# REGISTER, no HELLO
print("answer", struct.unpack("3i", s.recv(16)[:12])[2])
try:
    s.send(struct.pack("6I", 2, int(sys.argv[2]), 9, 0, 0, 0))
    print("then", len(s.recv(16)))
except OSError as e:
    print("then", type(e).__name__)
PY
)
	grep -q "answer -71" <<<"$out" || fail "REGISTER before HELLO not refused with EPROTO: $out"
	grep -Eq "then (0|BrokenPipeError|ConnectionResetError)" <<<"$out" || fail "the connection stayed open: $out"
	request_gone "$t" || fail "a REGISTER before HELLO was taken in"
}
test_one_tenants_flood_of_refusals_never_hides_anothers() {
	two_tenants; local a=$A b=$B
	# two tenants flood refused requests (more than the agent's own allowance)
	id vcpufreq-vmm3 >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin vcpufreq-vmm3
	mkdir -p "$CGT/vm3"; $VF grant --user vcpufreq-vmm3 --cgroup "$CGT/vm3" >/dev/null
	FLOODERS=()
	flood "$AS_VMM $PY3 tests/live/flood.py hostile $VCPUFREQ_STATE_DIR/vcpufreq.sock $b"
	flood "setpriv --reuid=vcpufreq-vmm3 --regid=vcpufreq-vmm3 --clear-groups $PY3 tests/live/flood.py hostile $VCPUFREQ_STATE_DIR/vcpufreq.sock $b"
	sleep 2
	# tenant 2 tries tenant 1's vCPU once: its refusal is in the log
	expect_fail "not a thread of your VM" $AS_VMM2 $VF request "$a" 900
	local uid2; uid2=$(id -u $VMM_USER2)
	wait_for 3 grep -q "refused op 2 on TID $a for uid $uid2" "$VCPUFREQ_STATE_DIR/agent.log" ||
		fail "tenant 2's refusal was not logged during tenant 1's flood: $(tail -n 5 "$VCPUFREQ_STATE_DIR/agent.log")"
	jq -e '.broker.log_suppressed > 0' <<<"$($VF status -j)" >/dev/null || fail "the flood's lines were not suppressed"
}
# a vCPU thread boosted by the affinity backend: $T; affinity back to $ALL on restore
boosted_thread() {
	affinity_vcpu; T=${TIDS[0]}
	$VF request "$T" 900 >/dev/null
	wait_for 3 affinity_is "$T" "$BIG" || fail "not applied: $(cpus_of "$T")"
}
test_a_pin_removed_by_hand_leaves_the_host_unstuck() {
	local pin out
	for pin in actions requests settings; do
		boosted_thread
		rm -r "${PIN:?}/$pin"
		# status says what is wrong, and fails (a readiness probe sees it)
		out=$($VF status -j) && fail "status -j succeeded without $pin: $out"
		jq -e --arg p "$pin" '.loaded and .damaged and (.missing_pins | contains($p)) and .agent_running' <<<"$out" >/dev/null ||
			fail "status without $pin: $out"
		expect_fail "already loaded" $VF load	# its agent runs
		expect_fail "is running" $VF unload --restore-only
		out=$($VF unload 2>&1) || fail "unload without $pin failed: $out"
		affinity_is "$T" "$ALL" || fail "without $pin: not restored: $(cpus_of "$T")"
		nothing_of_ours_left
		cleanup || true	# (its unload fails: nothing is loaded)
	done
	# the whole pin dir removed while the agent runs: unload finds it by its lock
	boosted_thread
	rm -r "$PIN"
	out=$($VF unload 2>&1) || fail "unload without a pin dir: $out"
	affinity_is "$T" "$ALL" || fail "without a pin dir: not restored"
	nothing_of_ours_left
}
test_unload_after_a_crash_and_a_removed_actions_pin_says_what_it_could_not_restore() {
	boosted_thread
	kill_agent
	rm "$PIN/actions"
	expect_fail "incomplete (missing: actions)" $VF load
	expect_fail "cannot be restored" $VF unload
	nothing_of_ours_left	# everything else of ours is gone
}
test_unload_without_settings_stops_the_agent_and_exits_0() {
	boosted_thread
	local agent; agent=$($VF status -j | jq -r .agent_pid)
	rm "$PIN/settings"
	$VF unload >/dev/null 2>"$TMP/err" || fail "unload failed: $(cat "$TMP/err")"
	[ ! -s "$TMP/err" ] || fail "unload printed an error: $(cat "$TMP/err")"
	wait_for 3 sh -c "[ ! -e /proc/$agent ] || grep -q ') Z' /proc/$agent/stat" || fail "the agent still runs"
	affinity_is "$T" "$ALL" || fail "not restored"
	nothing_of_ours_left
}
test_topology_paths_are_checked_where_they_enter() {
	mkfifo "$TMP/fifo.topology"; mkdir -p "$TMP/dir.topology"
	expect_fail "a FIFO" timeout 5 $VF --topology "$TMP/fifo.topology" load
	expect_fail "a directory" $VF --topology "$TMP/dir.topology" load
	expect_fail "needs a file" $VF --topology "" load
	expect_fail "No such file" $VF --topology "$TMP/none.topology" load
	[ ! -e "$PIN" ] || fail "a refused load left pins"
	# a relative path, to a path deeper than settings hold, deleted after load
	local deep=$TMP/$(printf 'd%.0s' $(seq 200))/$(printf 'e%.0s' $(seq 100))
	mkdir -p "$deep" && cp "$BIG_LITTLE" "$deep/t.topology"
	(cd "$deep" && $VF --topology t.topology load --backend affinity >/dev/null) || fail "relative, long path refused"
	rm -r "$TMP/$(printf 'd%.0s' $(seq 200))"
	local st; st=$($VF status -j) || fail "status after the file was deleted: $st"
	jq_is "$st" .backends.affinity "in use"
	jq -e '.topology != "sysfs" and (has("topology_problem") | not)' <<<"$st" >/dev/null || fail "topology: $st"
	$VF unload >/dev/null || fail "unload"
}
test_a_thread_moved_to_another_tenants_cgroup_is_no_longer_the_first_tenants() {
	two_tenants --topology "$BIG_LITTLE" --backend affinity; local t=$A
	# tenant 1 holds a connection, as its VMM does, and steers its vCPU
	mkfifo "$TMP/t1.in"
	local f; f=$(py_script tenant1 <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1]); tid = int(sys.argv[2])
s.send(struct.pack("6I", 1, 1, 0, 0, 0, 0)); s.recv(16)
s.send(struct.pack("6I", 2, tid, 9, 0, 0, 0)); print("register", struct.unpack("3i", s.recv(16)[:12])[2])
for line in open(0):
    s.send(struct.pack("6I", 3, tid, 0, 0, int(line), 0)); print("sent", line.strip())
PY
)
	$AS_VMM $PY3 -u "$f" "$VCPUFREQ_STATE_DIR/vcpufreq.sock" "$t" <"$TMP/t1.in" >"$TMP/t1.out" 2>&1 &
	echo $! >>"$PIDFILE"
	exec {w}>"$TMP/t1.in"
	echo 900 >&$w
	wait_for 5 affinity_is "$t" "$BIG" || fail "tenant 1's request not applied: $(cat "$TMP/t1.out")"
	# root moves the VM's process into tenant 2's cgroup
	awk '/^Tgid/ {print $2}' "/proc/$t/status" >"$CGT/vm2/cgroup.procs"
	echo 600 >&$w; sleep 0.5; echo 1024 >&$w
	wait_for 5 affinity_is "$t" "$ALL" || fail "tenant 1 still steers the moved thread: $(cpus_of "$t"), $($VF vcpus -j)"
	# tenant 2 may now register it: it is its VM's thread
	$AS_VMM2 $VF request "$t" 900 >/dev/null || fail "tenant 2 cannot steer the thread now in its VM"
	wait_for 5 affinity_is "$t" "$BIG" || fail "tenant 2's request not applied"
	exec {w}>&-
}
test_a_removed_enrolled_cgroup_can_be_left() {
	$VF load >/dev/null
	mkdir -p "$CGT/gone"; $VF enroll "$CGT/gone" >/dev/null
	rmdir "$CGT/gone"
	$VF leave "$CGT/gone" >/dev/null || fail "leave of a removed cgroup failed"
	[ "$($VF status -j | jq '.cgroups | length')" = 0 ] || fail "still enrolled: $($VF status -j | jq -c .cgroups)"
	expect_fail "does not exist" $VF leave "$CGT/gone"
}
test_an_oversized_broker_message_is_refused() {
	granted_vcpu; local t=$T
	local before; before=$($VF status -j | jq .broker.refused)
	local out; out=$($AS_VMM $PY3 - "$VCPUFREQ_STATE_DIR/vcpufreq.sock" "$t" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1]); s.settimeout(2); tid = int(sys.argv[2])
s.send(struct.pack("6I", 1, 1, 0, 0, 0, 0)); s.recv(16)
s.send(struct.pack("6I", 2, tid, 9, 0, 0, 0) + b"tail" * 64)	# REGISTER and more
try:
    print("long", struct.unpack("3i", s.recv(16)[:12])[2])
except socket.timeout:
    print("long no answer")
PY
)
	grep -q "long no answer" <<<"$out" || fail "an oversized REGISTER was answered: $out"
	request_gone "$t" || fail "an oversized REGISTER was taken in"
	[ "$($VF status -j | jq .broker.refused)" -gt "$before" ] || fail "not counted"
}
test_request_for_pid_1_says_it_is_not_enrolled() {
	$VF load >/dev/null
	local out; out=$($VF request 1 500) || fail "request 1 500: $out"
	grep -q "not in an enrolled cgroup" <<<"$out" || fail "request 1 500 says: $out"
	$VF request 1 --drop >/dev/null || fail "drop"
}
# the agent stopped right after it set a thread's affinity, before the
# record after it: what it recorded first lets unload restore the thread
test_an_agent_killed_between_apply_and_record_leaves_nothing_unrestored() {
	command -v strace >/dev/null || { echo "    skipped: no strace" >&2; return $SKIP; }
	affinity_vcpu; local t=${TIDS[0]}
	local agent; agent=$($VF status -j | jq -r .agent_pid)
	# hold the agent 3 s after its sched_setaffinity() returns: kill it there
	strace -f -qq -o /dev/null -p "$agent" -e trace=sched_setaffinity \
		-e inject=sched_setaffinity:delay_exit=3000000 &
	local tracer=$!; echo $tracer >>"$PIDFILE"
	sleep 1
	$VF request "$t" 900 >/dev/null
	wait_for 3 affinity_is "$t" "$BIG" || fail "not applied"
	kill -9 "$agent"; wait $tracer 2>/dev/null
	wait_for 5 sh -c "[ ! -e /proc/$agent ] || grep -q ') Z' /proc/$agent/stat" || fail "the agent outlived SIGKILL"
	$VF unload >/dev/null || fail "unload failed"
	affinity_is "$t" "$ALL" || fail "the change made before the agent died was not restored: $(cpus_of "$t")"
}
