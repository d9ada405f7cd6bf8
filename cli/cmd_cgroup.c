// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * enroll / leave.  The BPF side sees the cgroups map change, and the task
 * iterator run here re-decides every requested thread at once, so the
 * agent boosts or restores them right away, not at their next switch-in.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "cli.h"

/*
 * leave of a cgroup that was removed since it was enrolled: its entry is
 * found by the path enroll saved (as given, or below the cgroup2 mount)
 */
static bool find_enrolled_path(int fd, const char *arg, __u64 *id,
			       char *path, size_t len)
{
	struct vcpufreq_cgroup val;
	char below[PATH_MAX + 256];
	__u64 key, *prev = NULL;

	snprintf(below, sizeof(below), "%s/%s", cgroup2_mount(),
		 arg + (*arg == '/'));
	while (!bpf_map_get_next_key(fd, prev, &key)) {
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val))
			continue;
		val.path[sizeof(val.path) - 1] = 0;
		if (*arg && (!strcmp(val.path, arg) || !strcmp(val.path, below))) {
			*id = key;
			snprintf(path, len, "%s", val.path);
			return true;
		}
	}
	return false;
}

static bool gone_dir(const char *arg)
{
	char below[PATH_MAX + 256];

	snprintf(below, sizeof(below), "%s/%s", cgroup2_mount(),
		 arg + (*arg == '/'));
	return access(arg, F_OK) && access(below, F_OK);
}

static int cgroup_cmd(int argc, char **argv, bool enroll)
{
	struct vcpufreq_cgroup val = { 0 };
	char path[PATH_MAX];
	struct timespec ts;
	__u64 id;
	int fd, ret;

	if (argc != 2)
		return err("usage: vcpufreq-bpf %s CGROUP (a cgroup v2 path)",
			   argv[0]);
	fd = open_pinned_map(VCPUFREQ_PIN_CGROUPS);
	if (fd < 0)
		return -1;
	if ((enroll || !gone_dir(argv[1]) ||
	     !find_enrolled_path(fd, argv[1], &id, path, sizeof(path))) &&
	    cgroup_resolve(argv[1], path, sizeof(path), &id)) {
		close(fd);
		return -1;
	}
	if (enroll && strlen(path) >= sizeof(val.path)) {
		close(fd);
		return err("cgroup path %s is longer than %zu bytes", path,
			   sizeof(val.path) - 1);
	}
	if (enroll) {
		clock_gettime(CLOCK_REALTIME, &ts);
		val.enrolled_ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
		memcpy(val.path, path, strlen(path) + 1);
		ret = bpf_map_update_elem(fd, &id, &val, BPF_ANY);
	} else {
		ret = bpf_map_delete_elem(fd, &id);
	}
	close(fd);
	if (ret && !enroll && errno == ENOENT)
		return err("cgroup %s is not enrolled; 'vcpufreq-bpf status' "
			   "lists the enrolled ones", path);
	if (ret)
		return err("cannot %s %s: %s%s", argv[0], path, strerror(errno),
			   errno == E2BIG ? " (too many enrolled cgroups)" : "");
	if (run_refresh_iter())
		return -1;
	note("%s: %s (cgroup id %llu)", enroll ? "enrolled" : "left", path,
	     (unsigned long long)id);
	return 0;
}

int cmd_enroll(int argc, char **argv)
{
	return cgroup_cmd(argc, argv, true);
}

int cmd_leave(int argc, char **argv)
{
	return cgroup_cmd(argc, argv, false);
}
