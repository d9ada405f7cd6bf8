// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* topology: the host CPUs as the actuators see them. */
#include <stdio.h>
#include <string.h>
#include "actuator.h"
#include "cli.h"

static void freq_text(const struct vf_cpu *c, char *buf, size_t len)
{
	size_t off;

	if (!c->max_khz) {
		snprintf(buf, len, "-");
		return;
	}
	off = snprintf(buf, len, "%u-%u", c->min_khz, c->max_khz);
	for (unsigned int i = 0; i < c->nr_freqs && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%u", i ? "," : " [",
				c->freqs_khz[i]);
	if (c->nr_freqs && off < len)
		snprintf(buf + off, len - off, "]");
}

static void print_text(const struct vf_topology *t, const char *source)
{
	char freqs[1024];

	printf("source: %s (%s)\n", source,
	       vf_topology_symmetric(t) ? "symmetric" : "asymmetric");
	printf("%-4s %8s %7s %6s  %s\n", "CPU", "CAPACITY", "CLUSTER",
	       "POLICY", "FREQ_KHZ");
	for (int cpu = 0; cpu < t->nr_cpus; cpu++) {
		const struct vf_cpu *c = &t->cpu[cpu];

		if (!c->present)
			continue;
		freq_text(c, freqs, sizeof(freqs));
		printf("%-4d %8u %7d %6d  %s\n", cpu, c->capacity, c->cluster,
		       c->policy, freqs);
	}
}

static void print_json_cpu(struct json *j, int cpu, const struct vf_cpu *c)
{
	json_obj_open(j);
	json_kint(j, "cpu", cpu);
	json_kuint(j, "capacity", c->capacity);
	json_kint(j, "cluster", c->cluster);
	json_kint(j, "policy", c->policy);
	json_kuint(j, "min_khz", c->min_khz);
	json_kuint(j, "max_khz", c->max_khz);
	json_key(j, "freqs_khz");
	json_arr_open(j);
	for (unsigned int i = 0; i < c->nr_freqs; i++)
		json_uint(j, c->freqs_khz[i]);
	json_arr_close(j);
	json_obj_close(j);
}

static void print_json(struct json *j, const struct vf_topology *t,
		       const char *source)
{
	json_obj_open(j);
	json_kstr(j, "source", source);
	json_kbool(j, "symmetric", vf_topology_symmetric(t));
	json_key(j, "cpus");
	json_arr_open(j);
	for (int cpu = 0; cpu < t->nr_cpus; cpu++)
		if (t->cpu[cpu].present)
			print_json_cpu(j, cpu, &t->cpu[cpu]);
	json_arr_close(j);
	json_obj_close(j);
}

int cmd_topology(int argc, char **argv)
{
	const char *source;
	struct act_env env;
	struct json *j;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--dts"))
			return cmd_topology_dts(argc, argv);
	if (argc > 1)
		return err("topology: unexpected argument '%s'", argv[1]);
	if (act_env_init(&env, opts.topology))
		return -1;
	source = env.topo.from_override ? opts.topology : env.sysfs_cpu_dir;
	j = cli_json();
	if (j)
		print_json(j, &env.topo, source);
	else
		print_text(&env.topo, source);
	json_free(j);
	return 0;
}
