/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The vcpufreq-bpf commands, and what they share beyond base/ (shared.c). */
#ifndef VCPUFREQ_CLI_H
#define VCPUFREQ_CLI_H

#include "base.h"

/* a line on stdout, nothing under -j */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* after getopt_long returned '?' or ':' (optstring ":..."): the option */
const char *refused_option(char **argv);

/*
 * --topology checked where it enters (a regular file, not too big), made
 * canonical; 0 or -1 with Error:.  @text, when not NULL, gets its contents
 * (TOPOLOGY_MAX_BYTES + 1 bytes of room) and @n their length.
 */
#define TOPOLOGY_MAX_BYTES	(1 << 20)
int topology_checked(char *text, size_t *n);

/* JSON writer for -j/-p, NULL without -j */
struct json *cli_json(void);

/* commands */
int cmd_load(int argc, char **argv);
int cmd_unload(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_enroll(int argc, char **argv);
int cmd_leave(int argc, char **argv);
int cmd_request(int argc, char **argv);
int cmd_vcpus(int argc, char **argv);
int cmd_grant(int argc, char **argv);
int cmd_topology(int argc, char **argv);
int cmd_topology_dts(int argc, char **argv);	/* topology --dts */

#endif
