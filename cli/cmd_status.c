// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * status: loaded or not, the backend in use and why each other one is not,
 * enrolled cgroups, request counters, the broker's grants, sched_ext.
 * What it shows is read once (struct status, struct scx_view), then one
 * printer per format writes it: text_*() or json_*().
 */
#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "actuator.h"
#include "cli.h"
#include "grants.h"
#include "procstat.h"

/* what status shows, read once for either printer */
struct status {
	bool loaded;
	int nr_missing;			/* pins removed by hand */
	char missing[256];		/* their names */
	char topology_note[PATH_MAX + 128];	/* why sysfs is shown instead */
	struct vcpufreq_config cfg;
	struct vcpufreq_stats st;
	struct act_env env;
};

/* a range of demand and the capacity level it prefers */
struct demand_range {
	unsigned int from, to, capacity;
};

/* the kernel's sched_ext state and our scheduler's figures */
struct scx_view {
	char state[32], ops[64];
	char last_exit[1200];	/* "" when never detached */
	unsigned int cgroup_limited;
	struct demand_range energy[VCPUFREQ_SCX_DEMAND_BUCKETS];
	int nr_energy;		/* 0: no power figures */
	unsigned int knee;	/* act_env.knee: 1024 without figures */
	int cpus_fd;		/* the scx_cpus map, -1 when not pinned */
};

typedef void (*cgroup_fn)(struct json *j, __u64 id,
			  const struct vcpufreq_cgroup *cg);
typedef void (*scx_cpu_fn)(struct json *j, __u32 cpu,
			   const struct vcpufreq_scx_cpu *c);

static const char *power_name(__u32 power)
{
	return power == VCPUFREQ_POWER_PERFORMANCE ? "performance" : "balanced";
}

/* "in use", "available" or "unavailable: why" */
static void backend_state(const struct actuator *a, const struct status *s,
			  char *line, size_t len)
{
	__u32 in_use = s->loaded ? s->cfg.backend : VCPUFREQ_BACKEND_NONE;
	char why[256];
	bool ok = !a->probe(&s->env, why, sizeof(why));

	snprintf(line, len, "%s", a->backend == in_use ?
		 "in use" : ok ? "available" : "unavailable: ");
	if (!ok && a->backend != in_use)
		strncat(line, why, len - strlen(line) - 1);
}

/* calls @fn for each enrolled cgroup; returns how many there are */
static int each_cgroup(struct json *j, cgroup_fn fn)
{
	struct vcpufreq_cgroup val;
	__u64 key, *prev = NULL;
	char path[PATH_MAX];
	int fd, n = 0;

	pin_path(path, sizeof(path), VCPUFREQ_PIN_CGROUPS);
	fd = bpf_obj_get(path);	/* a missing pin: status says so above */

	while (fd >= 0 && !bpf_map_get_next_key(fd, prev, &key)) {
		prev = &key;
		n++;
		if (!bpf_map_lookup_elem(fd, &key, &val))
			fn(j, key, &val);
	}
	if (fd >= 0)
		close(fd);
	return n;
}

/* CPUs the scx backend set a target on or ran a vCPU on */
static void each_scx_cpu(struct json *j, int fd, scx_cpu_fn fn)
{
	struct vcpufreq_scx_cpu c;

	for (__u32 cpu = 0; cpu < VCPUFREQ_MAX_CPUS; cpu++) {
		if (bpf_map_lookup_elem(fd, &cpu, &c) || (!c.cpuperf_sets &&
		    !c.run_ns[0] && !c.running_at))
			continue;
		fn(j, cpu, &c);
	}
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
static int energy_ranges(const struct vf_topology *t, struct demand_range *r)
{
	__u32 caps[VCPUFREQ_SCX_MAX_LEVELS];
	__u8 eff[VCPUFREQ_SCX_DEMAND_BUCKETS];
	int n = t->nr_cpus ? scx_capacity_levels(t, caps) : -1, nr = 0;

	if (n <= 0 || !scx_energy_levels(t, caps, n, eff))
		return 0;
	for (int b = 0; b < VCPUFREQ_SCX_DEMAND_BUCKETS; b++) {
		int e = b;

		while (e + 1 < VCPUFREQ_SCX_DEMAND_BUCKETS && eff[e + 1] == eff[b])
			e++;
		r[nr].from = b * VCPUFREQ_SCX_DEMAND_STEP;
		r[nr].to = e + 1 < VCPUFREQ_SCX_DEMAND_BUCKETS ?
			   (e + 1) * VCPUFREQ_SCX_DEMAND_STEP - 1 :
			   VCPUFREQ_PERF_MAX;
		r[nr++].capacity = caps[eff[b]];
		b = e;
	}
	return nr;
}

/* -1 when the kernel has no sched_ext */
static int scx_view_read(struct scx_view *v, const struct status *s)
{
	char path[PATH_MAX];

	if (scx_sysfs_state(v->state, sizeof(v->state), v->ops,
			    sizeof(v->ops)))
		return -1;
	vf_state_file(s->env.state_dir, VF_STATE_SCX_EXIT, path, sizeof(path));
	vf_read_line(path, v->last_exit, sizeof(v->last_exit));
	v->cgroup_limited = cgroup_limited();
	v->nr_energy = energy_ranges(&s->env.topo, v->energy);
	v->knee = s->env.knee;
	pin_path(path, sizeof(path), VCPUFREQ_PIN_SCX_CPUS);
	v->cpus_fd = bpf_obj_get(path);
	return 0;
}

static void text_head(const struct status *s)
{
	if (!s->loaded) {
		printf("vcpufreq-bpf: not loaded (run 'vcpufreq-bpf load')\n");
		return;
	}
	printf("vcpufreq-bpf: loaded (pins under %s)\n", opts.pin_dir);
	if (s->nr_missing)
		printf("DAMAGED: pins missing: %s; 'vcpufreq-bpf unload' puts "
		       "the host back (the agent restores what it applied), "
		       "then load again\n", s->missing);
	if (*s->topology_note)
		printf("topology: %s\n", s->topology_note);
	printf("backend: %s, agent: %s\n", backend_name(s->cfg.backend),
	       !s->cfg.agent_pid ? "none (not needed)" :
	       agent_running(s->cfg.agent_pid) ? "running" : "NOT RUNNING");
	printf("power: %s", power_name(s->cfg.power));
	if (s->env.knee < VCPUFREQ_PERF_MAX)
		printf(" (a request is served up to capacity %u, the efficiency "
		       "knee of the host's OPP tables)\n", s->env.knee);
	else
		printf(" (every request in full%s)\n",
		       s->cfg.power == VCPUFREQ_POWER_PERFORMANCE ? "" :
		       ": the topology has no power figures, so no knee");
}

static void text_backends(const struct status *s)
{
	char line[300];

	printf("backends:\n");
	for (int i = 0; actuators[i]; i++) {
		backend_state(actuators[i], s, line, sizeof(line));
		printf("  %-9s %s\n", actuators[i]->name, line);
	}
}

static void text_cgroup(struct json *j, __u64 id,
			const struct vcpufreq_cgroup *cg)
{
	printf("  %s (id %llu)%s\n", cg->path, (unsigned long long)id,
	       access(cg->path, F_OK) ? " (removed)" : "");
}

static void text_cgroups(void)
{
	printf("enrolled cgroups:\n");
	if (!each_cgroup(NULL, text_cgroup))
		printf("  (none: run 'vcpufreq-bpf enroll CGROUP')\n");
}

static void text_stats(const struct vcpufreq_stats *st)
{
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
}

/* who may steer what through the broker, and what it refused */
static void text_broker(const struct vcpufreq_stats *st)
{
	struct grant g[VCPUFREQ_MAX_GRANTS];
	int n = grants_load(g, VCPUFREQ_MAX_GRANTS);

	printf("broker: %llu registered, %llu requests (%llu coalesced, "
	       "%llu rate limited), %llu refused (%llu outside the "
	       "caller's VM, %llu over quota, %llu connections over "
	       "the user's share)\n",
	       st->broker_registered, st->broker_requests,
	       st->broker_coalesced, st->broker_rate_limited,
	       st->broker_refused, st->broker_cross_vm, st->broker_quota,
	       st->broker_conns_refused);
	for (int i = 0; i < n; i++)
		printf("  grant: %s %u: %s, at most %u vCPUs\n",
		       g[i].group ? "group" : "user", g[i].id,
		       *g[i].cgroup ? g[i].cgroup : "own process",
		       g[i].max_vcpus);
}

static void text_scx_cpu(struct json *j, __u32 cpu,
			 const struct vcpufreq_scx_cpu *c)
{
	printf("  %-4u %-15u %-9llu -:%.0f", cpu, c->cpuperf_target,
	       (unsigned long long)c->cpuperf_sets, c->run_ns[0] / 1e6);
	for (int l = 1; l <= VCPUFREQ_SCX_MAX_LEVELS; l++)
		if (c->run_ns[l])
			printf(" %d:%.0f", l - 1, c->run_ns[l] / 1e6);
	printf("\n");
}

static void text_scx(const struct scx_view *v, const struct vcpufreq_stats *st)
{
	printf("sched_ext: %s%s%s\n", v->state, *v->ops ? ", scheduler " : "",
	       v->ops);
	if (*v->last_exit)
		printf("  last detached: %s\n", v->last_exit);
	printf("  vCPUs kept in the fair class (their cgroup sets cpu.max "
	       "or cpu.weight): %u; tasks others put in SCHED_EXT, moved "
	       "back: %llu\n", v->cgroup_limited,
	       (unsigned long long)st->scx_foreign_reset);
	printf("  energy preference: %s", v->nr_energy ? "" :
	       "none (no power figures: the lowest level that fits)\n");
	for (int i = 0; i < v->nr_energy; i++)
		printf("%sdemand %u..%u on capacity %u", i ? ", " : "",
		       v->energy[i].from, v->energy[i].to,
		       v->energy[i].capacity);
	if (v->nr_energy)
		printf("\n  a request is served up to capacity %u, but in a "
		       "burst after idle or a busy run\n", v->knee);
	if (v->cpus_fd < 0)
		return;
	printf("  CPU  CPUPERF_TARGET  SETS      RUN_MS by level (-: no request)\n");
	each_scx_cpu(NULL, v->cpus_fd, text_scx_cpu);
}

static void print_text(const struct status *s, const struct scx_view *scx)
{
	text_head(s);
	text_backends(s);
	if (s->loaded) {
		text_cgroups();
		text_stats(&s->st);
		text_broker(&s->st);
	}
	if (scx)
		text_scx(scx, &s->st);
}

static void json_head(struct json *j, const struct status *s)
{
	json_kbool(j, "loaded", s->loaded);
	json_kstr(j, "pin_dir", opts.pin_dir);
	json_kstr(j, "backend", s->loaded ? backend_name(s->cfg.backend) :
		  "none");
	json_kuint(j, "agent_pid", s->cfg.agent_pid);
	json_kstr(j, "power", s->loaded ? power_name(s->cfg.power) : "none");
	json_kuint(j, "knee_capacity", s->env.knee);
	json_kbool(j, "agent_running", agent_running(s->cfg.agent_pid));
	json_kstr(j, "topology", s->env.topo.from_override ?
		  s->cfg.topology : "sysfs");
	if (*s->topology_note)
		json_kstr(j, "topology_problem", s->topology_note);
	if (s->loaded) {
		json_kbool(j, "damaged", s->nr_missing > 0);
		json_kstr(j, "missing_pins", s->missing);
	}
}

static void json_backends(struct json *j, const struct status *s)
{
	char line[300];

	json_key(j, "backends");
	json_obj_open(j);
	for (int i = 0; actuators[i]; i++) {
		backend_state(actuators[i], s, line, sizeof(line));
		json_kstr(j, actuators[i]->name, line);
	}
	json_obj_close(j);
}

static void json_cgroup(struct json *j, __u64 id,
			const struct vcpufreq_cgroup *cg)
{
	json_obj_open(j);
	json_kuint(j, "id", id);
	json_kstr(j, "path", cg->path);
	json_kbool(j, "exists", access(cg->path, F_OK) == 0);
	json_obj_close(j);
}

static void json_cgroups(struct json *j)
{
	json_key(j, "cgroups");
	json_arr_open(j);
	each_cgroup(j, json_cgroup);
	json_arr_close(j);
}

/* a counter of struct vcpufreq_stats under its JSON name */
struct stat_key {
	const char *name;
	size_t offset;
};

#define STAT_KEY(name, field) { name, offsetof(struct vcpufreq_stats, field) }

static const struct stat_key request_keys[] = {
	STAT_KEY("accepted", accepted),
	STAT_KEY("rejected", rejected),
	STAT_KEY("rejected_no_thread", rejected_no_thread),
	STAT_KEY("rejected_not_enrolled", rejected_not_enrolled),
	STAT_KEY("dropped", dropped),
	STAT_KEY("exits", exits),
	STAT_KEY("verdict_flips", verdict_flips),
	STAT_KEY("events_lost", events_lost),
	STAT_KEY("agent_applies", agent_applies),
	STAT_KEY("retunes_coalesced", retunes_coalesced),
	{ NULL },
};

static const struct stat_key broker_keys[] = {
	STAT_KEY("registered", broker_registered),
	STAT_KEY("requests", broker_requests),
	STAT_KEY("refused", broker_refused),
	STAT_KEY("refused_cross_vm", broker_cross_vm),
	STAT_KEY("refused_quota", broker_quota),
	STAT_KEY("refused_connections", broker_conns_refused),
	STAT_KEY("grants_reloaded", grants_reloaded),
	STAT_KEY("coalesced", broker_coalesced),
	STAT_KEY("rate_limited", broker_rate_limited),
	STAT_KEY("agent_full_walks", agent_full_walks),
	STAT_KEY("log_suppressed", log_suppressed),
	{ NULL },
};

static void json_stat_keys(struct json *j, const struct vcpufreq_stats *st,
			   const struct stat_key *k)
{
	for (; k->name; k++)
		json_kuint(j, k->name,
			   *(const __u64 *)((const char *)st + k->offset));
}

static void json_stats(struct json *j, const struct vcpufreq_stats *st)
{
	json_key(j, "requests");
	json_obj_open(j);
	json_stat_keys(j, st, request_keys);
	json_obj_close(j);
}

static void json_grants(struct json *j)
{
	struct grant g[VCPUFREQ_MAX_GRANTS];
	int n = grants_load(g, VCPUFREQ_MAX_GRANTS);

	json_key(j, "grants");
	json_arr_open(j);
	for (int i = 0; i < n; i++) {
		json_obj_open(j);
		json_kstr(j, "kind", g[i].group ? "group" : "user");
		json_kuint(j, "id", g[i].id);
		json_kstr(j, "cgroup", g[i].cgroup);
		json_kuint(j, "max_vcpus", g[i].max_vcpus);
		json_obj_close(j);
	}
	json_arr_close(j);
}

static void json_broker(struct json *j, const struct vcpufreq_stats *st)
{
	json_key(j, "broker");
	json_obj_open(j);
	json_stat_keys(j, st, broker_keys);
	json_grants(j);
	json_obj_close(j);
}

static void json_scx_cpu(struct json *j, __u32 cpu,
			 const struct vcpufreq_scx_cpu *c)
{
	json_obj_open(j);
	json_kuint(j, "cpu", cpu);
	json_kuint(j, "cpuperf_target", c->cpuperf_target);
	json_kuint(j, "cpuperf_sets", c->cpuperf_sets);
	json_key(j, "run_ns");
	json_arr_open(j);
	for (int l = 0; l <= VCPUFREQ_SCX_MAX_LEVELS; l++)
		json_uint(j, c->run_ns[l]);
	json_arr_close(j);
	json_obj_close(j);
}

static void json_scx(struct json *j, const struct scx_view *v,
		     const struct vcpufreq_stats *st)
{
	json_key(j, "sched_ext");
	json_obj_open(j);
	json_kstr(j, "state", v->state);
	json_kstr(j, "ops", v->ops);
	json_kstr(j, "last_exit", v->last_exit);
	json_kuint(j, "cgroup_limited", v->cgroup_limited);
	json_kuint(j, "foreign_reset", st->scx_foreign_reset);
	json_kuint(j, "knee_capacity", v->knee);
	json_key(j, "energy_levels");
	json_arr_open(j);
	for (int i = 0; i < v->nr_energy; i++) {
		json_obj_open(j);
		json_kuint(j, "from", v->energy[i].from);
		json_kuint(j, "to", v->energy[i].to);
		json_kuint(j, "capacity", v->energy[i].capacity);
		json_obj_close(j);
	}
	json_arr_close(j);
	if (v->cpus_fd >= 0) {
		json_key(j, "cpus");
		json_arr_open(j);
		each_scx_cpu(j, v->cpus_fd, json_scx_cpu);
		json_arr_close(j);
	}
	json_obj_close(j);
}

static void print_json(struct json *j, const struct status *s,
		       const struct scx_view *scx)
{
	json_obj_open(j);
	json_head(j, s);
	json_backends(j, s);
	if (s->loaded) {
		json_cgroups(j);
		json_stats(j, &s->st);
		json_broker(j, &s->st);
	}
	if (scx)
		json_scx(j, scx, &s->st);
	json_obj_close(j);
}

static bool pinned(const char *name)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), name);
	return !access(path, F_OK) || errno == EACCES;
}

/*
 * What a load left, even a damaged one (pins removed by hand): the
 * settings and stats when their pins are there, else the agent named by
 * the instance lock.  -1 only when a pin that is there cannot be read.
 */
static int read_loaded(struct status *s)
{
	if (geteuid() == 0 && pin_dir_ours())
		return -1;
	s->nr_missing = missing_pins(s->missing, sizeof(s->missing));
	if (pinned(VCPUFREQ_PIN_SETTINGS) ? read_settings(&s->cfg) :
	    (s->cfg.agent_pid = instance_lock_holder(), 0))
		return -1;
	return pinned(VCPUFREQ_PIN_STATS) ? read_stats(&s->st) : 0;
}

/* the topology file the load saved, unreadable now: why, and sysfs instead */
static bool topology_unreadable(struct status *s)
{
	struct vf_topology t;
	char why[256];

	if (!vf_topology_load(&t, VF_SYSFS_CPU_DIR, s->cfg.topology, why,
			      sizeof(why)))
		return false;
	snprintf(s->topology_note, sizeof(s->topology_note),
		 "the saved override %s cannot be read (%s); showing sysfs",
		 s->cfg.topology, why);
	return true;
}

int cmd_status(int argc, char **argv)
{
	struct status s = { .loaded = is_loaded() };
	struct scx_view scx = { .cpus_fd = -1 };
	bool have_scx;
	struct json *j;

	if (argc > 1)
		return err("status: unexpected argument '%s'", argv[1]);
	if (s.loaded && read_loaded(&s))
		return -1;
	if (s.loaded && *s.cfg.topology && topology_unreadable(&s))
		*s.cfg.topology = 0;	/* sysfs, and the reason said above */
	if (act_env_init(&s.env, s.loaded ? s.cfg.topology : opts.topology))
		return -1;
	if (s.loaded)
		act_env_set_power(&s.env, s.cfg.power);
	have_scx = !scx_view_read(&scx, &s);
	j = cli_json();
	if (j)
		print_json(j, &s, have_scx ? &scx : NULL);
	else
		print_text(&s, have_scx ? &scx : NULL);
	json_free(j);
	if (scx.cpus_fd >= 0)
		close(scx.cpus_fd);
	return s.nr_missing ? -1 : 0;	/* a readiness probe sees it */
}
