#!/usr/bin/env bash
# Install the Debian packages vcpufreq-bpf needs, only those missing.
# Run as root (sudo make deps); a no-op when everything is present.
#   scripts/deps.sh            the build and test packages
#   scripts/deps.sh --vm       those of the VM harness (tests/vm) instead
set -euo pipefail

vm_pkgs=(
	make gcc bc flex bison libssl-dev libelf-dev dwarves cpio xz-utils  # kernel build
	linux-source-6.12                                                  # the guest kernel's source
	qemu-system-x86 qemu-system-arm qemu-efi-aarch64                   # the VMs (x86_64; arm64 -M virt, UEFI)
	perl-base util-linux                                               # guest init: reboot(2), mounts
	busybox-static                                                     # the end-to-end test's guest
	linux-headers-amd64 gcc-aarch64-linux-gnu                          # guest driver builds (6.1, arm64)
	libc6-dev-arm64-cross                                              # the lab's workloads in a real arm64 guest (static)
	kmod                                                               # modinfo: the built module's metadata
	libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients   # the libvirt test (libvirtd, virsh)
	meson ninja-build libglib2.0-dev libpixman-1-dev libfdt-dev dpkg-dev patch  # the patched QEMU (qemu/build.sh)
)

pkgs=(
	make gcc clang llvm libelf-dev zlib1g-dev pkg-config libclang-rt-14-dev  # build, fuzz
	libjansson-dev libxml2-dev                              # the QEMU bridge: QMP JSON, libvirt status XML
	linux-source-6.12                                       # libbpf 1.5 + bpftool sources
	bpftool                                                 # for users: bpftool map dump
	iproute2 procps util-linux jq python3 xz-utils strace   # tests (strace: a kill between apply and record)
	device-tree-compiler dt-schema                          # guest DT checks
	debhelper lintian                                       # make deb (debhelper brings dpkg-dev)
	prometheus prometheus-node-exporter curl                # the metrics test: a real scrape
	python3-kubernetes python3-yaml                         # the fleet manifests' schema check
)

[ "${1:-}" = --vm ] && pkgs=("${vm_pkgs[@]}")
# kubectl for the manifests' dry run: Debian's kubernetes-client, unless
# a kubectl of another origin is there (its /usr/bin/kubectl would clash)
[ "${1:-}" = --vm ] || command -v kubectl >/dev/null || pkgs+=(kubernetes-client)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "Error: missing packages: ${missing[*]}; run 'sudo scripts/deps.sh ${1:-}' to install them" >&2
	exit 1
fi
echo "  DEPS     installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
