// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The host topology from an override file instead of sysfs.  The format,
 * key by key, and what is an error: docs/usage.md, "Topology override
 * file" (the one place it is written).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topology_read.h"

/* the state of reading one file, beside what both readers share */
struct ovr_reader {
	struct topo_reader rd;
	unsigned int line;
	unsigned int cpu_line[VCPUFREQ_MAX_CPUS];	/* 0: not described */
	bool policy_given[VCPUFREQ_MAX_CPUS];
};

#define OVR_BLANKS	" \t\r\n"

struct ovr_cpu {
	struct vf_cpu c;
	unsigned int seen;	/* bit per ovr_keys[] entry */
};

#define ovr_fail(ovr, ret, fmt, ...)					\
	topo_fail(&(ovr)->rd, ret, "override %s:%u: " fmt,		\
		  (ovr)->rd.src, (ovr)->line, ##__VA_ARGS__)

static int ovr_number(struct ovr_reader *ovr, const char *key, const char *s,
		      size_t n, unsigned long long lo, unsigned long long hi,
		      unsigned long long *val)
{
	int ret = vf_parse_dec(s, n, hi, val);

	if (ret == -EINVAL)
		return ovr_fail(ovr, ret, "%s: '%.*s' is not a decimal number",
				key, (int)n, s);
	if (ret || *val < lo)
		return ovr_fail(ovr, -ERANGE, "%s %.*s out of range %llu..%llu",
				key, (int)n, s, lo, hi);
	return 0;
}

static int ovr_capacity(struct ovr_reader *ovr, struct ovr_cpu *oc,
			const char *val)
{
	unsigned long long v;
	int ret;

	ret = ovr_number(ovr, "capacity", val, strlen(val), 1,
			 VCPUFREQ_PERF_MAX, &v);
	if (!ret)
		oc->c.capacity = (unsigned int)v;
	return ret;
}

static int ovr_cluster(struct ovr_reader *ovr, struct ovr_cpu *oc,
		       const char *val)
{
	unsigned long long v;
	int ret;

	ret = ovr_number(ovr, "cluster", val, strlen(val), 0, INT_MAX, &v);
	if (!ret)
		oc->c.cluster = (int)v;
	return ret;
}

static int ovr_policy(struct ovr_reader *ovr, struct ovr_cpu *oc,
		      const char *val)
{
	unsigned long long v;
	int ret;

	ret = ovr_number(ovr, "policy", val, strlen(val), 0,
			 VCPUFREQ_MAX_CPUS - 1, &v);
	if (!ret)
		oc->c.policy = (int)v;
	return ret;
}

static int ovr_freq(struct ovr_reader *ovr, struct ovr_cpu *oc, const char *val)
{
	const char *dash = strchr(val, '-');
	unsigned long long lo, hi;
	int ret;

	if (!dash)
		return ovr_fail(ovr, -EINVAL, "freq '%s' is not MIN-MAX", val);
	ret = ovr_number(ovr, "freq", val, (size_t)(dash - val), 1, UINT_MAX,
			 &lo);
	if (!ret)
		ret = ovr_number(ovr, "freq", dash + 1, strlen(dash + 1), 1,
				 UINT_MAX, &hi);
	if (ret)
		return ret;
	if (lo > hi)
		return ovr_fail(ovr, -EINVAL, "freq %s: MIN above MAX", val);
	oc->c.min_khz = (unsigned int)lo;
	oc->c.max_khz = (unsigned int)hi;
	return 0;
}

/* a comma-separated list of 1..UINT_MAX into @out; @ascending: strictly */
static int ovr_list(struct ovr_reader *ovr, const char *key, const char *val,
		    unsigned int *out, unsigned int *nr, bool ascending)
{
	unsigned long long v;
	const char *s, *comma;
	size_t n;
	int ret;

	for (s = val; ; s = comma + 1) {
		comma = strchr(s, ',');
		n = comma ? (size_t)(comma - s) : strlen(s);
		if (*nr == VCPUFREQ_PERFTBL_MAX)
			return ovr_fail(ovr, -E2BIG, "%s: more than %d entries",
					key, VCPUFREQ_PERFTBL_MAX);
		ret = ovr_number(ovr, key, s, n, 1, UINT_MAX, &v);
		if (ret)
			return ret;
		/* a table is written in order; disorder is a typo, not data */
		if (ascending && *nr && v <= out[*nr - 1])
			return ovr_fail(ovr, -EINVAL,
					"%s: %llu after %u, not strictly ascending",
					key, v, out[*nr - 1]);
		out[(*nr)++] = (unsigned int)v;
		if (!comma)
			return 0;
	}
}

static int ovr_freqs(struct ovr_reader *ovr, struct ovr_cpu *oc,
		     const char *val)
{
	return ovr_list(ovr, "freqs", val, oc->c.freqs_khz, &oc->c.nr_freqs,
			true);
}

static int ovr_power(struct ovr_reader *ovr, struct ovr_cpu *oc,
		     const char *val)
{
	return ovr_list(ovr, "power", val, oc->c.power, &oc->c.nr_power,
			false);
}

enum { KEY_CAPACITY, KEY_CLUSTER, KEY_POLICY, KEY_FREQ, KEY_FREQS, KEY_POWER,
       NR_OVR_KEYS };

static const struct ovr_key {
	const char *name;
	int (*parse)(struct ovr_reader *ovr, struct ovr_cpu *oc,
		     const char *val);
} ovr_keys[NR_OVR_KEYS] = {
	[KEY_CAPACITY]	= { "capacity",	ovr_capacity },
	[KEY_CLUSTER]	= { "cluster",	ovr_cluster },
	[KEY_POLICY]	= { "policy",	ovr_policy },
	[KEY_FREQ]	= { "freq",	ovr_freq },
	[KEY_FREQS]	= { "freqs",	ovr_freqs },
	[KEY_POWER]	= { "power",	ovr_power },
};

#define SEEN(k)		(1u << (k))

static int ovr_key_value(struct ovr_reader *ovr, struct ovr_cpu *oc,
			 const char *key, const char *val)
{
	int k;

	for (k = 0; k < NR_OVR_KEYS; k++)
		if (!strcmp(key, ovr_keys[k].name))
			break;
	if (k == NR_OVR_KEYS)
		return ovr_fail(ovr, -EINVAL, "unknown key '%s'", key);
	if (oc->seen & SEEN(k))
		return ovr_fail(ovr, -EINVAL, "'%s' given twice", key);
	if (!val)
		return ovr_fail(ovr, -EINVAL, "'%s' without a value", key);
	oc->seen |= SEEN(k);
	return ovr_keys[k].parse(ovr, oc, val);
}

/* Everything the keys cannot check one at a time. */
static int ovr_check_cpu(struct ovr_reader *ovr, struct ovr_cpu *oc)
{
	struct vf_cpu *c = &oc->c;

	if (!(oc->seen & SEEN(KEY_CAPACITY)))
		return ovr_fail(ovr, -EINVAL, "missing capacity");
	if (c->nr_power && c->nr_power != c->nr_freqs)
		return ovr_fail(ovr, -EINVAL,
				"power: %u entries for %u freqs (one per frequency)",
				c->nr_power, c->nr_freqs);
	if (!c->nr_freqs)
		return 0;
	if (!(oc->seen & SEEN(KEY_FREQ))) {
		c->min_khz = c->freqs_khz[0];
		c->max_khz = c->freqs_khz[c->nr_freqs - 1];
		return 0;
	}
	if (c->freqs_khz[0] < c->min_khz ||
	    c->freqs_khz[c->nr_freqs - 1] > c->max_khz)
		return ovr_fail(ovr, -EINVAL,
				"freqs %u..%u outside freq %u-%u",
				c->freqs_khz[0], c->freqs_khz[c->nr_freqs - 1],
				c->min_khz, c->max_khz);
	return 0;
}

/* The N of "cpu N", or a negative errno. */
static int ovr_cpu_number(struct ovr_reader *ovr, char **save)
{
	char *tok = strtok_r(NULL, OVR_BLANKS, save);
	unsigned long long v;
	int ret;

	if (!tok)
		return ovr_fail(ovr, -EINVAL, "'cpu' without a number");
	ret = ovr_number(ovr, "cpu", tok, strlen(tok), 0,
			 VCPUFREQ_MAX_CPUS - 1, &v);
	if (ret)
		return ret;
	if (ovr->cpu_line[v])
		return ovr_fail(ovr, -EINVAL,
				"cpu %llu already described on line %u",
				v, ovr->cpu_line[v]);
	return (int)v;
}

static int ovr_line(struct ovr_reader *ovr, char *line)
{
	struct ovr_cpu oc = { .c = { .present = true, .policy = -1 } };
	char *save, *tok, *key;
	int cpu, ret;

	tok = strtok_r(line, OVR_BLANKS, &save);
	if (!tok || tok[0] == '#')
		return 0;
	if (strcmp(tok, "cpu"))
		return ovr_fail(ovr, -EINVAL, "expected 'cpu N', got '%s'",
				tok);
	cpu = ovr_cpu_number(ovr, &save);
	if (cpu < 0)
		return cpu;

	while ((key = strtok_r(NULL, OVR_BLANKS, &save))) {
		ret = ovr_key_value(ovr, &oc, key,
				    strtok_r(NULL, OVR_BLANKS, &save));
		if (ret)
			return ret;
	}
	ret = ovr_check_cpu(ovr, &oc);
	if (ret)
		return ret;

	ovr->rd.t->cpu[cpu] = oc.c;
	ovr->cpu_line[cpu] = ovr->line;
	ovr->policy_given[cpu] = oc.seen & SEEN(KEY_POLICY);
	return 0;
}

static int first_cpu_of_cluster(const struct vf_topology *t, int cluster)
{
	int cpu;

	for (cpu = 0; cpu < VCPUFREQ_MAX_CPUS; cpu++)
		if (t->cpu[cpu].present && t->cpu[cpu].cluster == cluster)
			return cpu;
	return -1;	/* not reached: the asking CPU is in the cluster */
}

/* Defaults that depend on other lines, once the whole file is read. */
static int ovr_finish(struct ovr_reader *ovr)
{
	struct vf_topology *t = ovr->rd.t;
	struct vf_cpu *c;
	int cpu;

	for (cpu = 0; cpu < VCPUFREQ_MAX_CPUS; cpu++) {
		c = &t->cpu[cpu];
		if (!c->present)
			continue;
		t->nr_cpus = cpu + 1;
		if (c->max_khz)
			t->has_cpufreq = true;
		if (!ovr->policy_given[cpu])
			c->policy = c->max_khz ?
				    first_cpu_of_cluster(t, c->cluster) : -1;
	}
	if (!t->nr_cpus)
		return topo_fail(&ovr->rd, -EINVAL,
				 "override %s: no cpu described",
				 ovr->rd.src);
	t->from_override = true;
	return 0;
}

int topo_read_override(struct topo_reader *rd)
{
	struct ovr_reader ovr = { .rd = *rd };
	size_t cap = 0;
	char *line = NULL;
	FILE *f;
	int ret = 0;

	f = fopen(rd->src, "re");
	if (!f) {
		ret = -errno;
		return topo_fail(rd, ret, "override %s: %s", rd->src,
				 strerror(-ret));
	}
	while (!ret && getline(&line, &cap, f) >= 0) {
		ovr.line++;
		ret = ovr_line(&ovr, line);
	}
	if (!ret && ferror(f))
		ret = topo_fail(rd, -EIO, "override %s: read error", rd->src);
	free(line);
	fclose(f);
	return ret ? ret : ovr_finish(&ovr);
}
