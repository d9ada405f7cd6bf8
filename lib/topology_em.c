// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The power figures of the kernel's energy model, for hosts described by
 * sysfs: debugfs has one directory per performance domain
 * (/sys/kernel/debug/energy_model/cpu0, ...) with its CPUs in "cpus" and
 * one "ps:KHZ" directory per performance state holding "frequency" (kHz)
 * and "power" (uW).  A CPU gets them when every entry of its frequency
 * table has a state; anything missing or unreadable (no debugfs, no
 * energy model, not root) leaves it without power figures, which is not
 * an error: the sched_ext backend then places by capacity alone.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <limits.h>

#include "cpulist.h"
#include "util.h"
#include "procstat.h"
#include "topology_read.h"

struct em_state {
	unsigned int khz, power;
};

static bool read_uint(const char *dir, const char *name, unsigned int *v)
{
	char path[PATH_MAX], buf[32];
	unsigned long long x;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
	    vf_read_line(path, buf, sizeof(buf)) ||
	    vf_parse_uint(buf, UINT_MAX, &x) || !x)
		return false;
	*v = (unsigned int)x;
	return true;
}

/* the performance states under @pd; their number (0: none usable) */
static int read_states(const char *pd, struct em_state *st, int max)
{
	char path[PATH_MAX];
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(pd);

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		if (strncmp(de->d_name, "ps:", 3) ||
		    snprintf(path, sizeof(path), "%s/%s", pd, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (read_uint(path, "frequency", &st[n].khz) &&
		    read_uint(path, "power", &st[n].power))
			n++;
	}
	closedir(d);
	return n;
}

/* @c's power at each of its frequencies, when @st has them all */
static void give_power(struct vf_cpu *c, const struct em_state *st, int n)
{
	unsigned int i;

	for (i = 0; i < c->nr_freqs; i++) {
		int k = 0;

		while (k < n && st[k].khz != c->freqs_khz[i])
			k++;
		if (k == n)
			return;		/* a frequency without a state */
		c->power[i] = st[k].power;
	}
	c->nr_power = c->nr_freqs;
}

/* the CPUs of performance domain @pd */
static bool read_cpus(const char *pd, char *buf, size_t len, cpu_set_t *set)
{
	char path[PATH_MAX + 8];
	char why[128];

	snprintf(path, sizeof(path), "%s/cpus", pd);
	return !vf_read_line(path, buf, len) &&
	       vf_parse_cpulist(buf, strlen(buf), set, why, sizeof(why)) > 0;
}

void topo_read_energy_model(struct vf_topology *t, const char *em_dir)
{
	struct em_state st[VCPUFREQ_PERFTBL_MAX * 2];
	char pd[PATH_MAX], cpus[256];
	struct dirent *de;
	DIR *d = opendir(em_dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		cpu_set_t set;
		int n;

		if (de->d_name[0] == '.' ||
		    snprintf(pd, sizeof(pd), "%s/%s", em_dir, de->d_name) >=
		    (int)sizeof(pd))
			continue;
		if (!read_cpus(pd, cpus, sizeof(cpus), &set))
			continue;
		n = read_states(pd, st, (int)(sizeof(st) / sizeof(st[0])));
		for (int c = 0; n && c < t->nr_cpus; c++)
			if (t->cpu[c].present && t->cpu[c].nr_freqs &&
			    CPU_ISSET(c, &set))
				give_power(&t->cpu[c], st, n);
	}
	closedir(d);
}
