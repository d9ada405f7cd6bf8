// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --mode native: the yardstick.  The same guest tasks (workloads.c) run
 * as ordinary host threads, one per task, with no vCPU threads and no
 * guest kernel model: the host's own scheduler places them (EAS,
 * capacity-aware wakeup, misfit) and its schedutil picks their
 * frequencies, as if the work ran on the host itself.  A work unit is the
 * same spin loop ending with a system call; a timed sleep is
 * clock_nanosleep; a device wait is a write to the lab host's
 * /proc/vcpufreq_labio, which sleeps in iowait the way block I/O does
 * (where it is missing, e.g. outside the lab, a plain sleep, said once).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lab.h"

#define LABIO_PATH	"/proc/vcpufreq_labio"

struct native_arg {
	struct lab *lab;
	struct task *t;
};

static struct native_arg *args;
static int labio_fd = -1;

/* lab->wake of the native mode, under the lock: the task's thread goes on */
static void native_wake(struct lab *lab, struct task *t, int waker, bool iowait)
{
	(void)lab;
	(void)waker;
	(void)iowait;
	t->woken = true;
	pthread_cond_signal(&t->wake);
}

static bool stopping(struct lab *lab)
{
	return __atomic_load_n(&lab->stop, __ATOMIC_RELAXED);
}

static void native_sleep(struct lab *lab, uint64_t until, bool iowait)
{
	uint64_t now = lab_now(lab), abs;
	struct timespec ts;
	char buf[32];
	int n;

	if (until <= now)
		return;
	if (iowait && labio_fd >= 0) {
		n = snprintf(buf, sizeof(buf), "%" PRIu64, until - now);
		if (write(labio_fd, buf, n) == n)
			return;
	}
	abs = (uint64_t)lab->epoch.tv_sec * 1000000000ULL + lab->epoch.tv_nsec + until;
	ts.tv_sec = abs / 1000000000ULL;
	ts.tv_nsec = abs % 1000000000ULL;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void native_run(struct lab *lab, unsigned int units, uint64_t *x)
{
	for (unsigned int i = 0; i < units && !stopping(lab); i++) {
		int cpu = sched_getcpu();
		uint64_t a = lab_now(lab), b;

		*x = lab_spin(lab->unit_iters, *x);
		lab_work_done(lab->unit_iters, a + lab_ts_ns(&lab->epoch));
		b = lab_now(lab);
		pthread_mutex_lock(&lab->lock);
		if (cpu >= 0 && cpu < lab->nr_host_cpus)
			lab->native_busy_ns[cpu] += b - a;
		lab->native_units++;
		pthread_mutex_unlock(&lab->lock);
	}
}

static void *native_thread(void *p)
{
	struct lab *lab = ((struct native_arg *)p)->lab;
	struct task *t = ((struct native_arg *)p)->t;
	uint64_t x = t->id + 1;
	struct action a;

	pthread_mutex_lock(&lab->lock);
	while (!lab->started && !lab->stop)
		pthread_cond_wait(&t->wake, &lab->lock);
	if (t->blocked) {
		while (!t->woken && !lab->stop)
			pthread_cond_wait(&t->wake, &lab->lock);
		t->woken = false;
	}
	while (!lab->stop) {
		a = t->step(lab, t, -1, lab_now(lab));
		if (a.kind == ACT_EXIT)
			break;
		if (a.kind == ACT_BLOCK) {
			while (!t->woken && !lab->stop)
				pthread_cond_wait(&t->wake, &lab->lock);
			t->woken = false;
			continue;
		}
		pthread_mutex_unlock(&lab->lock);
		if (a.kind == ACT_RUN)
			native_run(lab, a.units, &x);
		else
			native_sleep(lab, a.until, a.iowait);
		pthread_mutex_lock(&lab->lock);
	}
	pthread_mutex_unlock(&lab->lock);
	return NULL;
}

int lab_start_native(struct lab *lab)
{
	pthread_condattr_t ca;
	int ret;

	labio_fd = open(LABIO_PATH, O_WRONLY | O_CLOEXEC);
	if (labio_fd < 0)
		fprintf(stderr, "lab-guest: %s: %s; device waits are plain sleeps (no iowait)\n",
			LABIO_PATH, strerror(errno));
	lab->native_busy_ns = calloc(lab->nr_host_cpus, sizeof(uint64_t));
	args = calloc(lab->nr_tasks, sizeof(*args));
	if (!lab->native_busy_ns || !args)
		return -ENOMEM;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&lab->lock, NULL);
	lab->wake = native_wake;
	for (int i = 0; i < lab->nr_tasks; i++) {
		pthread_cond_init(&lab->tasks[i].wake, &ca);
		args[i] = (struct native_arg){ lab, &lab->tasks[i] };
	}
	for (int i = 0; i < lab->nr_tasks; i++) {
		ret = pthread_create(&lab->tasks[i].thread, NULL, native_thread, &args[i]);
		if (ret) {
			fprintf(stderr, "Error: cannot create task thread %d: %s\n",
				i, strerror(ret));
			exit(1);
		}
	}
	pthread_mutex_lock(&lab->lock);
	clock_gettime(CLOCK_MONOTONIC, &lab->epoch);
	lab->started = true;
	for (int i = 0; i < lab->nr_tasks; i++)
		pthread_cond_signal(&lab->tasks[i].wake);
	pthread_mutex_unlock(&lab->lock);
	return 0;
}

void lab_stop_native(struct lab *lab)
{
	pthread_mutex_lock(&lab->lock);
	lab->stop = true;
	lab->end = lab_now(lab);
	for (int i = 0; i < lab->nr_tasks; i++)
		pthread_cond_signal(&lab->tasks[i].wake);
	pthread_mutex_unlock(&lab->lock);
	for (int i = 0; i < lab->nr_tasks; i++)
		pthread_join(lab->tasks[i].thread, NULL);
	if (labio_fd >= 0)
		close(labio_fd);
	free(args);
}
