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

/*
 * One printer per output format: the header, each row, the end.  The
 * action's own fields in JSON come from its actuator (describe_json).
 */
struct vcpus_printer {
	void (*begin)(struct json *j);
	void (*row)(struct json *j, const struct vcpu_row *r);
	void (*end)(struct json *j, int rows);
};

static void print_text_begin(struct json *j)
{
	printf("%-8s %5s %5s %5s %10s %-8s %4s %12s  %-28s %s\n", "TID",
	       "VM", "VCPU", "PERF", "GUEST", "ENROLLED", "CPU", "RUNTIME_MS",
	       "ACTION", "CGROUP");
}

static void print_text_row(struct json *j, const struct vcpu_row *r)
{
	char cpu[16];

	snprintf(cpu, sizeof(cpu), r->tracked ? "%u" : "-", r->st.last_cpu);
	printf("%-8u %5u %5u %5u %10u %-8s %4s %12.3f  %-28s %s\n", r->tid,
	       r->req.vm_id, r->req.vcpu, r->req.perf, r->req.guest_perf,
	       r->tracked && r->st.enrolled ? "yes" : "no", cpu,
	       r->st.runtime_ns / 1e6, r->action, r->cgroup);
}

static void print_text_end(struct json *j, int rows)
{
	if (!rows)
		printf("(no vCPU thread has a request)\n");
}

static void print_json_begin(struct json *j)
{
	json_arr_open(j);
}

static void print_json_action(struct json *j, const struct vcpu_row *r)
{
	const struct actuator *a = r->acted ? actuator_for(r->act.backend) :
					      NULL;

	json_obj_open(j);
	json_kstr(j, "backend", r->acted ? backend_name(r->act.backend) : "none");
	json_kuint(j, "perf", r->acted ? r->act.perf : 0);
	json_kstr(j, "summary", r->action);
	if (a && a->describe_json)
		a->describe_json(&r->act, j);
	json_obj_close(j);
}

static void print_json_row(struct json *j, const struct vcpu_row *r)
{
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
	print_json_action(j, r);
	json_obj_close(j);
}

static void print_json_end(struct json *j, int rows)
{
	json_arr_close(j);
}

static const struct vcpus_printer text_printer = {
	.begin = print_text_begin, .row = print_text_row, .end = print_text_end,
};

static const struct vcpus_printer json_printer = {
	.begin = print_json_begin, .row = print_json_row, .end = print_json_end,
};

int cmd_vcpus(int argc, char **argv)
{
	int req_fd, state_fd = -1, act_fd = -1, rows = 0, ret = -1;
	const struct vcpus_printer *p;
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
	p = j ? &json_printer : &text_printer;
	p->begin(j);
	while (!bpf_map_get_next_key(req_fd, prev, &key)) {
		struct vcpu_row r = { .tid = key };

		prev = &key;
		if (bpf_map_lookup_elem(req_fd, &key, &r.req))
			continue;	/* dropped while we listed */
		fill_row(&r, state_fd, act_fd);
		p->row(j, &r);
		rows++;
	}
	p->end(j, rows);
	json_free(j);
	ret = 0;
out:
	close(req_fd);
	if (state_fd >= 0)
		close(state_fd);
	if (act_fd >= 0)
		close(act_fd);
	return ret;
}
