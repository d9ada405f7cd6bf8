// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Errors, argument parsing and access to the pinned objects. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "cli.h"
#include "pins.h"
#include "procstat.h"
#include "vcpufreq/vcpufreq.h"

int err(const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vf_verror(cli.json, cli.pretty, fmt, ap);
	va_end(ap);
	return ret;
}

void note(const char *fmt, ...)
{
	va_list ap;

	if (cli.json)
		return;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

/*
 * The option getopt_long just refused ('?': unknown, ':': no value), as
 * written: a short one by its letter (it may stand in a cluster), a long
 * one (val 256 and up, or unknown: optopt 0) by its whole argument.
 */
const char *refused_option(char **argv)
{
	static char opt[3];

	if (optopt <= 0 || optopt > 255)
		return argv[optind - 1];
	snprintf(opt, sizeof(opt), "-%c", optopt);
	return opt;
}

int parse_tid(const char *s, __u32 *tid)
{
	if (vf_parse_u32(s, tid) || *tid == 0 || *tid > INT_MAX)
		return -EINVAL;
	return 0;
}

/* Threads are visible as /proc/TID even when not listed in /proc. */
bool thread_exists(__u32 tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%u/task/%u", tid, tid);
	return access(path, F_OK) == 0;
}

void pin_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", cli.pin_dir, name);
}

bool is_loaded(void)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), VCPUFREQ_PIN_REQUESTS);
	/* EACCES: there, but not for us (open_pinned_map will say so) */
	return access(path, F_OK) == 0 || errno == EACCES;
}

int pin_dir_ours(void)
{
	struct stat st;
	int ret = vf_pin_dir_check(cli.pin_dir, &st);

	if (ret == -EPERM)
		return err("%s was not created by vcpufreq-bpf (%s, owner uid %u, "
			   "mode %o): someone else's; remove it ('rm -r %s') "
			   "and load again", cli.pin_dir, S_ISDIR(st.st_mode) ?
			   "a directory" : S_ISLNK(st.st_mode) ? "a symlink" :
			   "not a directory", st.st_uid, st.st_mode & 07777,
			   cli.pin_dir);
	return ret ? err("cannot inspect %s: %s", cli.pin_dir,
			 strerror(-ret)) : 0;
}

int open_pinned_map(const char *name)
{
	char path[PATH_MAX];
	int fd;

	if (!is_loaded())
		return err("vcpufreq-bpf is not loaded (no pins under %s); "
			   "run 'vcpufreq-bpf load' first", cli.pin_dir);
	if (geteuid() == 0 && pin_dir_ours())
		return -1;
	pin_path(path, sizeof(path), name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return err("cannot open %s: %s%s", path, strerror(errno),
			   errno == EPERM || errno == EACCES ?
			   " (run as root, or ask for 'vcpufreq-bpf grant')" : "");
	return fd;
}

static int read_single(const char *name, void *value)
{
	__u32 zero = 0;
	int fd = open_pinned_map(name);
	int ret;

	if (fd < 0)
		return -1;
	ret = bpf_map_lookup_elem(fd, &zero, value);
	close(fd);
	if (ret)
		return err("cannot read the %s map: %s", name, strerror(errno));
	return 0;
}

int read_settings(struct vcpufreq_config *cfg)
{
	return read_single(VCPUFREQ_PIN_SETTINGS, cfg);
}

int write_settings(const struct vcpufreq_config *cfg)
{
	__u32 zero = 0;
	int fd, ret;

	fd = open_pinned_map(VCPUFREQ_PIN_SETTINGS);
	if (fd < 0)
		return -1;
	ret = bpf_map_update_elem(fd, &zero, cfg, BPF_ANY);
	close(fd);
	return ret ? err("cannot write settings: %s", strerror(errno)) : 0;
}

int read_stats(struct vcpufreq_stats *st)
{
	return read_single(VCPUFREQ_PIN_STATS, st);
}

/* Run the pinned task iterator once: every tracked thread re-decided. */
int run_refresh_iter(void)
{
	int ret = vcpufreq_refresh(cli.pin_dir);

	return ret ? err("cannot run the refresh iterator under %s: %s",
			 cli.pin_dir, strerror(-ret)) : 0;
}

/*
 * The refresh program from its pinned link, for iterators over one thread
 * (bpf_iter_link_info.task.tid, Linux 6.1): a write is then taken in at
 * the cost of one thread, not of every thread on the host.
 */
static int refresh_prog_fd(void)
{
	static int fd = -1;
	struct bpf_link_info info = { 0 };
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int link;

	if (fd >= 0)
		return fd;
	snprintf(path, sizeof(path), "%s/%s/refresh_all", cli.pin_dir,
		 VCPUFREQ_PIN_LINKS);
	link = bpf_obj_get(path);
	if (link < 0)
		return -1;
	if (!bpf_link_get_info_by_fd(link, &info, &len))
		fd = bpf_prog_get_fd_by_id(info.prog_id);
	close(link);
	return fd;
}

int run_refresh_iter_tid(__u32 tid)
{
	union bpf_iter_link_info linfo = { .task.tid = tid };
	LIBBPF_OPTS(bpf_link_create_opts, opts, .iter_info = &linfo,
		    .iter_info_len = sizeof(linfo));
	int prog = refresh_prog_fd(), link, iter;
	char buf[64];

	if (prog < 0)
		return run_refresh_iter();
	link = bpf_link_create(prog, 0, BPF_TRACE_ITER, &opts);
	if (link < 0)
		return run_refresh_iter();	/* a kernel before 6.1 */
	iter = bpf_iter_create(link);
	close(link);
	if (iter < 0)
		return -1;
	while (read(iter, buf, sizeof(buf)) > 0)
		;
	close(iter);
	return 0;
}

static const char *const backend_names[VCPUFREQ_BACKEND_COUNT] = {
	[VCPUFREQ_BACKEND_NONE] = "none",
	[VCPUFREQ_BACKEND_OBSERVE] = "observe",
	[VCPUFREQ_BACKEND_UCLAMP] = "uclamp",
	[VCPUFREQ_BACKEND_AFFINITY] = "affinity",
	[VCPUFREQ_BACKEND_CPUFREQ] = "cpufreq",
	[VCPUFREQ_BACKEND_SCX] = "scx",
};

const char *backend_name(__u32 backend)
{
	return backend < VCPUFREQ_BACKEND_COUNT ? backend_names[backend] : "?";
}

int backend_from_name(const char *name)
{
	for (int i = 0; i < VCPUFREQ_BACKEND_COUNT; i++)
		if (!strcmp(name, backend_names[i]))
			return i;
	return -1;
}

struct json *cli_json(void)
{
	return cli.json ? json_new(stdout, cli.pretty) : NULL;
}

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

/* Task storage is looked up from user space with a pidfd of the thread. */
int read_vcpu_state(int state_fd, __u32 tid, struct vcpufreq_vcpu *s)
{
	int pidfd = syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	int ret;

	if (pidfd < 0)
		return -errno;
	ret = bpf_map_lookup_elem(state_fd, &pidfd, s) ? -errno : 0;
	close(pidfd);
	return ret;
}

/* The directory the pin dir lives in; -1 when it has none ("/x") */
int pin_parent(char *buf, size_t len)
{
	char *slash;

	snprintf(buf, len, "%s", cli.pin_dir);
	slash = strrchr(buf, '/');
	if (!slash || slash == buf)
		return -1;
	*slash = 0;
	return 0;
}

int state_dir_check(const char *dir)
{
	struct stat st;

	if (!dir)
		dir = vf_state_dir();
	if (mkdir(dir, 0755) && errno != EEXIST)
		return err("cannot create the state dir %s: %s", dir,
			   strerror(errno));
	if (lstat(dir, &st))
		return err("cannot inspect the state dir %s: %s", dir,
			   strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022))
		return err("the state dir %s is not ours (%s, owner uid %u, "
			   "mode %o): remove it, or set VCPUFREQ_STATE_DIR to a "
			   "directory only root can write", dir,
			   S_ISDIR(st.st_mode) ? "a directory" : "not a directory",
			   st.st_uid, st.st_mode & 07777);
	return 0;
}

/*
 * Our agent runs as @pid: a live process (not a zombie waiting for its
 * new parent to reap it) that is vcpufreq-bpf, not whoever got the pid of
 * an agent that died.
 */
bool agent_running(int pid)
{
	char path[64], comm[32], state = 0;
	FILE *f;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (vf_read_line(path, comm, sizeof(comm)) ||
	    strncmp(comm, "vcpufreq-bpf", 12))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
		state = 0;
	fclose(f);
	return state && state != 'Z' && state != 'X';
}
