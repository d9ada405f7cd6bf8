// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* vcpus: every thread with a request, as BPF and the agent see it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "actuator.h"
#include "cli.h"

struct vcpu_row {
	__u32 tid;
	struct vcpufreq_request req;
	struct vcpufreq_vcpu st;
	struct vcpufreq_action act;
	bool tracked, acted;
	char cgroup[PATH_MAX];
	char action[160];
};

static void fill_row(struct vcpu_row *r, int state_fd, int act_fd)
{
	const struct actuator *a;

	r->tracked = !read_vcpu_state(state_fd, r->tid, &r->st);
	r->acted = !bpf_map_lookup_elem(act_fd, &r->tid, &r->act);
	if (thread_cgroup_path(r->tid, r->cgroup, sizeof(r->cgroup)))
		snprintf(r->cgroup, sizeof(r->cgroup), "?");
	a = r->acted ? actuator_for(r->act.backend) : NULL;
	if (a)
		a->describe(&r->act, r->action, sizeof(r->action));
	else
		snprintf(r->action, sizeof(r->action), "%s",
			 r->tracked && !r->st.enrolled ? "none (not enrolled)" : "-");
}

static void print_json_row(struct json *j, const struct vcpu_row *r)
{
	char cpus[128];

	json_obj_open(j);
	json_kuint(j, "tid", r->tid);
	json_kuint(j, "vm_id", r->req.vm_id);
	json_kuint(j, "vcpu", r->req.vcpu);
	json_kuint(j, "perf", r->req.perf);
	json_kuint(j, "guest_perf", r->req.guest_perf);
	json_kstr(j, "cgroup", r->cgroup);
	json_kbool(j, "enrolled", r->tracked && r->st.enrolled);
	json_kint(j, "cpu", r->tracked ? (long long)r->st.last_cpu : -1);
	json_kuint(j, "runtime_ns", r->st.runtime_ns);
	json_kuint(j, "switches", r->st.switches);
	json_key(j, "action");
	json_obj_open(j);
	json_kstr(j, "backend", r->acted ? backend_name(r->act.backend) : "none");
	json_kuint(j, "perf", r->acted ? r->act.perf : 0);
	json_kstr(j, "summary", r->action);
	if (r->acted && r->act.backend == VCPUFREQ_BACKEND_AFFINITY &&
	    r->act.saved_valid) {
		cpulist_format(r->act.cpus, cpus, sizeof(cpus));
		json_kstr(j, "affinity", cpus);
	}
	if (r->acted && r->act.backend == VCPUFREQ_BACKEND_UCLAMP &&
	    r->act.saved_valid)
		json_kuint(j, "uclamp_min", r->act.uclamp_min);
	if (r->acted && r->act.backend == VCPUFREQ_BACKEND_CPUFREQ)
		json_kuint(j, "floor_khz", r->act.floor_khz);
	if (r->acted && r->act.backend == VCPUFREQ_BACKEND_SCX &&
	    r->act.saved_valid) {
		json_kstr(j, "policy", "SCHED_EXT");
		json_kuint(j, "saved_policy", r->act.saved_policy);
	}
	json_obj_close(j);
	json_obj_close(j);
}

static void print_text_row(const struct vcpu_row *r)
{
	char cpu[16];

	snprintf(cpu, sizeof(cpu), r->tracked ? "%u" : "-", r->st.last_cpu);
	printf("%-8u %5u %5u %5u %10u %-8s %4s %12.3f  %-28s %s\n", r->tid,
	       r->req.vm_id, r->req.vcpu, r->req.perf, r->req.guest_perf,
	       r->tracked && r->st.enrolled ? "yes" : "no", cpu,
	       r->st.runtime_ns / 1e6, r->action, r->cgroup);
}

int cmd_vcpus(int argc, char **argv)
{
	int req_fd, state_fd = -1, act_fd = -1, rows = 0, ret = -1;
	struct json *j = NULL;
	__u32 key, *prev = NULL;

	if (argc > 1)
		return err("vcpus: unexpected argument '%s'", argv[1]);
	req_fd = open_pinned_map(VCPUFREQ_PIN_REQUESTS);
	if (req_fd < 0)
		return -1;
	state_fd = open_pinned_map(VCPUFREQ_PIN_VCPU_STATE);
	act_fd = open_pinned_map(VCPUFREQ_PIN_ACTIONS);
	if (state_fd < 0 || act_fd < 0)
		goto out;
	j = cli_json();
	if (j)
		json_arr_open(j);
	else
		printf("%-8s %5s %5s %5s %10s %-8s %4s %12s  %-28s %s\n", "TID",
		       "VM", "VCPU", "PERF", "GUEST", "ENROLLED", "CPU",
		       "RUNTIME_MS", "ACTION", "CGROUP");
	while (!bpf_map_get_next_key(req_fd, prev, &key)) {
		struct vcpu_row r = { .tid = key };

		prev = &key;
		if (bpf_map_lookup_elem(req_fd, &key, &r.req))
			continue;	/* dropped while we listed */
		fill_row(&r, state_fd, act_fd);
		if (j)
			print_json_row(j, &r);
		else
			print_text_row(&r);
		rows++;
	}
	if (j) {
		json_arr_close(j);
		json_free(j);
	} else if (!rows) {
		printf("(no vCPU thread has a request)\n");
	}
	ret = 0;
out:
	close(req_fd);
	if (state_fd >= 0)
		close(state_fd);
	if (act_fd >= 0)
		close(act_fd);
	return ret;
}
