// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench-insn: the guest's half of the instruction-count benchmark
 * (bench/insncount.c is the QEMU plugin that counts).
 *
 *   bench-insn mark N     from now on the plugin counts into phase N
 *                         (1..63): runs one instruction at the phase's
 *                         marker address, which the plugin watches
 *   bench-insn images N   every loaded BPF program's JITed functions, one
 *                         line each, "insn-image N ID NAME FUNC ADDR LEN"
 *                         (FUNC 0 is the program's entry; ADDR in hex),
 *                         from the kernel's own bpf_prog_info
 *                         (jited_ksyms, jited_func_lens)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "tool.h"

#define INSN_MARK_BASE	0x7e5700000000ULL	/* bench/insncount.c */
#define MAX_PHASES	64
#define MAX_FUNCS	64

static int mark(int n)
{
	void *at = (void *)(uintptr_t)(INSN_MARK_BASE + n * 4096ULL);
	unsigned char *page;

	page = mmap(at, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (page == MAP_FAILED)
		return fail("mmap at %p: %s", at, strerror(errno));
	page[0] = 0xc3;		/* ret */
	((void (*)(void))page)();
	munmap(page, 4096);
	return 0;
}

static int print_images(int phase, __u32 id)
{
	__u64 ksyms[MAX_FUNCS];
	__u32 lens[MAX_FUNCS];
	struct bpf_prog_info info;
	__u32 len = sizeof(info), n;
	int fd = bpf_prog_get_fd_by_id(id);

	if (fd < 0)
		return errno == ENOENT ? 0 : fail("prog %u: %s", id, strerror(errno));
	memset(&info, 0, sizeof(info));
	if (bpf_prog_get_info_by_fd(fd, &info, &len)) {
		close(fd);
		return fail("prog %u info: %s", id, strerror(errno));
	}
	n = info.nr_jited_ksyms < MAX_FUNCS ? info.nr_jited_ksyms : MAX_FUNCS;
	if (info.nr_jited_func_lens < n)
		n = info.nr_jited_func_lens;
	memset(&info, 0, sizeof(info));
	info.nr_jited_ksyms = info.nr_jited_func_lens = n;
	info.jited_ksyms = (uintptr_t)ksyms;
	info.jited_func_lens = (uintptr_t)lens;
	len = sizeof(info);
	if (n && bpf_prog_get_info_by_fd(fd, &info, &len)) {
		close(fd);
		return fail("prog %u ksyms: %s", id, strerror(errno));
	}
	close(fd);
	for (__u32 i = 0; i < n; i++)
		printf("insn-image %d %u %s %u %llx %u\n", phase, id,
		       info.name[0] ? info.name : "-", i,
		       (unsigned long long)ksyms[i], lens[i]);
	return 0;
}

static int images(int phase)
{
	__u32 id = 0;

	while (!bpf_prog_get_next_id(id, &id))
		if (print_images(phase, id))
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	int n = argc == 3 ? atoi(argv[2]) : -1;

	if (n < 1 || n >= MAX_PHASES ||
	    (strcmp(argv[1], "mark") && strcmp(argv[1], "images"))) {
		fail("want 'bench-insn mark N' or 'bench-insn images N', N "
		     "1..%d", MAX_PHASES - 1);
		return 1;
	}
	return (!strcmp(argv[1], "mark") ? mark(n) : images(n)) ? 1 : 0;
}
