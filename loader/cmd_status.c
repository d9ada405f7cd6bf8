// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * status: loaded or not, the backend in use and why each other one is not,
 * enrolled cgroups, request counters.  topology: the host CPUs.
 */
#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "actuator.h"
#include "cli.h"
#include "grants.h"
#include "procstat.h"

static void backend_lines(struct json *j, const struct act_env *env,
			  __u32 in_use)
{
	char why[256];

	if (j) {
		json_key(j, "backends");
		json_obj_open(j);
	} else {
		printf("backends:\n");
	}
	for (int i = 0; actuators[i]; i++) {
		const struct actuator *a = actuators[i];
		bool ok = !a->probe(env, why, sizeof(why));
		char line[300];

		snprintf(line, sizeof(line), "%s", a->backend == in_use ?
			 "in use" : ok ? "available" : "unavailable: ");
		if (!ok && a->backend != in_use)
			strncat(line, why, sizeof(line) - strlen(line) - 1);
		if (j)
			json_kstr(j, a->name, line);
		else
			printf("  %-9s %s\n", a->name, line);
	}
	if (j)
		json_obj_close(j);
}

static void cgroup_lines(struct json *j)
{
	struct vcpufreq_cgroup val;
	__u64 key, *prev = NULL;
	int fd = open_pinned_map(VCPUFREQ_PIN_CGROUPS);

	if (j) {
		json_key(j, "cgroups");
		json_arr_open(j);
	} else {
		printf("enrolled cgroups:\n");
	}
	while (fd >= 0 && !bpf_map_get_next_key(fd, prev, &key)) {
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val))
			continue;
		if (j) {
			json_obj_open(j);
			json_kuint(j, "id", key);
			json_kstr(j, "path", val.path);
			json_kbool(j, "exists", access(val.path, F_OK) == 0);
			json_obj_close(j);
		} else {
			printf("  %s (id %llu)%s\n", val.path,
			       (unsigned long long)key,
			       access(val.path, F_OK) ? " (removed)" : "");
		}
	}
	if (j)
		json_arr_close(j);
	else if (!prev)
		printf("  (none: run 'vcpufreq-bpf enroll CGROUP')\n");
	if (fd >= 0)
		close(fd);
}

static void stats_lines(struct json *j, const struct vcpufreq_stats *st)
{
	if (!j) {
		printf("requests: %llu accepted, %llu rejected (%llu no such "
		       "thread, %llu not enrolled), %llu dropped, %llu exits\n",
		       st->accepted, st->rejected, st->rejected_no_thread,
		       st->rejected_not_enrolled, st->dropped, st->exits);
		printf("agent: %llu applied (%llu request changes coalesced "
		       "into a later one)\n", st->agent_applies,
		       st->retunes_coalesced);
		if (st->events_lost)
			printf("events lost (ring buffer full): %llu\n",
			       st->events_lost);
		return;
	}
	json_key(j, "requests");
	json_obj_open(j);
	json_kuint(j, "accepted", st->accepted);
	json_kuint(j, "rejected", st->rejected);
	json_kuint(j, "rejected_no_thread", st->rejected_no_thread);
	json_kuint(j, "rejected_not_enrolled", st->rejected_not_enrolled);
	json_kuint(j, "dropped", st->dropped);
	json_kuint(j, "exits", st->exits);
	json_kuint(j, "verdict_flips", st->verdict_flips);
	json_kuint(j, "events_lost", st->events_lost);
	json_kuint(j, "agent_applies", st->agent_applies);
	json_kuint(j, "retunes_coalesced", st->retunes_coalesced);
	json_obj_close(j);
}

/* who may steer what through the broker, and what it refused */
static void broker_lines(struct json *j, const struct vcpufreq_stats *st)
{
	struct grant g[VCPUFREQ_MAX_GRANTS];
	int n = grants_load(g, VCPUFREQ_MAX_GRANTS);

	if (j) {
		json_key(j, "broker");
		json_obj_open(j);
		json_kuint(j, "registered", st->broker_registered);
		json_kuint(j, "requests", st->broker_requests);
		json_kuint(j, "refused", st->broker_refused);
		json_kuint(j, "refused_cross_vm", st->broker_cross_vm);
		json_kuint(j, "refused_quota", st->broker_quota);
		json_kuint(j, "refused_connections", st->broker_conns_refused);
		json_kuint(j, "grants_reloaded", st->grants_reloaded);
		json_kuint(j, "coalesced", st->broker_coalesced);
		json_kuint(j, "rate_limited", st->broker_rate_limited);
		json_kuint(j, "agent_full_walks", st->agent_full_walks);
		json_kuint(j, "log_suppressed", st->log_suppressed);
		json_key(j, "grants");
		json_arr_open(j);
	} else {
		printf("broker: %llu registered, %llu requests (%llu coalesced, "
		       "%llu rate limited), %llu refused (%llu outside the "
		       "caller's VM, %llu over quota, %llu connections over "
		       "the user's share)\n",
		       st->broker_registered, st->broker_requests,
		       st->broker_coalesced, st->broker_rate_limited,
		       st->broker_refused, st->broker_cross_vm, st->broker_quota,
		       st->broker_conns_refused);
	}
	for (int i = 0; i < n; i++) {
		const char *scope = *g[i].cgroup ? g[i].cgroup : "own process";

		if (!j) {
			printf("  grant: %s %u: %s, at most %u vCPUs\n",
			       g[i].group ? "group" : "user", g[i].id, scope,
			       g[i].max_vcpus);
			continue;
		}
		json_obj_open(j);
		json_kstr(j, "kind", g[i].group ? "group" : "user");
		json_kuint(j, "id", g[i].id);
		json_kstr(j, "cgroup", *g[i].cgroup ? g[i].cgroup : "");
		json_kuint(j, "max_vcpus", g[i].max_vcpus);
		json_obj_close(j);
	}
	if (j) {
		json_arr_close(j);
		json_obj_close(j);
	}
}

static void scx_cpu_lines(struct json *j, int fd)
{
	struct vcpufreq_scx_cpu c;

	if (j) {
		json_key(j, "cpus");
		json_arr_open(j);
	} else {
		printf("  CPU  CPUPERF_TARGET  SETS      RUN_MS by level (-: no request)\n");
	}
	for (__u32 cpu = 0; cpu < VCPUFREQ_MAX_CPUS; cpu++) {
		if (bpf_map_lookup_elem(fd, &cpu, &c) || (!c.cpuperf_sets &&
		    !c.run_ns[0] && !c.running_at))
			continue;
		if (j) {
			json_obj_open(j);
			json_kuint(j, "cpu", cpu);
			json_kuint(j, "cpuperf_target", c.cpuperf_target);
			json_kuint(j, "cpuperf_sets", c.cpuperf_sets);
			json_key(j, "run_ns");
			json_arr_open(j);
			for (int l = 0; l <= VCPUFREQ_SCX_MAX_LEVELS; l++)
				json_uint(j, c.run_ns[l]);
			json_arr_close(j);
			json_obj_close(j);
			continue;
		}
		printf("  %-4u %-15u %-9llu -:%.0f", cpu, c.cpuperf_target,
		       (unsigned long long)c.cpuperf_sets, c.run_ns[0] / 1e6);
		for (int l = 1; l <= VCPUFREQ_SCX_MAX_LEVELS; l++)
			if (c.run_ns[l])
				printf(" %d:%.0f", l - 1, c.run_ns[l] / 1e6);
		printf("\n");
	}
	if (j)
		json_arr_close(j);
}

/* vCPUs the scx backend kept in the fair class for their cgroup's limits */
static unsigned int cgroup_limited(void)
{
	char path[PATH_MAX];
	struct vcpufreq_action a;
	__u32 key, *prev = NULL;
	unsigned int n = 0;
	int fd;

	pin_path(path, sizeof(path), VCPUFREQ_PIN_ACTIONS);
	fd = bpf_obj_get(path);
	while (fd >= 0 && !bpf_map_get_next_key(fd, prev, &key)) {
		prev = &key;
		if (!bpf_map_lookup_elem(fd, &key, &a) &&
		    (a.flags & VCPUFREQ_ACTION_CGROUP_LIMITED))
			n++;
	}
	if (fd >= 0)
		close(fd);
	return n;
}

/* which capacity level each range of demand prefers (scx_energy_levels) */
static void energy_lines(struct json *j, const struct vf_topology *t)
{
	__u32 caps[VCPUFREQ_SCX_MAX_LEVELS];
	__u8 eff[VCPUFREQ_SCX_DEMAND_BUCKETS];
	int n = t->nr_cpus ? scx_capacity_levels(t, caps) : -1;
	bool have = n > 0 && scx_energy_levels(t, caps, n, eff);

	if (j) {
		json_key(j, "energy_levels");
		json_arr_open(j);
	} else {
		printf("  energy preference: %s", have ? "" :
		       "none (no power figures: the lowest level that fits)\n");
	}
	for (int b = 0; have && b < VCPUFREQ_SCX_DEMAND_BUCKETS; b++) {
		int e = b;
		unsigned int lo = b * VCPUFREQ_SCX_DEMAND_STEP, hi;

		while (e + 1 < VCPUFREQ_SCX_DEMAND_BUCKETS && eff[e + 1] == eff[b])
			e++;
		hi = e + 1 < VCPUFREQ_SCX_DEMAND_BUCKETS ?
		     (e + 1) * VCPUFREQ_SCX_DEMAND_STEP - 1 : VCPUFREQ_PERF_MAX;
		if (j) {
			json_obj_open(j);
			json_kuint(j, "from", lo);
			json_kuint(j, "to", hi);
			json_kuint(j, "capacity", caps[eff[b]]);
			json_obj_close(j);
		} else {
			printf("%sdemand %u..%u on capacity %u", b ? ", " : "",
			       lo, hi, caps[eff[b]]);
		}
		b = e;
	}
	if (j)
		json_arr_close(j);
	else if (have)
		printf("\n");
}

/* the kernel's sched_ext state, and our scheduler's per-CPU figures */
static void scx_lines(struct json *j, const struct act_env *env,
		      const struct vcpufreq_stats *st)
{
	char state[32], ops[64], last[1200], path[PATH_MAX];
	int fd;

	if (scx_sysfs_state(state, sizeof(state), ops, sizeof(ops)))
		return;
	vf_state_file(env->state_dir, VF_STATE_SCX_EXIT, path, sizeof(path));
	vf_read_line(path, last, sizeof(last));	/* "" when never detached */
	if (j) {
		json_key(j, "sched_ext");
		json_obj_open(j);
		json_kstr(j, "state", state);
		json_kstr(j, "ops", ops);
		json_kstr(j, "last_exit", last);
		json_kuint(j, "cgroup_limited", cgroup_limited());
		json_kuint(j, "foreign_reset", st->scx_foreign_reset);
	} else {
		printf("sched_ext: %s%s%s\n", state, *ops ? ", scheduler " : "",
		       ops);
		if (*last)
			printf("  last detached: %s\n", last);
		printf("  vCPUs kept in the fair class (their cgroup sets cpu.max "
		       "or cpu.weight): %u; tasks others put in SCHED_EXT, moved "
		       "back: %llu\n", cgroup_limited(),
		       (unsigned long long)st->scx_foreign_reset);
	}
	energy_lines(j, &env->topo);
	pin_path(path, sizeof(path), VCPUFREQ_PIN_SCX_CPUS);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		scx_cpu_lines(j, fd);
		close(fd);
	}
	if (j)
		json_obj_close(j);
}

int cmd_status(int argc, char **argv)
{
	struct vcpufreq_config cfg = { 0 };
	struct vcpufreq_stats st = { 0 };
	bool loaded = is_loaded();
	struct act_env env;
	struct json *j;

	if (argc > 1)
		return err("status: unexpected argument '%s'", argv[1]);
	if (loaded && (read_settings(&cfg) || read_stats(&st)))
		return -1;
	if (act_env_init(&env, loaded ? cfg.topology : cli.topology))
		return -1;
	j = cli_json();
	if (j) {
		json_obj_open(j);
		json_kbool(j, "loaded", loaded);
		json_kstr(j, "pin_dir", cli.pin_dir);
		json_kstr(j, "backend", loaded ? backend_name(cfg.backend) : "none");
		json_kuint(j, "agent_pid", cfg.agent_pid);
		json_kbool(j, "agent_running", agent_running(cfg.agent_pid));
		json_kstr(j, "topology", env.topo.from_override ?
			  cfg.topology : "sysfs");
	} else if (loaded) {
		printf("vcpufreq-bpf: loaded (pins under %s)\n", cli.pin_dir);
		printf("backend: %s, agent: %s\n", backend_name(cfg.backend),
		       !cfg.agent_pid ? "none (not needed)" :
		       agent_running(cfg.agent_pid) ? "running" : "NOT RUNNING");
	} else {
		printf("vcpufreq-bpf: not loaded (run 'vcpufreq-bpf load')\n");
	}
	backend_lines(j, &env, loaded ? cfg.backend : VCPUFREQ_BACKEND_NONE);
	if (loaded) {
		cgroup_lines(j);
		stats_lines(j, &st);
		broker_lines(j, &st);
	}
	scx_lines(j, &env, &st);
	if (j) {
		json_obj_close(j);
		json_free(j);
	}
	return 0;
}
