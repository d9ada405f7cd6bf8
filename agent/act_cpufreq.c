// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cpufreq: while a boosted vCPU may run on a policy's CPUs, that policy's
 * scaling_min_freq is raised to the lowest frequency that delivers the
 * largest such request.  The floor is shared, so it is recomputed from
 * every thread's action (sync) and the policy's original minimum is kept
 * in a state file until it is restored.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "actuator.h"
#include "json.h"
#include "procstat.h"

#define MAX_POLICIES VCPUFREQ_MAX_CPUS

static void policy_file(const struct act_env *env, int policy, char *buf,
			size_t len)
{
	snprintf(buf, len, "%s/cpufreq/policy%d/scaling_min_freq",
		 env->sysfs_cpu_dir, policy);
}

static int write_khz(const char *path, unsigned int khz)
{
	FILE *f = fopen(path, "w");
	int ret = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%u\n", khz) < 0)
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

/* saved originals: one "POLICY KHZ" line per policy we raised */
static void saved_path(const struct act_env *env, char *buf, size_t len)
{
	snprintf(buf, len, "%s/cpufreq-min.saved", env->state_dir);
}

static void load_saved(const struct act_env *env, unsigned int *saved)
{
	char path[512];
	unsigned int p, khz;
	FILE *f;

	memset(saved, 0, sizeof(unsigned int) * MAX_POLICIES);
	saved_path(env, path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		return;
	while (fscanf(f, "%u %u", &p, &khz) == 2)
		if (p < MAX_POLICIES)
			saved[p] = khz;
	fclose(f);
}

static int store_saved(const struct act_env *env, const unsigned int *saved)
{
	char path[512];
	bool any = false;
	FILE *f;

	saved_path(env, path, sizeof(path));
	for (int p = 0; p < MAX_POLICIES; p++)
		any |= saved[p] != 0;
	if (!any)
		return unlink(path) && errno != ENOENT ? -errno : 0;
	char tmp[520];

	mkdir(env->state_dir, 0755);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	for (int p = 0; p < MAX_POLICIES; p++)
		if (saved[p])
			fprintf(f, "%d %u\n", p, saved[p]);
	if (fclose(f))
		return -errno;
	return rename(tmp, path) ? -errno : 0;	/* never half a file */
}

static int cpufreq_probe(const struct act_env *env, char *why, size_t len)
{
	char path[512];

	for (int cpu = 0; cpu < env->topo.nr_cpus; cpu++) {
		int policy = env->topo.cpu[cpu].policy;

		if (!env->topo.cpu[cpu].present || policy < 0)
			continue;
		policy_file(env, policy, path, sizeof(path));
		if (access(path, W_OK) == 0)
			return 0;
		snprintf(why, len, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(why, len, "no cpufreq driver (no policies under %s/cpufreq)",
		 env->sysfs_cpu_dir);
	return -1;
}

/* the floor each policy needs for the threads in the actions map */
static void wanted_floors(const struct act_env *env, unsigned int *floor)
{
	struct vcpufreq_action a;
	__u32 key, *prev = NULL;

	memset(floor, 0, sizeof(unsigned int) * MAX_POLICIES);
	while (!bpf_map_get_next_key(env->actions_fd, prev, &key)) {
		prev = &key;
		if (bpf_map_lookup_elem(env->actions_fd, &key, &a) ||
		    a.backend != VCPUFREQ_BACKEND_CPUFREQ || !a.perf)
			continue;
		for (int cpu = 0; cpu < env->topo.nr_cpus; cpu++) {
			const struct vf_cpu *c = &env->topo.cpu[cpu];
			unsigned int khz;

			if (!c->present || c->policy < 0 ||
			    !(a.cpus[cpu / 64] & (1ULL << (cpu % 64))))
				continue;
			khz = vf_perf_to_khz(c, a.perf);
			if (khz > floor[c->policy])
				floor[c->policy] = khz;
		}
	}
}

/*
 * Originals are saved before any floor is written, so an agent that dies
 * in between never leaves a raised minimum that looks like the original.
 */
static int apply_floors(struct act_env *env, const unsigned int *floor)
{
	unsigned int saved[MAX_POLICIES];
	bool newly_saved = false;
	char path[512];
	int ret = 0;

	load_saved(env, saved);
	for (int p = 0; p < MAX_POLICIES; p++) {
		unsigned int cur;

		if (!floor[p] || saved[p])
			continue;
		policy_file(env, p, path, sizeof(path));
		if (vf_read_uint(path, &cur))
			continue;
		saved[p] = cur ? cur : 1;
		newly_saved = true;
	}
	if (newly_saved && store_saved(env, saved))
		return -EIO;
	for (int p = 0; p < MAX_POLICIES; p++) {
		if (!saved[p])
			continue;
		policy_file(env, p, path, sizeof(path));
		if (floor[p]) {
			ret = write_khz(path, floor[p] > saved[p] ?
					floor[p] : saved[p]) ?: ret;
		} else {
			ret = write_khz(path, saved[p]) ?: ret;
			saved[p] = 0;
		}
	}
	return store_saved(env, saved) ?: ret;
}

static int cpufreq_apply_shared(struct act_env *env)
{
	unsigned int floor[MAX_POLICIES];

	if (env->actions_fd < 0)
		return 0;
	wanted_floors(env, floor);
	return apply_floors(env, floor);
}

static void cpufreq_shutdown(struct act_env *env)
{
	unsigned int none[MAX_POLICIES] = { 0 };

	apply_floors(env, none);
}

static int cpufreq_apply(struct act_env *env, __u32 tid, __u32 perf,
			 struct vcpufreq_action *a)
{
	cpu_set_t allowed;

	perf = act_priced(env, perf);	/* the floor, as the apply_shared pass reads it */
	a->perf = perf;
	a->floor_khz = 0;
	memset(a->cpus, 0, sizeof(a->cpus));
	if (!perf || sched_getaffinity(tid, sizeof(allowed), &allowed))
		return 0;
	for (int cpu = 0; cpu < env->topo.nr_cpus; cpu++) {
		const struct vf_cpu *c = &env->topo.cpu[cpu];
		unsigned int khz;

		if (!c->present || c->policy < 0 || !CPU_ISSET(cpu, &allowed))
			continue;
		a->cpus[cpu / 64] |= 1ULL << (cpu % 64);
		khz = vf_perf_to_khz(c, perf);
		if (khz > a->floor_khz)
			a->floor_khz = khz;
	}
	return 0;
}

static void cpufreq_describe(const struct vcpufreq_action *a, char *buf,
			     size_t len)
{
	if (a->perf && a->floor_khz)
		snprintf(buf, len, "floor %u kHz", a->floor_khz);
	else
		snprintf(buf, len, "-");
}

static void cpufreq_describe_json(const struct vcpufreq_action *a,
				  struct json *j)
{
	json_kuint(j, "floor_khz", a->floor_khz);
}

const struct actuator act_cpufreq = {
	.name = "cpufreq",
	.backend = VCPUFREQ_BACKEND_CPUFREQ,
	.probe = cpufreq_probe,
	.apply = cpufreq_apply,
	.apply_shared = cpufreq_apply_shared,
	.shutdown = cpufreq_shutdown,
	.describe = cpufreq_describe,
	.describe_json = cpufreq_describe_json,
};
