// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The pinned objects of a load (their paths, the settings and stats maps,
 * a thread's task storage), the state dir, and the refresh iterator.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "base.h"
#include "pins.h"
#include "procstat.h"
#include "vcpufreq/vcpufreq.h"

void pin_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", opts.pin_dir, name);
}

bool is_loaded(void)
{
	char path[PATH_MAX];

	/*
	 * The pin dir, not one pin: a pin removed by hand must not make a
	 * load whose agent still runs look like none (status and unload say
	 * what is missing).  EACCES: there, but not for us (open_pinned_map
	 * will say so).
	 */
	pin_path(path, sizeof(path), VCPUFREQ_PIN_REQUESTS);
	if (access(path, F_OK) == 0 || errno == EACCES)
		return true;
	return access(opts.pin_dir, F_OK) == 0 || errno == EACCES;
}

int pin_dir_ours(void)
{
	struct stat st;
	int ret = vf_pin_dir_check(opts.pin_dir, &st);

	if (ret == -EPERM)
		return err("%s was not created by vcpufreq-bpf (%s, owner uid %u, "
			   "mode %o): someone else's; remove it ('rm -r %s') "
			   "and load again", opts.pin_dir, S_ISDIR(st.st_mode) ?
			   "a directory" : S_ISLNK(st.st_mode) ? "a symlink" :
			   "not a directory", st.st_uid, st.st_mode & 07777,
			   opts.pin_dir);
	return ret ? err("cannot inspect %s: %s", opts.pin_dir,
			 strerror(-ret)) : 0;
}

int open_pinned_map(const char *name)
{
	char path[PATH_MAX];
	int fd;

	if (!is_loaded())
		return err("vcpufreq-bpf is not loaded (no pins under %s); "
			   "run 'vcpufreq-bpf load' first", opts.pin_dir);
	if (geteuid() == 0 && pin_dir_ours())
		return -1;
	pin_path(path, sizeof(path), name);
	fd = bpf_obj_get(path);
	if (fd < 0 && errno == ENOENT)
		return err("%s is missing (removed by hand?): this load is "
			   "damaged; 'vcpufreq-bpf unload' puts the host back, "
			   "then load again", path);
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
	int ret = vcpufreq_refresh(opts.pin_dir);

	return ret ? err("cannot run the refresh iterator under %s: %s",
			 opts.pin_dir, strerror(-ret)) : 0;
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
	snprintf(path, sizeof(path), "%s/%s/refresh_all", opts.pin_dir,
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
	LIBBPF_OPTS(bpf_link_create_opts, link_opts, .iter_info = &linfo,
		    .iter_info_len = sizeof(linfo));
	int prog = refresh_prog_fd(), link, iter;
	char buf[64];

	if (prog < 0)
		return run_refresh_iter();
	link = bpf_link_create(prog, 0, BPF_TRACE_ITER, &link_opts);
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

	snprintf(buf, len, "%s", opts.pin_dir);
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


static void lock_path(char *buf, size_t len)
{
	vf_instance_file(opts.pin_dir, ".lock", buf, len);
}

int instance_lock(void)
{
	char path[PATH_MAX];
	int fd, ret;

	if (state_dir_check(NULL))
		return -EPERM;
	lock_path(path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && (errno == EROFS || errno == EACCES))	/* read-only */
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		ret = -errno;
		err("cannot open the lock %s: %s", path, strerror(-ret));
		return ret;
	}
	if (!flock(fd, LOCK_EX | LOCK_NB)) {
		instance_lock_set_pid(fd, getpid());
		return fd;
	}
	ret = errno == EWOULDBLOCK ? -EAGAIN : -errno;
	close(fd);
	if (ret != -EAGAIN)
		err("cannot lock %s: %s", path, strerror(-ret));
	return ret;
}

void instance_lock_set_pid(int fd, int pid)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%d\n", pid);

	if (ftruncate(fd, 0) || pwrite(fd, buf, n, 0) != n)
		return;	/* the lock holds all the same; unload falls back */
}

int instance_lock_holder(void)
{
	char path[PATH_MAX], line[24];

	lock_path(path, sizeof(path));
	if (vf_read_line(path, line, sizeof(line)))
		return 0;
	return atoi(line);
}

/* every object a load pins (links: the link pins, a directory) */
static const char *const pinned_names[] = {
	VCPUFREQ_PIN_REQUESTS, VCPUFREQ_PIN_CGROUPS, VCPUFREQ_PIN_VCPU_STATE,
	VCPUFREQ_PIN_ACTIONS, VCPUFREQ_PIN_STATS, VCPUFREQ_PIN_SETTINGS,
	VCPUFREQ_PIN_EVENTS, VCPUFREQ_PIN_TID_BITS, VCPUFREQ_PIN_SLOTS,
	VCPUFREQ_PIN_TID_PENDING, VCPUFREQ_PIN_LINKS,
};

int missing_pins(char *buf, size_t len)
{
	char path[PATH_MAX];
	int n = 0;

	*buf = 0;
	for (size_t i = 0; i < sizeof(pinned_names) / sizeof(*pinned_names);
	     i++) {
		pin_path(path, sizeof(path), pinned_names[i]);
		if (!access(path, F_OK) || errno == EACCES)
			continue;
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			 n++ ? ", " : "", pinned_names[i]);
	}
	return n;
}
