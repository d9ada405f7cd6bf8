/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * base/: what the command line (cli/) and the agent (agent/) of
 * vcpufreq-bpf both call, and nothing that calls either: the options of
 * the run, errors, the pinned objects of a load, the state dir, backend
 * names, the refresh iterator, cgroup v2 helpers.
 */
#ifndef VCPUFREQ_BASE_H
#define VCPUFREQ_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "vcpufreq/abi.h"
#include "json.h"
#include "util.h"	/* common/: vf_parse_u32, vf_state_dir, ... */

/* the options of this run (cli/main.c sets them from the command line) */
struct opts {
	const char *pin_dir;	/* --pin-dir, default VCPUFREQ_PIN_DIR */
	const char *topology;	/* --topology override file, or NULL */
	bool json;		/* -j */
	bool pretty;		/* -p (implies -j) */
	const char *prog;	/* argv[0] */
};

extern struct opts opts;

/*
 * "Error: ..." on stderr, or as bpftool under -j/-p: {"error":"..."} on
 * stdout (vf_verror); always returns -1 so callers can `return err(...)`
 */
int err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int parse_tid(const char *s, __u32 *tid);
bool thread_exists(__u32 tid);
bool agent_running(int pid);	/* a live vcpufreq-bpf process */

const char *backend_name(__u32 backend);
int backend_from_name(const char *name);	/* -1 when unknown */

/* pinned objects (pinned.c) */
void pin_path(char *buf, size_t len, const char *name);
int pin_parent(char *buf, size_t len);
int open_pinned_map(const char *name);	/* fd, or -1 with Error: printed */
bool is_loaded(void);
/* 0 when the pin dir is the one load made (root's, 0700), else Error: */
int pin_dir_ours(void);
/*
 * The state dir (NULL: vf_state_dir()), created
 * when missing: 0 when it is a directory of ours that no one else may
 * write, else -1 with Error: (someone else's directory is never used).
 */
int state_dir_check(const char *dir);
/*
 * One agent per pin dir: the agent holds an flock on STATE_DIR/NAME.lock
 * for as long as it runs (a crash releases it), and `load` and `unload`
 * take it before they change anything.  The file holds the pid of whoever
 * holds it (the agent once it runs).  instance_lock: the fd, or -EAGAIN
 * while someone holds it, or another -errno with Error: printed.
 */
int instance_lock(void);
void instance_lock_set_pid(int fd, int pid);
int instance_lock_holder(void);	/* the pid in the file, or 0 */
/* the pins a load makes that are not there: how many, their names in @buf */
int missing_pins(char *buf, size_t len);
int read_settings(struct vcpufreq_config *cfg);
int write_settings(const struct vcpufreq_config *cfg);
int read_stats(struct vcpufreq_stats *st);
int run_refresh_iter(void);		/* re-decide every thread's verdict */
int run_refresh_iter_tid(__u32 tid);	/* the same for one thread */
int read_vcpu_state(int state_fd, __u32 tid, struct vcpufreq_vcpu *s);

/* cgroup v2 helpers (cgroup.c) */
int cgroup_resolve(const char *arg, char *path, size_t len, __u64 *id);
int thread_cgroup_path(__u32 tid, char *buf, size_t len);
const char *cgroup2_mount(void);

#endif
