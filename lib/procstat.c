// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "procstat.h"

/*
 * Field @field (1-based, as in proc(5)) of /proc/TID/stat, or -1: after
 * "pid (comm)" the fields are blank separated, and comm may hold blanks.
 */
long long vf_thread_stat_field(uint32_t tid, int field)
{
	char path[64], buf[1024], *p;
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/task/%u/stat", tid, tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	for (int i = 3; p && i <= field; i++) {
		p = strchr(p + 1, ' ');
		if (p && i == field)
			v = strtoll(p + 1, NULL, 10);
	}
	return v;
}

int vf_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	int ok;

	buf[0] = 0;
	if (!f)
		return -1;
	ok = fgets(buf, len, f) != NULL;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return ok ? 0 : -1;
}

int vf_read_uint(const char *path, unsigned int *v)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -1;
	ok = fscanf(f, "%u", v) == 1;
	fclose(f);
	return ok ? 0 : -1;
}
