# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# vcpufreq-bpf: `make` builds everything into build/.  libbpf 1.5 and
# bpftool 7.5 are built from Debian's linux-source-6.12 (bookworm's libbpf
# 1.1.2 cannot attach struct_ops links, which the sched_ext backend needs)
# and linked statically.  `make deps` installs the Debian packages needed.

OUT        := build
KSRC_TAR   ?= /usr/src/linux-source-6.12.tar.xz
KSRC       := $(OUT)/linux-source-6.12
LIBBPF_OBJ := $(OUT)/libbpf/libbpf.a
LIBBPF_INC := $(OUT)/libbpf/include
BPFTOOL    := $(OUT)/bpftool/bpftool
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

CC      ?= cc
CLANG   ?= clang
ARCH    := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
CFLAGS  ?= -O2 -g
CFLAGS  += -Wall -Wextra -Wno-unused-parameter -std=gnu11
# common/ (numbers, cpulists, error output, state paths) is shared by the
# library, vcpufreq-bpf and the bridge: it sees only the public headers.  Both
# are built with hidden symbols: libvcpufreq.a exports only VCPUFREQ_API
COMMON_CFLAGS := $(CFLAGS) -Iinclude -fPIC -fvisibility=hidden
# the bridge sees only the library's public headers, as a VMM would; it
# also calls common/'s helpers, whose objects it links (COMMON_OBJS)
BRIDGE_CFLAGS := $(CFLAGS) -Iinclude -Icommon $(shell pkg-config --cflags jansson libxml-2.0 2>/dev/null)
BRIDGE_LIBS   := $(shell pkg-config --libs jansson libxml-2.0 2>/dev/null)
CFLAGS  += -Iinclude -I$(OUT) -I$(LIBBPF_INC) -Ilib -Icommon
# vcpufreq-bpf in three folders, each seeing only the headers of the folders
# it may call: cli/ (the commands) -> agent/ (the agent, its broker, grants
# store and actuators) -> base/ (options, errors, pinned objects) -> lib/
BASE_CFLAGS  := $(CFLAGS) -Ibase
AGENT_CFLAGS := $(BASE_CFLAGS) -Iagent
CLI_CFLAGS   := $(AGENT_CFLAGS) -Icli
LDLIBS  := -lelf -lz -lpthread

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

COMMON_OBJS := $(patsubst %.c,$(OUT)/%.o,$(wildcard common/*.c))
# libvcpufreq.a is what a VMM links: the public API alone.  The CLI, the
# tests and the in-tree tools link every object of it (INTERNAL_LIB)
INTERNAL_LIB := $(OUT)/lib/libvcpufreq-internal.a
LIB_SRCS    := $(wildcard lib/*.c)
LIB_OBJS    := $(patsubst %.c,$(OUT)/%.o,$(LIB_SRCS))
BASE_OBJS   := $(patsubst %.c,$(OUT)/%.o,$(wildcard base/*.c))
AGENT_OBJS  := $(patsubst %.c,$(OUT)/%.o,$(wildcard agent/*.c))
CLI_OBJS    := $(patsubst %.c,$(OUT)/%.o,$(wildcard cli/*.c))
BPF_SRCS    := $(wildcard bpf/*.bpf.c)
SKELS       := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
BRIDGE_SRCS := $(wildcard bridge/*.c)
BRIDGE_OBJS := $(patsubst %.c,$(OUT)/%.o,$(filter-out bridge/corrupt.c,$(BRIDGE_SRCS))) \
	       $(COMMON_OBJS)
# the test build: --corrupt KIND (fault injection for tests/vm/e2e.sh)
BRIDGE_TEST_OBJS := $(patsubst %.c,$(OUT)/tests/%.o,$(BRIDGE_SRCS)) $(COMMON_OBJS)
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))
HELPERS     := $(OUT)/standin-vmm $(OUT)/vcpufreq-qemu-bridge \
	       $(OUT)/tests/vcpufreq-qemu-bridge $(OUT)/tests/spawn-threads \
	       $(OUT)/tests/vmm-shell $(OUT)/tests/request-storm \
	       $(OUT)/lab-guest
LAB_OBJS    := $(patsubst %.c,$(OUT)/%.o,$(wildcard lab/*.c))

.PHONY: all deps demo test bench clean install fuzz vm-test vm-bench effect qemu man deb
.SECONDARY:
all: $(OUT)/vcpufreq-bpf $(OUT)/libvcpufreq.a $(HELPERS) $(UNIT_BINS)

deps:
	$(Q)scripts/deps.sh

# --- libbpf and bpftool from the kernel source package -------------------
$(KSRC)/.extracted: | $(OUT)
	$(call msg,EXTRACT,$(KSRC_TAR) tools)
	$(Q)tar -C $(OUT) -xJf $(KSRC_TAR) --wildcards \
		'linux-source-6.12/tools/lib/bpf' 'linux-source-6.12/tools/include' \
		'linux-source-6.12/tools/bpf/bpftool' 'linux-source-6.12/tools/build' \
		'linux-source-6.12/tools/scripts' 'linux-source-6.12/tools/arch/*/include' \
		'linux-source-6.12/include/uapi/linux/bpf.h' \
		'linux-source-6.12/kernel/bpf/disasm.*' 'linux-source-6.12/scripts/bpf_doc.py'
	$(Q)touch $@

$(LIBBPF_OBJ): $(KSRC)/.extracted
	$(call msg,LIB,libbpf.a (linux-source-6.12))
	$(Q)$(MAKE) -s -C $(KSRC)/tools/lib/bpf BUILD_STATIC_ONLY=1 \
		DESTDIR=$(abspath $(OUT))/libbpf \
		INCLUDEDIR=/include LIBDIR=/ prefix= install >/dev/null
	$(Q)cp $(OUT)/libbpf/lib*/libbpf.a $@

$(BPFTOOL): $(KSRC)/.extracted
	$(call msg,BPFTOOL,$@)
	$(Q)mkdir -p $(OUT)/bpftool
	$(Q)$(MAKE) -s -C $(KSRC)/tools/bpf/bpftool OUTPUT=$(abspath $(OUT))/bpftool/ \
		>$(OUT)/bpftool/build.log 2>&1 || { cat $(OUT)/bpftool/build.log; exit 1; }

# the tracking programs build against the build host's BTF (CO-RE: they
# load on any kernel with BTF); the sched_ext scheduler against the test
# kernel's, checked in (bpf/vmlinux/ARCH/vmlinux.h, as the scx project
# keeps one per architecture), since a host kernel may have no sched_ext
$(OUT)/vmlinux.h: $(BPFTOOL)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@

# the kernel's sched_ext headers (scx/common.bpf.h, compat.bpf.h,
# user_exit_info.h), from the same source package
SCX_INC     := $(KSRC)/tools/sched_ext/include
SCX_VMLINUX := bpf/vmlinux/$(ARCH)/vmlinux.h
$(KSRC)/.extracted-scx: | $(OUT)
	$(call msg,EXTRACT,$(KSRC_TAR) sched_ext headers)
	$(Q)tar -C $(OUT) -xJf $(KSRC_TAR) 'linux-source-6.12/tools/sched_ext/include'
	$(Q)touch $@

# regenerate $(SCX_VMLINUX) from the test kernel's BTF (tests/vm/build-kernel.sh;
# tests/vm/check-scx-vmlinux.sh checks that they still agree)
SCX_KERNEL_BTF ?= $(OUT)/vm/obj/vmlinux
.PHONY: vmlinux-scx
vmlinux-scx: $(BPFTOOL)
	$(call msg,GEN,$(SCX_VMLINUX) from $(SCX_KERNEL_BTF))
	$(Q)test -r $(SCX_KERNEL_BTF) || { echo "Error: no $(SCX_KERNEL_BTF): build the test kernel (tests/vm/build-kernel.sh) or give SCX_KERNEL_BTF=VMLINUX" >&2; exit 1; }
	$(Q)mkdir -p $(dir $(SCX_VMLINUX))
	$(Q)$(BPFTOOL) btf dump file $(SCX_KERNEL_BTF) format c > $(SCX_VMLINUX).tmp && mv $(SCX_VMLINUX).tmp $(SCX_VMLINUX)

# --- BPF objects and skeletons --------------------------------------------
$(OUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h include/vcpufreq/*.h) $(OUT)/vmlinux.h $(LIBBPF_OBJ)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -Wall -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
		-Iinclude -I$(OUT) -I$(LIBBPF_INC) -c $< -o $@

$(OUT)/vcpufreq_scx.bpf.o: bpf/vcpufreq_scx.bpf.c $(wildcard bpf/*.h include/vcpufreq/*.h) \
		$(wildcard $(SCX_VMLINUX)) $(KSRC)/.extracted-scx $(LIBBPF_OBJ)
	$(call msg,BPF,$@)
	$(Q)test -r $(SCX_VMLINUX) || { echo "Error: no $(SCX_VMLINUX) for this architecture: make vmlinux-scx SCX_KERNEL_BTF=<a $(ARCH) vmlinux with sched_ext>" >&2; exit 1; }
	$(Q)$(CLANG) -g -O2 -Wall -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
		-I$(dir $(SCX_VMLINUX)) -I$(SCX_INC) -Iinclude -I$(LIBBPF_INC) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o $(BPFTOOL) Makefile
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@.tmp && mv $@.tmp $@

# --- user space -----------------------------------------------------------
$(OUT)/common/%.o: common/%.c $(wildcard common/*.h include/vcpufreq/*.h) | $(OUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(COMMON_CFLAGS) -c $< -o $@

$(OUT)/lib/%.o: lib/%.c $(wildcard lib/*.h common/*.h include/vcpufreq/*.h) $(LIBBPF_OBJ) | $(OUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(OUT)/base/%.o: base/%.c $(wildcard base/*.h lib/*.h common/*.h include/vcpufreq/*.h) $(LIBBPF_OBJ) | $(OUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(BASE_CFLAGS) -c $< -o $@

$(OUT)/agent/%.o: agent/%.c $(wildcard agent/*.h base/*.h lib/*.h common/*.h include/vcpufreq/*.h) $(SKELS) | $(OUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(AGENT_CFLAGS) -c $< -o $@

$(OUT)/cli/%.o: cli/%.c $(wildcard cli/*.h agent/*.h base/*.h lib/*.h common/*.h include/vcpufreq/*.h) $(SKELS) | $(OUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CLI_CFLAGS) -c $< -o $@

$(INTERNAL_LIB): $(LIB_OBJS) $(COMMON_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# one object whose hidden symbols are made local: only VCPUFREQ_API is
# left for a VMM to link against (or to collide with its own symbols)
$(OUT)/libvcpufreq.a: $(LIB_OBJS) $(COMMON_OBJS) scripts/check-exports.sh
	$(call msg,AR,$@)
	$(Q)$(LD) -r -o $(OUT)/lib/libvcpufreq.o $(LIB_OBJS) $(COMMON_OBJS)
	$(Q)objcopy --localize-hidden $(OUT)/lib/libvcpufreq.o
	$(Q)rm -f $@ && ar rcs $@ $(OUT)/lib/libvcpufreq.o
	$(Q)scripts/check-exports.sh $@ include/vcpufreq/*.h || { rm -f $@; exit 1; }

$(OUT)/vcpufreq-bpf: $(CLI_OBJS) $(AGENT_OBJS) $(BASE_OBJS) $(INTERNAL_LIB) $(LIBBPF_OBJ)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(OUT)/standin-vmm: examples/standin-vmm.c $(INTERNAL_LIB) $(LIBBPF_OBJ)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUT)/bridge/%.o: bridge/%.c bridge/bridge.h $(wildcard common/*.h include/vcpufreq/*.h) | $(OUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(BRIDGE_CFLAGS) -c $< -o $@

$(OUT)/tests/bridge/%.o: bridge/%.c bridge/bridge.h $(wildcard common/*.h include/vcpufreq/*.h) | $(OUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(BRIDGE_CFLAGS) -DVCPUFREQ_BRIDGE_TESTING -c $< -o $@

$(OUT)/vcpufreq-qemu-bridge: $(BRIDGE_OBJS) $(OUT)/libvcpufreq.a $(LIBBPF_OBJ)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(BRIDGE_LIBS) $(LDLIBS) -o $@

$(OUT)/tests/vcpufreq-qemu-bridge: $(BRIDGE_TEST_OBJS) $(OUT)/libvcpufreq.a $(LIBBPF_OBJ)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(BRIDGE_LIBS) $(LDLIBS) -o $@

$(OUT)/tests/spawn-threads: tests/live/spawn-threads.c | $(OUT)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) $< -lpthread -o $@

$(OUT)/tests/vmm-shell: tests/live/vmm-shell.c $(OUT)/libvcpufreq.a $(LIBBPF_OBJ)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUT)/tests/request-storm: tests/live/request-storm.c tests/tool.h $(OUT)/libvcpufreq.a $(LIBBPF_OBJ)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) -Itests $(filter %.c %.a,$^) $(LDLIBS) -o $@

$(OUT)/bench-sched: bench/bench-sched.c tests/tool.h $(OUT)/libvcpufreq.a $(LIBBPF_OBJ) \
		$(OUT)/bench_empty.skel.h
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -Itests $(filter %.c %.a,$^) $(LDLIBS) -o $@

$(OUT)/tests/test_%: tests/unit/test_%.c tests/unit/unit.h $(INTERNAL_LIB) $(LIBBPF_OBJ)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) -Itests/unit $^ $(LDLIBS) -o $@

# the effect lab's VM (lab/): guest model + vCPU threads + workloads
$(OUT)/lab/%.o: lab/%.c $(wildcard lab/*.h lib/*.h common/*.h include/vcpufreq/*.h) $(LIBBPF_OBJ) | $(OUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) -c $< -o $@

$(OUT)/lab-guest: $(LAB_OBJS) $(INTERNAL_LIB) $(LIBBPF_OBJ)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -lm -o $@

# the same workloads for a real arm64 guest (lab/fidelity.sh): static,
# --mode native only, no VMM (LAB_NO_VMM)
LAB_ARM64_SRCS := lab/lab-guest.c lab/native.c lab/workloads.c lab/clock.c common/cpulist.c common/util.c
$(OUT)/lab/arm64/lab-guest: $(LAB_ARM64_SRCS) $(wildcard lab/*.h common/*.h include/vcpufreq/*.h)
	$(call msg,CC-ARM64,$@)
	$(Q)mkdir -p $(@D) && aarch64-linux-gnu-gcc -static -O2 -g -Wall -Wextra -Wno-unused-parameter \
		-std=gnu11 -pthread -DLAB_NO_VMM -Iinclude -Icommon -Ilab $(LAB_ARM64_SRCS) -lm -o $@

$(OUT)/tests/test_guestmodel: tests/unit/test_guestmodel.c tests/unit/unit.h $(OUT)/lab/guestmodel.o
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) -Itests/unit -Ilab $(filter %.c %.o,$^) -lm -o $@

$(OUT)/bench-insn: bench/bench-insn.c tests/tool.h $(LIBBPF_OBJ)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -Itests $(filter %.c %.a,$^) $(LDLIBS) -o $@

# the instruction-counting TCG plugin, against Debian's QEMU 7.2 source
# (qemu/build.sh unpacks it: `make qemu`)
QEMU_PLUGIN_H := $(OUT)/qemu/src/qemu-7.2+dfsg/include/qemu/qemu-plugin.h
$(OUT)/insncount.so: bench/insncount.c
	$(Q)[ -r $(QEMU_PLUGIN_H) ] || $(MAKE) --no-print-directory qemu
	$(call msg,PLUGIN,$@)
	$(Q)$(CC) -O2 -g -Wall -Wextra -Wno-unused-parameter -fPIC -shared \
		-I$(dir $(QEMU_PLUGIN_H)) $< -lpthread -o $@

$(OUT)/bench-request: bench/bench-request.c tests/tool.h $(OUT)/libvcpufreq.a $(LIBBPF_OBJ)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -Itests $(filter %.c %.a,$^) $(LDLIBS) -o $@

# actuator tests link the agent's objects and base/ (not the commands)
$(OUT)/tests/test_actuators: tests/unit/test_actuators.c tests/unit/unit.h \
		$(AGENT_OBJS) $(BASE_OBJS) $(INTERNAL_LIB) $(LIBBPF_OBJ)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(AGENT_CFLAGS) -Itests/unit $^ $(LDLIBS) -o $@

$(OUT):
	$(Q)mkdir -p $@

# --- the two commands -----------------------------------------------------
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh

# qemu-system-aarch64 with the virtual cpufreq device (qemu/patches), from
# Debian's QEMU 7.2 source package, into build/qemu/; cached by the sha256
# of the patches, qemu/build.sh and the library (qemu/build.sh --help)
qemu: $(OUT)/libvcpufreq.a $(LIBBPF_OBJ)
	$(Q)scripts/deps.sh --vm
	$(Q)qemu/build.sh

test: deps
	$(Q)scripts/deps.sh --vm
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/run.sh

# only the live suite inside a Linux 6.12 guest with sched_ext, uclamp and
# schedutil (make test runs it too; tests/vm: kernel built once, then cached)
vm-test: deps
	$(Q)scripts/deps.sh --vm
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/vm/build-kernel.sh
	$(Q)tests/vm/run-in-vm.sh --smp 4 -- tests/live/run-live.sh

# a long libFuzzer run of the register model (make test runs a short one)
fuzz: deps
	$(Q)tests/fuzz/run.sh -1 -max_total_time=$${FUZZ_SECONDS:-600}

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(OUT)/bench-sched $(OUT)/bench-request
	$(Q)bench/run.sh

# the benchmarks inside the sched_ext/uclamp test kernel (section 5 needs it,
# and the kernel's own scx_simple and scx_central, built from its tree):
# sections 1-4 at 4 vCPUs, then the sched_ext callbacks at 4, 8 and 16
# vCPUs, in ns and in guest instructions (bench/scx-curve.sh, the
# bench/insncount.c plugin); VM_BENCH_SMP="4 8": only the callbacks, at
# those vCPU counts
VM_BENCH_SMP ?=
vm-bench: deps
	$(Q)scripts/deps.sh --vm
	$(Q)$(MAKE) --no-print-directory all $(OUT)/bench-sched $(OUT)/bench-request \
		$(OUT)/bench-insn $(OUT)/insncount.so
	$(Q)tests/vm/build-kernel.sh
	$(Q)bench/scx-peers.sh
	$(Q)if [ -n "$(VM_BENCH_SMP)" ]; then bench/scx-curve.sh $(VM_BENCH_SMP); \
	else tests/vm/run-in-vm.sh --smp 4 -- env BENCH_SECTIONS="1 2 3 4" bench/run.sh && \
	     bench/scx-curve.sh 4 8 16; fi

# the effect lab (lab/): work in a VM against the same work as host
# threads (native), with and without the guest's hints, crosvm's
# uclamp_min and each backend, on an emulated Google Tensor inside the
# test kernel; EFFECT_ARGS="--rounds 5 ..." (lab/run.sh --help)
effect: deps
	$(Q)scripts/deps.sh --vm
	$(Q)$(MAKE) --no-print-directory all
	$(Q)lab/run.sh $(EFFECT_ARGS)

# what `make install` ships as libvcpufreq.a: libbpf folded in and made
# local too, so a VMM's own libbpf (any version) cannot clash with ours
$(OUT)/libvcpufreq-full.a: $(OUT)/libvcpufreq.a $(LIBBPF_OBJ)
	$(call msg,AR,$@)
	$(Q)$(LD) -r -o $(OUT)/lib/libvcpufreq-full.o --whole-archive $(LIBBPF_OBJ) \
		--no-whole-archive $(OUT)/lib/libvcpufreq.o
	$(Q)nm -g --defined-only $< | awk 'NF == 3 { print $$3 }' >$(OUT)/lib/api.syms
	$(Q)objcopy --keep-global-symbols=$(OUT)/lib/api.syms $(OUT)/lib/libvcpufreq-full.o
	$(Q)rm -f $@ && ar rcs $@ $(OUT)/lib/libvcpufreq-full.o
	$(Q)scripts/check-exports.sh $@ include/vcpufreq/*.h || { rm -f $@; exit 1; }

# install: the CLI, the QEMU bridge and its libvirt hook, the systemd
# unit (not enabled: `systemctl enable --now vcpufreq-bpf`), libvcpufreq
# (libvcpufreq-full.a: a VMM links -lvcpufreq -lelf -lz and nothing else
# of ours), headers, pkg-config file.  The hook goes to libvirt's qemu.d,
# beside any hook already there; libvirtd reads it when it starts.
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
LIBVIRT_HOOK_DIR ?= /etc/libvirt/hooks/qemu.d
SYSTEMD_UNIT_DIR ?= /etc/systemd/system
install: $(OUT)/vcpufreq-bpf $(OUT)/vcpufreq-qemu-bridge $(OUT)/libvcpufreq-full.a man
	$(Q)install -D -m 0755 $(OUT)/vcpufreq-bpf $(DESTDIR)$(PREFIX)/sbin/vcpufreq-bpf
	$(Q)install -D -m 0755 $(OUT)/vcpufreq-qemu-bridge $(DESTDIR)$(PREFIX)/sbin/vcpufreq-qemu-bridge
	$(Q)sed 's|@SBINDIR@|$(PREFIX)/sbin|' libvirt/vcpufreq-libvirt > $(OUT)/vcpufreq-libvirt
	$(Q)install -D -m 0755 $(OUT)/vcpufreq-libvirt $(DESTDIR)$(PREFIX)/sbin/vcpufreq-libvirt
	$(Q)sed 's|@SBINDIR@|$(PREFIX)/sbin|' libvirt/qemu-hook > $(OUT)/vcpufreq-libvirt-hook
	$(Q)install -D -m 0755 $(OUT)/vcpufreq-libvirt-hook $(DESTDIR)$(LIBVIRT_HOOK_DIR)/vcpufreq
	$(Q)sed -e 's|@SBINDIR@|$(PREFIX)/sbin|' -e 's|@DOCDIR@|$(PREFIX)/share/doc/vcpufreq-bpf|' \
		examples/vcpufreq-bpf.service > $(OUT)/vcpufreq-bpf.service
	$(Q)install -D -m 0644 $(OUT)/vcpufreq-bpf.service $(DESTDIR)$(SYSTEMD_UNIT_DIR)/vcpufreq-bpf.service
	$(Q)install -D -m 0644 docs/usage.md $(DESTDIR)$(PREFIX)/share/doc/vcpufreq-bpf/usage.md
	$(Q)install -D -m 0644 $(OUT)/libvcpufreq-full.a $(DESTDIR)$(LIBDIR)/libvcpufreq.a
	$(Q)install -D -m 0644 -t $(DESTDIR)$(PREFIX)/include/vcpufreq include/vcpufreq/*.h
	$(Q)mkdir -p $(DESTDIR)$(LIBDIR)/pkgconfig
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' lib/vcpufreq.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/vcpufreq.pc
	$(Q)install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/man/man8 $(OUT)/man/*.8
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))

# the man pages, from each program's --help (scripts/gen-man.sh)
man: $(OUT)/vcpufreq-bpf $(OUT)/vcpufreq-qemu-bridge scripts/gen-man.sh libvirt/vcpufreq-libvirt
	$(call msg,MAN,$(OUT)/man)
	$(Q)sed 's|@SBINDIR@|$(PREFIX)/sbin|' libvirt/vcpufreq-libvirt > $(OUT)/vcpufreq-libvirt
	$(Q)chmod 0755 $(OUT)/vcpufreq-libvirt
	$(Q)rm -rf $(OUT)/man && scripts/gen-man.sh $(OUT)/man $(OUT)/vcpufreq-bpf \
		$(OUT)/vcpufreq-qemu-bridge $(OUT)/vcpufreq-libvirt

# the Debian packages (debian/), built by dpkg-buildpackage from a copy of
# the tree in $(OUT)/deb/src, so the tree's build/ is left alone; the
# .debs and lintian's report land in $(OUT)/deb
deb:
	$(Q)scripts/deb.sh $(OUT)/deb

clean:
	rm -rf $(OUT)
