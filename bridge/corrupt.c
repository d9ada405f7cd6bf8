// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test builds only (-DVCPUFREQ_BRIDGE_TESTING, build/tests/
 * vcpufreq-qemu-bridge): --corrupt KIND publishes a broken table for
 * vCPU 0, so tests/vm/e2e.sh can check that the guest driver refuses it
 * -- or, for "descending", a table in the order crosvm may give, which
 * the driver must take.  The installed bridge has no such option.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include "bridge.h"

enum corrupt {
	CORRUPT_NONE,
	CORRUPT_LEN0,
	CORRUPT_LEN65,
	CORRUPT_ZERO,
	CORRUPT_DUP,
	CORRUPT_DESCENDING,
	CORRUPT_DOMAIN,
	CORRUPT_NOMAGIC,
	NR_CORRUPT,
};

static const char *const corrupt_names[NR_CORRUPT] = {
	[CORRUPT_NONE] = "none",
	[CORRUPT_LEN0] = "len0", [CORRUPT_LEN65] = "len65",
	[CORRUPT_ZERO] = "zero", [CORRUPT_DUP] = "dup",
	[CORRUPT_DESCENDING] = "descending",
	[CORRUPT_DOMAIN] = "domain", [CORRUPT_NOMAGIC] = "nomagic",
};

int parse_corrupt(const char *s, int *kind)
{
	for (int i = CORRUPT_LEN0; i < NR_CORRUPT; i++)
		if (!strcmp(s, corrupt_names[i])) {
			*kind = i;
			return 0;
		}
	return bridge_err("--corrupt '%s' is not one of len0, len65, zero, dup, descending, domain, nomagic",
			  s);
}

const char *corrupt_name(int kind)
{
	return kind > CORRUPT_NONE && kind < NR_CORRUPT ? corrupt_names[kind] :
	       NULL;
}

/* break vCPU 0's table the way --corrupt says; true: withhold the magic */
bool corrupt_table(struct bridge *b)
{
	struct vcpufreq_shm_vcpu *blk = shm_vcpu(b, 0);
	uint32_t len = b->view[0].nr_perf;	/* ours, not the guest's copy */

	fprintf(stderr, "Warning: --corrupt %s: publishing a deliberately bad table (test only)\n",
		corrupt_name(b->opt.corrupt));
	switch (b->opt.corrupt) {
	case CORRUPT_LEN0:
		shm_store(&blk->perftbl_len, 0);
		break;
	case CORRUPT_LEN65:
		shm_store(&blk->perftbl_len, VCPUFREQ_PERFTBL_MAX + 1);
		break;
	case CORRUPT_ZERO:
		shm_store(&blk->perftbl[0], 0);
		break;
	case CORRUPT_DUP:
		/* a continuous vCPU gets a two-entry table of one value */
		shm_store(&blk->perftbl_len, len > 1 ? len : 2);
		shm_store(&blk->perftbl[1], b->view[0].perf[0]);
		break;
	case CORRUPT_DESCENDING:
		for (uint32_t i = 0; i < len; i++)
			shm_store(&blk->perftbl[i], b->view[0].perf[len - 1 - i]);
		break;
	case CORRUPT_DOMAIN:
		shm_store(&blk->perf_domain, 0xffffffff);
		break;
	case CORRUPT_NOMAGIC:
		return true;
	default:
		break;
	}
	return false;
}
