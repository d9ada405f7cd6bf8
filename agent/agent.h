/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef VCPUFREQ_AGENT_H
#define VCPUFREQ_AGENT_H

#include <stdbool.h>
#include "actuator.h"

/*
 * Run the agent until SIGTERM/SIGINT: sleep on the events ring buffer and
 * apply each thread's effective request with @act.  @ready_fd (or -1)
 * gets one byte once the agent listens: the enum vcpufreq_backend in use,
 * which is the next usable one after @act when @act cannot start and
 * @try_next is set (--backend auto).  Restores everything on the way out.
 * Returns 0 or -1.
 */
int agent_run(const struct actuator *act, struct act_env *env, int ready_fd,
	      bool try_next);

/* a line in the agent's log, rate limited (LOG_LINES_PER_S) */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Restore and forget every entry of the actions map (unload, agent exit) */
int restore_all_actions(struct act_env *env);

#endif
