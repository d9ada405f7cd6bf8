// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include "tidindex.h"

static uint32_t tid_at(const void *entries, size_t stride, uint16_t pos)
{
	uint32_t tid;

	memcpy(&tid, (const char *)entries + (pos - 1) * stride, sizeof(tid));
	return tid;
}

uint16_t *vf_tid_bucket(uint16_t *index, uint32_t nbuckets,
			const void *entries, size_t stride, uint32_t tid)
{
	uint32_t h = (tid * 2654435761u) & (nbuckets - 1);

	while (index[h] && tid_at(entries, stride, index[h]) != tid)
		h = (h + 1) & (nbuckets - 1);
	return &index[h];
}

void vf_tid_reindex(uint16_t *index, uint32_t nbuckets, const void *entries,
		    size_t stride, int n)
{
	memset(index, 0, nbuckets * sizeof(*index));
	for (int i = 0; i < n; i++) {
		uint32_t tid;

		memcpy(&tid, (const char *)entries + i * stride, sizeof(tid));
		*vf_tid_bucket(index, nbuckets, entries, stride, tid) = i + 1;
	}
}
