/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The broker: the agent's unix socket through which VMMs that are not
 * root register their vCPU threads and send requests.  Each connection
 * may steer only the threads of its own VM (see grants.h); the maps stay
 * root-only.  Its work per call is bounded, so a flood of messages can
 * delay requests but never the agent's signals.
 */
#ifndef VCPUFREQ_BROKER_H
#define VCPUFREQ_BROKER_H

#include <stdbool.h>
#include <linux/types.h>
#include "vcpufreq/abi.h"

struct broker;

/*
 * What the broker needs of whoever runs it (the agent): where its lines
 * go (the broker limits them per uid itself)
 */
struct broker_ops {
	void (*log)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
};

/* listening on the socket for the pin dir in use; NULL with Error: */
struct broker *broker_open(const char *state_dir, int requests_fd,
			   struct vcpufreq_stats *stats,
			   const struct broker_ops *ops);
void broker_close(struct broker *b);

/*
 * Add the listening socket to @ep_fd; every epoll event whose data.ptr
 * is not one of the agent's own goes to broker_event().
 */
int broker_watch(struct broker *b, int ep_fd);
void broker_event(struct broker *b, void *ptr, __u32 events);
/*
 * Apply coalesced requests within the rate limits; true when some wait
 * (call again in BROKER_RETRY_MS)
 */
bool broker_apply(struct broker *b);
#define BROKER_RETRY_MS	10
/*
 * Read the grants again (`grant` sent SIGHUP): a revoked user's
 * connections are closed and its registrations dropped
 */
void broker_reload(struct broker *b);
/* requests[tid] is gone (exit, drop): the registration with it */
void broker_forget(struct broker *b, __u32 tid);

#endif
