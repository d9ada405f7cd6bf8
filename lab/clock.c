// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Time and work, shared by the VM model (vcpu.c) and the tasks run as
 * threads of the kernel itself (native.c): lab time, the work unit's spin
 * loop and its calibration.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lab.h"

uint64_t lab_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return lab_ts_ns(&ts);
}

void lab_work_done(uint64_t iters, uint64_t start_ns)
{
	syscall(SYS_getppid, LAB_WORK_MAGIC, iters, start_ns);
}

uint64_t lab_now(const struct lab *lab)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return lab_ts_ns(&ts) - lab_ts_ns(&lab->epoch);
}

/* a serial chain of multiply-adds: its wall time follows the CPU's speed */
uint64_t lab_spin(uint64_t n, uint64_t x)
{
	while (n--) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

/* iterations per us, spinning for @ms in declared units as the workloads do */
double lab_calibrate(double ms)
{
	const uint64_t chunk = 100000;	/* the clock reads between are ~1 % */
	struct lab zero = { 0 };
	uint64_t iters = 0, t, start;
	volatile uint64_t sink;

	clock_gettime(CLOCK_MONOTONIC, &zero.epoch);
	do {
		start = lab_mono_ns();
		sink = lab_spin(chunk, iters);
		lab_work_done(chunk, start);
		iters += chunk;
		t = lab_now(&zero);
	} while (t < ms * 1e6);
	(void)sink;
	return iters * 1e3 / t;
}

