/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * cpulists ("0-3,6") and --affinity lists ("0;1;2-3"), written once for
 * the library, the CLI and the bridge.  Internal, like util.h.  Takes
 * cpu_set_t, so include it after defining _GNU_SOURCE.
 */
#ifndef VCPUFREQ_COMMON_CPULIST_H
#define VCPUFREQ_COMMON_CPULIST_H

#include <sched.h>
#include <stddef.h>

#ifndef CPU_SETSIZE
#error "cpulist.h needs cpu_set_t: define _GNU_SOURCE before any #include"
#endif

/*
 * Parse a cpulist ("0-3,6", "2") into @set (cleared first): decimal CPU
 * numbers and ascending ranges, comma separated, below
 * VCPUFREQ_MAX_CPUS.  @len bytes of @s are read (the list need not be NUL
 * terminated).  Returns the number of CPUs set, or -EINVAL (syntax, empty
 * list) / -ERANGE (a CPU beyond VCPUFREQ_MAX_CPUS) with @err filled.
 */
int vf_parse_cpulist(const char *s, size_t len, cpu_set_t *set, char *err,
		     size_t err_len);

/* "0-3,6" for the CPUs of @set below @limit */
void vf_format_cpulist(const cpu_set_t *set, int limit, char *buf,
		       size_t len);

/* 0 when @set will do, else nonzero with the reason in @why */
typedef int (*vf_cpulist_check)(const cpu_set_t *set, void *ctx, char *why,
				size_t why_len);

/*
 * An --affinity value into @aff[0..@n): one cpulist for every vCPU
 * ("2-3"), or exactly @n cpulists, one per vCPU, separated by ';'
 * ("0;1;2-3").  @check (NULL: none) vets each list once it is parsed.
 * 0, or a negative errno with a message naming the list ("--affinity of
 * vCPU 2: ...") and what to do in @err.
 */
int vf_parse_affinity(const char *s, unsigned int n, cpu_set_t *aff,
		      vf_cpulist_check check, void *ctx, char *err,
		      size_t err_len);

#endif
