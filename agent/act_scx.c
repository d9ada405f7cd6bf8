// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * scx: the sched_ext scheduler (bpf/vcpufreq_scx.bpf.c) places boosted
 * vCPU threads on fitting CPUs and sets those CPUs' frequency targets in
 * the kernel.  This actuator only moves each boosted thread into it
 * (policy SCHED_EXT, partial mode: nothing else is touched) and back.
 * The agent holds the scheduler: start() loads and attaches it, sharing
 * the tracking programs' maps (bpf/shared_maps.h); stop() detaches it.
 * If the agent dies, the kernel detaches it and moves every task back to
 * the fair class; `unload` then puts the saved policies back.
 *
 * The scheduler implements no cgroup callbacks, so a task in it escapes
 * its cgroup's cpu.max and cpu.weight.  A vCPU whose cgroup (or an
 * ancestor) sets either stays in the fair class, where they hold; vcpus
 * and status say so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "actuator.h"
#include "base.h"
#include "procstat.h"

/*
 * The record UEI_DEFINE(uei) keeps in the scheduler's .data, as the
 * skeleton's .data struct names it.  Its layout is the kernel's struct
 * user_exit_info (tools/sched_ext/include/scx/user_exit_info.h, GPL-2.0,
 * so not included in this LGPL/BSD program): kind, exit_code, then
 * UEI_REASON_LEN and UEI_MSG_LEN bytes.
 */
struct user_exit_info {
	int kind;
	__s64 exit_code;
	char reason[128];
	char msg[1024];
};
typedef __u32 u32;	/* UEI_DEFINE's uei_dump_len, in the skeleton's rodata */

#include "vcpufreq_scx.skel.h"

#ifndef SCHED_EXT
#define SCHED_EXT 7
#endif

#define SCX_SYSFS "/sys/kernel/sched_ext"

static struct vcpufreq_scx_bpf *scx_skel;
static struct bpf_link *scx_link;

int scx_sysfs_state(char *state, size_t slen, char *ops, size_t olen)
{
	if (vf_read_line(SCX_SYSFS "/state", state, slen))
		return -1;
	vf_read_line(SCX_SYSFS "/root/ops", ops, olen);	/* "" when none */
	return 0;
}

static int scx_probe(const struct act_env *env, char *why, size_t len)
{
	char state[32], ops[64];

	if (scx_sysfs_state(state, sizeof(state), ops, sizeof(ops))) {
		snprintf(why, len, "kernel built without CONFIG_SCHED_CLASS_EXT "
			 "(no %s)", SCX_SYSFS);
		return -1;
	}
	if (scx_link && !strcmp(ops, VCPUFREQ_SCX_OPS_NAME))
		return 0;		/* ours, attached by this agent */
	if (strcmp(state, "disabled")) {
		snprintf(why, len, "sched_ext is %s%s%s; only one sched_ext "
			 "scheduler can be attached", state,
			 *ops ? " with scheduler " : "", ops);
		return -1;
	}
	return 0;
}

/*
 * Energy per unit of work of running @demand on @c: the power of its
 * lowest OPP that delivers @demand over the capacity that OPP delivers
 * (both scale alike, so any power unit will do).  0: @c cannot.
 */
static double work_cost(const struct vf_cpu *c, unsigned int demand)
{
	unsigned int fmax = c->freqs_khz[c->nr_freqs - 1];

	for (unsigned int i = 0; i < c->nr_freqs; i++) {
		double cap = (double)c->capacity * c->freqs_khz[i] / fmax;

		if (cap >= demand)
			return c->power[i] / cap;
	}
	return 0;
}

/*
 * @eff[b], for b < VCPUFREQ_SCX_DEMAND_BUCKETS: the level that runs a
 * demand of bucket b (its middle) for the least energy, by the power
 * figures of @t (a level's first CPU stands for it).  false, and @eff
 * untouched, without figures for every level: then a demand runs on the
 * lowest level that fits.
 */
bool scx_energy_levels(const struct vf_topology *t, const __u32 *caps,
		       __u32 n, __u8 *eff)
{
	const struct vf_cpu *rep[VCPUFREQ_SCX_MAX_LEVELS] = { 0 };

	for (int c = 0; c < t->nr_cpus; c++)
		for (__u32 i = 0; i < n; i++)
			if (t->cpu[c].present && caps[i] == t->cpu[c].capacity &&
			    !rep[i])
				rep[i] = &t->cpu[c];
	for (__u32 i = 0; i < n; i++)
		if (!rep[i] || !rep[i]->nr_power)
			return false;
	for (__u32 b = 0; b < VCPUFREQ_SCX_DEMAND_BUCKETS; b++) {
		unsigned int d = b * VCPUFREQ_SCX_DEMAND_STEP +
				 VCPUFREQ_SCX_DEMAND_STEP / 2;
		double best = 0;

		eff[b] = n - 1;
		for (__u32 i = 0; i < n; i++) {
			double cost = work_cost(rep[i], d);

			if (cost > 0 && (best == 0 || cost < best)) {
				best = cost;
				eff[b] = i;
			}
		}
	}
	return true;
}

/*
 * @caps: the distinct capacities of @t's present CPUs, ascending (at most
 * VCPUFREQ_SCX_MAX_LEVELS); returns how many, or -1 after an error.
 */
int scx_capacity_levels(const struct vf_topology *t, __u32 *caps)
{
	__u32 n = 0;

	for (int c = 0; c < t->nr_cpus; c++) {
		__u32 cap = t->cpu[c].capacity, i = 0;

		if (!t->cpu[c].present)
			continue;
		while (i < n && caps[i] < cap)
			i++;
		if (i < n && caps[i] == cap)
			continue;
		if (n == VCPUFREQ_SCX_MAX_LEVELS)
			return err("the host has more than %d distinct CPU "
				   "capacities", VCPUFREQ_SCX_MAX_LEVELS);
		memmove(&caps[i + 1], &caps[i], (n - i) * sizeof(caps[0]));
		caps[i] = cap;
		n++;
	}
	if (!n)
		return err("the host topology lists no present CPU");
	return (int)n;
}

/* capacity levels and the energy table, into the scheduler's rodata */
static int set_levels(struct vcpufreq_scx_bpf *s, const struct act_env *env)
{
	const struct vf_topology *t = &env->topo;
	__u32 caps[VCPUFREQ_SCX_MAX_LEVELS];
	__u8 eff[VCPUFREQ_SCX_DEMAND_BUCKETS];
	int n = scx_capacity_levels(t, caps);

	if (n < 0)
		return -1;
	s->rodata->nr_levels = n;
	memcpy((void *)s->rodata->level_cap, caps, n * sizeof(caps[0]));
	for (int c = 0; c < t->nr_cpus && c < VCPUFREQ_MAX_CPUS; c++)
		for (int i = 0; i < n; i++)
			if (t->cpu[c].present && caps[i] == t->cpu[c].capacity)
				s->rodata->cpu_level[c] = i;
	if (scx_energy_levels(t, caps, n, eff)) {
		memcpy((void *)s->rodata->efficient_level, eff, sizeof(eff));
		s->rodata->energy_levels = true;
	}
	s->rodata->knee_cap = env->knee;
	return 0;
}

static int reuse_pinned(struct bpf_map *map, const char *name)
{
	int fd = open_pinned_map(name), ret;

	if (fd < 0)
		return -1;
	ret = bpf_map__reuse_fd(map, fd);
	close(fd);
	return ret ? err("cannot share the %s map with the scheduler: %s",
			 name, strerror(-ret)) : 0;
}

/* every map of bpf/shared_maps.h: the tracking programs' pinned ones */
static int reuse_shared_maps(struct vcpufreq_scx_bpf *s)
{
	return reuse_pinned(s->maps.vcpu_state, VCPUFREQ_PIN_VCPU_STATE) ||
	       reuse_pinned(s->maps.events, VCPUFREQ_PIN_EVENTS) ||
	       reuse_pinned(s->maps.requests, VCPUFREQ_PIN_REQUESTS) ||
	       reuse_pinned(s->maps.cgroups, VCPUFREQ_PIN_CGROUPS) ||
	       reuse_pinned(s->maps.stats, VCPUFREQ_PIN_STATS) ||
	       reuse_pinned(s->maps.slots, VCPUFREQ_PIN_SLOTS) ||
	       reuse_pinned(s->maps.tid_bits, VCPUFREQ_PIN_TID_BITS) ||
	       reuse_pinned(s->maps.settings, VCPUFREQ_PIN_SETTINGS);
}

static void scx_stop(struct act_env *env)
{
	char path[PATH_MAX];

	bpf_link__destroy(scx_link);
	scx_link = NULL;
	vcpufreq_scx_bpf__destroy(scx_skel);
	scx_skel = NULL;
	pin_path(path, sizeof(path), VCPUFREQ_PIN_SCX_CPUS);
	unlink(path);
}

/* the object's struct user_exit_info is the one above (its size) */
static bool uei_layout_matches(struct vcpufreq_scx_bpf *skel)
{
	const struct btf *btf = bpf_object__btf(skel->obj);
	__s32 id;

	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, "user_exit_info", BTF_KIND_STRUCT);
	return id > 0 &&
	       btf__resolve_size(btf, id) == sizeof(struct user_exit_info);
}

static int scx_start(struct act_env *env)
{
	char path[PATH_MAX];
	int ret;

	/* a reason recorded by an earlier load is not this one's */
	vf_state_file(env->state_dir, VF_STATE_SCX_EXIT, path, sizeof(path));
	unlink(path);
	scx_skel = vcpufreq_scx_bpf__open();
	if (!scx_skel)
		return err("cannot open the sched_ext scheduler: %s",
			   strerror(errno));
	if (!uei_layout_matches(scx_skel)) {
		err("the sched_ext scheduler's exit record is not the struct "
		    "user_exit_info of agent/act_scx.c: rebuild vcpufreq-bpf");
		goto fail;
	}
	if (set_levels(scx_skel, env) || reuse_shared_maps(scx_skel))
		goto fail;
	ret = vcpufreq_scx_bpf__load(scx_skel);
	if (ret) {
		err("cannot load the sched_ext scheduler: %s (run with "
		    "VCPUFREQ_DEBUG=1 for the verifier log)", strerror(-ret));
		goto fail;
	}
	scx_link = bpf_map__attach_struct_ops(scx_skel->maps.vcpufreq_ops);
	if (!scx_link) {
		err("cannot attach the sched_ext scheduler: %s", strerror(errno));
		goto fail;
	}
	pin_path(path, sizeof(path), VCPUFREQ_PIN_SCX_CPUS);
	unlink(path);	/* an agent that died left its own */
	if (bpf_map__pin(scx_skel->maps.scx_cpus, path)) {
		err("cannot pin %s: %s", path, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	scx_stop(env);
	return -1;
}

/* why the scheduler stopped, from what its exit callback recorded */
void scx_exit_reason(char *buf, size_t len)
{
	const struct user_exit_info *uei;

	if (!scx_skel) {
		snprintf(buf, len, "unknown (scheduler not loaded)");
		return;
	}
	uei = &scx_skel->data->uei;
	snprintf(buf, len, "%s%s%s (exit kind %d)", uei->reason,
		 uei->msg[0] ? ": " : "", uei->msg, uei->kind);
}

int scx_exit_kind(void)
{
	return scx_skel ? __atomic_load_n(&scx_skel->data->uei.kind,
					  __ATOMIC_ACQUIRE) : 0;
}

static int set_policy(pid_t tid, int policy)
{
	struct sched_param param = { 0 };

	return sched_setscheduler(tid, policy, &param) && errno != ESRCH ?
	       -errno : 0;
}

/* a cgroup file's value is @want: "max 100000" has no quota (no file: yes) */
static bool cgroup_file_is(const char *dir, const char *name,
			   const char *want)
{
	char path[PATH_MAX * 2], val[64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (vf_read_line(path, val, sizeof(val)))
		return true;
	val[strcspn(val, " ")] = 0;
	return !strcmp(val, want);
}

/* Does @tid's cgroup v2, or an ancestor, limit CPU (cpu.max, cpu.weight)? */
static bool cgroup_limits_cpu(__u32 tid)
{
	char rel[PATH_MAX], dir[PATH_MAX * 2], *slash;

	if (thread_cgroup_path(tid, rel, sizeof(rel)))
		return false;
	for (;;) {
		snprintf(dir, sizeof(dir), "%s%s", cgroup2_mount(), rel);
		if (!cgroup_file_is(dir, "cpu.max", "max") ||
		    !cgroup_file_is(dir, "cpu.weight", "100"))
			return true;
		slash = strrchr(rel, '/');
		if (!slash || slash == rel)
			return false;	/* the root cgroup has neither */
		*slash = 0;
	}
}

static int scx_apply(struct act_env *env, __u32 tid, __u32 perf,
		     struct vcpufreq_action *a)
{
	int policy = sched_getscheduler(tid), ret;
	bool limited = perf && cgroup_limits_cpu(tid);

	if (policy < 0)
		return errno == ESRCH ? 0 : -errno;
	policy &= ~SCHED_RESET_ON_FORK;
	/* someone else changed the policy since: theirs is the one to keep */
	if (a->saved_valid && policy != SCHED_EXT)
		a->saved_valid = 0;
	a->flags = limited ? VCPUFREQ_ACTION_CGROUP_LIMITED : 0;
	if (limited)
		perf = 0;	/* the fair class: put back what we changed */
	/* and not what its user did (the agent's foreign_reset, if missed) */
	if (limited && !a->saved_valid && policy == SCHED_EXT) {
		ret = set_policy(tid, SCHED_OTHER);
		if (ret)
			return ret;
	}
	if (perf && !a->saved_valid) {
		if (policy != SCHED_OTHER && policy != SCHED_BATCH &&
		    policy != SCHED_IDLE)
			return -EPERM;	/* real-time threads are left alone */
		a->saved_policy = policy;
		a->saved_valid = 1;
		a->policy = SCHED_EXT;
		a->perf = perf;
		act_record(env, tid, a);
		ret = set_policy(tid, SCHED_EXT);
		if (ret) {
			a->saved_valid = 0;
			a->policy = 0;
			return ret;
		}
	} else if (!perf && a->saved_valid) {
		ret = set_policy(tid, a->saved_policy);
		if (ret)
			return ret;
		a->saved_valid = 0;
	}
	a->perf = perf;
	a->policy = a->saved_valid ? SCHED_EXT : 0;
	return 0;
}

static const char *policy_name(__u32 policy)
{
	switch (policy) {
	case SCHED_OTHER: return "SCHED_OTHER";
	case SCHED_BATCH: return "SCHED_BATCH";
	case SCHED_IDLE: return "SCHED_IDLE";
	case SCHED_EXT: return "SCHED_EXT";
	default: return "?";
	}
}

static void scx_describe(const struct vcpufreq_action *a, char *buf,
			 size_t len)
{
	if (a->saved_valid)
		snprintf(buf, len, "SCHED_EXT (was %s)",
			 policy_name(a->saved_policy));
	else if (a->flags & VCPUFREQ_ACTION_CGROUP_LIMITED)
		snprintf(buf, len, "fair class: its cgroup limits CPU");
	else
		snprintf(buf, len, "-");
}

static void scx_describe_json(const struct vcpufreq_action *a, struct json *j)
{
	if (!a->saved_valid)
		return;
	json_kstr(j, "policy", "SCHED_EXT");
	json_kuint(j, "saved_policy", a->saved_policy);
}

const struct actuator act_scx = {
	.name = "scx",
	.backend = VCPUFREQ_BACKEND_SCX,
	.probe = scx_probe,
	.start = scx_start,
	.stop = scx_stop,
	.apply = scx_apply,
	.describe = scx_describe,
	.describe_json = scx_describe_json,
};
