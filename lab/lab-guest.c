// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * lab-guest: the VM of the effect lab.  Its threads are vCPU threads that
 * run a modelled guest kernel (guestmodel.c, vcpu.c) and guest workloads
 * (workloads.c), and send the guest's frequency requests to the host the
 * way a VMM would.  This file: the command line, the VMM's setup (cgroup,
 * host topology, the virtual cpufreq device, libvcpufreq) and the report.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#ifndef LAB_NO_VMM
#include "vcpufreq/vcpufreq.h"
#include "topology.h"
#include "guestview.h"
#endif
#include "cpulist.h"
#include "lab.h"

#define DEFAULT_UNIT_NS		50000
#define CALIBRATE_MS		300
#define MAX_VCPUS		64

static const char usage_text[] =
"NAME\n"
"    lab-guest - a VM for the effect lab: vCPU threads running a modelled\n"
"    guest kernel and workload, asking the host for frequency\n"
"\n"
"SYNOPSIS\n"
"    lab-guest --workload W [--seconds S] [--vcpus N]\n"
"              [--mode none|hints|crosvm|crosvm68|boost|native] [--pin-dir DIR]\n"
"              [--cgroup PATH] [--topology FILE] [--vcpu-affinity 'L0;L1;..']\n"
"              [--unit-ns NS] [--iters-per-us X] [--seed N] [--trace] [-j]\n"
"    lab-guest --calibrate [-j]\n"
"\n"
"DESCRIPTION\n"
"    Each vCPU thread runs guest tasks in work units (a fixed number of\n"
"    iterations of a serial arithmetic loop, so a unit takes longer on a\n"
"    slower CPU) and halts (sleeps, not in iowait) when it has nothing to\n"
"    run, like a KVM vCPU.  In between it models the guest kernel: PELT\n"
"    util (32 ms half-life, frequency and capacity invariant), util_est,\n"
"    schedutil with iowait boost, a 1 ms rate limit and 4 ms ticks; see\n"
"    lab/guestmodel.c.  vCPU i looks like host CPU i mod NR_CPUS:\n"
"    its capacity and perf table come from the host topology, as a VMM\n"
"    mirrors a big.LITTLE host to its guest.\n"
"\n"
"MODES\n"
"    none    no virtual cpufreq device: the host's own governor only\n"
"    hints   (default) each vCPU thread writes SET_PERF into the register\n"
"            model, which submits through libvcpufreq\n"
"            for the thread, registered as vCPU i of VM 1\n"
"    crosvm  crosvm's virtcpufreq_v2: util = capacity x perf / fmax x 0.8,\n"
"            set by the vCPU thread as its own uclamp_min (sched_setattr)\n"
"    crosvm68  crosvm as it would act on a >= 6.8 host: the same without\n"
"            the x 0.8 (uclamp_min is a floor there, no 25 %% headroom)\n"
"    boost   each vCPU thread requests 1024 once at start (a control)\n"
"    native  no VM: each guest task is a host thread of its own, placed\n"
"            and clocked by the host alone (the yardstick); device waits\n"
"            sleep in iowait through /proc/vcpufreq_labio (lab/io)\n"
"    A build without the VMM (build/lab/arm64/lab-guest, for a real\n"
"    guest: lab/fidelity.sh) takes --mode native only.\n"
"\n"
"WORKLOADS\n"
"    io      fio-like 4 KiB reads, iodepth 1, one job per vCPU pair:\n"
"            3 units, 250 us device wait (iowait), 2 units\n"
"    frame   every 16 ms a frame of 16 chunks x 16 units pulled by free\n"
"            vCPUs; latency and deadline misses\n"
"    mixed   UI 40 units every 16.7 ms waking render 100 units; janks;\n"
"            background I/O of 4 units and 1 ms device waits\n"
"    hog     one task flat out on vCPU 0 for S/2, then 1 unit per 100 ms;\n"
"            prints every request\n"
"    seq-read-qd1 seq-read-qd8 rand-read-qd1 rand-read-qd8 seq-write-qd1\n"
"    seq-write-qd8 rand-write-qd1 rand-write-qd8\n"
"            fio's shapes at iodepth 1 or 8, one job per vCPU pair\n"
"    infer-cached infer-small infer-large\n"
"            a burst (4 workers x 10 / 50 / 200 units) after 200 ms idle\n"
"    pcmark  web, writing, photo and data phases of 250 ms in turn\n"
"    game    a 60 FPS loop: 100 units of logic, then 2 x 120 of render\n"
"    (sizes and device times: lab/workloads.c)\n"
"\n"
"OPTIONS\n"
"    -w, --workload W        what the guest runs (required)\n"
"    -s, --seconds S         run time (default 10)\n"
"    -n, --vcpus N           vCPU threads, 1..64 (default 4)\n"
"    -m, --mode M            how requests leave the VM (default hints)\n"
"    -p, --pin-dir DIR       vcpufreq-bpf pin dir (default /sys/fs/bpf/vcpufreq)\n"
"    -c, --cgroup PATH       move this process there before starting the\n"
"                            vCPUs (a directory, or below the cgroup2 mount)\n"
"    -T, --topology FILE     host topology override (also VCPUFREQ_TOPOLOGY;\n"
"                            format in docs/usage.md)\n"
"    -a, --vcpu-affinity L   one host cpulist per vCPU, ';'-separated: pin\n"
"                            vCPU i to L_i, its view is L_i's biggest CPU\n"
"    -u, --unit-ns NS        a unit's duration at the reference speed\n"
"                            (default 50000)\n"
"    -i, --iters-per-us X    the reference speed (from --calibrate on the\n"
"                            host at full speed); without it, calibrated\n"
"                            for 300 ms at start, on whatever speed it gets\n"
"    -r, --seed N            device latency jitter (+-5%) seed (default 1)\n"
"    -t, --trace             report every request (the hog always does)\n"
"        --calibrate         spin 300 ms on the CPU it starts on (pin it\n"
"                            with taskset to a big CPU at its top\n"
"                            frequency), print iterations/us\n"
"    -j, --json              one JSON object on stdout\n"
"    -h, --help              this text\n"
"\n"
"OUTPUT (-j)\n"
"    workload, mode, seconds (measured), vcpus, unit_ns, iters_per_us;\n"
"    io: ops, ops_per_s, mb_per_s, lat_p50_us, lat_p99_us (per op);\n"
"    frame: frames, misses, lat_p50_us, lat_p99_us (per frame);\n"
"    mixed: frames, janks, lat_p50_us, lat_p99_us, bg_ops_per_s;\n"
"    every workload but hog: perf (the headline, higher is better: io\n"
"    ops/s, infer bursts per s of p50 latency (1e6 / lat_p50_us), game\n"
"    FPS, pcmark the geometric mean of its phase scores) and work (ops,\n"
"    bursts, frames or units: what energy is divided by);\n"
"    pcmark: pc_web_lat_us, pc_writing_ops_per_s, pc_photo_lat_us,\n"
"    pc_data_units_per_s; game: fps;\n"
"    hog or --trace: stream, [t_ms, vcpu, perf, capacity units] per\n"
"    decision of the guest's schedutil (sent in hints and crosvm modes);\n"
"    requests (written by the guest; boost: one per vCPU), mean_request\n"
"    (capacity units, capacity x perf / fmax), mean_host_request (what\n"
"    the host was asked: crosvm takes 20% off), uclamp (crosvm:\n"
"    ok | unsupported | error; else n/a), work_units, cpu_busy_ms (wall\n"
"    time of units per host CPU, by sched_getcpu), vcpu_capacity.\n"
"    --calibrate -j: {\"iters_per_us\":X,\"cpu\":N}.\n"
"\n"
"EXIT STATUS\n"
"    0 done, 1 a setup error (printed as Error: ...) or a vCPU thread\n"
"    libvcpufreq refused (a Warning: line; the report is still printed),\n"
"    2 a usage error.\n"
"\n"
"EXAMPLE\n"
"    X=$(lab-guest --calibrate -j | jq .iters_per_us)\n"
"    vcpufreq-bpf load && mkdir /sys/fs/cgroup/vm && vcpufreq-bpf enroll /vm\n"
"    lab-guest -w io -s 10 -m hints -c /vm -i $X -j\n";

struct opts {
	const char *pin_dir, *cgroup, *topology, *affinity;
	double iters_per_us;
	bool calibrate;
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "Error: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "; see 'lab-guest --help'\n");
	return 2;
}

static int parse_num(const char *s, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno || end == s || *end || *out < min || *out > max ? -EINVAL : 0;
}

static int pick(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++) {
		if (!strcmp(s, names[i]))
			return i;
	}
	return -1;
}

static int parse_args(int argc, char **argv, struct lab *lab, struct opts *o)
{
	static const char *const modes[] = { "none", "hints", "crosvm", "crosvm68", "boost", "native" };
	static const struct option longopts[] = {
		{ "workload", required_argument, NULL, 'w' },
		{ "seconds", required_argument, NULL, 's' },
		{ "vcpus", required_argument, NULL, 'n' },
		{ "mode", required_argument, NULL, 'm' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "cgroup", required_argument, NULL, 'c' },
		{ "topology", required_argument, NULL, 'T' },
		{ "vcpu-affinity", required_argument, NULL, 'a' },
		{ "unit-ns", required_argument, NULL, 'u' },
		{ "iters-per-us", required_argument, NULL, 'i' },
		{ "seed", required_argument, NULL, 'r' },
		{ "trace", no_argument, NULL, 't' },
		{ "calibrate", no_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	bool have_workload = false;
	double v;
	int c, k;

	while ((c = getopt_long(argc, argv, "w:s:n:m:p:c:T:a:u:i:r:tjh",
				longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			k = workload_pick(optarg);
			if (k < 0)
				return usage_error("unknown workload '%s' (see WORKLOADS in --help)", optarg);
			lab->workload = k;
			have_workload = true;
			break;
		case 'm':
			k = pick(optarg, modes, 6);
			if (k < 0)
				return usage_error("unknown mode '%s' (none, hints, crosvm, crosvm68, boost or native)", optarg);
			lab->mode = k;
#ifdef LAB_NO_VMM
			if (k != MODE_NATIVE)
				return usage_error("this lab-guest was built without the VMM (for a real guest): --mode native only, not '%s'", optarg);
#endif
			break;
		case 's':
			if (parse_num(optarg, 0.1, 86400, &lab->seconds))
				return usage_error("--seconds takes 0.1..86400, not '%s'", optarg);
			break;
		case 'n':
			if (parse_num(optarg, 1, MAX_VCPUS, &v) || v != (int)v)
				return usage_error("--vcpus takes a whole number 1..64, not '%s'", optarg);
			lab->nr_vcpus = v;
			break;
		case 'u':
			if (parse_num(optarg, 1000, 1e8, &v))
				return usage_error("--unit-ns takes 1000..100000000, not '%s'", optarg);
			lab->unit_ns = v;
			break;
		case 'i':
			if (parse_num(optarg, 1e-3, 1e6, &o->iters_per_us))
				return usage_error("--iters-per-us takes a positive number (from --calibrate), not '%s'", optarg);
			break;
		case 'r':
			if (parse_num(optarg, 0, 4294967295.0, &v) || v != (unsigned int)v)
				return usage_error("--seed takes a whole number, not '%s'", optarg);
			lab->seed = v;
			break;
		case 'p':
			o->pin_dir = optarg;
			break;
		case 'c':
			o->cgroup = optarg;
			break;
		case 'T':
			o->topology = optarg;
			break;
		case 'a':
			o->affinity = optarg;
			break;
		case 't':
			lab->trace = true;
			break;
		case 'C':
			o->calibrate = true;
			break;
		case 'j':
			lab->json = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			return usage_error("%s", "bad option");
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!have_workload && !o->calibrate)
		return usage_error("%s", "say what to run: --workload W (see WORKLOADS in --help; or --calibrate)");
	return 0;
}

/* ---- the VMM's setup --------------------------------------------------- */

static int cgroup2_mount(char *buf, size_t len)
{
	char dev[64], dir[4096], type[64];
	FILE *f = fopen("/proc/self/mounts", "r");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fscanf(f, "%63s %4095s %63s %*[^\n]", dev, dir, type) == 3) {
		if (!strcmp(type, "cgroup2")) {
			snprintf(buf, len, "%s", dir);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

/*
 * Before any vCPU thread exists, so that every one of them is inside.
 * PATH as vcpufreq-bpf enroll takes it: a cgroup directory, or a path
 * below the cgroup2 mount.
 */
static int join_cgroup(const char *cg)
{
	char mnt[4096] = "", path[8192];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	if (access(path, F_OK) && !cgroup2_mount(mnt, sizeof(mnt)))
		snprintf(path, sizeof(path), "%s/%s/cgroup.procs", mnt,
			 cg + strspn(cg, "/"));
	f = fopen(path, "w");
	ret = f ? fprintf(f, "%d\n", getpid()) < 0 : 1;
	if (f && fclose(f))
		ret = 1;
	if (ret) {
		fprintf(stderr, "Error: cannot move into %s: %s; create the cgroup (mkdir) and enroll it with 'vcpufreq-bpf enroll'\n",
			path, strerror(errno));
		return 1;
	}
	return 0;
}

/* one ';'-separated host cpulist per vCPU */
static int parse_affinity(struct lab *lab, const char *s)
{
	const char *p = s;
	char why[256];

	lab->affinity = calloc(lab->nr_vcpus, sizeof(cpu_set_t));
	for (int i = 0; i < lab->nr_vcpus; i++) {
		size_t len = strcspn(p, ";");

		if (vf_parse_cpulist(p, len, &lab->affinity[i], why, sizeof(why)) < 0) {
			fprintf(stderr, "Error: --vcpu-affinity, vCPU %d: %s; give one cpulist per vCPU, e.g. '0;1;2-3;2-3'\n", i, why);
			return 2;
		}
		p += len;
		if (*p != ';' && i < lab->nr_vcpus - 1) {
			fprintf(stderr, "Error: --vcpu-affinity has %d cpulists for %d vCPUs; give one per vCPU\n",
				i + 1, lab->nr_vcpus);
			return 2;
		}
		p += *p == ';';
	}
	if (*p) {
		fprintf(stderr, "Error: --vcpu-affinity has more cpulists than %d vCPUs\n", lab->nr_vcpus);
		return 2;
	}
	return 0;
}

#ifndef LAB_NO_VMM
/* vCPU i: the view of its affinity, else of host CPU i mod the CPU count */
static int build_views(struct lab *lab, const char *topo_file,
		       struct vcpufreq_vcpu_config *cfg)
{
	static struct vf_topology topo;
	int present[VCPUFREQ_MAX_CPUS], nr = 0;
	char why[256];

	if (vf_topology_load(&topo, NULL, topo_file, why, sizeof(why))) {
		fprintf(stderr, "Error: cannot read the host topology: %s; fix it or give --topology FILE\n", why);
		return 1;
	}
	for (int c = 0; c < topo.nr_cpus; c++) {
		if (topo.cpu[c].present)
			present[nr++] = c;
	}
	for (int i = 0; i < lab->nr_vcpus; i++) {
		cpu_set_t one;

		CPU_ZERO(&one);
		if (nr)
			CPU_SET(present[i % nr], &one);
		if (vf_vcpu_view(&topo, lab->affinity ? &lab->affinity[i] : &one, &cfg[i])) {
			fprintf(stderr, "Error: vCPU %d: no described host CPU in its affinity; check --vcpu-affinity and the topology\n", i);
			return 1;
		}
		gm_vcpu_init(&lab->gm.vcpus[i], cfg[i].capacity, cfg[i].nr_perf, cfg[i].perf);
		lab->vcpus[i].index = i;
		lab->vcpus[i].fmax = gm_vcpu_fmax(&lab->gm.vcpus[i]);
	}
	return 0;
}

static int open_pipeline(struct lab *lab, const char *pin_dir,
			 const struct vcpufreq_vcpu_config *cfg)
{
	struct vcpufreq_dev_config dc = { .nr_vcpus = lab->nr_vcpus,
					  .vm_id = VM_ID,
					  .vcpus = cfg };
	struct vcpufreq_dev_ops ops;
	char why[256];
	int ret;

	if (lab->mode != MODE_HINTS && lab->mode != MODE_BOOST)
		return 0;
	ret = vcpufreq_open(pin_dir, &lab->vf);
	if (ret) {
		fprintf(stderr, "Error: cannot open the vcpufreq maps: %s; run 'vcpufreq-bpf load' first (or use --mode none|crosvm)\n",
			vcpufreq_strerror(ret));
		return 1;
	}
	if (lab->mode != MODE_HINTS)
		return 0;
	vcpufreq_dev_ops_init(&ops, lab->vf);
	if (vcpufreq_dev_new(&dc, &ops, &lab->dev, why, sizeof(why))) {
		fprintf(stderr, "Error: cannot build the virtual cpufreq device: %s\n", why);
		return 1;
	}
	return 0;
}

#endif

/* ---- running ----------------------------------------------------------- */

/* until the run time is over or SIGINT/SIGTERM */
static void wait_run(double seconds, const sigset_t *sigs)
{
	struct timespec end, now, left;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)seconds;
	end.tv_nsec += (long)((seconds - (time_t)seconds) * 1e9);
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = end.tv_sec - now.tv_sec;
		left.tv_nsec = end.tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		if (left.tv_sec < 0)
			return;
		if (sigtimedwait(sigs, NULL, &left) > 0)
			return;
	}
}

/* ---- the report -------------------------------------------------------- */

struct summary {
	double secs, p50, p99;
	uint64_t units;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void summarize(struct lab *lab, struct summary *s)
{
	s->secs = lab->end / 1e9;
	s->p50 = s->p99 = 0;
	if (lab->nr_lat) {
		qsort(lab->lat_us, lab->nr_lat, sizeof(double), cmp_double);
		s->p50 = lab->lat_us[(size_t)((lab->nr_lat - 1) * 0.50)];
		s->p99 = lab->lat_us[(size_t)((lab->nr_lat - 1) * 0.99)];
	}
	s->units = lab->native_units;
	for (int i = 0; lab->vcpus && i < lab->nr_vcpus; i++)
		s->units += lab->vcpus[i].units;
}

static const char *uclamp_word(const struct lab *lab)
{
	if (lab->mode != MODE_CROSVM && lab->mode != MODE_CROSVM68)
		return "n/a";
	if (lab->uclamp == -EINVAL || lab->uclamp == -EOPNOTSUPP)
		return "unsupported";
	return lab->uclamp < 0 ? "error" : "ok";
}

static double mean(uint64_t sum, uint64_t n)
{
	return n ? (double)sum / n : 0;
}

static uint64_t busy_ns(const struct lab *lab, int cpu)
{
	uint64_t ns = lab->native_busy_ns ? lab->native_busy_ns[cpu] : 0;

	for (int i = 0; lab->vcpus && i < lab->nr_vcpus; i++)
		ns += lab->vcpus[i].busy_ns ? lab->vcpus[i].busy_ns[cpu] : 0;
	return ns;
}

/* the headline figure (higher is better) and the work energy is divided by */
static void headline(const struct lab *lab, const struct summary *s,
		     double *perf, double *work)
{
	double logsum = 0, v;
	int n = 0;

	*perf = *work = 0;
	switch (lab->workload) {
	case WL_HOG:
		return;
	case WL_PCMARK:
		for (int k = 0; k < PC_PHASES; k++) {
			if (!lab->pc_n[k])
				continue;
			if (k == PC_WEB || k == PC_PHOTO)
				v = 1e6 * lab->pc_n[k] / lab->pc_lat_us[k];
			else
				v = lab->pc_units[k] / s->secs;
			logsum += log(v);
			n++;
			*work += lab->pc_units[k];
		}
		*perf = n ? exp(logsum / n) : 0;
		return;
	case WL_INFER_CACHED ... WL_INFER_LARGE:
		*perf = s->p50 > 0 ? 1e6 / s->p50 : 0;
		*work = lab->frames;
		return;
	case WL_GAME:
		*perf = lab->frames / s->secs;
		*work = lab->frames;
		return;
	default:
		if (workload_is_io(lab->workload)) {
			*perf = lab->ops / s->secs;
			*work = lab->ops;
		} else {
			*perf = lab->frames / s->secs;
			*work = lab->frames;
		}
	}
}

static void print_headline(const struct lab *lab, const struct summary *s)
{
	double perf, work;

	if (lab->workload == WL_HOG)
		return;
	headline(lab, s, &perf, &work);
	printf(",\"perf\":%.4f,\"work\":%.1f", perf, work);
	if (lab->workload == WL_PCMARK)
		printf(",\"pc_web_lat_us\":%.1f,\"pc_writing_ops_per_s\":%.1f,"
		       "\"pc_photo_lat_us\":%.1f,\"pc_data_units_per_s\":%.1f",
		       lab->pc_n[PC_WEB] ? lab->pc_lat_us[PC_WEB] / lab->pc_n[PC_WEB] : 0,
		       lab->pc_units[PC_WRITING] / s->secs,
		       lab->pc_n[PC_PHOTO] ? lab->pc_lat_us[PC_PHOTO] / lab->pc_n[PC_PHOTO] : 0,
		       lab->pc_units[PC_DATA] / s->secs);
	if (lab->workload == WL_GAME)
		printf(",\"fps\":%.2f", perf);
}

static void print_json(struct lab *lab, const struct summary *s)
{
	static const char *const modes[] = { "none", "hints", "crosvm", "crosvm68", "boost", "native" };

	printf("{\"workload\":\"%s\",\"mode\":\"%s\",\"seconds\":%.3f,\"vcpus\":%d,"
	       "\"unit_ns\":%llu,\"iters_per_us\":%.2f",
	       workload_name(lab->workload), modes[lab->mode], s->secs,
	       lab->nr_vcpus, (unsigned long long)lab->unit_ns,
	       lab->unit_iters * 1e3 / lab->unit_ns);
	if (workload_is_io(lab->workload))
		printf(",\"ops\":%llu,\"ops_per_s\":%.1f,\"mb_per_s\":%.2f",
		       (unsigned long long)lab->ops, lab->ops / s->secs,
		       lab->ops * 4096.0 / 1e6 / s->secs);
	print_headline(lab, s);
	if (lab->workload != WL_HOG && !workload_is_io(lab->workload) &&
	    lab->workload != WL_PCMARK)
		printf(",\"frames\":%llu,\"%s\":%llu", (unsigned long long)lab->frames,
		       lab->workload == WL_FRAME ? "misses" : "janks",
		       (unsigned long long)lab->misses);
	if (lab->workload != WL_HOG)
		printf(",\"lat_p50_us\":%.1f,\"lat_p99_us\":%.1f", s->p50, s->p99);
	if (lab->workload == WL_MIXED)
		printf(",\"bg_ops_per_s\":%.1f", lab->bg_ops / s->secs);
	printf(",\"requests\":%llu,\"mean_request\":%.1f,\"mean_host_request\":%.1f,"
	       "\"uclamp\":\"%s\",\"work_units\":%llu,\"cpu_busy_ms\":[",
	       (unsigned long long)lab->requests,
	       mean(lab->request_sum, lab->requests),
	       mean(lab->host_request_sum, lab->requests), uclamp_word(lab),
	       (unsigned long long)s->units);
	for (int c = 0; c < lab->nr_host_cpus; c++)
		printf("%s%.1f", c ? "," : "", busy_ns(lab, c) / 1e6);
	printf("],\"vcpu_capacity\":[");
	for (int i = 0; lab->mode != MODE_NATIVE && i < lab->nr_vcpus; i++)
		printf("%s%u", i ? "," : "", lab->gm.vcpus[i].capacity);
	printf("]");
	if (lab->trace) {
		printf(",\"stream\":[");
		for (size_t i = 0; i < lab->nr_stream; i++) {
			const struct sample *p = &lab->stream[i];

			printf("%s[%.1f,%d,%u,%u]", i ? "," : "", p->t / 1e6,
			       p->vcpu, p->perf, p->cap);
		}
		printf("]");
	}
	printf("}\n");
}

static void print_text(struct lab *lab, const struct summary *s)
{
	static const char *const modes[] = { "none", "hints", "crosvm", "crosvm68", "boost", "native" };

	printf("lab-guest: %s, mode %s, %d vCPUs, %.2f s, unit %llu ns = %llu iterations\n",
	       workload_name(lab->workload), modes[lab->mode], lab->nr_vcpus,
	       s->secs, (unsigned long long)lab->unit_ns,
	       (unsigned long long)lab->unit_iters);
	if (workload_is_io(lab->workload))
		printf("  %llu ops: %.0f IOPS, %.2f MB/s at 4 KiB\n",
		       (unsigned long long)lab->ops, lab->ops / s->secs,
		       lab->ops * 4096.0 / 1e6 / s->secs);
	if (lab->workload == WL_FRAME || lab->workload == WL_MIXED)
		printf("  %llu frames, %llu over their period\n",
		       (unsigned long long)lab->frames, (unsigned long long)lab->misses);
	if (lab->workload != WL_HOG)
		printf("  latency p50 %.0f us, p99 %.0f us\n", s->p50, s->p99);
	if (lab->workload == WL_MIXED)
		printf("  background I/O %.0f ops/s\n", lab->bg_ops / s->secs);
	for (size_t i = 0; i < lab->nr_stream; i++)
		printf("  %8.1f ms  vcpu %d  perf %u  (%u/1024)\n",
		       lab->stream[i].t / 1e6, lab->stream[i].vcpu,
		       lab->stream[i].perf, lab->stream[i].cap);
	printf("  requests %llu, mean %.0f/1024 (host asked %.0f), uclamp %s\n",
	       (unsigned long long)lab->requests,
	       mean(lab->request_sum, lab->requests),
	       mean(lab->host_request_sum, lab->requests), uclamp_word(lab));
	printf("  busy ms per host CPU:");
	for (int c = 0; c < lab->nr_host_cpus; c++)
		printf(" cpu%d %.0f", c, busy_ns(lab, c) / 1e6);
	printf("\n  %llu work units\n", (unsigned long long)s->units);
}

/* ---- main -------------------------------------------------------------- */

static int start_vcpus(struct lab *lab)
{
#ifndef LAB_NO_VMM
	return lab_start_vcpus(lab);
#else
	(void)lab;
	return -1;
#endif
}

/* on the CPU it starts on (taskset picks one): that CPU's speed */
static int calibrate_only(bool json)
{
	int cpu = sched_getcpu();
	cpu_set_t one;
	double x;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	sched_setaffinity(0, sizeof(one), &one);
	x = lab_calibrate(CALIBRATE_MS);

	if (json)
		printf("{\"iters_per_us\":%.2f,\"cpu\":%d}\n", x, cpu);
	else
		printf("%.2f iterations per us on CPU %d\n", x, cpu);
	return 0;
}

/* the vCPUs' views of the host and the device (every mode but native) */
static int vmm_setup(struct lab *lab, const struct opts *o)
{
#ifndef LAB_NO_VMM
	const char *topo = o->topology ? o->topology : getenv("VCPUFREQ_TOPOLOGY");
	struct vcpufreq_vcpu_config *cfg = calloc(lab->nr_vcpus, sizeof(*cfg));
	int ret;

	if (!cfg)
		return 1;
	ret = build_views(lab, topo && *topo ? topo : NULL, cfg);
	if (!ret)
		ret = open_pipeline(lab, o->pin_dir, cfg);
	free(cfg);
	return ret;
#else
	(void)lab;
	(void)o;
	return 0;
#endif
}

static int setup(struct lab *lab, struct opts *o)
{
	int ret;

	if (o->affinity) {
		ret = parse_affinity(lab, o->affinity);
		if (ret)
			return ret;
	}
	if (o->cgroup && join_cgroup(o->cgroup))
		return 1;
	lab->nr_host_cpus = get_nprocs_conf();
	lab->vcpus = calloc(lab->nr_vcpus, sizeof(*lab->vcpus));
	lab->gm.vcpus = calloc(lab->nr_vcpus, sizeof(*lab->gm.vcpus));
	if (!lab->vcpus || !lab->gm.vcpus)
		return 1;
	lab->gm.nr_vcpus = lab->nr_vcpus;
	ret = vmm_setup(lab, o);
	if (ret)
		return ret;
	if (!o->iters_per_us) {
		o->iters_per_us = lab_calibrate(CALIBRATE_MS);
		fprintf(stderr, "lab-guest: reference speed calibrated here: %.2f iterations/us (give --iters-per-us to compare runs)\n",
			o->iters_per_us);
	}
	lab->unit_iters = (uint64_t)(o->iters_per_us * lab->unit_ns / 1e3);
	if (!lab->unit_iters)
		lab->unit_iters = 1;
	lab->trace |= lab->workload == WL_HOG;
	return workload_setup(lab) ? 1 : 0;
}

static void teardown(struct lab *lab)
{
#ifndef LAB_NO_VMM
	vcpufreq_dev_free(lab->dev);
	if (lab->vf)
		vcpufreq_close(lab->vf);
#endif
	for (int i = 0; lab->vcpus && i < lab->nr_vcpus; i++)
		free(lab->vcpus[i].busy_ns);
	free(lab->vcpus);
	free(lab->gm.vcpus);
	free(lab->gm.tasks);
	free(lab->tasks);
	free(lab->lat_us);
	free(lab->stream);
	free(lab->affinity);
	free(lab->native_busy_ns);
}

int main(int argc, char **argv)
{
	struct lab lab = { .mode = MODE_HINTS, .nr_vcpus = 4, .seconds = 10,
			   .unit_ns = DEFAULT_UNIT_NS, .seed = 1 };
	struct opts o = { 0 };
	struct summary s;
	sigset_t sigs;
	int ret;

	ret = parse_args(argc, argv, &lab, &o);
	if (ret)
		return ret;
	if (o.calibrate)
		return calibrate_only(lab.json);
	/* the vCPU threads inherit the mask; only wait_run() takes them */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	ret = setup(&lab, &o);
#ifdef LAB_NO_VMM
	lab.mode = MODE_NATIVE;
#endif
	if (!ret && (lab.mode == MODE_NATIVE ? lab_start_native(&lab) :
		     start_vcpus(&lab))) {
		fprintf(stderr, "Error: cannot start the vCPU (or task) threads\n");
		ret = 1;
	}
	if (!ret) {
		wait_run(lab.seconds, &sigs);
		if (lab.mode == MODE_NATIVE)
			lab_stop_native(&lab);
#ifndef LAB_NO_VMM
		else
			lab_stop_vcpus(&lab);
#endif
		summarize(&lab, &s);
		if (lab.json)
			print_json(&lab, &s);
		else
			print_text(&lab, &s);
		if (lab.pipeline_err)
			ret = 1;
	}
	teardown(&lab);
	return ret;
}
