// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What the commands share beyond base/: notes, refused options, -j. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "cli.h"

void note(const char *fmt, ...)
{
	va_list ap;

	if (opts.json)
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

struct json *cli_json(void)
{
	return opts.json ? json_new(stdout, opts.pretty) : NULL;
}

/*
 * --topology FILE where it enters: not empty, a regular file (a FIFO
 * would block us forever: opened without blocking and refused), at most
 * TOPOLOGY_MAX_BYTES; opts.topology becomes its canonical path, so a
 * relative one means the same file whatever the directory of whoever
 * reads it later.  @text (optional, TOPOLOGY_MAX_BYTES + 1): its contents,
 * read from the file that was checked.
 */
int topology_checked(char *text, size_t *n)
{
	static char canon[PATH_MAX];
	const char *arg = opts.topology;
	struct stat st;
	ssize_t got;
	int fd;

	if (!*arg)
		return err("--topology needs a file; an empty path names none");
	if (strlen(arg) >= PATH_MAX)
		return err("--topology path is longer than %d bytes", PATH_MAX - 1);
	fd = open(arg, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return err("--topology %s: %s", arg, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    st.st_size > TOPOLOGY_MAX_BYTES) {
		close(fd);
		return err("--topology %s is %s; give a regular file of at most "
			   "%d bytes describing the host's CPUs", arg,
			   S_ISDIR(st.st_mode) ? "a directory" :
			   S_ISFIFO(st.st_mode) ? "a FIFO" :
			   S_ISREG(st.st_mode) ? "too big" : "not a regular file",
			   TOPOLOGY_MAX_BYTES);
	}
	if (!realpath(arg, canon)) {
		close(fd);
		return err("--topology %s: %s", arg, strerror(errno));
	}
	opts.topology = canon;
	got = text ? read(fd, text, TOPOLOGY_MAX_BYTES + 1) : 0;
	close(fd);
	if (got < 0 || got > TOPOLOGY_MAX_BYTES)
		return err("--topology %s: %s", arg, got < 0 ? strerror(errno) :
			   "grew past the size it had");
	if (n)
		*n = got;
	return 0;
}
