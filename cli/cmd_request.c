// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * request TID PERF | request TID --drop: what a VMM does, from the shell.
 * The thread must exist; the BPF side then decides accepted/rejected and
 * we report its verdict.  A user that is not root goes through the
 * agent's broker, as its VMM would: the thread must be one of its VM's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "brokerclient.h"
#include "cli.h"
#include "vcpufreq/vcpufreq.h"

/*
 * A granted VMM user may write requests but neither run the refresh
 * iterator nor read vcpu_state: its request is taken in by the agent
 * (woken by the write) or at the thread's next switch-in once tracked,
 * and it learns nothing about other threads.
 */
static bool denied(int e)
{
	return e == EPERM || e == EACCES;
}

/* take a change in now rather than when the agent next runs */
static int refresh(void)
{
	int ret = vcpufreq_refresh(opts.pin_dir);

	if (ret && !denied(-ret))
		return err("cannot run the refresh iterator under %s: %s",
			   opts.pin_dir, strerror(-ret));
	return ret ? 1 : 0;
}

static int drop(int fd, __u32 tid)
{
	if (bpf_map_delete_elem(fd, &tid))
		return err("TID %u has no request to drop", tid);
	if (refresh() < 0)
		return -1;
	note("TID %u: request dropped", tid);
	return 0;
}

/*
 * What became of a request, for one printer per format: written only
 * (the caller may not read vcpu_state: the agent takes it in), or the
 * verdict BPF gave the thread.
 */
struct verdict {
	__u32 tid, perf;
	bool pending;		/* written; no verdict to read */
	bool tracked;		/* BPF knows the thread */
	bool enrolled;
};

static void print_text(const struct verdict *v)
{
	if (v->pending)
		note("TID %u: %u written; the agent takes it in as soon as it "
		     "runs", v->tid, v->perf);
	else if (!v->tracked)
		note("TID %u: rejected: the thread is gone", v->tid);
	else if (!v->enrolled)
		note("TID %u: %u requested, rejected: the thread is not in an "
		     "enrolled cgroup (it takes effect once you run 'vcpufreq-bpf "
		     "enroll' on its cgroup)", v->tid, v->perf);
	else
		note("TID %u: %u requested, accepted", v->tid, v->perf);
}

static void print_json(struct json *j, const struct verdict *v)
{
	json_obj_open(j);
	json_kuint(j, "tid", v->tid);
	json_kuint(j, "perf", v->perf);
	if (v->pending) {
		json_kbool(j, "pending", true);
	} else {
		json_kbool(j, "accepted", v->tracked && v->enrolled);
		json_kstr(j, "reason", !v->tracked ? "no such thread" :
			  v->enrolled ? "" : "not in an enrolled cgroup");
	}
	json_obj_close(j);
}

static int print_verdict(const struct verdict *v)
{
	struct json *j = cli_json();

	if (j)
		print_json(j, v);
	else
		print_text(v);
	json_free(j);
	return 0;
}

static int report_written(__u32 tid, __u32 perf)
{
	struct verdict v = { .tid = tid, .perf = perf, .pending = true };

	return print_verdict(&v);
}

static int report(__u32 tid, __u32 perf)
{
	struct verdict v = { .tid = tid, .perf = perf };
	struct vcpufreq_vcpu s = { 0 };
	char path[PATH_MAX];
	int fd;

	pin_path(path, sizeof(path), VCPUFREQ_PIN_VCPU_STATE);
	fd = bpf_obj_get(path);
	if (fd < 0 && denied(errno))
		return report_written(tid, perf);
	if (fd < 0)
		return err("cannot open %s: %s", path, strerror(errno));
	/*
	 * BPF keeps no state for a thread it never had to decide on (one
	 * outside every enrolled cgroup that did not run since, PID 1): it
	 * is still there, just not enrolled -- "gone" only when it is
	 */
	v.tracked = !read_vcpu_state(fd, tid, &s) || thread_exists(tid);
	v.enrolled = s.enrolled;
	close(fd);
	return print_verdict(&v);
}

/*
 * Through the broker: register the thread (it stays registered to this
 * user after we exit, as a VMM's would), then the request or the drop.
 */
static int brokered(__u32 tid, const struct vcpufreq_request *req, bool drop)
{
	int fd = vf_broker_connect(opts.pin_dir), ret;

	if (fd < 0)
		return err("cannot reach the vcpufreq agent: %s",
			   vcpufreq_strerror(fd));
	ret = vf_broker_call(fd, drop ? VCPUFREQ_BROKER_UNREGISTER :
			     VCPUFREQ_BROKER_REGISTER, tid, 0, 0);
	if (!ret && !drop)
		ret = vf_broker_request(fd, tid, req->perf, 0);
	close(fd);
	if (ret)
		return err("TID %u: %s", tid, vcpufreq_strerror(ret));
	if (drop) {
		note("TID %u: request dropped", tid);
		return 0;
	}
	return report_written(tid, req->perf);
}

int cmd_request(int argc, char **argv)
{
	struct vcpufreq_request req = { 0 };
	__u32 tid;
	int fd, ret;

	if (argc != 3)
		return err("usage: vcpufreq-bpf request TID PERF (PERF: host "
			   "capacity units 0..%d, or --drop)", VCPUFREQ_PERF_MAX);
	if (parse_tid(argv[1], &tid))
		return err("'%s' is not a thread id (a positive number, as in "
			   "/proc/PID/task/TID)", argv[1]);
	if (strcmp(argv[2], "--drop")) {
		ret = vf_parse_perf(argv[2], &req.perf);
		if (ret == -ERANGE)
			return err("PERF %s is out of range: requests are host "
				   "capacity units 0..%d", argv[2],
				   VCPUFREQ_PERF_MAX);
		if (ret)
			return err("PERF '%s' is not a number: give host capacity "
				   "units 0..%d", argv[2], VCPUFREQ_PERF_MAX);
	}
	if (!thread_exists(tid))
		return err("no thread with TID %u on this host; pass the vCPU "
			   "thread's id in the root pid namespace (e.g. from QMP "
			   "query-cpus-fast)", tid);
	if (geteuid() != 0 && is_loaded())
		return brokered(tid, &req, !strcmp(argv[2], "--drop"));
	fd = open_pinned_map(VCPUFREQ_PIN_REQUESTS);
	if (fd < 0)
		return -1;
	if (!strcmp(argv[2], "--drop")) {
		ret = drop(fd, tid);
		close(fd);
		return ret;
	}
	ret = bpf_map_update_elem(fd, &tid, &req, BPF_ANY);
	close(fd);
	if (ret)
		return err("cannot write the request: %s%s", strerror(errno),
			   errno == E2BIG ? " (request map full)" : "");
	ret = refresh();
	if (ret < 0)
		return -1;
	return ret ? report_written(tid, req.perf) : report(tid, req.perf);
}
