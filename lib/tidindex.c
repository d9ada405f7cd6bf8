// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include "tidindex.h"

static void *entry_at(const struct vf_tid_table *t, int pos)
{
	return (char *)t->entries + (size_t)pos * t->stride;
}

static uint32_t tid_at(const struct vf_tid_table *t, int pos)
{
	uint32_t tid;

	memcpy(&tid, entry_at(t, pos), sizeof(tid));
	return tid;
}

/* where @tid is indexed, or the empty bucket it would go in */
static uint16_t *bucket_of(const struct vf_tid_table *t, uint32_t tid)
{
	uint32_t h = (tid * 2654435761u) & (t->nbuckets - 1);

	while (t->index[h] && tid_at(t, t->index[h] - 1) != tid)
		h = (h + 1) & (t->nbuckets - 1);
	return &t->index[h];
}

void *vf_tid_find(const struct vf_tid_table *t, uint32_t tid)
{
	uint16_t pos = *bucket_of(t, tid);

	return pos ? entry_at(t, pos - 1) : NULL;
}

void *vf_tid_add(const struct vf_tid_table *t, uint32_t tid)
{
	void *e = entry_at(t, *t->count);

	memset(e, 0, t->stride);
	memcpy(e, &tid, sizeof(tid));
	*bucket_of(t, tid) = ++*t->count;
	return e;
}

void vf_tid_remove(const struct vf_tid_table *t, void *entry)
{
	int last = --*t->count;

	if (entry != entry_at(t, last))
		memcpy(entry, entry_at(t, last), t->stride);
	memset(t->index, 0, t->nbuckets * sizeof(*t->index));
	for (int i = 0; i < *t->count; i++)
		*bucket_of(t, tid_at(t, i)) = i + 1;
}
