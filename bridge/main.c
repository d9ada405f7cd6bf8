// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * vcpufreq-qemu-bridge: the command line, attach and teardown.  What the
 * bridge does and how its files divide the work: bridge.h.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <jansson.h>
#include "bridge.h"

static struct bridge bridge;	/* big (views), so not on the stack */

static void format_table(const struct vcpufreq_vcpu_config *v, char *buf,
			 size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (uint32_t i = 0; i < v->nr_perf && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%u", i ? "," : "",
				v->perf[i]);
	if (v->nr_perf == 1 && off < len)
		snprintf(buf + off, len - off, " (continuous)");
}


/* ---- the attach summary -------------------------------------------------- */

static json_t *vcpu_json(const struct bridge *b, unsigned int i)
{
	const struct vcpufreq_vcpu_config *v = &b->view[i];
	json_t *table = json_array();
	char aff[512];

	vcpufreq_format_cpulist(&b->affinity[i], aff, sizeof(aff));
	for (uint32_t k = 0; k < v->nr_perf; k++)
		json_array_append_new(table, json_integer(v->perf[k]));
	return json_pack("{s:i, s:i, s:s, s:i, s:i, s:o}", "vcpu", (int)i,
			 "tid", (json_int_t)b->tid[i], "affinity", aff,
			 "capacity", (int)v->capacity, "perf_domain",
			 (int)v->perf_domain, "perftbl", table);
}

static void print_summary_json(const struct bridge *b)
{
	json_t *vcpus = json_array(), *o;

	for (unsigned int i = 0; i < b->nr_vcpus; i++)
		json_array_append_new(vcpus, vcpu_json(b, i));
	o = json_pack("{s:i, s:I, s:s, s:s?, s:s?, s:i, s:i, s:o}",
		      "qemu_pid", (int)b->qemu_pid,
		      "vm_id", (json_int_t)b->opt.vm_id,
		      "socket", b->opt.socket_path,
		      "qmp", b->opt.qmp_path,
		      "libvirt", b->opt.libvirt,
		      "peer_id", BRIDGE_PEER_ID,
		      "doorbell", BRIDGE_PEER_ID << 16 | DOORBELL_VECTOR,
		      "vcpus", vcpus);
#ifdef VCPUFREQ_BRIDGE_TESTING
	json_object_set_new(o, "corrupt", b->opt.corrupt ?
			    json_string(corrupt_name(b->opt.corrupt)) :
			    json_null());
#endif
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
}

static void print_summary(const struct bridge *b)
{
	char table[1024], aff[512];

	if (b->opt.json) {
		print_summary_json(b);
		return;
	}
	for (unsigned int i = 0; i < b->nr_vcpus; i++) {
		format_table(&b->view[i], table, sizeof(table));
		vcpufreq_format_cpulist(&b->affinity[i], aff, sizeof(aff));
		printf("vcpu %u tid %u table %s domain %u capacity %u affinity %s\n",
		       i, b->tid[i], table, b->view[i].perf_domain,
		       b->view[i].capacity, aff);
	}
	info(b, "bridge: attached to QEMU pid %d: %u vCPUs, vm-id %u, doorbell 0x%x (peer %d vector %d)",
	     b->qemu_pid, b->nr_vcpus, b->opt.vm_id,
	     BRIDGE_PEER_ID << 16 | DOORBELL_VECTOR, BRIDGE_PEER_ID,
	     DOORBELL_VECTOR);
}

/* ---- start and stop ------------------------------------------------------ */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void teardown(struct bridge *b)
{
	unregister_vcpus(b);
	vcpufreq_dev_free(b->dev);
	vcpufreq_close(b->vf);
	if (b->shm)
		munmap(b->shm, VCPUFREQ_SHM_SIZE);
	remove_socket(b);
	free(b->qmp_buf);
	close_fd(&b->listen_fd);
	close_fd(&b->client_fd);
	close_fd(&b->qmp_fd);
	close_fd(&b->shm_fd);
	close_fd(&b->doorbell_fd);
	close_fd(&b->guest_irq_fd);
	close_fd(&b->timer_fd);
	close_fd(&b->defer_fd);
	close_fd(&b->epoll_fd);
	close_fd(&b->signal_fd);
	close_fd(&b->lock_fd);
}

/* a bad --topology is found now, not once QEMU is waiting on us */
static int check_topology(const struct bridge *b)
{
	char why[256];

	if (vcpufreq_vcpu_views(b->opt.topology, 0, NULL, NULL, why,
				sizeof(why)))
		return bridge_err("cannot read the host topology: %s%s", why,
				  b->opt.topology ? "" :
				  "; describe it with --topology FILE");
	return 0;
}

static int attach(struct bridge *b)
{
	if (accept_qemu(b))
		return -1;
	if (b->opt.libvirt ? libvirt_query_vcpus(b) : qmp_query_vcpus(b))
		return -1;
	if (!b->opt.vm_id_given)
		b->opt.vm_id = (uint32_t)b->qemu_pid;
	if (build_model(b) || register_vcpus(b))
		return -1;
	publish_shm(b);
	print_summary(b);
	return 0;
}

/* ---- command line -------------------------------------------------------- */

#ifdef VCPUFREQ_BRIDGE_TESTING
#define TEST_OPTIONS \
"  --corrupt KIND     TEST BUILD ONLY: publish a bad table for vCPU 0 (len0,\n" \
"                     len65, zero, unsorted, domain, nomagic)\n"
#else
#define TEST_OPTIONS ""
#endif

static void usage(FILE *f)
{
	fprintf(f,
"NAME\n"
"    vcpufreq-qemu-bridge - the virtual cpufreq device for a stock QEMU\n"
"\n"
"SYNOPSIS\n"
"    vcpufreq-qemu-bridge --socket PATH --libvirt DOMAIN [OPTIONS]\n"
"    vcpufreq-qemu-bridge --socket PATH --qmp PATH [OPTIONS]\n"
"    vcpufreq-qemu-bridge --socket PATH --qmp PATH --print-qemu-args\n"
"\n"
"DESCRIPTION\n"
"    Serves QEMU's ivshmem-doorbell device as the virtual cpufreq device of\n"
"    one VM: the guest's vcpufreq driver reads perf tables derived from the\n"
"    host topology, and each perf request it makes becomes a vcpufreq-bpf\n"
"    request for the host thread of the vCPU that made it.  Load\n"
"    vcpufreq-bpf first ('vcpufreq-bpf load') and enroll the VM's cgroup.\n"
"\n"
"    Start the bridge before QEMU: it creates the ivshmem server socket\n"
"    PATH, which QEMU connects to when it starts.  The bridge then learns\n"
"    each vCPU's host thread, from libvirt (--libvirt) or over QMP (--qmp),\n"
"    registers those threads, and serves requests until QEMU exits or it\n"
"    gets SIGINT/SIGTERM; then it unregisters every thread and exits.\n"
"\n"
"OPTIONS\n"
"  --socket PATH      ivshmem server socket to create (a stale socket of a\n"
"                     dead bridge is replaced; PATH.lock guards it)\n"
"  --libvirt DOMAIN   a libvirt domain: vCPU threads from libvirt's status\n"
"                     file DIR/DOMAIN.xml, once it names the QEMU that\n"
"                     connected (waits up to %d s)\n"
"  --libvirt-dir DIR  libvirt's QEMU state directory (default %s)\n"
"  --qmp PATH         a plain QEMU's QMP socket, which the bridge then owns\n"
"                     (-qmp unix:PATH,server=on,wait=off)\n"
"  --affinity LIST    host CPUs the vCPUs run on: one cpulist for all, or\n"
"                     'L0;L1;...' one per vCPU (default: each vCPU thread's\n"
"                     affinity when the bridge attaches)\n"
"  --topology FILE    describe the host CPUs with an override file instead\n"
"                     of sysfs (default: $VCPUFREQ_TOPOLOGY; format in\n"
"                     docs/usage.md)\n"
"  --vm-id N          VM id in vcpufreq requests (default: QEMU's pid)\n"
"  --pin-dir DIR      vcpufreq-bpf's pin directory (default %s)\n"
"  --interval MS      refresh each vCPU's cur_perf every MS ms; 0: only on\n"
"                     requests (default %d)\n"
"  --scope domain|writer\n"
"                     whose thread a request is for: every vCPU of the\n"
"                     perf domain (default), or only the vCPU that wrote\n"
"                     it, as crosvm does\n"
"  --print-qemu-args  print the QEMU arguments for --socket and --qmp, exit\n"
"  -j, --json         the attach summary as one JSON object on stdout, and\n"
"                     errors as {\"error\":\"...\"} there (not Error: on stderr)\n"
"  -v, --verbose      one line per forwarded request\n"
TEST_OPTIONS
"  -h, --help         this help\n"
"\n"
"LIBVIRT\n"
"    The hook vcpufreq-libvirt (installed in /etc/libvirt/hooks/qemu.d)\n"
"    runs the bridge for each domain with this device, on socket\n"
"    /run/vcpufreq/libvirt/DOMAIN.sock:\n"
"        <shmem name='vcpufreq'>\n"
"          <model type='ivshmem-doorbell'/>\n"
"          <server path='/run/vcpufreq/libvirt/DOMAIN.sock'/>\n"
"          <msi vectors='1'/>\n"
"        </shmem>\n"
"    'vcpufreq-libvirt enable DOMAIN' adds it.\n"
"\n"
"OUTPUT\n"
"    Once attached, one line per vCPU:\n"
"        vcpu N tid TID table P0,P1,... domain D capacity C affinity LIST\n"
"    then 'bridge: attached to QEMU pid PID: ...'; at exit 'bridge:\n"
"    stopping (REASON): forwarded N requests, unregistered N vCPU threads;\n"
"    N doorbells, N deferred by the rate limit' (at most 1000 doorbells a\n"
"    second are handled; the rest wait, and the latest request wins).\n"
"    While it runs, SOCKET.stats holds 'forwarded N doorbells N deferred\n"
"    N', rewritten at most once a second; removed at exit.\n"
"\n"
"EXIT STATUS\n"
"    0 when QEMU exits or on SIGINT/SIGTERM, 1 on an error (a line starting\n"
"    with 'Error:' says what to do), 2 on a bad command line.\n"
"\n"
"EXAMPLES\n"
"    vcpufreq-qemu-bridge --socket /run/vm1.ivshmem --qmp /run/vm1.qmp &\n"
"    qemu-system-x86_64 ... $(vcpufreq-qemu-bridge --socket /run/vm1.ivshmem \\\n"
"        --qmp /run/vm1.qmp --print-qemu-args)\n"
"\n"
"SEE ALSO\n"
"    vcpufreq-bpf(8) --help, vcpufreq-libvirt --help, docs/usage.md\n",
		LIBVIRT_WAIT_MS / 1000, LIBVIRT_STATUS_DIR, VCPUFREQ_PIN_DIR,
		DEFAULT_INTERVAL_MS);
}

/* QEMU option values escape ',' by doubling it */
static void print_qemu_value(const char *prefix, const char *path,
			     const char *suffix)
{
	char buf[PATH_MAX * 2 + 128];
	size_t off = 0;
	bool plain = true;

	off += snprintf(buf, sizeof(buf), "%s", prefix);
	for (const char *p = path; *p && off + 2 < sizeof(buf); p++) {
		buf[off++] = *p;
		if (*p == ',')
			buf[off++] = ',';
	}
	snprintf(buf + off, sizeof(buf) - off, "%s", suffix);
	for (const char *p = buf; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_./=,:+@%", *p))
			plain = false;
	if (plain) {
		fputs(buf, stdout);
		return;
	}
	/* shell-quote: 'it'\''s' */
	putchar('\'');
	for (const char *p = buf; *p; p++)
		fputs(*p == '\'' ? "'\\''" : (char[]){ *p, 0 }, stdout);
	putchar('\'');
}

static void print_qemu_args(const struct options *o)
{
	fputs("-chardev ", stdout);
	print_qemu_value("socket,id=vcf,path=", o->socket_path, "");
	fputs(" -device ivshmem-doorbell,chardev=vcf,vectors=1 -qmp ", stdout);
	print_qemu_value("unix:", o->qmp_path, ",server=on,wait=off");
	putchar('\n');
}

enum {
	OPT_SOCKET = 256, OPT_QMP, OPT_LIBVIRT, OPT_LIBVIRT_DIR, OPT_AFFINITY,
	OPT_TOPOLOGY, OPT_VM_ID, OPT_PIN_DIR, OPT_INTERVAL, OPT_PRINT,
	OPT_SCOPE, OPT_CORRUPT,
};

static const struct option long_opts[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "qmp", required_argument, NULL, OPT_QMP },
	{ "libvirt", required_argument, NULL, OPT_LIBVIRT },
	{ "libvirt-dir", required_argument, NULL, OPT_LIBVIRT_DIR },
	{ "affinity", required_argument, NULL, OPT_AFFINITY },
	{ "topology", required_argument, NULL, OPT_TOPOLOGY },
	{ "vm-id", required_argument, NULL, OPT_VM_ID },
	{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "print-qemu-args", no_argument, NULL, OPT_PRINT },
	{ "scope", required_argument, NULL, OPT_SCOPE },
#ifdef VCPUFREQ_BRIDGE_TESTING
	{ "corrupt", required_argument, NULL, OPT_CORRUPT },
#endif
	{ "json", no_argument, NULL, 'j' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 }
};

/* where an option that keeps its argument as it is goes; NULL: not one */
static const char **string_slot(struct options *o, int c)
{
	switch (c) {
	case OPT_SOCKET:
		return &o->socket_path;
	case OPT_QMP:
		return &o->qmp_path;
	case OPT_LIBVIRT:
		return &o->libvirt;
	case OPT_LIBVIRT_DIR:
		return &o->libvirt_dir;
	case OPT_AFFINITY:
		return &o->affinity;
	case OPT_TOPOLOGY:
		return &o->topology;
	case OPT_PIN_DIR:
		return &o->pin_dir;
	default:
		return NULL;
	}
}

static int parse_number_option(struct options *o, int c, const char *arg)
{
	unsigned long long v;

	if (c == OPT_VM_ID) {
		if (vf_parse_uint(arg, UINT32_MAX, &v))
			return bridge_err("--vm-id '%s' is not a number 0..%u", arg,
					  UINT32_MAX);
		o->vm_id = (uint32_t)v;
		o->vm_id_given = true;
		return 0;
	}
	if (vf_parse_uint(arg, 60000, &v))
		return bridge_err("--interval '%s' is not a number of ms 0..60000",
				  arg);
	o->interval_ms = (unsigned int)v;
	return 0;
}

static int parse_option(struct options *o, int c, const char *arg)
{
	const char **slot = string_slot(o, c);

	if (slot) {
		*slot = arg;
		return 0;
	}
	switch (c) {
	case OPT_PRINT:
		o->print_qemu_args = true;
		return 0;
	case 'j':
		o->json = true;
		return 0;
	case 'v':
		o->verbose = true;
		return 0;
	case OPT_VM_ID:
	case OPT_INTERVAL:
		return parse_number_option(o, c, arg);
	case OPT_SCOPE:
		if (!strcmp(arg, "domain") || !strcmp(arg, "writer")) {
			o->scope = arg[0] == 'd' ? VCPUFREQ_DEV_SCOPE_DOMAIN :
						   VCPUFREQ_DEV_SCOPE_WRITER;
			return 0;
		}
		return bridge_err("--scope '%s' is not domain or writer", arg);
#ifdef VCPUFREQ_BRIDGE_TESTING
	case OPT_CORRUPT:
		return parse_corrupt(arg, &o->corrupt);
#endif
	default:
		return bridge_err("unknown option; see vcpufreq-qemu-bridge --help");
	}
}

/* exactly one source of vCPU threads; --print-qemu-args is plain QEMU's */
static int check_args(const struct options *o)
{
	if (!o->socket_path)
		return bridge_err("--socket PATH is required; see --help");
	if (!!o->qmp_path == !!o->libvirt)
		return bridge_err("give either --libvirt DOMAIN or --qmp PATH (where the vCPU threads come from); see --help");
	if (o->print_qemu_args && !o->qmp_path)
		return bridge_err("--print-qemu-args is for plain QEMU (--qmp); under libvirt add the <shmem> device of --help");
	if (o->libvirt && (!*o->libvirt || strchr(o->libvirt, '/')))
		return bridge_err("--libvirt '%s' is not a domain name", o->libvirt);
	if (o->affinity && !*o->affinity)
		return bridge_err("--affinity is empty; give a cpulist such as 0-3");
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	const char *env = getenv("VCPUFREQ_TOPOLOGY");
	int c;

	o->interval_ms = DEFAULT_INTERVAL_MS;
	o->scope = VCPUFREQ_DEV_SCOPE_DOMAIN;
	o->libvirt_dir = LIBVIRT_STATUS_DIR;
	o->topology = env && *env ? env : NULL;
	while ((c = getopt_long(argc, argv, "jvh", long_opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == '?' || parse_option(o, c, optarg))
			return -1;
	}
	if (optind < argc)
		return bridge_err("unexpected argument '%s'; see --help", argv[optind]);
	return check_args(o);
}

int main(int argc, char **argv)
{
	struct bridge *b = &bridge;
	int ret;

	b->listen_fd = b->client_fd = b->qmp_fd = b->shm_fd = -1;
	b->doorbell_fd = b->guest_irq_fd = b->timer_fd = b->epoll_fd = -1;
	b->defer_fd = -1;
	b->signal_fd = b->lock_fd = -1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_errors_as_json(&b->opt.json);
	if (parse_args(argc, argv, &b->opt))
		return 2;
	if (b->opt.print_qemu_args) {
		print_qemu_args(&b->opt);
		return 0;
	}
	ret = block_stop_signals(b) || open_vcpufreq(b) || check_topology(b) ||
	      create_shm(b) || make_eventfds(b) || listen_ivshmem(b);
	if (!ret) {
		info(b, "bridge: waiting for QEMU on %s", b->opt.socket_path);
		ret = attach(b) || run_loop(b);
	}
	if (ret && b->stop_reason && !strcmp(b->stop_reason, "signal"))
		ret = 0;	/* interrupted while attaching: not an error */
	if (!ret)
		info(b, "bridge: stopping (%s): forwarded %llu requests, unregistered %u vCPU threads; %llu doorbells, %llu deferred by the rate limit",
		     b->stop_reason ? b->stop_reason : "done",
		     (unsigned long long)b->forwarded, b->nr_vcpus,
		     (unsigned long long)b->rings,
		     (unsigned long long)b->deferred);
	teardown(b);
	return ret ? 1 : 0;
}
