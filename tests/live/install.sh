# shellcheck shell=bash
# tests/live/install.sh: what `make install` ships: the systemd unit, the
# bridge built from the installed headers alone, the library through
# pkg-config.

test_systemd_unit_is_installed_sandboxed_and_its_capabilities_suffice() {
	make -s install DESTDIR="$TMP/inst" PREFIX=/usr >/dev/null || fail "make install failed"
	local unit=$TMP/inst/etc/systemd/system/vcpufreq-bpf.service
	[ -f "$unit" ] || fail "no unit installed"
	grep -qx 'ExecStart=/usr/sbin/vcpufreq-bpf load --foreground --backend auto $VCPUFREQ_LOAD_OPTIONS' "$unit" || fail "ExecStart: $(grep ExecStart "$unit")"
	for k in 'ConditionPathExists=/sys/kernel/btf/vmlinux' 'ExecStopPost=-/usr/sbin/vcpufreq-bpf unload --restore-only' NoNewPrivileges=yes \
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
test_bridge_builds_from_the_installed_headers_alone() {
	make -s install DESTDIR="$TMP/inst" PREFIX=/usr >/dev/null || fail "make install failed"
	# shellcheck disable=SC2046
	cc -std=gnu11 -I"$TMP/inst/usr/include" $(pkg-config --cflags jansson libxml-2.0) \
		-Icommon $(ls bridge/*.c common/*.c | grep -v corrupt.c) -L"$TMP/inst/usr/lib" -lvcpufreq -lelf -lz \
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
