// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * standin-vmm: a stand-in for a VMM with N vCPU threads.  Each thread runs
 * a synthetic guest load -- busy and idle phases of its own rhythm -- and,
 * as a guest's schedutil would, asks for performance in proportion to its
 * recent utilization (with schedutil's 25% headroom) through libvcpufreq.
 *
 *   standin-vmm [-n VCPUS] [-t SECONDS] [-p PIN_DIR]
 * Prints "vcpu I tid T" for each vCPU, then runs for SECONDS (0: forever).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "vcpufreq/abi.h"
#include "vcpufreq/vcpufreq.h"

#define WINDOW_MS 20

struct vcpu {
	int index;
	pthread_t thread;
	struct vcpufreq *vf;
	double seconds;
	pthread_barrier_t *registered;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* duty cycle of vCPU @i at time @t_ms: a slow wave, phase shifted per vCPU */
static double guest_load(int i, double t_ms)
{
	double period = 2000 + 700 * i;
	double phase = (t_ms + 400 * i) / period;

	return phase - (long)phase < 0.5 ? 0.9 : 0.1;
}

static void *run_vcpu(void *arg)
{
	struct vcpu *v = arg;
	double start = now_ms();
	volatile unsigned long spin = 0;
	int ret;

	ret = vcpufreq_register(v->vf, gettid(), 1, v->index);
	if (ret)
		fprintf(stderr, "vcpu %d: register: %s\n", v->index,
			vcpufreq_strerror(ret));
	printf("vcpu %d tid %d\n", v->index, gettid());
	fflush(stdout);
	pthread_barrier_wait(v->registered);
	while (!v->seconds || now_ms() - start < v->seconds * 1e3) {
		double t = now_ms(), util = guest_load(v->index, t);
		unsigned int perf;

		while (now_ms() < t + WINDOW_MS * util)
			spin++;
		usleep(WINDOW_MS * (1 - util) * 1000);
		perf = util * 1.25 * VCPUFREQ_PERF_MAX;
		if (perf > VCPUFREQ_PERF_MAX)
			perf = VCPUFREQ_PERF_MAX;
		vcpufreq_request(v->vf, gettid(), perf, perf);
	}
	vcpufreq_unregister(v->vf, gettid());
	return NULL;
}

int main(int argc, char **argv)
{
	const char *pin_dir = NULL;
	pthread_barrier_t registered;
	double seconds = 10;
	struct vcpufreq *vf;
	struct vcpu *v;
	int n = 4, c, ret;

	while ((c = getopt(argc, argv, "n:t:p:h")) != -1) {
		switch (c) {
		case 'n': n = atoi(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 'p': pin_dir = optarg; break;
		default:
			fprintf(stderr, "usage: standin-vmm [-n VCPUS] "
				"[-t SECONDS] [-p PIN_DIR]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (n < 1 || n > 256) {
		fprintf(stderr, "Error: -n takes 1..256 vCPUs\n");
		return 2;
	}
	ret = vcpufreq_open(pin_dir, &vf);
	if (ret) {
		fprintf(stderr, "Error: cannot open the vcpufreq maps: %s; "
			"run 'vcpufreq-bpf load' first\n", vcpufreq_strerror(ret));
		return 1;
	}
	v = calloc(n, sizeof(*v));
	pthread_barrier_init(&registered, NULL, n);
	for (int i = 0; i < n; i++) {
		v[i] = (struct vcpu){ .index = i, .vf = vf, .seconds = seconds,
				      .registered = &registered };
		pthread_create(&v[i].thread, NULL, run_vcpu, &v[i]);
	}
	for (int i = 0; i < n; i++)
		pthread_join(v[i].thread, NULL);
	vcpufreq_close(vf);
	free(v);
	return 0;
}
