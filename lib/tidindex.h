/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * An open-addressing index of threads by TID over an array of entries
 * whose first field is the __u32 TID: index[h] is an entry's position + 1,
 * 0 when empty.  @nbuckets is a power of two, larger than the entries.
 */
#ifndef VCPUFREQ_TIDINDEX_H
#define VCPUFREQ_TIDINDEX_H

#include <stddef.h>
#include <stdint.h>

/* where @tid is indexed, or the empty bucket it would go in */
uint16_t *vf_tid_bucket(uint16_t *index, uint32_t nbuckets,
			const void *entries, size_t stride, uint32_t tid);
/* index the first @n entries again (after one was removed) */
void vf_tid_reindex(uint16_t *index, uint32_t nbuckets, const void *entries,
		    size_t stride, int n);

#endif
