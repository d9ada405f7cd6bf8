# shellcheck shell=bash
# tests/live/requests.sh: requests, enrollment and tracking: a request
# taken in and shown, what unload and a crashed agent restore, threads
# that exit.

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
	# the agent records what it applied right after applying it
	wait_for 3 sh -c "$VF vcpus -j | jq -e '.[] | select(.tid==$t) | .action.affinity' >/dev/null"
	jq_is "$($VF vcpus -j | jq -c ".[] | select(.tid==$t)")" .action.affinity "$BIG"
	$VF request "$t" 100 >/dev/null
	wait_for 3 affinity_is "$t" "$ALL" || fail "perf 100 fits all: affinity $(cpus_of "$t")"
	$VF request "$t" 900 >/dev/null
	wait_for 3 affinity_is "$t" "$BIG" || fail "not re-applied"
	$VF request "$t" --drop >/dev/null
	wait_for 3 affinity_is "$t" "$ALL" || fail "drop did not restore: $(cpus_of "$t")"
}
# the big.LITTLE description with power figures: the knee is the big
# CPUs' 1 GHz, capacity 512, where the next OPP costs 3.3x as much per unit
KNEE_TOPO=$TMP/knee.topology
for c in $(seq 0 $BIG); do
	if [ $c = $BIG ]; then echo "cpu $c capacity 1024 cluster 1 freqs 500000,1000000,2000000 power 20,60,400"
	else echo "cpu $c capacity 512 cluster 0 freqs 500000,1000000,2000000 power 10,40,200"; fi
done >"$KNEE_TOPO"
# load --power balanced (the default) places a request of 900 as one of
# 512, which the little CPUs hold; --power performance on the big CPU
test_affinity_places_a_request_by_the_efficiency_knee_unless_performance() {
	$VF --topology "$KNEE_TOPO" load --backend affinity >/dev/null
	jq_is "$($VF status -j)" .power balanced
	jq_is "$($VF status -j)" .knee_capacity 512
	mkdir -p "$CGT"; $VF enroll "$CGT" >/dev/null
	spawn 1 0 "$CGT"; local t=${TIDS[0]}
	$VF request "$t" 900 >/dev/null
	wait_for 3 sh -c "$VF vcpus | grep -q 'affinity unchanged (all fit)'" \
		|| fail "balanced: 900 not placed as the knee's 512: $($VF vcpus)"
	affinity_is "$t" "$ALL" || fail "balanced: affinity $(cpus_of "$t"), want $ALL"
	$VF unload >/dev/null
	$VF --topology "$KNEE_TOPO" load --backend affinity --power performance >/dev/null
	jq_is "$($VF status -j)" .power performance
	jq_is "$($VF status -j)" .knee_capacity 1024
	$VF enroll "$CGT" >/dev/null
	$VF request "$t" 900 >/dev/null
	wait_for 3 affinity_is "$t" "$BIG" || fail "performance: affinity $(cpus_of "$t"), want $BIG"
	expect_fail "unknown power mode 'eco'" $VF --topology "$KNEE_TOPO" load --power eco
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
# the latest request always takes effect, by every path, under every
# backend (request-storm: lib.sh)
test_latest_request_takes_effect_under_affinity_by_every_path() {
	load_enrolled affinity --topology "$BIG_LITTLE"
	storm_every_path --effect affinity --high "900:$BIG" --low "100:$ALL"
}
test_latest_request_takes_effect_under_observe_by_every_path() {
	load_enrolled observe
	storm_every_path --effect state
}
test_latest_request_takes_effect_under_uclamp_by_every_path() {
	backend_or_skip uclamp || return $SKIP
	load_enrolled uclamp
	storm_every_path --effect uclamp
}
test_latest_request_takes_effect_under_scx_by_every_path() {
	scx_or_skip || return $SKIP
	load_enrolled scx --topology "$SCX_TOPO"
	storm_every_path --effect state
}
test_latest_request_takes_effect_under_cpufreq_by_every_path() {
	backend_or_skip cpufreq || return $SKIP
	load_enrolled cpufreq
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
