// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What the commands share beyond base/: notes, refused options, -j. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
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
