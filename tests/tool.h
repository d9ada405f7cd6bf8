/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the test and benchmark tools share (tests/live/request-storm.c,
 * bench/bench-sched.c, bench/bench-request.c, bench/bench-insn.c): the
 * error printer, the clock, and the uapi sched_attr (glibc's <sched.h>
 * has none).
 */
#ifndef VCPUFREQ_TESTS_TOOL_H
#define VCPUFREQ_TESTS_TOOL_H

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <linux/types.h>

/* "Error: ..." on stderr; returns -1 */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("Error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static inline __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* struct sched_attr as sched_setattr(2) takes it (SCHED_ATTR_SIZE_VER1) */
struct sched_attr_v1 {
	__u32 size, sched_policy;
	__u64 sched_flags;
	__s32 sched_nice;
	__u32 sched_priority;
	__u64 sched_runtime, sched_deadline, sched_period;
	__u32 sched_util_min, sched_util_max;
};

#endif
