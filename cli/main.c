// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * vcpufreq-bpf: load the vcpufreq BPF programs, enroll cgroups, and show
 * what the host does for each vCPU thread.  One handler per command; the
 * options every command shares are taken out of argv here, wherever they
 * are on the line, and the command parses what is left (its own getopt_long
 * for its options: cmd_load.c, cmd_grant.c, cmd_dts.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *summary;
};

static const struct command commands[] = {
	{ "load", cmd_load,
	  "[--backend auto|scx|uclamp|affinity|cpufreq|observe] [--foreground]\n"
	  "  [--metrics DIR] [--power balanced|performance]",
	  "load and pin the BPF programs, start the agent (auto: the\n  first usable of scx, uclamp, affinity, cpufreq, observe);\n"
	  "  --metrics: the agent writes DIR/vcpufreq-bpf.prom every 5 s for\n"
	  "  node_exporter's textfile collector;\n"
	  "  --power: balanced (default) serves a request up to the efficiency\n"
	  "  knee of the host's OPP tables (scx: in full in a burst after idle\n"
	  "  or a busy run), performance in full" },
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
		opts.prog);
	for (size_t i = 0; i < NR_COMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\nOptions (anywhere on the line):\n"
		"  --pin-dir DIR     where maps and links are pinned (default %s)\n"
		"  --topology FILE   describe host CPUs with an override file\n"
		"  -j, --json        JSON output; -p, --pretty: indented JSON\n"
		"  -h, --help        help for a command: %s COMMAND --help\n",
		VCPUFREQ_PIN_DIR, opts.prog);
}

static void command_usage(const struct command *c)
{
	printf("Usage: %s %s %s\n\n  %s\n", opts.prog, c->name, c->args,
	       c->summary);
}

enum { OPT_PIN_DIR = 256, OPT_TOPOLOGY };

static const struct option common_options[] = {
	{ "json",	no_argument,		NULL, 'j' },
	{ "pretty",	no_argument,		NULL, 'p' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "pin-dir",	required_argument,	NULL, OPT_PIN_DIR },
	{ "topology",	required_argument,	NULL, OPT_TOPOLOGY },
	{ 0 }
};

/* where --help was: before the command (the list) or after it (its usage) */
enum help { NO_HELP, HELP_LIST, HELP_COMMAND };

/*
 * Take the shared options out of argv, in order ("-" first: every other
 * argument comes back as 1, so the command's arguments keep their order),
 * and keep the rest, from the command name on, for the command; an option
 * that is not a shared one is the command's, and so is everything from
 * "--" on.  Returns the new argc, or -1.
 */
static int take_common_options(int argc, char **argv, enum help *help)
{
	int out = 0, at, opt;

	opterr = 0;
	for (;;) {
		at = optind;
		opt = getopt_long(argc, argv, "-:jph", common_options, NULL);
		if (opt == -1)
			break;
		switch (opt) {
		case 'j':
			opts.json = true;
			break;
		case 'p':
			opts.json = opts.pretty = true;
			break;
		case 'h':	/* the first one says which help */
			if (*help == NO_HELP)
				*help = out ? HELP_COMMAND : HELP_LIST;
			break;
		case OPT_PIN_DIR:
			opts.pin_dir = optarg;
			break;
		case OPT_TOPOLOGY:
			opts.topology = optarg;
			break;
		case ':':
			return err("%s needs a value", argv[optind - 1]);
		case '?':	/* the command's option, once its element is done */
			if (optind > at)
				argv[out++] = argv[optind - 1];
			break;
		default:	/* 1: the command or one of its arguments */
			argv[out++] = optarg;
		}
	}
	while (at < argc)	/* "--" and what follows it */
		argv[out++] = argv[at++];
	argv[out] = NULL;
	return out;
}

int main(int argc, char **argv)
{
	const char *env = getenv("VCPUFREQ_TOPOLOGY");
	enum help help = NO_HELP;

	opts.prog = "vcpufreq-bpf";
	if (env && *env)
		opts.topology = env;
	argc = take_common_options(argc, argv, &help);
	if (argc < 0 || (opts.topology && topology_checked(NULL, NULL)))
		return 1;
	if (help == HELP_LIST || (argc && !strcmp(argv[0], "help"))) {
		usage(stdout);
		return 0;
	}
	if (argc == 0) {
		usage(stderr);
		return 1;
	}
	for (size_t i = 0; i < NR_COMMANDS; i++) {
		const struct command *c = &commands[i];

		if (strcmp(argv[0], c->name))
			continue;
		if (help == HELP_COMMAND) {
			command_usage(c);
			return 0;
		}
		return c->fn(argc, argv) ? 1 : 0;
	}
	err("unknown command '%s'; run '%s --help' for the list",
	    argv[0], opts.prog);
	return 1;
}
