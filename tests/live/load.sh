# shellcheck shell=bash
# tests/live/load.sh: load and unload, the pins and the pin dir, backends
# refused with their reason, and bad input to every command.

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
