// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* observe: track and report only; the host is never changed. */
#include <stdio.h>
#include "actuator.h"

static int observe_probe(const struct act_env *env, char *why, size_t len)
{
	return 0;
}

static int observe_apply(struct act_env *env, __u32 tid, __u32 perf,
			 struct vcpufreq_action *a)
{
	a->perf = perf;
	return 0;
}

static void observe_describe(const struct vcpufreq_action *a, char *buf,
			     size_t len)
{
	snprintf(buf, len, "observe (no change)");
}

const struct actuator act_observe = {
	.name = "observe",
	.backend = VCPUFREQ_BACKEND_OBSERVE,
	.probe = observe_probe,
	.apply = observe_apply,
	.describe = observe_describe,
};
