#!/usr/bin/env bash
# tests/ops/manifests.sh: the fleet manifests (deploy/kubernetes) as far
# as a machine without a cluster can check them: every object against the
# Kubernetes API's types (tests/ops/k8s-schema.py, Debian's
# python3-kubernetes), the DaemonSet's host mounts exactly bpffs, cgroup2,
# the kernel's BTF and the state dir, the opt-in annotation and node label
# the same in the DaemonSet's script and the VM example, and that script
# valid sh, and `kubectl apply --dry-run=client --validate=false` takes
# every object (against tests/ops/api-stub.py's discovery).  Not checked
# here: anything an API server or a node would do.
# Last line: "RESULT passed failed skipped".
set -uo pipefail
cd "$(dirname "$0")/../.."
K=deploy/kubernetes
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "    $*" >&2; exit 1; }

# yq FILE EXPR: a Python expression over the list of FILE's objects, d
yq() { /usr/bin/python3 -c "import sys, yaml; d = [x for x in yaml.safe_load_all(open(sys.argv[1])) if x]; print($2)" "$1"; }
DS="[x for x in d if x['kind'] == 'DaemonSet'][0]['spec']['template']['spec']"

test_every_object_matches_the_kubernetes_api_types() {
	tests/ops/k8s-schema.py $K/*.yaml >"$TMP/out" 2>&1 || fail "$(grep -v '^ok' "$TMP/out")"
}

test_daemonset_mounts_exactly_bpffs_cgroup2_btf_and_the_state_dir() {
	local got
	got=$(yq $K/vcpufreq-bpf.yaml "sorted(v['hostPath']['path'] for v in $DS['volumes'] if 'hostPath' in v)")
	[ "$got" = "['/run/vcpufreq', '/sys/fs/bpf', '/sys/fs/cgroup', '/sys/kernel/btf']" ] || fail "host paths: $got"
	[ "$(yq $K/vcpufreq-bpf.yaml "[m.get('readOnly', False) for c in $DS['containers'] for m in c['volumeMounts'] if m['name'] == 'btf']")" = "[True]" ] ||
		fail "BTF is not mounted read-only, or more than once"
	[ "$(yq $K/vcpufreq-bpf.yaml "$DS['hostPID']")" = True ] || fail "no hostPID: the agent sees vCPU threads by host TID"
	# every mount names a volume of the pod
	[ "$(yq $K/vcpufreq-bpf.yaml "sorted({m['name'] for c in $DS['containers'] for m in c['volumeMounts']} - {v['name'] for v in $DS['volumes']})")" = "[]" ] ||
		fail "a mount of no volume"
	[ "$(yq $K/vcpufreq-bpf.yaml "[c['command'] for c in $DS['containers'] if c['name'] == 'agent'][0]")" = \
	  "['vcpufreq-bpf', 'load', '--foreground', '--backend', 'auto']" ] || fail "the agent does not run load --foreground"
}

test_vm_opts_in_with_the_annotation_and_label_the_node_setup_uses() {
	yq $K/vcpufreq-bpf.yaml "[x for x in d if x['kind'] == 'ConfigMap'][0]['data']['node-setup.sh']" >"$TMP/node-setup.sh"
	sh -n "$TMP/node-setup.sh" || fail "node-setup.sh is not valid sh"
	local ann label
	ann=$(yq $K/vm-opt-in.yaml "list(d[0]['spec']['template']['metadata']['annotations'])[0]")
	label=$(yq $K/vm-opt-in.yaml "list(d[0]['spec']['template']['spec']['nodeSelector'])[0]")
	grep -q "annotations\[\"$ann\"\] == \"true\"" "$TMP/node-setup.sh" || fail "node-setup does not look for $ann"
	grep -q "^label=$label\$" "$TMP/node-setup.sh" || fail "node-setup does not set $label"
}

# kubectl maps each kind through the server's discovery even with
# --validate=false and --dry-run=client: tests/ops/api-stub.py serves it
test_kubectl_apply_dry_run_client_takes_every_object() {
	command -v kubectl >/dev/null || { echo "    skipped: no kubectl (Debian: kubernetes-client)" >&2; return $SKIP; }
	tests/ops/api-stub.py "$TMP/port" & echo $! >"$TMP/stub.pid"
	local i; for i in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
	HOME=$TMP kubectl --server="http://127.0.0.1:$(cat "$TMP/port")" apply --dry-run=client --validate=false \
		-f $K/vcpufreq-bpf.yaml -f $K/vm-opt-in.yaml >"$TMP/kubectl.out" 2>&1; local rc=$?
	kill "$(cat "$TMP/stub.pid")"
	[ $rc -eq 0 ] || fail "kubectl: $(cat "$TMP/kubectl.out")"
	[ "$(grep -c ' created (dry run)$' "$TMP/kubectl.out")" -eq 7 ] || fail "kubectl: $(cat "$TMP/kubectl.out")"
}

SKIP=77
passed=0 failed=0 skipped=0
if ! /usr/bin/python3 -c 'import kubernetes, yaml' 2>/dev/null; then
	echo "  FAIL no python3-kubernetes or python3-yaml (scripts/deps.sh installs them)"
	echo "RESULT 0 1 0"; exit 0
fi
for t in $(sed -n 's/^\(test_[a-z0-9_]*\)() {.*/\1/p' "$0"); do
	( set -e; $t ) 2>"$TMP/err"
	case $? in
	0) echo "  ok   ${t#test_}"; passed=$((passed + 1)) ;;
	$SKIP) echo "  skip ${t#test_}"; sed 's/^/  /' "$TMP/err"; skipped=$((skipped + 1)) ;;
	*) echo "  FAIL ${t#test_}"; sed 's/^/  /' "$TMP/err"; failed=$((failed + 1)) ;;
	esac
done
echo "RESULT $passed $failed $skipped"
