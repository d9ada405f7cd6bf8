// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench-request [PIN_DIR]: what one vCPU request costs the VMM.
 *   fast path   vcpufreq_request() into the registered thread's slot
 *   bpf()       bpf_map_update_elem() of requests[TID] (the syscall path)
 *   setattr     sched_setattr() on the thread, what crosvm does per request
 * Each figure is the median over batches of the per-call average; the
 * ratios are against the fast path measured in the same run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/sched.h>
#include <bpf/bpf.h>
#include "vcpufreq/abi.h"
#include "vcpufreq/vcpufreq.h"
#include "tool.h"

#define BATCHES 101

static double now_ns_d(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

typedef int (*request_fn)(void *ctx, unsigned int i);

/* median over BATCHES of the average ns per call in a batch of @n */
static double measure(request_fn fn, void *ctx, unsigned int n)
{
	double batch[BATCHES];

	for (int b = 0; b < BATCHES; b++) {
		double t0 = now_ns_d();

		for (unsigned int i = 0; i < n; i++)
			if (fn(ctx, i)) {
				fprintf(stderr, "request failed: %s\n", strerror(errno));
				exit(1);
			}
		batch[b] = (now_ns_d() - t0) / n;
	}
	qsort(batch, BATCHES, sizeof(double), cmp_double);
	return batch[BATCHES / 2];
}

struct ctx {
	struct vcpufreq *vf;
	int requests_fd;
	__u32 tid;
	struct vcpufreq_request req;
	struct sched_attr_v1 attr;
};

static int fast_path(void *p, unsigned int i)
{
	struct ctx *c = p;

	return vcpufreq_request(c->vf, c->tid, i & 1023, i & 1023);
}

static int map_update(void *p, unsigned int i)
{
	struct ctx *c = p;

	c->req.perf = i & 1023;
	return bpf_map_update_elem(c->requests_fd, &c->tid, &c->req, BPF_ANY);
}

static int setattr(void *p, unsigned int i)
{
	struct ctx *c = p;

	return syscall(SYS_sched_setattr, 0, &c->attr, 0);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : VCPUFREQ_PIN_DIR;
	struct ctx c = { .tid = gettid() };
	char path[512];
	double fast, upd, sa;
	int ret;

	ret = vcpufreq_open(dir, &c.vf);
	if (!ret)
		ret = vcpufreq_register(c.vf, c.tid, 1, 0);
	if (ret) {
		fprintf(stderr, "Error: %s; load vcpufreq-bpf first\n",
			vcpufreq_strerror(ret));
		return 1;
	}
	if (!vcpufreq_fast_path(c.vf)) {
		fprintf(stderr, "Error: no fast path (slots not mappable)\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, VCPUFREQ_PIN_REQUESTS);
	c.requests_fd = bpf_obj_get(path);
	c.req.vm_id = 1;
	/* uclamp_min when the kernel has it, else a plain SCHED_OTHER set */
	c.attr = (struct sched_attr_v1){ .size = sizeof(c.attr),
		.sched_flags = SCHED_FLAG_KEEP_ALL | SCHED_FLAG_UTIL_CLAMP_MIN };
	bool uclamp = !setattr(&c, 0);
	if (!uclamp)
		c.attr = (struct sched_attr_v1){ .size = sizeof(c.attr) };

	fast = measure(fast_path, &c, 100000);
	upd = measure(map_update, &c, 2000);
	sa = measure(setattr, &c, 2000);
	printf("%-36s %10s %10s\n", "request path (median per request)", "ns",
	       "x fast");
	printf("%-36s %10.1f %10.1f\n", "libvcpufreq fast path (store)", fast, 1.0);
	printf("%-36s %10.1f %10.1f\n", "bpf() map update", upd, upd / fast);
	printf("%-36s %10.1f %10.1f\n", uclamp ? "sched_setattr (uclamp_min)" :
	       "sched_setattr (no uclamp: SCHED_OTHER)", sa, sa / fast);
	printf("targets: fast path <= 20 ns: %s; >= 30x cheaper than bpf(): %s, "
	       "than sched_setattr: %s\n", fast <= 20 ? "met" : "MISSED",
	       upd / fast >= 30 ? "met" : "MISSED", sa / fast >= 30 ? "met" : "MISSED");
	vcpufreq_unregister(c.vf, c.tid);
	vcpufreq_close(c.vf);
	close(c.requests_fd);
	return 0;
}
