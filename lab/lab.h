/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * lab-guest: a VM played by a process.  Its threads are the vCPU threads;
 * the guest kernel (tasks, runqueues, timers, schedutil) is modelled in
 * them, and every request leaves through the real pipeline.
 *
 *   vcpu.c       the guest scheduler and the vCPU threads: run work units,
 *                halt when idle, write the guest's frequency requests
 *   native.c     --mode native: each task a thread of the kernel it runs on
 *   clock.c      lab time, the work unit and its calibration
 *   workloads.c  the guest tasks of each workload (fio shapes, inference,
 *                pcmark, game; the first lab's io, frame, mixed, hog)
 *   lab-guest.c  the command line, the VMM setup and the report
 *
 * Built twice: build/lab-guest (every mode), and with LAB_NO_VMM for an
 * arm64 guest (build/lab/arm64/lab-guest, --mode native only): the same
 * workloads as threads of a real guest kernel (lab/fidelity.sh).
 */
#ifndef LAB_H
#define LAB_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "guestmodel.h"

struct vcpufreq;
struct vcpufreq_dev;

#define VM_ID		1	/* the VM id the vCPUs register under */

enum lab_mode { MODE_NONE, MODE_HINTS, MODE_CROSVM, MODE_CROSVM68,
		MODE_BOOST, MODE_NATIVE };
enum lab_workload {
	WL_IO, WL_FRAME, WL_MIXED, WL_HOG,
	WL_SEQ_READ_QD1, WL_SEQ_READ_QD8, WL_RAND_READ_QD1, WL_RAND_READ_QD8,
	WL_SEQ_WRITE_QD1, WL_SEQ_WRITE_QD8, WL_RAND_WRITE_QD1, WL_RAND_WRITE_QD8,
	WL_INFER_CACHED, WL_INFER_SMALL, WL_INFER_LARGE, WL_PCMARK, WL_GAME,
	WL_COUNT
};
#define IO_MAX_QD	8
/* the PCMark-like mix's phases, each a score of its own */
enum pc_phase { PC_WEB, PC_WRITING, PC_PHOTO, PC_DATA, PC_PHASES };

/* what a guest task does next; its step function says */
enum act_kind { ACT_RUN, ACT_SLEEP, ACT_BLOCK, ACT_EXIT };
struct action {
	enum act_kind kind;
	unsigned int units;	/* ACT_RUN */
	uint64_t until;		/* ACT_SLEEP: wake at (lab time, ns) */
	bool iowait;		/* ACT_SLEEP: a device wait */
};

enum task_state { T_SLEEPING, T_QUEUED, T_RUNNING, T_DONE };

struct lab;
struct task;
struct frame_shape;
typedef struct action (*step_fn)(struct lab *lab, struct task *t, int vcpu,
				 uint64_t now);

struct task {
	int id;
	const char *name;
	step_fn step;
	int home;			/* vCPU of its first wakeup */
	bool blocked;			/* starts blocked, not woken at start */
	enum task_state state;
	unsigned int units_left;	/* of the current ACT_RUN */
	uint64_t wake_at;		/* T_SLEEPING with a timer */
	bool timer_armed, iowait;
	int timer_vcpu;			/* the vCPU whose timer wakes it */
	int rq;				/* T_QUEUED: the vCPU queue it is on */
	bool arrived;			/* queued, enqueue not yet accounted */
	struct task *next;		/* runqueue link */
	/* the workload's own state */
	const void *param;
	int phase;
	uint64_t t0;
	unsigned int seed;
	int nr_inflight;		/* io: ops at the device */
	uint64_t submitted[IO_MAX_QD], done_at[IO_MAX_QD];
	/* --mode native: the task is a host thread of its own */
	pthread_t thread;
	pthread_cond_t wake;
	bool woken;
};

/* a frame or burst pipeline: a leader hands out chunks to workers */
struct pipe {
	const struct frame_shape *s;
	struct task *leader;
	int left;
	uint64_t start;
};

struct vcpu {
	struct lab *lab;
	int index;
	pthread_t thread;
	pthread_cond_t kick;		/* an IPI: work was queued, or stop */
	struct task *cur, *rq_head;
	int nr_queued;
	uint64_t next_tick;
	uint32_t tid;
	unsigned int fmax;		/* guest perf table max */
	uint64_t *busy_ns;		/* per host CPU, nr_host_cpus entries */
	uint64_t units;
};

struct sample { uint64_t t; int vcpu; unsigned int perf, cap; };

struct lab {
	/* configuration */
	enum lab_mode mode;
	enum lab_workload workload;
	int nr_vcpus, nr_host_cpus;
	double seconds;
	uint64_t unit_ns;		/* a unit's duration at the reference */
	uint64_t unit_iters;
	unsigned int seed;
	bool json;
	bool trace;			/* record every request (hog: always) */
	cpu_set_t *affinity;		/* per vCPU, NULL: not pinned */
	/* the VMM side */
	struct vcpufreq *vf;
	struct vcpufreq_dev *dev;
	/* the guest: one lock, as a big kernel lock over all vCPUs */
	pthread_mutex_t lock;
	pthread_barrier_t ready;
	struct gm gm;
	struct vcpu *vcpus;
	struct task *tasks;
	int nr_tasks;
	bool started, stop;
	/* wake a task (under the lock): lab_wake (the VM) or the native one */
	void (*wake)(struct lab *lab, struct task *t, int waker, bool iowait);
	struct timespec epoch;		/* lab time 0 */
	uint64_t end;			/* lab time the run stopped */
	/* results, under the lock */
	uint64_t ops, bg_ops, frames, misses;
	double *lat_us;
	size_t nr_lat, cap_lat;
	uint64_t requests, request_sum, host_request_sum;
	struct sample *stream;		/* hog: every request */
	size_t nr_stream, cap_stream;
	int uclamp;			/* 0 n/a, 1 ok, -errno failed */
	int pipeline_err;		/* first error from libvcpufreq */
	/* the PCMark-like mix: per phase, latency sum / count and work */
	double pc_lat_us[PC_PHASES];
	uint64_t pc_n[PC_PHASES], pc_units[PC_PHASES];
	uint64_t io_bytes;
	/* --mode native: busy wall time per host CPU, units run */
	uint64_t *native_busy_ns, native_units;
	/* the workload's shared state */
	struct pipe pipes[2];
	int nr_pipes;
	uint64_t frame_period;
};

/* vcpu.c */
int lab_start_vcpus(struct lab *lab);
void lab_stop_vcpus(struct lab *lab);
void lab_wake(struct lab *lab, struct task *t, int waker, bool iowait);

/* native.c */
int lab_start_native(struct lab *lab);
void lab_stop_native(struct lab *lab);

/* clock.c */
static inline uint64_t lab_ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000ULL + ts->tv_nsec;
}
/*
 * End a work unit of @iters iterations begun at CLOCK_MONOTONIC @start_ns
 * (lab_mono_ns()): getppid(LAB_WORK_MAGIC, iters, start).  The lab host's
 * emulated slow CPU (lab/host) holds the unit until it has taken the time
 * it would on that CPU, whatever the host made the spin itself take;
 * anywhere else getppid ignores the arguments.  The stall is paid inside
 * the unit rather than in a halt that may follow.
 */
#define LAB_WORK_MAGIC	0x1abf0c0d1abf0c0dULL
void lab_work_done(uint64_t iters, uint64_t start_ns);
uint64_t lab_mono_ns(void);
uint64_t lab_now(const struct lab *lab);
uint64_t lab_spin(uint64_t n, uint64_t x);
double lab_calibrate(double ms);

/* workloads.c */
int workload_setup(struct lab *lab);
int workload_pick(const char *name);
bool workload_is_io(enum lab_workload w);
void workload_record_latency(struct lab *lab, uint64_t ns);
const char *workload_name(enum lab_workload w);

#endif
