// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* cpulists and --affinity lists: see cpulist.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "vcpufreq/abi.h"
#include "cpulist.h"
#include "util.h"

static int parse_cpulist_elem(const char *s, size_t n, cpu_set_t *set,
			      char *err, size_t err_len)
{
	const char *dash = memchr(s, '-', n);
	/* set for gcc, which sees vf_parse_dec inlined in bridge/common.c */
	unsigned long long first = 0, last = 0;
	int ret, ret2 = 0;

	if (dash) {
		ret = vf_parse_dec(s, (size_t)(dash - s), UINT_MAX, &first);
		ret2 = vf_parse_dec(dash + 1, n - (size_t)(dash - s) - 1,
				    UINT_MAX, &last);
	} else {
		ret = vf_parse_dec(s, n, UINT_MAX, &first);
		last = first;
	}
	if (ret == -EINVAL || ret2 == -EINVAL)
		return vf_einval(err, err_len,
				 "bad cpu list element '%.*s': want N or N-M",
				 (int)n, s);
	if (ret || ret2)
		return vf_err(err, err_len, -ERANGE,
			      "cpu list element '%.*s': CPUs go up to %d",
			      (int)n, s, VCPUFREQ_MAX_CPUS - 1);
	if (first > last)
		return vf_einval(err, err_len,
				 "bad cpu list element '%.*s': range runs backwards",
				 (int)n, s);
	if (last >= VCPUFREQ_MAX_CPUS)
		return vf_err(err, err_len, -ERANGE,
			      "cpu list element '%.*s': cpu%llu is beyond the %d CPUs vcpufreq supports; CPUs go up to %d",
			      (int)n, s, last, VCPUFREQ_MAX_CPUS,
			      VCPUFREQ_MAX_CPUS - 1);
	for (; first <= last; first++)
		CPU_SET(first, set);
	return 0;
}

int vf_parse_cpulist(const char *s, size_t len, cpu_set_t *set, char *err,
		     size_t err_len)
{
	const char *end = s + len, *comma;
	int ret;

	CPU_ZERO(set);
	if (!len)
		return vf_einval(err, err_len, "empty cpu list");
	for (;;) {
		comma = memchr(s, ',', (size_t)(end - s));
		ret = parse_cpulist_elem(s, comma ? (size_t)(comma - s) :
					 (size_t)(end - s), set, err, err_len);
		if (ret)
			return ret;
		if (!comma)
			break;
		s = comma + 1;
	}
	return CPU_COUNT(set);
}

void vf_format_cpulist(const cpu_set_t *set, int limit, char *buf,
		       size_t len)
{
	size_t off = 0;
	int cpu = 0, start;

	buf[0] = '\0';
	while (cpu < limit && off < len) {
		if (!CPU_ISSET(cpu, set)) {
			cpu++;
			continue;
		}
		start = cpu;
		while (cpu + 1 < limit && CPU_ISSET(cpu + 1, set))
			cpu++;
		if (cpu > start)
			off += (size_t)snprintf(buf + off, len - off, "%s%d-%d",
						off ? "," : "", start, cpu);
		else
			off += (size_t)snprintf(buf + off, len - off, "%s%d",
						off ? "," : "", start);
		cpu++;
	}
}

/* one cpulist of an --affinity value; @what names it in messages */
static int parse_affinity_list(const char *s, size_t len, cpu_set_t *set,
			       const char *what, vf_cpulist_check check,
			       void *ctx, char *err, size_t err_len)
{
	char why[1280];
	int ret = vf_parse_cpulist(s, len, set, why, sizeof(why));

	if (ret < 0)
		return vf_err(err, err_len, ret,
			      "%s: %s; give a cpulist such as 0-3,6", what, why);
	if (check && check(set, ctx, why, sizeof(why)))
		return vf_einval(err, err_len, "%s: %s", what, why);
	return 0;
}

int vf_parse_affinity(const char *s, unsigned int n, cpu_set_t *aff,
		      vf_cpulist_check check, void *ctx, char *err,
		      size_t err_len)
{
	unsigned int count = 1, i;
	const char *p, *semi;
	char what[64];
	int ret;

	for (p = s; (p = strchr(p, ';')); p++)
		count++;
	if (count == 1) {
		ret = parse_affinity_list(s, strlen(s), &aff[0], "--affinity",
					  check, ctx, err, err_len);
		for (i = 1; !ret && i < n; i++)
			aff[i] = aff[0];
		return ret;
	}
	if (count != n)
		return vf_einval(err, err_len,
				 "--affinity has %u ';'-separated cpulists for %u vCPUs; give one per vCPU, or a single cpulist for all",
				 count, n);
	for (i = 0, p = s; i < n; i++, p = semi + 1) {
		semi = strchr(p, ';');
		if (!semi)
			semi = p + strlen(p);
		snprintf(what, sizeof(what), "--affinity of vCPU %u", i);
		ret = parse_affinity_list(p, (size_t)(semi - p), &aff[i], what,
					  check, ctx, err, err_len);
		if (ret)
			return ret;
	}
	return 0;
}
