// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * insncount: a QEMU TCG plugin (QEMU 7.2's qemu-plugin.h) that counts the
 * guest instructions executed in the kernel's BPF JIT area, per
 * translated block and per phase of the run, and the kernel instructions
 * run in the calls those blocks make (helpers, kfuncs).  make vm-bench
 * loads it into the test VM (tests/vm/run-in-vm.sh --plugin) and
 * bench/insn-report.py turns its output into instructions per call of
 * each BPF program, from the JIT addresses bench-insn printed in the
 * guest.  Unlike a time, a count does not depend on the host's load or on
 * what the other vCPUs do.
 *
 *   -plugin file=build/insncount.so,out=FILE[,jit=ADDR]
 *
 * Phases: the guest runs `bench-insn mark N`, which executes one
 * instruction at user address INSN_MARK_BASE + N * 4096; from then on,
 * every count goes to phase N (0 until the first mark), so that a JIT
 * address reused by a later program is told apart.
 *
 * What a block counts: blocks starting at or above jit (default
 * 0xffffffffa0000000, x86-64's module area, where BPF images and
 * trampolines live) count their executions, each worth all of the
 * block's instructions (TCG takes interrupts between blocks).  A block
 * that ends in a call (E8 rel32, or FF /2) charges every kernel block its
 * vCPU then runs, until it runs a JIT block again, to that block's
 * callee count, and records the first such block's address (the callee).
 * An interrupt taken inside such a call is charged to it too.
 *
 * Output, at QEMU's exit, one line per block and phase with counts:
 *   tb VADDR INSNS CALLEE PHASE EXECS CALLEE_INSNS
 * (hexadecimal addresses; CALLEE 0 when the block calls nothing).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define INSN_MARK_BASE	0x7e5700000000ULL	/* bench/bench-insn.c */
#define MAX_PHASES	64
#define MAX_VCPUS	256
#define KERNEL_MIN	0xffff800000000000ULL

struct jit_tb {
	uint64_t vaddr, callee;
	uint32_t insns;
	bool calls;
	uint64_t execs[MAX_PHASES], callee_insns[MAX_PHASES];
	struct jit_tb *next;
};

/* what a vCPU last ran in the JIT area: the block whose call it is in */
struct vcpu {
	struct jit_tb *caller;
} __attribute__((aligned(64)));

static struct vcpu vcpus[MAX_VCPUS];
static struct jit_tb *all_tbs;
static pthread_mutex_t tbs_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int phase;
static uint64_t jit_min = 0xffffffffa0000000ULL;
static char *out_path;

static unsigned int cur_phase(void)
{
	return __atomic_load_n(&phase, __ATOMIC_RELAXED);
}

static void on_mark(unsigned int vcpu_index, void *udata)
{
	__atomic_store_n(&phase, (unsigned int)(uintptr_t)udata,
			 __ATOMIC_RELAXED);
}

static void on_jit_tb(unsigned int vcpu_index, void *udata)
{
	struct jit_tb *tb = udata;

	__atomic_fetch_add(&tb->execs[cur_phase()], 1, __ATOMIC_RELAXED);
	if (vcpu_index < MAX_VCPUS)
		vcpus[vcpu_index].caller = tb->calls ? tb : NULL;
}

/*
 * A kernel block outside the JIT area: udata packs its address's low 40
 * bits over its instruction count (12 bits; TCG blocks hold at most 512).
 */
static void on_kernel_tb(unsigned int vcpu_index, void *udata)
{
	uintptr_t packed = (uintptr_t)udata;
	struct jit_tb *caller;

	if (vcpu_index >= MAX_VCPUS)
		return;
	caller = vcpus[vcpu_index].caller;
	if (!caller)
		return;
	if (!caller->callee)
		caller->callee = 0xffffff0000000000ULL | (packed >> 12);
	__atomic_fetch_add(&caller->callee_insns[cur_phase()], packed & 0xfff,
			   __ATOMIC_RELAXED);
}

/* does the x86 instruction at @p (@n bytes) call? (REX prefixes skipped) */
static bool is_call(const uint8_t *p, size_t n)
{
	while (n > 1 && (*p & 0xf0) == 0x40)
		p++, n--;
	if (n == 5 && p[0] == 0xe8)
		return true;
	return n >= 2 && p[0] == 0xff && ((p[1] >> 3) & 7) == 2;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
	size_t n = qemu_plugin_tb_n_insns(tb);
	struct qemu_plugin_insn *last;
	struct jit_tb *rec;

	if (vaddr >= INSN_MARK_BASE &&
	    vaddr < INSN_MARK_BASE + MAX_PHASES * 4096ULL) {
		qemu_plugin_register_vcpu_tb_exec_cb(tb, on_mark,
			QEMU_PLUGIN_CB_NO_REGS,
			(void *)(uintptr_t)((vaddr - INSN_MARK_BASE) / 4096));
		return;
	}
	if (vaddr < KERNEL_MIN || !n)
		return;
	if (vaddr < jit_min) {
		qemu_plugin_register_vcpu_tb_exec_cb(tb, on_kernel_tb,
			QEMU_PLUGIN_CB_NO_REGS,
			(void *)(uintptr_t)(((vaddr & 0xffffffffffULL) << 12) |
					    (n & 0xfff)));
		return;
	}
	rec = calloc(1, sizeof(*rec));
	if (!rec)
		return;
	last = qemu_plugin_tb_get_insn(tb, n - 1);
	rec->vaddr = vaddr;
	rec->insns = n;
	rec->calls = is_call(qemu_plugin_insn_data(last),
			     qemu_plugin_insn_size(last));
	pthread_mutex_lock(&tbs_lock);
	rec->next = all_tbs;
	all_tbs = rec;
	pthread_mutex_unlock(&tbs_lock);
	qemu_plugin_register_vcpu_tb_exec_cb(tb, on_jit_tb,
					     QEMU_PLUGIN_CB_NO_REGS, rec);
}

static void write_counts(qemu_plugin_id_t id, void *udata)
{
	FILE *f = fopen(out_path, "w");

	if (!f) {
		qemu_plugin_outs("insncount: cannot write the output file\n");
		return;
	}
	pthread_mutex_lock(&tbs_lock);
	for (struct jit_tb *t = all_tbs; t; t = t->next)
		for (int p = 0; p < MAX_PHASES; p++)
			if (t->execs[p] || t->callee_insns[p])
				fprintf(f, "tb %" PRIx64 " %u %" PRIx64 " %d %"
					PRIu64 " %" PRIu64 "\n", t->vaddr,
					t->insns, t->callee, p, t->execs[p],
					t->callee_insns[p]);
	pthread_mutex_unlock(&tbs_lock);
	fclose(f);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "out=", 4)) {
			out_path = strdup(argv[i] + 4);
		} else if (!strncmp(argv[i], "jit=", 4)) {
			jit_min = strtoull(argv[i] + 4, NULL, 0);
		} else {
			fprintf(stderr, "insncount: Error: unknown argument "
				"'%s' (want out=FILE[,jit=ADDR])\n", argv[i]);
			return -1;
		}
	}
	if (!out_path) {
		fprintf(stderr, "insncount: Error: no out=FILE given\n");
		return -1;
	}
	if (strcmp(info->target_name, "x86_64")) {
		fprintf(stderr, "insncount: Error: x86_64 guests only, not "
			"%s\n", info->target_name);
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, write_counts, NULL);
	return 0;
}
