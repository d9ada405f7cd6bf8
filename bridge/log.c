// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The bridge's messages: errors, progress lines, and its clock. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include "bridge.h"

static const bool *errors_as_json;	/* --json, as parsed so far */

void log_errors_as_json(const bool *json)
{
	errors_as_json = json;
}

int bridge_err(const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vf_verror(errors_as_json && *errors_as_json, false, fmt, ap);
	va_end(ap);
	return ret;
}

/* progress lines: stdout, or stderr when stdout carries --json */
void info(const struct bridge *b, const char *fmt, ...)
{
	FILE *f = b->opt.json ? stderr : stdout;
	va_list ap;

	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
