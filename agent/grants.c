// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The grants store: a root-only file of the state dir, one grant a line.
 * The broker reads it (and again on SIGHUP); `grant` writes it, `status`
 * shows it, `unload` removes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "base.h"
#include "grants.h"

void grants_path(char *buf, size_t len)
{
	vf_instance_file(opts.pin_dir, ".grants", buf, len);
}

/* "user 1001 /vms/vm1 256" or "group 27 - 64" per line */
static bool parse_grant(const char *line, struct grant *g)
{
	char kind[8], cg[sizeof(g->cgroup)];
	int end = 0;

	memset(g, 0, sizeof(*g));
	/* exactly four words: anything else is not a grant we wrote */
	if (sscanf(line, "%7s %u %255s %u %n", kind, &g->id, cg,
		   &g->max_vcpus, &end) != 4 || line[end])
		return false;
	g->group = !strcmp(kind, "group");
	if (strcmp(cg, "-"))
		snprintf(g->cgroup, sizeof(g->cgroup), "%s", cg);
	return g->group || !strcmp(kind, "user");
}

int grants_load(struct grant *g, int max)
{
	char path[PATH_MAX], line[512];
	int fd, n = 0;
	FILE *f;

	grants_path(path, sizeof(path));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -1;
	}
	while (n < max && fgets(line, sizeof(line), f))
		if (parse_grant(line, &g[n]))
			n++;
	fclose(f);
	return n;
}

int grants_save(const struct grant *g, int n)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;
	int fd;

	if (state_dir_check(NULL))
		return -1;
	grants_path(path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f)
		return err("cannot write %s: %s", tmp, strerror(errno));
	for (int i = 0; i < n; i++)
		fprintf(f, "%s %u %s %u\n", g[i].group ? "group" : "user",
			g[i].id, *g[i].cgroup ? g[i].cgroup : "-",
			g[i].max_vcpus);
	if (fclose(f) || rename(tmp, path))
		return err("cannot write %s: %s", path, strerror(errno));
	return 0;
}

void grants_remove(void)
{
	char path[PATH_MAX];

	grants_path(path, sizeof(path));
	unlink(path);
}
