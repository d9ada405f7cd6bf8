// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * uclamp: the thread's uclamp_min set to its request with sched_setattr(),
 * as crosvm does.  schedutil then picks a frequency for at least that
 * utilization and EAS/capacity-aware placement treats it as that big.
 * Priced by energy (`load --power balanced`, the default): the request
 * is a floor up to the efficiency knee of the host's OPP tables
 * (env->knee), where a unit of work still costs about what it costs at
 * the lowest OPP.  Past it the thread's own load decides, as it does for
 * every other thread: a vCPU that runs flat out rises above the knee by
 * itself, and one that halts between I/Os (a guest's saturated iowait
 * boost asks 1024) is not run at the top OPP for the few percent of the
 * time it runs.  Unlike the scx backend it cannot tell a burst after
 * idle from a halt in time to serve it in full: the agent applies a
 * request, it does not see the thread run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <sys/syscall.h>
#include <linux/sched.h>
#include "actuator.h"
#include "json.h"

/* <linux/sched/types.h> clashes with glibc's <sched.h>: the uapi layout */
struct sched_attr {
	__u32 size;
	__u32 sched_policy;
	__u64 sched_flags;
	__s32 sched_nice;
	__u32 sched_priority;
	__u64 sched_runtime;
	__u64 sched_deadline;
	__u64 sched_period;
	__u32 sched_util_min;
	__u32 sched_util_max;
};

static int sys_sched_getattr(pid_t tid, struct sched_attr *attr)
{
	return syscall(SYS_sched_getattr, tid, attr, sizeof(*attr), 0);
}

static int set_uclamp_min(pid_t tid, __u32 value)
{
	struct sched_attr attr = {
		.size = sizeof(attr),
		.sched_flags = SCHED_FLAG_KEEP_ALL | SCHED_FLAG_UTIL_CLAMP_MIN,
		.sched_util_min = value,
	};

	return syscall(SYS_sched_setattr, tid, &attr, 0);
}

static int uclamp_probe(const struct act_env *env, char *why, size_t len)
{
	struct sched_attr attr;

	if (sys_sched_getattr(0, &attr)) {
		snprintf(why, len, "sched_getattr failed: %s", strerror(errno));
		return -1;
	}
	/* rewriting our own value changes nothing and tells whether it works */
	if (!set_uclamp_min(0, attr.sched_util_min))
		return 0;
	if (errno == EOPNOTSUPP)
		snprintf(why, len, "kernel built without CONFIG_UCLAMP_TASK");
	else
		snprintf(why, len, "sched_setattr(UTIL_CLAMP_MIN) failed: %s",
			 strerror(errno));
	return -1;
}

/* schedutil runs a CPU at 5/4 of its utilization: 4/5 of a perf */
#define SCHEDUTIL_UTIL_NUM	4
#define SCHEDUTIL_UTIL_DEN	5

/*
 * The uclamp_min that runs a CPU at @perf (vcpufreq/abi.h): from Linux 6.8
 * schedutil runs a CPU at least at its tasks' uclamp_min; before, it added
 * its 25% headroom to it.
 */
static __u32 uclamp_min_for(__u32 perf)
{
	static int before_6_8 = -1;
	struct utsname u;
	int major, minor;

	if (before_6_8 < 0)
		before_6_8 = !uname(&u) &&
			sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
			(major < 6 || (major == 6 && minor < 8));
	return before_6_8 ? perf * SCHEDUTIL_UTIL_NUM / SCHEDUTIL_UTIL_DEN : perf;
}

static int uclamp_apply(struct act_env *env, __u32 tid, __u32 perf,
			struct vcpufreq_action *a)
{
	__u32 want = perf ? uclamp_min_for(act_priced(env, perf)) : 0;
	__u32 before_valid;
	struct vcpufreq_action before;
	struct sched_attr attr;

	if (sys_sched_getattr(tid, &attr))
		return errno == ESRCH ? 0 : -errno;
	/* someone else set uclamp_min since: that is the value to keep */
	if (a->saved_valid && attr.sched_util_min != a->uclamp_min &&
	    !(a->flags & VCPUFREQ_ACTION_CHANGING)) {
		a->saved_valid = 0;
		if (!perf) {
			a->perf = 0;
			return 0;
		}
	}
	before_valid = a->saved_valid;
	if (perf && !a->saved_valid) {
		a->saved_uclamp_min = attr.sched_util_min;
		a->saved_valid = 1;
	}
	if (!perf && !a->saved_valid)
		return 0;
	if (perf) {
		before = *a;
		before.saved_valid = before_valid;
		a->uclamp_min = want;
		act_record(env, tid, a);
	}
	if (set_uclamp_min(tid, perf ? want : a->saved_uclamp_min) &&
	    errno != ESRCH) {
		if (perf)
			*a = before;
		return -errno;
	}
	a->perf = perf;
	a->uclamp_min = want;
	if (!perf)
		a->saved_valid = 0;
	return 0;
}

static void uclamp_describe(const struct vcpufreq_action *a, char *buf,
			    size_t len)
{
	if (a->saved_valid)
		snprintf(buf, len, "uclamp_min %u", a->uclamp_min);
	else
		snprintf(buf, len, "-");
}

static void uclamp_describe_json(const struct vcpufreq_action *a,
				 struct json *j)
{
	if (a->saved_valid)
		json_kuint(j, "uclamp_min", a->uclamp_min);
}

const struct actuator act_uclamp = {
	.name = "uclamp",
	.backend = VCPUFREQ_BACKEND_UCLAMP,
	.probe = uclamp_probe,
	.apply = uclamp_apply,
	.describe = uclamp_describe,
	.describe_json = uclamp_describe_json,
};
