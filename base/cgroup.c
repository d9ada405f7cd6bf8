// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* cgroup v2 paths and ids, as the BPF side sees them (kernfs node id). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include "base.h"

/* Where the cgroup v2 hierarchy is mounted ("" when it is not). */
const char *cgroup2_mount(void)
{
	static char mnt[PATH_MAX];
	static bool done;
	char line[4096];
	FILE *f;

	if (done)
		return mnt;
	done = true;
	f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return mnt;
	while (fgets(line, sizeof(line), f)) {
		char point[PATH_MAX], *dash = strstr(line, " - ");

		if (!dash || strncmp(dash + 3, "cgroup2 ", 8))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", point) == 1) {
			snprintf(mnt, sizeof(mnt), "%s", point);
			break;
		}
	}
	fclose(f);
	return mnt;
}

static int cgroup_id_of(const char *path, __u64 *id)
{
	struct {
		struct file_handle fh;
		__u64 id;
	} h = { .fh.handle_bytes = sizeof(__u64) };
	int mount_id;
	struct stat st;

	if (!name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0)) {
		*id = h.id;
		return 0;
	}
	if (stat(path, &st))
		return -errno;
	*id = st.st_ino;
	return 0;
}

/* 0 on cgroup v2, else an Error: naming what @path is instead */
static int check_cgroup2(const char *arg, const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf))
		return err("cannot inspect %s: %s", path, strerror(errno));
	if (sf.f_type == CGROUP2_SUPER_MAGIC)
		return 0;
	if (sf.f_type == CGROUP_SUPER_MAGIC)
		return err("'%s' is a cgroup v1 directory; vcpufreq-bpf works on "
			   "cgroup v2 (mounted at %s)", arg,
			   *cgroup2_mount() ? cgroup2_mount() : "nowhere");
	return err("'%s' is not a cgroup directory; pass a cgroup v2 path "
		   "under %s", arg, *cgroup2_mount() ? cgroup2_mount() : "(none)");
}

static bool on_cgroupfs(const char *path)
{
	struct statfs sf;

	return !statfs(path, &sf) && (sf.f_type == CGROUP2_SUPER_MAGIC ||
				      sf.f_type == CGROUP_SUPER_MAGIC);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/*
 * What names a cgroup is checked where it enters: an empty path would
 * name the mount itself, the root cgroup (every thread on the host), and
 * ".." could climb out of what was meant.
 */
static int cgroup_arg_check(const char *arg)
{
	const char *p = arg;

	if (!*arg)
		return err("an empty cgroup path names no cgroup; give one such "
			   "as /vms/vm1 (the root cgroup is never implied)");
	if (strlen(arg) >= PATH_MAX)
		return err("cgroup path '%.64s...' is longer than %d bytes",
			   arg, PATH_MAX - 1);
	while ((p = strstr(p, ".."))) {
		if ((p == arg || p[-1] == '/') && (!p[2] || p[2] == '/'))
			return err("cgroup path '%s' has a '..' component; give "
				   "the cgroup's own path", arg);
		p += 2;
	}
	return 0;
}

/*
 * @arg is a cgroup v2 directory, or a path relative to the cgroup v2
 * mount ("/vms/vm1").  Fills the canonical absolute @path and the id.
 */
int cgroup_resolve(const char *arg, char *path, size_t len, __u64 *id)
{
	const char *mnt = cgroup2_mount();
	char tried[PATH_MAX + 256];
	char *real;

	if (!*mnt)
		return err("no cgroup v2 hierarchy is mounted; mount one with "
			   "'mount -t cgroup2 none /sys/fs/cgroup/unified'");
	if (cgroup_arg_check(arg))
		return -1;
	snprintf(tried, sizeof(tried), "%s/%s", mnt, arg + (*arg == '/'));
	/* a cgroup directory as given, else the same path below the mount */
	if (is_dir(arg) && (on_cgroupfs(arg) || !is_dir(tried)))
		snprintf(tried, sizeof(tried), "%s", arg);
	else if (!is_dir(tried))
		return err("cgroup '%s' does not exist (looked at %s and %s); "
			   "create it with mkdir first", arg, arg, tried);
	real = realpath(tried, NULL);
	if (!real)
		return err("cannot resolve %s: %s", tried, strerror(errno));
	snprintf(path, len, "%s", real);
	free(real);
	if (check_cgroup2(arg, path))
		return -1;
	if (cgroup_id_of(path, id))
		return err("cannot get the cgroup id of %s", path);
	return 0;
}

/* The thread's cgroup v2 path relative to the mount ("/vms/vm1"). */
int thread_cgroup_path(__u32 tid, char *buf, size_t len)
{
	char file[64], line[PATH_MAX + 8];
	FILE *f;
	int ret = -ENOENT;

	snprintf(file, sizeof(file), "/proc/%u/task/%u/cgroup", tid, tid);
	f = fopen(file, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0;
		snprintf(buf, len, "%s", line + 3);
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}
