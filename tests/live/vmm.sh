# shellcheck shell=bash
# tests/live/vmm.sh: a VMM through libvcpufreq and the agent's broker:
# its handle, coalescing, the fast path, the register model, grants.

# ---- libvcpufreq: a VMM through the library -------------------------------
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
