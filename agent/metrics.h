/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef VCPUFREQ_METRICS_H
#define VCPUFREQ_METRICS_H

#include <linux/types.h>
#include "actuator.h"

/*
 * The agent's metrics, in the Prometheus text format, for node_exporter's
 * textfile collector: METRICS_FILE in a directory the admin names
 * (`load --metrics DIR`), rewritten atomically every METRICS_INTERVAL_MS,
 * removed when the agent stops.  Off unless a directory is given.
 */
#define METRICS_FILE		"vcpufreq-bpf.prom"
#define METRICS_INTERVAL_MS	5000

/* before the agent starts: DIR must be a directory; 0, or -1 with Error: */
int metrics_configure(const char *dir);

/* the agent's loop, each turn: the file, if METRICS_INTERVAL_MS passed */
void metrics_pass(const struct vcpufreq_stats *stats,
		  const struct actuator *act, int requests_fd, int state_fd,
		  int actions_fd);

/* the sched_ext scheduler was ejected: one more for the counter */
void metrics_ejected(void);

/* the agent stops: its figures go with it */
void metrics_stop(void);

#endif
