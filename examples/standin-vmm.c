// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * standin-vmm: a stand-in for a VMM with N vCPU threads and the virtual
 * cpufreq device.  The device's perf tables come from the host topology
 * (what `vcpufreq-bpf topology --dts` tells a guest); each vCPU thread runs
 * a synthetic guest load -- busy and idle phases of its own rhythm -- and,
 * as a guest's schedutil with the virtual cpufreq driver would, reads its
 * perf table from the registers and writes SET_PERF = 1.25 x util x max.
 * The register model turns that into a host request for the thread.
 *
 *   standin-vmm [-n VCPUS] [-t SECONDS] [-p PIN_DIR] [-T TOPOLOGY_FILE]
 * Prints "vcpu I tid T" for each vCPU, then runs for SECONDS (0: forever).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "vcpufreq/abi.h"
#include "vcpufreq/vcpufreq.h"
#include "guestview.h"	/* vf_topology_load, vf_vcpu_view */

#define WINDOW_MS 20

struct vm {
	struct vcpufreq *vf;
	struct vcpufreq_dev *dev;
	pthread_mutex_t mmio;		/* the device model and libvcpufreq's
					 * register/unregister are not thread-safe */
	double seconds;
	pthread_barrier_t registered;
};

struct vcpu {
	int index;
	pthread_t thread;
	struct vm *vm;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* duty cycle of vCPU @i at time @t_ms: a slow wave, phase shifted per vCPU */
static double guest_load(int i, double t_ms)
{
	double period = 2000 + 700 * i;
	double phase = (t_ms + 400 * i) / period;

	return phase - (long)phase < 0.5 ? 0.9 : 0.1;
}

/* one trapped MMIO access, as a VMM's exit handler would do it */
static uint32_t mmio_read(struct vm *vm, int vcpu, uint32_t reg)
{
	uint32_t v;

	pthread_mutex_lock(&vm->mmio);
	v = vcpufreq_dev_read(vm->dev, vcpu, reg);
	pthread_mutex_unlock(&vm->mmio);
	return v;
}

/* each stand-in vCPU only touches its own block: it is also the writer */
static void mmio_write(struct vm *vm, int vcpu, uint32_t reg, uint32_t val)
{
	pthread_mutex_lock(&vm->mmio);
	vcpufreq_dev_write_from(vm->dev, vcpu, vcpu, reg, val);
	pthread_mutex_unlock(&vm->mmio);
}

/* what the guest driver learns at probe: the top of its perf table */
static uint32_t guest_fmax(struct vm *vm, int vcpu)
{
	uint32_t len = mmio_read(vm, vcpu, VCPUFREQ_REG_PERFTBL_LEN);

	mmio_write(vm, vcpu, VCPUFREQ_REG_PERFTBL_SEL, len ? len - 1 : 0);
	return mmio_read(vm, vcpu, VCPUFREQ_REG_PERFTBL_RD);
}

static void *run_vcpu(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	double start = now_ms();
	volatile unsigned long spin = 0;
	uint32_t fmax;
	int ret;

	/* register/unregister must not race with other calls on the handle */
	pthread_mutex_lock(&vm->mmio);
	ret = vcpufreq_register(vm->vf, gettid(), 1, v->index);
	if (ret)
		fprintf(stderr, "vcpu %d: register: %s\n", v->index,
			vcpufreq_strerror(ret));
	vcpufreq_dev_set_tid(vm->dev, v->index, gettid());
	pthread_mutex_unlock(&vm->mmio);
	printf("vcpu %d tid %d\n", v->index, gettid());
	fflush(stdout);
	pthread_barrier_wait(&vm->registered);
	fmax = guest_fmax(vm, v->index);
	while (!vm->seconds || now_ms() - start < vm->seconds * 1e3) {
		double t = now_ms(), util = guest_load(v->index, t);

		while (now_ms() < t + WINDOW_MS * util)
			spin++;
		usleep(WINDOW_MS * (1 - util) * 1000);
		/* schedutil: next_freq = 1.25 * max * util (the model snaps it) */
		mmio_write(vm, v->index, VCPUFREQ_REG_SET_PERF,
			   1.25 * util * fmax);
	}
	pthread_mutex_lock(&vm->mmio);
	vcpufreq_unregister(vm->vf, gettid());
	pthread_mutex_unlock(&vm->mmio);
	return NULL;
}

/* every vCPU may run on every CPU this process may: one view for all */
static int build_device(struct vm *vm, int n, const char *topo_file)
{
	struct vcpufreq_vcpu_config *cfg = calloc(n, sizeof(*cfg));
	struct vcpufreq_dev_config dev_cfg = { .nr_vcpus = n, .vm_id = 1,
					       .vcpus = cfg };
	struct vcpufreq_dev_ops ops;
	static struct vf_topology topo;
	char why[256];
	cpu_set_t allowed;
	int ret;

	ret = vf_topology_load(&topo, NULL, topo_file, why, sizeof(why));
	if (!ret) {
		sched_getaffinity(0, sizeof(allowed), &allowed);
		for (int i = 0; i < n && !ret; i++)
			ret = vf_vcpu_view(&topo, &allowed, &cfg[i]);
		if (ret)
			snprintf(why, sizeof(why), "no host CPU to run on");
	}
	vcpufreq_dev_ops_init(&ops, vm->vf);
	if (!ret)
		ret = vcpufreq_dev_new(&dev_cfg, &ops, &vm->dev, why, sizeof(why));
	free(cfg);
	if (ret)
		fprintf(stderr, "Error: cannot build the virtual cpufreq device: "
			"%s\n", why);
	return ret;
}

int main(int argc, char **argv)
{
	const char *pin_dir = NULL, *topo_file = getenv("VCPUFREQ_TOPOLOGY");
	struct vm vm = { .seconds = 10 };
	struct vcpu *v;
	int n = 4, c, ret;

	while ((c = getopt(argc, argv, "n:t:p:T:h")) != -1) {
		switch (c) {
		case 'n': n = atoi(optarg); break;
		case 't': vm.seconds = atof(optarg); break;
		case 'p': pin_dir = optarg; break;
		case 'T': topo_file = optarg; break;
		default:
			fprintf(stderr, "usage: standin-vmm [-n VCPUS] [-t SECONDS] "
				"[-p PIN_DIR] [-T TOPOLOGY_FILE]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (n < 1 || n > 256) {
		fprintf(stderr, "Error: -n takes 1..256 vCPUs\n");
		return 2;
	}
	ret = vcpufreq_open(pin_dir, &vm.vf);
	if (ret) {
		fprintf(stderr, "Error: cannot open the vcpufreq maps: %s; "
			"run 'vcpufreq-bpf load' first\n", vcpufreq_strerror(ret));
		return 1;
	}
	if (build_device(&vm, n, topo_file && *topo_file ? topo_file : NULL))
		return 1;
	pthread_mutex_init(&vm.mmio, NULL);
	pthread_barrier_init(&vm.registered, NULL, n);
	v = calloc(n, sizeof(*v));
	for (int i = 0; i < n; i++) {
		v[i] = (struct vcpu){ .index = i, .vm = &vm };
		pthread_create(&v[i].thread, NULL, run_vcpu, &v[i]);
	}
	for (int i = 0; i < n; i++)
		pthread_join(v[i].thread, NULL);
	vcpufreq_dev_free(vm.dev);
	vcpufreq_close(vm.vf);
	free(v);
	return 0;
}
