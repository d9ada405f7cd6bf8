// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * vcpufreq-bpf: load the vcpufreq BPF programs, enroll cgroups, and show
 * what the host does for each vCPU thread.  One handler per command; the
 * options every command shares are taken out of argv here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

struct cli cli = {
	.pin_dir = VCPUFREQ_PIN_DIR,
};

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *summary;
};

static const struct command commands[] = {
	{ "load", cmd_load,
	  "[--backend auto|scx|uclamp|affinity|cpufreq|observe] [--foreground]",
	  "load and pin the BPF programs, start the agent (auto: the\n  first usable of scx, uclamp, affinity, cpufreq, observe)" },
	{ "unload", cmd_unload, "[--restore-only]",
	  "stop the agent, restore every setting, remove the pins" },
	{ "status", cmd_status, "[-j|-p]",
	  "backend in use, why others are not, enrolled cgroups, counters,\n  sched_ext state and per-CPU figures of the scx backend" },
	{ "enroll", cmd_enroll, "CGROUP",
	  "let requests act on threads of a cgroup v2 (and its children)" },
	{ "leave", cmd_leave, "CGROUP",
	  "stop acting on a cgroup's threads and restore them" },
	{ "request", cmd_request, "TID PERF",
	  "request PERF (host capacity units 0..1024) for thread TID" },
	{ "grant", cmd_grant,
	  "--user USER | --group GROUP [--cgroup CGROUP] [--max-vcpus N] |\n"
	  "  --revoke [--user USER | --group GROUP]",
	  "let a VMM that is not root steer its own VM's vCPU threads\n"
	  "  (its process, or CGROUP) through the agent's broker" },
	{ "vcpus", cmd_vcpus, "[-j|-p]",
	  "every tracked vCPU thread: request, action, CPU, runtime" },
	{ "topology", cmd_topology,
	  "[-j|-p] | --dts --vcpus N [--affinity LIST] [--base ADDR]",
	  "host CPUs: capacity, frequencies, clusters; or the guest DT fragment" },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [OPTIONS] COMMAND [ARGS]\n\nCommands:\n",
		cli.prog);
	for (size_t i = 0; i < NR_COMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\nOptions (anywhere on the line):\n"
		"  --pin-dir DIR     where maps and links are pinned (default %s)\n"
		"  --topology FILE   describe host CPUs with an override file\n"
		"  -j, --json        JSON output; -p, --pretty: indented JSON\n"
		"  -h, --help        help for a command: %s COMMAND --help\n",
		VCPUFREQ_PIN_DIR, cli.prog);
}

static void command_usage(const struct command *c)
{
	printf("Usage: %s %s %s\n  %s\n", cli.prog, c->name, c->args,
	       c->summary);
}

/* Take the shared options out of argv; returns the new argc or -1. */
static int take_common_options(int argc, char **argv)
{
	int out = 0;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;

		if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			cli.json = true;
			continue;
		}
		if (!strcmp(a, "-p") || !strcmp(a, "--pretty")) {
			cli.json = cli.pretty = true;
			continue;
		}
		if (!strcmp(a, "--pin-dir"))
			dst = &cli.pin_dir;
		else if (!strcmp(a, "--topology"))
			dst = &cli.topology;
		if (dst) {
			if (i + 1 >= argc)
				return err("%s needs a value", a);
			*dst = argv[++i];
			continue;
		}
		if (!strncmp(a, "--pin-dir=", 10)) {
			cli.pin_dir = a + 10;
			continue;
		}
		if (!strncmp(a, "--topology=", 11)) {
			cli.topology = a + 11;
			continue;
		}
		argv[out++] = argv[i];
	}
	argv[out] = NULL;
	return out;
}

int main(int argc, char **argv)
{
	const char *env = getenv("VCPUFREQ_TOPOLOGY");

	cli.prog = "vcpufreq-bpf";
	if (env && *env)
		cli.topology = env;
	argc = take_common_options(argc - 1, argv + 1);
	argv++;
	if (argc < 0)
		return 1;
	if (argc == 0) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help") ||
	    !strcmp(argv[0], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < NR_COMMANDS; i++) {
		const struct command *c = &commands[i];

		if (strcmp(argv[0], c->name))
			continue;
		for (int k = 1; k < argc; k++) {
			if (!strcmp(argv[k], "-h") || !strcmp(argv[k], "--help")) {
				command_usage(c);
				return 0;
			}
		}
		return c->fn(argc, argv) ? 1 : 0;
	}
	err("unknown command '%s'; run '%s --help' for the list",
	    argv[0], cli.prog);
	return 1;
}
