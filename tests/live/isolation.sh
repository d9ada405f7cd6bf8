# shellcheck shell=bash
# tests/live/isolation.sh: one VM cannot touch another: users, quotas,
# planted dirs, floods, held connections, revocation.

# ---- one VM cannot touch another -------------------------------------------
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
test_agent_keeps_control_under_a_request_flood_and_sigterm_still_restores() {
	two_tenants --topology "$BIG_LITTLE" --backend affinity
	local a=$A b=$B
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
