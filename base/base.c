// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What every part of vcpufreq-bpf shares: its options, errors, the names
 * of the backends, and checks on threads and on a running agent.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "base.h"
#include "procstat.h"

struct opts opts = {
	.pin_dir = VCPUFREQ_PIN_DIR,
};

int err(const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vf_verror(opts.json, opts.pretty, fmt, ap);
	va_end(ap);
	return ret;
}

int parse_tid(const char *s, __u32 *tid)
{
	if (vf_parse_u32(s, tid) || *tid == 0 || *tid > INT_MAX)
		return -EINVAL;
	return 0;
}

/* Threads are visible as /proc/TID even when not listed in /proc. */
bool thread_exists(__u32 tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%u/task/%u", tid, tid);
	return access(path, F_OK) == 0;
}

static const char *const backend_names[VCPUFREQ_BACKEND_COUNT] = {
	[VCPUFREQ_BACKEND_NONE] = "none",
	[VCPUFREQ_BACKEND_OBSERVE] = "observe",
	[VCPUFREQ_BACKEND_UCLAMP] = "uclamp",
	[VCPUFREQ_BACKEND_AFFINITY] = "affinity",
	[VCPUFREQ_BACKEND_CPUFREQ] = "cpufreq",
	[VCPUFREQ_BACKEND_SCX] = "scx",
};

const char *backend_name(__u32 backend)
{
	return backend < VCPUFREQ_BACKEND_COUNT ? backend_names[backend] : "?";
}

int backend_from_name(const char *name)
{
	for (int i = 0; i < VCPUFREQ_BACKEND_COUNT; i++)
		if (!strcmp(name, backend_names[i]))
			return i;
	return -1;
}

/*
 * Our agent runs as @pid: a live process (not a zombie waiting for its
 * new parent to reap it) that is vcpufreq-bpf, not whoever got the pid of
 * an agent that died.
 */
bool agent_running(int pid)
{
	char path[64], comm[32], state = 0;
	FILE *f;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (vf_read_line(path, comm, sizeof(comm)) ||
	    strncmp(comm, "vcpufreq-bpf", 12))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
		state = 0;
	fclose(f);
	return state && state != 'Z' && state != 'X';
}
