#!/usr/bin/env bash
# tests/ops/package.sh: the Debian packages as an operator gets them.
# `make deb` builds them (dpkg-buildpackage, lintian clean), then they are
# installed on this machine with dpkg, run from the installed paths
# (load, enroll, request, status, vcpus, unload), removed while loaded and
# purged, and nothing of ours may be left: files, pins, the agent, the
# libvirt hook, the test's cgroup.  Root.
# Last line: "RESULT passed failed skipped".
set -uo pipefail
cd "$(dirname "$0")/../.."
DEB=build/deb
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
CGT=$CG2/vcpufreq-pkg-test
PIN=/sys/fs/bpf/vcpufreq
TMP=$(mktemp -d)
SPAWN=$PWD/build/tests/spawn-threads
export VCPUFREQ_STATE_DIR=	# the installed defaults, as an operator has them
fail() { echo "    $*" >&2; exit 1; }
gone() { [ ! -e /proc/$1 ] || grep -q '^State:.*Z' /proc/$1/status 2>/dev/null; }
wait_for() { local i; for i in $(seq $(($1 * 10))); do "${@:2}" && return 0; sleep 0.1; done; return 1; }

# every path the packages put on the machine, and the state they make
OURS=(/usr/sbin/vcpufreq-bpf /usr/sbin/vcpufreq-qemu-bridge /usr/sbin/vcpufreq-libvirt
      /etc/libvirt/hooks/qemu.d/vcpufreq /etc/default/vcpufreq-bpf
      /lib/systemd/system/vcpufreq-bpf.service /usr/share/doc/vcpufreq-bpf
      /usr/share/doc/libvcpufreq-dev /usr/include/vcpufreq /run/vcpufreq $PIN
      /etc/systemd/system/multi-user.target.wants/vcpufreq-bpf.service)

cleanup() {	# what the tests started ($TMP/pids: they run in subshells)
	[ -f "$TMP/pids" ] && xargs -r kill <"$TMP/pids" 2>/dev/null
	[ -x /usr/sbin/vcpufreq-bpf ] && /usr/sbin/vcpufreq-bpf unload >/dev/null 2>&1
	dpkg -P vcpufreq-bpf libvcpufreq-dev >/dev/null 2>&1
	sleep 0.2; rmdir "$CGT" 2>/dev/null
	rm -rf "$TMP"
}

test_deb_builds_with_dpkg_buildpackage_and_lintian_is_clean() {
	git status --porcelain --ignored=no -- . ':!build' >"$TMP/tree.before" 2>/dev/null
	make -s deb >"$TMP/deb.out" 2>&1 || fail "make deb: $(tail -n 20 "$TMP/deb.out")"
	grep -E '^[EW]: ' "$DEB/lintian.txt" && fail "lintian errors or warnings"
	ls $DEB/vcpufreq-bpf_*.deb $DEB/libvcpufreq-dev_*.deb >/dev/null || fail "no .deb"
	[ ! -e "$DEB/src" ] || fail "the build copy was left in $DEB/src"
	git status --porcelain --ignored=no -- . ':!build' >"$TMP/tree.after" 2>/dev/null
	diff "$TMP/tree.before" "$TMP/tree.after" >&2 && return 0
	fail "the build changed the tree (above)"
}

test_packages_hold_the_programs_man_pages_for_every_command_and_the_library() {
	local c
	dpkg -c $DEB/vcpufreq-bpf_*.deb | awk '{print $6}' >"$TMP/bin.list"
	dpkg -c $DEB/libvcpufreq-dev_*.deb | awk '{print $6}' >"$TMP/dev.list"
	for f in ./usr/sbin/vcpufreq-bpf ./usr/sbin/vcpufreq-qemu-bridge ./usr/sbin/vcpufreq-libvirt \
		 ./etc/libvirt/hooks/qemu.d/vcpufreq ./lib/systemd/system/vcpufreq-bpf.service \
		 ./usr/share/man/man8/vcpufreq-bpf.8.gz ./usr/share/man/man8/vcpufreq-qemu-bridge.8.gz \
		 ./usr/share/man/man8/vcpufreq-libvirt.8.gz; do
		grep -qx "$f" "$TMP/bin.list" || fail "vcpufreq-bpf lacks $f"
	done
	# a page per command of `vcpufreq-bpf --help`
	for c in $(build/vcpufreq-bpf --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]\+\)  .*/\1/p'); do
		grep -qx "./usr/share/man/man8/vcpufreq-bpf-$c.8.gz" "$TMP/bin.list" || fail "no man page for $c"
	done
	grep -q '^./usr/lib/.*/libvcpufreq.a$' "$TMP/dev.list" || fail "libvcpufreq-dev lacks libvcpufreq.a"
	grep -q '^./usr/lib/.*/pkgconfig/vcpufreq.pc$' "$TMP/dev.list" || fail "libvcpufreq-dev lacks vcpufreq.pc"
	grep -qx './usr/include/vcpufreq/vcpufreq.h' "$TMP/dev.list" || fail "libvcpufreq-dev lacks vcpufreq.h"
}

test_installed_package_loads_steers_a_thread_and_unloads() {
	dpkg -i $DEB/vcpufreq-bpf_*.deb $DEB/libvcpufreq-dev_*.deb >"$TMP/dpkg.out" 2>&1 || fail "dpkg -i: $(cat "$TMP/dpkg.out")"
	# not enabled, not started, on install
	[ ! -e /etc/systemd/system/multi-user.target.wants/vcpufreq-bpf.service ] || fail "the unit was enabled on install"
	[ ! -e $PIN ] || fail "installing loaded it"
	grep -qx 'ConditionPathExists=/sys/kernel/btf/vmlinux' /lib/systemd/system/vcpufreq-bpf.service || fail "the unit may start without BTF"
	# the page is the --help of the installed program
	zcat /usr/share/man/man8/vcpufreq-bpf-load.8.gz | grep -q -- '--metrics DIR' || fail "vcpufreq-bpf-load(8) lacks --metrics"
	/usr/sbin/vcpufreq-bpf load >"$TMP/load.out" 2>&1 || fail "load: $(cat "$TMP/load.out")"
	mkdir -p "$CGT"; /usr/sbin/vcpufreq-bpf enroll "$CGT" >/dev/null || fail "enroll"
	sh -c "echo \$\$ > $CGT/cgroup.procs && exec $SPAWN 1 0" >"$TMP/tids" & echo $! >>"$TMP/pids"
	wait_for 5 test -s "$TMP/tids" || fail "no thread"
	/usr/sbin/vcpufreq-bpf request "$(head -n1 "$TMP/tids")" 700 >/dev/null || fail "request"
	wait_for 5 sh -c "/usr/sbin/vcpufreq-bpf vcpus -j | jq -e '.[0].enrolled and .[0].perf == 700' >/dev/null" ||
		fail "vcpus: $(/usr/sbin/vcpufreq-bpf vcpus)"
	/usr/sbin/vcpufreq-bpf status -j | jq -e '.requests.accepted >= 1' >/dev/null ||
		fail "status: $(/usr/sbin/vcpufreq-bpf status -j)"
	/usr/sbin/vcpufreq-bpf unload >/dev/null || fail "unload"
	[ ! -e $PIN ] || fail "pins left after unload"
	xargs -r kill <"$TMP/pids"; : >"$TMP/pids"	# the thread, so its cgroup can go
	# the installed library links through the installed .pc
	printf '#include <vcpufreq/vcpufreq.h>\nint main(void){struct vcpufreq *v;return vcpufreq_open("/nonexistent",&v)==-2?0:1;}\n' >"$TMP/t.c"
	# shellcheck disable=SC2046
	cc "$TMP/t.c" $(pkg-config --cflags --libs --static vcpufreq) -o "$TMP/t" || fail "does not link with pkg-config"
	"$TMP/t" || fail "the installed library did not run"
}

test_removing_while_loaded_unloads_and_purge_leaves_nothing_of_ours() {
	local f left=()
	dpkg -s vcpufreq-bpf >/dev/null 2>&1 || dpkg -i $DEB/vcpufreq-bpf_*.deb $DEB/libvcpufreq-dev_*.deb >/dev/null 2>&1
	/usr/sbin/vcpufreq-bpf unload >/dev/null 2>&1	# left by a test that failed
	/usr/sbin/vcpufreq-bpf load >"$TMP/load.out" 2>&1 || fail "load: $(cat "$TMP/load.out")"
	local agent; agent=$(/usr/sbin/vcpufreq-bpf status -j | jq -r .agent_pid)
	mkdir -p "$CGT"; /usr/sbin/vcpufreq-bpf enroll "$CGT" >/dev/null || fail "enroll"
	dpkg -r vcpufreq-bpf libvcpufreq-dev >"$TMP/dpkg.out" 2>&1 || fail "dpkg -r: $(cat "$TMP/dpkg.out")"
	[ ! -e $PIN ] || fail "removing left the pins: $(ls $PIN)"
	# gone, or a zombie its new parent has not reaped yet
	[ "$agent" = null ] || wait_for 5 gone "$agent" || fail "the agent (pid $agent) outlived its package"
	# the hook stays until purge (a conffile), and then lets every domain start
	sh /etc/libvirt/hooks/qemu.d/vcpufreq vm1 prepare begin - </dev/null || fail "the left hook fails a domain's start"
	dpkg -P vcpufreq-bpf libvcpufreq-dev >"$TMP/dpkg.out" 2>&1 || fail "dpkg -P: $(cat "$TMP/dpkg.out")"
	wait_for 5 rmdir "$CGT" || fail "the test's cgroup is busy: $(cat "$CGT/cgroup.procs")"
	for f in "${OURS[@]}" /usr/share/man/man8/vcpufreq*.8.gz /usr/lib/*/libvcpufreq.a /usr/lib/*/pkgconfig/vcpufreq.pc; do
		[ -e "$f" ] && left+=("$f")
	done
	[ ${#left[@]} -eq 0 ] || fail "left after purge: ${left[*]}"
	dpkg -s vcpufreq-bpf >/dev/null 2>&1 && fail "dpkg still knows vcpufreq-bpf"
	ps -C vcpufreq-bpf -o stat= | grep -qv '^Z' && fail "a vcpufreq-bpf process is left: $(ps -C vcpufreq-bpf -o pid,stat,args)"
	true
}

if [ "$(id -u)" -ne 0 ]; then
	echo "  skip package tests: they install packages (root)"
	echo "RESULT 0 0 1"; exit 0
fi
if [ -e $PIN ] || dpkg -s vcpufreq-bpf >/dev/null 2>&1; then
	echo "  skip package tests: vcpufreq-bpf is loaded or installed on this host already"
	echo "RESULT 0 0 1"; exit 0
fi
trap cleanup EXIT
passed=0 failed=0
for t in $(sed -n 's/^\(test_[a-z0-9_]*\)() {.*/\1/p' "$0"); do
	if ( set -e; $t ) 2>"$TMP/err"; then
		echo "  ok   ${t#test_}"; passed=$((passed + 1))
	else
		echo "  FAIL ${t#test_}"; sed 's/^/  /' "$TMP/err"; failed=$((failed + 1))
	fi
done
echo "RESULT $passed $failed 0"
