/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A table of threads by TID: an array of entries whose first field is
 * the uint32_t TID, the first *count of them in use, and an
 * open-addressing index over them (index[h] is an entry's position + 1,
 * 0 when empty).  libvcpufreq's registered vCPUs and the broker's
 * registrations are two of them.
 */
#ifndef VCPUFREQ_TIDINDEX_H
#define VCPUFREQ_TIDINDEX_H

#include <stddef.h>
#include <stdint.h>

struct vf_tid_table {
	void *entries;
	size_t stride;		/* sizeof one entry */
	int *count;		/* entries in use */
	uint16_t *index;
	uint32_t nbuckets;	/* a power of two, larger than the entries */
};

/* the entry of @tid, or NULL */
void *vf_tid_find(const struct vf_tid_table *t, uint32_t tid);
/* a zeroed entry for @tid after the others, indexed (the caller checked
 * there is room) */
void *vf_tid_add(const struct vf_tid_table *t, uint32_t tid);
/* @entry leaves: the last entry takes its place, the index is rebuilt */
void vf_tid_remove(const struct vf_tid_table *t, void *entry);

#endif
