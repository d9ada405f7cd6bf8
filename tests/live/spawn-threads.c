// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * spawn-threads N [LIFETIME_MS [hog|io|burst|half|long]]: start N real threads that
 * alternate a short busy phase with a 1 ms sleep (so they wake and switch
 * often, as a vCPU thread does), print each TID on its own line, and run
 * until killed; with LIFETIME_MS (0: forever) each thread exits after that
 * long (the process stays, so only the threads go).  "hog": threads that
 * never sleep, a guest running flat out.  "io": 5 ms asleep instead, a
 * vCPU that halts between I/Os (busy a few percent).  "burst": a burst
 * after idle, as an inference request: 200 ms asleep, 100 ms busy, then 20
 * short runs of 0.2 ms 5 ms apart (the busy phase's tail of I/O), again
 * and again.  "half": 20 ms busy, 20 ms asleep, a guest busy half the time
 * in long runs (frames), whose halts are too short to make a burst.
 * "long": 100 ms busy, 150 ms asleep, the same work again and again, whose
 * load at each start the fair class's util_est remembers and PELT has
 * forgotten (it decays to a thirtieth in 150 ms).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long lifetime_ms;
static int hog, burst;
static unsigned int nap_us = 1000;	/* the sleep between busy phases */
static double busy_ms = 0.2;		/* each busy phase */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void spin_ms(double ms)
{
	double until = now_ms() + ms;
	volatile unsigned long spin = 0;

	while (now_ms() < until)
		spin++;
}

static void bursts(double start)
{
	while (!lifetime_ms || now_ms() - start < lifetime_ms) {
		usleep(200 * 1000);
		spin_ms(100);
		for (int i = 0; i < 20; i++) {
			usleep(5000);
			spin_ms(0.2);
		}
	}
}

static void *vcpu(void *arg)
{
	pthread_barrier_t *started = arg;
	double start = now_ms();
	volatile unsigned long spin = 0;

	printf("%d\n", gettid());
	fflush(stdout);
	pthread_barrier_wait(started);
	if (burst) {
		bursts(start);
		return NULL;
	}
	while (!lifetime_ms || now_ms() - start < lifetime_ms) {
		double busy_until = now_ms() + busy_ms;

		while (hog || now_ms() < busy_until) {
			spin++;
			if (hog && !(spin & 0xfffff) && lifetime_ms &&
			    now_ms() - start >= lifetime_ms)
				break;
		}
		if (!hog)
			usleep(nap_us);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_barrier_t started;
	pthread_t *t;
	int n;

	if (argc < 2 || (n = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: spawn-threads N [LIFETIME_MS [hog|io|burst|half|long]]\n");
		return 2;
	}
	lifetime_ms = argc > 2 ? atol(argv[2]) : 0;
	hog = argc > 3 && !strcmp(argv[3], "hog");
	burst = argc > 3 && !strcmp(argv[3], "burst");
	if (argc > 3 && !strcmp(argv[3], "io"))
		nap_us = 5000;
	if (argc > 3 && !strcmp(argv[3], "half"))
		nap_us = 20000, busy_ms = 20;
	if (argc > 3 && !strcmp(argv[3], "long"))
		nap_us = 150000, busy_ms = 100;
	t = calloc(n, sizeof(*t));
	pthread_barrier_init(&started, NULL, n + 1);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, vcpu, &started);
	pthread_barrier_wait(&started);
	for (;;)
		pause();
}
