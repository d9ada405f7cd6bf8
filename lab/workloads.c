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
 * The effect lab's workloads, shaped after the seed's table (io, frame and
 * mixed above are the first lab's):
 *
 *   {seq,rand}-{read,write}-qd{1,8}  fio's shapes: 4 KiB, one job per vCPU
 *          pair, iodepth 1 or 8 (a job submits until QD ops are at the
 *          device, waits in iowait for the first completion, reaps every
 *          completed op, submits again).  Per op (assumed figures, 50 us
 *          units): read 1 unit submit + 1 completion; write 2 + 1 (the
 *          data is copied in).  Device time (assumed, UFS-like): seq read
 *          100 us, rand read 250 us, seq write 60 us, rand write 150 us;
 *          ops at the device overlap (a queue).
 *   infer-{cached,small,large}  a burst after idle: a leader (1 unit)
 *          hands 4 workers 10 / 50 / 200 units each, the burst ends with
 *          the last; 200 ms idle follows (PELT decays to ~1 %), as the
 *          seed's cached / small / large sample inference.
 *   pcmark  PCMark-like: four phases of 250 ms in turn -- web (UI 20
 *          units + render 60 per 16.7 ms frame), writing (QD1 I/O: 2
 *          units, 300 us device, 1 unit), photo (bursts of 4 x 60 units,
 *          100 ms apart), data (20-unit chunks with 2 ms waits); each
 *          phase scores work per second or 1 / latency.
 *   game   a game loop at 60 FPS: a main thread (100 units of logic)
 *          then 2 render workers (120 units each) per frame; a late
 *          frame delays the next (FPS, and frames per mAh in the report).
 *
 * A frame starts at its period boundary, or when the previous one ended
 * if that was late.  --seed varies the device latencies by up to +-5%.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

#define INFER_GAP_NS		200000000ULL
#define INFER_WORKERS		4
#define PC_PHASE_NS		250000000ULL
#define PC_DATA_UNITS		20
#define PC_DATA_WAIT_NS		2000000ULL
#define MAX_WORKERS		16

struct io_shape {
	unsigned int submit, complete;
	uint64_t device_ns;
	int qd;
	bool bg;
	int phase;		/* pcmark: the phase it runs in, else -1 */
};
struct frame_shape {
	uint64_t period_ns;	/* frames start on this period ... */
	uint64_t gap_ns;	/* ... or this long after the last ended */
	unsigned int lead, chunk;
	int workers;
	int phase;		/* pcmark: the phase it runs in, else -1 */
};

static const struct io_shape fio_job = {
	IO_SUBMIT_UNITS, IO_COMPLETE_UNITS, IO_DEVICE_NS, 1, false, -1 };
static const struct io_shape bg_job = { BG_UNITS, 0, BG_DEVICE_NS, 1, true, -1 };
static const struct io_shape fio_shapes[8] = {
	[WL_SEQ_READ_QD1 - WL_SEQ_READ_QD1]   = { 1, 1, 100000, 1, false, -1 },
	[WL_SEQ_READ_QD8 - WL_SEQ_READ_QD1]   = { 1, 1, 100000, 8, false, -1 },
	[WL_RAND_READ_QD1 - WL_SEQ_READ_QD1]  = { 1, 1, 250000, 1, false, -1 },
	[WL_RAND_READ_QD8 - WL_SEQ_READ_QD1]  = { 1, 1, 250000, 8, false, -1 },
	[WL_SEQ_WRITE_QD1 - WL_SEQ_READ_QD1]  = { 2, 1, 60000, 1, false, -1 },
	[WL_SEQ_WRITE_QD8 - WL_SEQ_READ_QD1]  = { 2, 1, 60000, 8, false, -1 },
	[WL_RAND_WRITE_QD1 - WL_SEQ_READ_QD1] = { 2, 1, 150000, 1, false, -1 },
	[WL_RAND_WRITE_QD8 - WL_SEQ_READ_QD1] = { 2, 1, 150000, 8, false, -1 },
};
static const struct io_shape pc_writing = { 2, 1, 300000, 1, false, PC_WRITING };
static const struct frame_shape frame_shape = {
	FRAME_PERIOD_NS, 0, FRAME_LEAD_UNITS, FRAME_CHUNK_UNITS, FRAME_CHUNKS, -1 };
static const struct frame_shape ui_shape = {
	UI_PERIOD_NS, 0, UI_UNITS, RENDER_UNITS, 1, -1 };
static const struct frame_shape infer_shapes[3] = {
	{ 0, INFER_GAP_NS, 1, 10, INFER_WORKERS, -1 },
	{ 0, INFER_GAP_NS, 1, 50, INFER_WORKERS, -1 },
	{ 0, INFER_GAP_NS, 1, 200, INFER_WORKERS, -1 },
};
static const struct frame_shape pc_web = { UI_PERIOD_NS, 0, 20, 60, 1, PC_WEB };
static const struct frame_shape pc_photo = { 0, 100000000ULL, 1, 60, 4, PC_PHOTO };
static const struct frame_shape game_shape = { UI_PERIOD_NS, 0, 100, 120, 2, -1 };

static const char *const wl_names[WL_COUNT] = {
	"io", "frame", "mixed", "hog",
	"seq-read-qd1", "seq-read-qd8", "rand-read-qd1", "rand-read-qd8",
	"seq-write-qd1", "seq-write-qd8", "rand-write-qd1", "rand-write-qd8",
	"infer-cached", "infer-small", "infer-large", "pcmark", "game",
};

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

/* pcmark: in its phase, or the time its phase comes round again */
static bool in_phase(int phase, uint64_t now, uint64_t *next)
{
	uint64_t cycle = PC_PHASES * PC_PHASE_NS, base = now - now % cycle;

	if (phase < 0 || (int)(now % cycle / PC_PHASE_NS) == phase)
		return true;
	*next = base + phase * PC_PHASE_NS;
	if (*next <= now)
		*next += cycle;
	return false;
}

static void pc_score(struct lab *lab, int phase, double lat_us, uint64_t units)
{
	if (phase < 0)
		return;
	lab->pc_lat_us[phase] += lat_us;
	lab->pc_n[phase]++;
	lab->pc_units[phase] += units;
}

/* ---- io: a fio job at its iodepth ---------------------------------------- */

static uint64_t device_ns(struct task *t, uint64_t ns)
{
	double r = (double)rand_r(&t->seed) / RAND_MAX;

	return ns * (1 - IO_JITTER + 2 * IO_JITTER * r);
}

static struct action io_step(struct lab *lab, struct task *t, int vcpu,
			     uint64_t now)
{
	const struct io_shape *s = t->param;
	uint64_t next = UINT64_MAX;
	int n, k;

	switch (t->phase) {
	case 0:			/* submit until qd ops are at the device */
		if (!t->nr_inflight && !in_phase(s->phase, now, &next))
			return sleep_until(next, false);
		t->t0 = s->qd - t->nr_inflight;
		t->phase = 1;
		return run(t->t0 * s->submit);
	case 1:			/* submitted: the device starts them */
		for (k = 0; k < (int)t->t0; k++) {
			t->submitted[t->nr_inflight] = now;
			t->done_at[t->nr_inflight++] = now + device_ns(t, s->device_ns);
		}
		t->phase = 2;
		/* fall through */
	case 2:			/* wait for the first completion */
		for (k = 0; k < t->nr_inflight; k++)
			next = t->done_at[k] < next ? t->done_at[k] : next;
		t->phase = 3;
		if (next > now)
			return sleep_until(next, true);
		/* fall through */
	default:		/* reap what completed, then submit again */
		for (k = n = 0; k < t->nr_inflight; k++) {
			if (t->done_at[k] > now) {
				t->submitted[n] = t->submitted[k];
				t->done_at[n++] = t->done_at[k];
				continue;
			}
			if (s->bg) {
				lab->bg_ops++;
				continue;
			}
			lab->ops++;
			lab->io_bytes += IO_BLOCK_BYTES;
			workload_record_latency(lab, now - t->submitted[k]);
			pc_score(lab, s->phase, 0, 1);
		}
		k = t->nr_inflight - n;
		t->nr_inflight = n;
		t->phase = 0;
		if (k && s->complete)
			return run(k * s->complete);
		return io_step(lab, t, vcpu, now);
	}
}

/* ---- pipelines: a leader and its workers (frames, bursts) ---------------- */

static struct action leader_step(struct lab *lab, struct task *t, int vcpu,
				 uint64_t now)
{
	struct pipe *p = (struct pipe *)t->param;
	const struct frame_shape *s = p->s;
	uint64_t latency, next;

	switch (t->phase) {
	case 0:			/* the first frame is one period (or gap) in */
		t->t0 = s->period_ns ? s->period_ns : s->gap_ns / 4;
		t->phase = 1;
		return sleep_until(t->t0, false);
	case 1:			/* the frame starts: prepare it */
		if (!in_phase(s->phase, now, &next)) {
			t->t0 = next;
			return sleep_until(next, false);
		}
		p->start = now;
		t->phase = 2;
		return run(s->lead);
	case 2:			/* hand out the chunks, wait for the last */
		p->left = s->workers;
		for (int i = 0; i < lab->nr_tasks; i++) {
			if (lab->tasks[i].param == p && &lab->tasks[i] != t)
				lab->wake(lab, &lab->tasks[i], vcpu, false);
		}
		t->phase = 3;
		return block();
	default:		/* all chunks done */
		latency = now - p->start;
		t->phase = 1;
		if (s->phase >= 0) {
			pc_score(lab, s->phase, latency / 1e3,
				 s->lead + (uint64_t)s->workers * s->chunk);
		} else {
			workload_record_latency(lab, latency);
			lab->frames++;
			if (s->period_ns && latency > s->period_ns)
				lab->misses++;
		}
		if (s->gap_ns) {
			t->t0 = now + s->gap_ns;
			return sleep_until(t->t0, false);
		}
		t->t0 = p->start + s->period_ns;
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
	struct pipe *p = (struct pipe *)t->param;

	if (t->phase == 0) {
		t->phase = 1;
		return run(p->s->chunk);
	}
	if (--p->left == 0)
		lab->wake(lab, p->leader, vcpu, false);
	t->phase = 0;
	return block();
}

/* ---- hog, and pcmark's data phase ---------------------------------------- */

static struct action hog_step(struct lab *lab, struct task *t, int vcpu,
			      uint64_t now)
{
	if (now < lab->seconds * 1e9 / 2)
		return run(HOG_CHUNK_UNITS);
	t->phase = !t->phase;
	return t->phase ? sleep_until(now + HOG_IDLE_WAKE_NS, false) : run(1);
}

static struct action data_step(struct lab *lab, struct task *t, int vcpu,
			       uint64_t now)
{
	uint64_t next;

	if (!in_phase(PC_DATA, now, &next)) {
		t->phase = 0;
		return sleep_until(next, false);
	}
	t->phase = !t->phase;
	if (t->phase)
		return run(PC_DATA_UNITS);
	pc_score(lab, PC_DATA, 0, PC_DATA_UNITS);
	return sleep_until(now + PC_DATA_WAIT_NS, false);
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

static void add_pipeline(struct lab *lab, const struct frame_shape *s,
			 const char *leader, const char *worker, int home)
{
	struct pipe *p = &lab->pipes[lab->nr_pipes++];

	p->s = s;
	if (s->period_ns)
		lab->frame_period = s->period_ns;
	p->leader = add_task(lab, leader, leader_step, p, home);
	for (int i = 0; i < s->workers; i++)
		add_task(lab, worker, worker_step, p, home + 1 + i)->blocked = true;
}

static void add_fio_jobs(struct lab *lab, const struct io_shape *s)
{
	for (int j = 0; j < (lab->nr_vcpus + 1) / 2; j++)
		add_task(lab, "fio", io_step, s, 2 * j);
}

int workload_setup(struct lab *lab)
{
	int max = 2 * MAX_WORKERS + 4 + lab->nr_vcpus;
	int last2 = lab->nr_vcpus >= 2 ? lab->nr_vcpus - 2 : 0;

	lab->tasks = calloc(max, sizeof(*lab->tasks));
	lab->gm.tasks = calloc(max, sizeof(*lab->gm.tasks));
	if (!lab->tasks || !lab->gm.tasks)
		return -ENOMEM;
	switch (lab->workload) {
	case WL_IO:
		add_fio_jobs(lab, &fio_job);
		break;
	case WL_FRAME:
		add_pipeline(lab, &frame_shape, "frame", "chunk", 0);
		break;
	case WL_MIXED:
		/* foreground on the last (big) vCPUs, background on vCPU 0 */
		add_pipeline(lab, &ui_shape, "ui", "render", last2);
		add_task(lab, "bg-io", io_step, &bg_job, 0);
		break;
	case WL_HOG:
		add_task(lab, "hog", hog_step, NULL, 0);
		break;
	case WL_SEQ_READ_QD1 ... WL_RAND_WRITE_QD8:
		add_fio_jobs(lab, &fio_shapes[lab->workload - WL_SEQ_READ_QD1]);
		break;
	case WL_INFER_CACHED ... WL_INFER_LARGE:
		add_pipeline(lab, &infer_shapes[lab->workload - WL_INFER_CACHED],
			     "infer", "infer-worker", 0);
		break;
	case WL_PCMARK:
		add_pipeline(lab, &pc_web, "web-ui", "web-render", last2);
		add_pipeline(lab, &pc_photo, "photo", "photo-worker", 0);
		add_task(lab, "writing", io_step, &pc_writing, 0);
		add_task(lab, "data", data_step, NULL, 1);
		break;
	case WL_GAME:
		add_pipeline(lab, &game_shape, "game-main", "game-render", last2);
		break;
	default:
		return -EINVAL;
	}
	lab->gm.nr_tasks = lab->nr_tasks;
	return 0;
}

bool workload_is_io(enum lab_workload w)
{
	return w == WL_IO || (w >= WL_SEQ_READ_QD1 && w <= WL_RAND_WRITE_QD8);
}

int workload_pick(const char *name)
{
	for (int i = 0; i < WL_COUNT; i++) {
		if (!strcmp(name, wl_names[i]))
			return i;
	}
	return -1;
}

const char *workload_name(enum lab_workload w)
{
	return w < WL_COUNT ? wl_names[w] : "?";
}
