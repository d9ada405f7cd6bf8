// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The guest tasks of each workload, as step functions: each call says
 * what the task does next (run N work units, sleep until a time, block
 * until woken, exit).  A unit is --unit-ns of work at the reference speed
 * (50 us by default); the sizes below are in units of 50 us, chosen so
 * that on 4 vCPUs a workload needs 0.6..1.0 host CPU at full speed and
 * several times that at the lowest frequencies, so frequency shows.
 *
 *   io     fio-like random 4 KiB reads at iodepth 1, numjobs = one per
 *          vCPU pair (a job per vCPU would leave no idle vCPU to migrate
 *          to).  An op: submit (1 unit: syscall, block layer, doorbell),
 *          the device (250 us, like null_blk completion_nsec, in iowait,
 *          so the vCPU halts), completion (1 unit: interrupt, wakeup,
 *          copy).  About 0.3 CPU per job at full speed: the device time
 *          dominates, as in 4 KiB random reads, so the host sees a vCPU
 *          that is mostly halted.
 *   frame  inference/frame-like: every 16 ms a leader (1 unit) releases a
 *          frame of 256 units in 16 chunks, one per worker task; free
 *          vCPUs pull waiting workers, so workers (and their util) move
 *          between vCPUs; the frame ends when the last chunk does.
 *          12.8 ms of work per 16 ms: 0.8 CPU.
 *   mixed  rt-app's Android browser/video shape: a UI task every 16.7 ms
 *          (40 units) wakes a render task (100 units), the frame ends when
 *          render does (a jank when over the period); a background task
 *          does I/O: 4 units then a 1 ms device wait.  About 0.6 CPU.
 *          UI and render start on the last two vCPUs (big on a mirrored
 *          big.LITTLE host, where Android puts the top app), background
 *          on vCPU 0 (little).
 *   hog    one task runs flat out on vCPU 0 for half the run, then wakes
 *          for 1 unit every 100 ms (a mostly idle guest): the request
 *          stream shows the ramp up and the fall back.
 *
 * A frame starts at its period boundary, or when the previous one ended
 * if that was late.  --seed varies the device latencies by up to +-5%.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "lab.h"

#define IO_SUBMIT_UNITS		1
#define IO_COMPLETE_UNITS	1
#define IO_DEVICE_NS		250000ULL
#define IO_BLOCK_BYTES		4096
#define IO_JITTER		0.05

#define FRAME_PERIOD_NS		16000000ULL
#define FRAME_LEAD_UNITS	1
#define FRAME_CHUNKS		16
#define FRAME_CHUNK_UNITS	16

#define UI_PERIOD_NS		16666667ULL
#define UI_UNITS		40
#define RENDER_UNITS		100
#define BG_UNITS		4
#define BG_DEVICE_NS		1000000ULL

#define HOG_CHUNK_UNITS		20
#define HOG_IDLE_WAKE_NS	100000000ULL

struct io_shape { unsigned int submit, complete; uint64_t device_ns; bool bg; };
struct frame_shape { uint64_t period_ns; unsigned int lead, chunk; int workers; };

static const struct io_shape fio_job = {
	IO_SUBMIT_UNITS, IO_COMPLETE_UNITS, IO_DEVICE_NS, false };
static const struct io_shape bg_job = { BG_UNITS, 0, BG_DEVICE_NS, true };
static const struct frame_shape frame_shape = {
	FRAME_PERIOD_NS, FRAME_LEAD_UNITS, FRAME_CHUNK_UNITS, FRAME_CHUNKS };
static const struct frame_shape ui_shape = {
	UI_PERIOD_NS, UI_UNITS, RENDER_UNITS, 1 };

static struct action run(unsigned int units)
{
	return (struct action){ .kind = ACT_RUN, .units = units };
}

static struct action sleep_until(uint64_t t, bool iowait)
{
	return (struct action){ .kind = ACT_SLEEP, .until = t, .iowait = iowait };
}

static struct action block(void)
{
	return (struct action){ .kind = ACT_BLOCK };
}

void workload_record_latency(struct lab *lab, uint64_t ns)
{
	if (lab->nr_lat == lab->cap_lat) {
		size_t n = lab->cap_lat ? 2 * lab->cap_lat : 4096;
		double *p = realloc(lab->lat_us, n * sizeof(*p));

		if (!p)
			return;
		lab->lat_us = p;
		lab->cap_lat = n;
	}
	lab->lat_us[lab->nr_lat++] = ns / 1e3;
}

/* ---- io ------------------------------------------------------------------ */

static uint64_t device_ns(struct task *t, uint64_t ns)
{
	double r = (double)rand_r(&t->seed) / RAND_MAX;

	return ns * (1 - IO_JITTER + 2 * IO_JITTER * r);
}

static struct action io_step(struct lab *lab, struct task *t, int vcpu,
			     uint64_t now)
{
	const struct io_shape *s = t->param;

	switch (t->phase++) {
	case 0:
		t->t0 = now;
		return run(s->submit);
	case 1:
		return sleep_until(now + device_ns(t, s->device_ns), true);
	case 2:
		return run(s->complete);
	default:
		if (s->bg) {
			lab->bg_ops++;
		} else {
			lab->ops++;
			workload_record_latency(lab, now - t->t0);
		}
		t->phase = 0;
		return io_step(lab, t, vcpu, now);
	}
}

/* ---- frame pipeline: a leader and its workers ---------------------------- */

static struct action leader_step(struct lab *lab, struct task *t, int vcpu,
				 uint64_t now)
{
	const struct frame_shape *s = t->param;
	uint64_t latency;

	switch (t->phase) {
	case 0:			/* the first frame is one period in */
		t->t0 = s->period_ns;
		t->phase = 1;
		return sleep_until(t->t0, false);
	case 1:			/* the frame starts: prepare it */
		lab->frame_start = t->t0;
		t->phase = 2;
		return run(s->lead);
	case 2:			/* hand out the chunks, wait for the last */
		lab->frame_left = s->workers;
		for (int i = 0; i < lab->nr_tasks; i++) {
			if (lab->tasks[i].param == s && &lab->tasks[i] != t)
				lab_wake(lab, &lab->tasks[i], vcpu, false);
		}
		t->phase = 3;
		return block();
	default:		/* all chunks done */
		latency = now - lab->frame_start;
		workload_record_latency(lab, latency);
		lab->frames++;
		if (latency > s->period_ns)
			lab->misses++;
		t->t0 = lab->frame_start + s->period_ns;
		t->phase = 1;
		if (t->t0 <= now) {
			t->t0 = now;
			return leader_step(lab, t, vcpu, now);
		}
		return sleep_until(t->t0, false);
	}
}

/* a worker starts blocked: the leader wakes it for each frame */
static struct action worker_step(struct lab *lab, struct task *t, int vcpu,
				 uint64_t now)
{
	const struct frame_shape *s = t->param;

	if (t->phase == 0) {
		t->phase = 1;
		return run(s->chunk);
	}
	if (--lab->frame_left == 0)
		lab_wake(lab, lab->leader, vcpu, false);
	t->phase = 0;
	return block();
}

/* ---- hog ----------------------------------------------------------------- */

static struct action hog_step(struct lab *lab, struct task *t, int vcpu,
			      uint64_t now)
{
	if (now < lab->seconds * 1e9 / 2)
		return run(HOG_CHUNK_UNITS);
	t->phase = !t->phase;
	return t->phase ? sleep_until(now + HOG_IDLE_WAKE_NS, false) : run(1);
}

/* ---- setup --------------------------------------------------------------- */

static struct task *add_task(struct lab *lab, const char *name, step_fn step,
			     const void *param, int home)
{
	struct task *t = &lab->tasks[lab->nr_tasks];

	*t = (struct task){ .id = lab->nr_tasks, .name = name, .step = step,
			    .param = param, .home = home % lab->nr_vcpus,
			    .state = T_SLEEPING,
			    .seed = lab->seed * 7919 + lab->nr_tasks };
	lab->nr_tasks++;
	return t;
}

static void add_frame_pipeline(struct lab *lab, const struct frame_shape *s,
			       const char *leader, const char *worker, int home)
{
	lab->frame_period = s->period_ns;
	lab->leader = add_task(lab, leader, leader_step, s, home);
	for (int i = 0; i < s->workers; i++)
		add_task(lab, worker, worker_step, s, home + 1 + i)->blocked = true;
}

int workload_setup(struct lab *lab)
{
	int max = FRAME_CHUNKS + 2 + lab->nr_vcpus;

	lab->tasks = calloc(max, sizeof(*lab->tasks));
	lab->gm.tasks = calloc(max, sizeof(*lab->gm.tasks));
	if (!lab->tasks || !lab->gm.tasks)
		return -ENOMEM;
	switch (lab->workload) {
	case WL_IO:
		for (int j = 0; j < (lab->nr_vcpus + 1) / 2; j++)
			add_task(lab, "fio", io_step, &fio_job, 2 * j);
		break;
	case WL_FRAME:
		add_frame_pipeline(lab, &frame_shape, "frame", "chunk", 0);
		break;
	case WL_MIXED:
		/* foreground on the last (big) vCPUs, background on vCPU 0 */
		add_frame_pipeline(lab, &ui_shape, "ui", "render",
				   lab->nr_vcpus >= 2 ? lab->nr_vcpus - 2 : 0);
		add_task(lab, "bg-io", io_step, &bg_job, 0);
		break;
	case WL_HOG:
		add_task(lab, "hog", hog_step, NULL, 0);
		break;
	}
	lab->gm.nr_tasks = lab->nr_tasks;
	return 0;
}

const char *workload_name(enum lab_workload w)
{
	static const char *const names[] = { "io", "frame", "mixed", "hog" };

	return names[w];
}
