// SPDX-License-Identifier: GPL-2.0-only
/*
 * Virtual cpufreq guest driver: the cpufreq driver core.
 *
 * The host offers each vCPU a block of 32-bit registers (the Linux 6.13
 * "qemu,virtual-cpufreq" interface): a performance table in kHz, or a
 * single maximum when any value up to it may be asked for, a perf domain id
 * (equal ids share one policy), the performance the vCPU currently gets
 * (CUR_PERF) and the one it asks for (SET_PERF).  The host turns SET_PERF
 * into a boost of the vCPU's thread, so schedutil's choice for the guest's
 * tasks reaches the host scheduler.
 *
 * The host is not trusted: everything it says is checked once at probe and
 * copied, and CUR_PERF is capped at the policy's maximum on every read.
 * How this compares with Linux's own driver (virtual-cpufreq.c, 6.13) and
 * with crosvm's device: docs/compatibility.md.
 *
 * Transports: vcpufreq-mmio.c (devicetree) and vcpufreq-ivshmem.c (PCI).
 * cpufreq allows one driver system-wide, so the first device to probe
 * drives it and any other is refused with -EBUSY.
 */

#include <linux/arch_topology.h>
#include <linux/cpufreq.h>
#include <linux/cpumask.h>
#include <linux/device.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/platform_device.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/topology.h>

#include "vcpufreq.h"

/*
 * Biggest frequency accepted in a table: 100 GHz.  No CPU comes close, and
 * it keeps every entry clear of cpufreq's CPUFREQ_ENTRY_INVALID and
 * CPUFREQ_TABLE_END markers.
 */
#define VCPUFREQ_MAX_KHZ		(100U * 1000 * 1000)

/*
 * Biggest PERF_DOMAIN id accepted.  Ids are only compared, never used as an
 * index, so the bound exists to catch garbage (an all-ones read from an
 * absent device) while accepting hosts that pass their own cluster or
 * package ids through, which may exceed the guest's number of vCPUs.
 */
#define VCPUFREQ_MAX_DOMAIN_ID		0xffffU

/*
 * Lowest frequency of a continuous (PERFTBL_LEN == 1) domain without
 * frequency invariance (x86): an eighth of its maximum.  schedutil then
 * steps up from policy->cur by 25% at a time: from 1 kHz it would never
 * leave, from max / 8 it reaches the maximum in about 10 steps.  Where this
 * driver is the scheduler's frequency source (arm64, riscv) schedutil
 * scales from the maximum instead, and the minimum is 1 kHz, as in Linux's
 * driver.
 */
#define VCPUFREQ_CONTINUOUS_MIN_DIV	8

/*
 * Minimum time between two requests of a policy (schedutil's default
 * rate_limit_us).  A request is one register write the host has to trap or
 * be woken for, then a sched_setattr() on the vCPU thread: a few
 * microseconds each.  With the 1 us delay the RFC used, schedutil's iowait
 * boost could change the request on nearly every I/O completion, adding
 * an exit to the host to each I/O; 1 ms bounds that to 1000 requests per
 * second per policy (what cpufreq's own default is in 6.1 and 6.12, made
 * explicit here) while still reacting well within a scheduler tick at
 * HZ <= 1000.  It can be tuned at run time in schedutil/rate_limit_us.
 */
#define VCPUFREQ_TRANSITION_DELAY_US	1000

static DEFINE_MUTEX(vcpufreq_lock);	/* serialises vcpufreq_active changes */
static struct vcpufreq_guest *vcpufreq_active;	/* the device cpufreq runs on */

/* ---- requests -------------------------------------------------------- */

/*
 * CUR_PERF of @cpu, never above what its policy was told at probe.  Below
 * the minimum is kept: a host that throttles the vCPU (crosvm does, under
 * the host CPU's lowest frequency) says how slow it runs.  0: not known.
 */
static u32 vcpufreq_cur_khz(struct vcpufreq_guest *vf, unsigned int cpu,
			    const struct vcpufreq_domain *d)
{
	return min(vf->ops->cur_perf(vf, cpu), d->max_khz);
}

/*
 * Ask the host for @khz on behalf of @policy: one write, into
 * policy->cpu's SET_PERF, from the CPU running this, as Linux's driver
 * does.  dvfs_possible_from_any_cpu is false, so that is a CPU of the
 * policy, and the host boosts the vCPU that wrote (crosvm) or every vCPU
 * of the perf domain (our bridge): either way one exit per request.
 * Writing each sibling's block too would cost an exit per sibling and, on
 * crosvm, boost the writer again and nobody else.
 */
static void vcpufreq_write_perf(struct cpufreq_policy *policy, unsigned int khz)
{
	struct vcpufreq_guest *vf = vcpufreq_active;

	vf->ops->set_perf(vf, policy->cpu, khz);
}

/* asm/topology.h defines arch_scale_freq_ref on arm, arm64, riscv from 6.8 */
#if defined(CONFIG_GENERIC_ARCH_TOPOLOGY) && defined(arch_scale_freq_ref)
/*
 * schedutil (6.8+) scales its request from arch_scale_freq_ref(), which
 * arm64 and riscv define as the CPU's capacity_freq_ref.  arch_topology
 * sets it to each new policy's maximum only on devicetree boots: an arm64
 * guest booted with ACPI, which this driver serves over ivshmem, keeps the
 * initial 1, and schedutil would ask for the minimum whatever the load.
 * Such CPUs get the policy's maximum (on devicetree boots arch_topology
 * then writes the same value).  Like arch_topology's, the value stays when
 * the driver goes: 1 would be no better for whoever comes next.
 */
static void vcpufreq_set_freq_ref(const struct vcpufreq_domain *d)
{
	unsigned int cpu;

	for_each_cpu(cpu, &d->cpus)
		if (per_cpu(capacity_freq_ref, cpu) <= 1)
			per_cpu(capacity_freq_ref, cpu) = d->max_khz;
}
#else
/* before 6.8 schedutil scaled from cpuinfo.max_freq; x86 has no such ref */
static void vcpufreq_set_freq_ref(const struct vcpufreq_domain *d)
{
}
#endif

/* ---- cpufreq driver -------------------------------------------------- */

static int vcpufreq_cpu_init(struct cpufreq_policy *policy)
{
	struct vcpufreq_domain *d = vcpufreq_active->cpu_domain[policy->cpu];

	if (!d)
		return -ENODEV;

	cpumask_copy(policy->cpus, &d->cpus);
	policy->driver_data = d;
	policy->freq_table = d->table;	/* the core sets cpuinfo from it */
	if (!d->table) {
		policy->cpuinfo.min_freq = d->min_khz;
		policy->cpuinfo.max_freq = d->max_khz;
	}
	/* a request takes effect when written: no latency to declare */
	policy->cpuinfo.transition_latency = 0;
	policy->transition_delay_us = VCPUFREQ_TRANSITION_DELAY_US;
	policy->fast_switch_possible = true;
	/* the vCPU that writes SET_PERF is the one the host hears from */
	policy->dvfs_possible_from_any_cpu = false;
	vcpufreq_set_freq_ref(d);
	return 0;
}

static int vcpufreq_verify(struct cpufreq_policy_data *policy)
{
	if (policy->freq_table)
		return cpufreq_frequency_table_verify(policy,
						      policy->freq_table);
	cpufreq_verify_within_cpu_limits(policy);
	return 0;
}

/*
 * ->target rather than ->target_index: a continuous domain has no table.
 * The core has already clamped @target_freq to the policy and, with a
 * table, resolved it to an entry.
 */
static int vcpufreq_target(struct cpufreq_policy *policy,
			   unsigned int target_freq, unsigned int relation)
{
	struct cpufreq_freqs freqs = {
		.old = policy->cur,
		.new = target_freq,
	};

	cpufreq_freq_transition_begin(policy, &freqs);
	vcpufreq_write_perf(policy, target_freq);
	cpufreq_freq_transition_end(policy, &freqs, false);
	return 0;
}

static unsigned int vcpufreq_fast_switch(struct cpufreq_policy *policy,
					 unsigned int target_freq)
{
	vcpufreq_write_perf(policy, target_freq);
	return target_freq;
}

static unsigned int vcpufreq_get(unsigned int cpu)
{
	struct vcpufreq_guest *vf = vcpufreq_active;
	struct vcpufreq_domain *d;

	if (!vf || cpu >= nr_cpu_ids)
		return 0;
	d = vf->cpu_domain[cpu];
	return d ? vcpufreq_cur_khz(vf, cpu, d) : 0;
}

/*
 * CPUFREQ_CONST_LOOPS: a request changes how much host CPU time the vCPU
 * gets, never the guest's TSC or delay loops.
 */
static struct cpufreq_driver vcpufreq_driver = {
	.name		= "vcpufreq",
	.flags		= CPUFREQ_CONST_LOOPS,
	.init		= vcpufreq_cpu_init,
	.verify		= vcpufreq_verify,
	.target		= vcpufreq_target,
	.fast_switch	= vcpufreq_fast_switch,
	.get		= vcpufreq_get,
	.attr		= cpufreq_generic_attr,
};

/* ---- frequency invariance -------------------------------------------- */

#ifdef CONFIG_GENERIC_ARCH_TOPOLOGY
/*
 * The scheduler's frequency scale of this CPU, from CUR_PERF, on each
 * tick: the host knows what the vCPU really got, the guest's last request
 * does not.  Ticks only reach this while the source is installed, that is
 * between vcpufreq_fie_start() and vcpufreq_fie_stop().
 */
static void vcpufreq_scale_freq_tick(void)
{
	struct vcpufreq_guest *vf = vcpufreq_active;
	unsigned int cpu = smp_processor_id();
	struct vcpufreq_domain *d = vf->cpu_domain[cpu];
	u64 cur = vcpufreq_cur_khz(vf, cpu, d);

	/*
	 * 0: the host has no value (crosvm when it cannot read the host
	 * CPU's frequency).  A scale of 0 would stop the CPU's utilization
	 * from growing at all; the last one is the better guess.
	 */
	if (!cur)
		return;
	this_cpu_write(arch_freq_scale,
		       div_u64(cur << SCHED_CAPACITY_SHIFT, d->max_khz));
}

/*
 * 6.12 has no source for virtual devices (SCALE_FREQ_SOURCE_VIRT came with
 * 6.13).  CPPC's is borrowed: only cppc_cpufreq installs it, and it cannot
 * be registered while we are, so clearing "our" source never clears
 * someone else's.  Architected counters (arm64 AMU) keep precedence.
 */
static struct scale_freq_data vcpufreq_sfd = {
	.source		= SCALE_FREQ_SOURCE_CPPC,
	.set_freq_scale	= vcpufreq_scale_freq_tick,
};

/* do not leave the last sample behind for whoever comes next */
static void vcpufreq_fie_reset(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu)
		per_cpu(arch_freq_scale, cpu) = SCHED_CAPACITY_SCALE;
}

static void vcpufreq_fie_stop(void *data)
{
	/* waits for running ticks (synchronize_rcu) */
	topology_clear_scale_freq_source(SCALE_FREQ_SOURCE_CPPC,
					 cpu_possible_mask);
	vcpufreq_fie_reset();
}

static int vcpufreq_fie_start(struct vcpufreq_guest *vf)
{
	topology_set_scale_freq_source(&vcpufreq_sfd, cpu_possible_mask);
	return devm_add_action_or_reset(vf->dev, vcpufreq_fie_stop, NULL);
}
#else
/* x86 and others: no hook for a frequency source; the scheduler goes without */
static int vcpufreq_fie_start(struct vcpufreq_guest *vf)
{
	return 0;
}

static void vcpufreq_fie_reset(void)
{
}
#endif

/* ---- discovery: read and check what the host says, once -------------- */

static int vcpufreq_cmp_u32(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Read @cpu's table into @perf, sorted ascending: hosts give it in any
 * order (crosvm passes the host's scaling_available_frequencies, which
 * may descend), and the cpufreq core would sort it anyway.  Returns its
 * length, or -ENODEV.
 */
static int vcpufreq_read_table(struct vcpufreq_guest *vf, unsigned int cpu,
			       u32 *perf)
{
	u32 len = vf->ops->perftbl_len(vf, cpu);
	u32 i;

	if (!len || len > VCPUFREQ_PERFTBL_MAX) {
		dev_err(vf->dev, "vCPU %u: perf table length %u, want 1..%u\n",
			cpu, len, VCPUFREQ_PERFTBL_MAX);
		return -ENODEV;
	}
	for (i = 0; i < len; i++) {
		perf[i] = vf->ops->perftbl_entry(vf, cpu, i);
		if (!perf[i] || perf[i] > VCPUFREQ_MAX_KHZ) {
			dev_err(vf->dev,
				"vCPU %u: perf table entry %u is %u kHz, want 1..%u\n",
				cpu, i, perf[i], VCPUFREQ_MAX_KHZ);
			return -ENODEV;
		}
	}
	sort(perf, len, sizeof(*perf), vcpufreq_cmp_u32, NULL);
	for (i = 1; i < len; i++) {
		if (perf[i] == perf[i - 1]) {
			dev_err(vf->dev,
				"vCPU %u: perf table has %u kHz twice\n",
				cpu, perf[i]);
			return -ENODEV;
		}
	}
	return len;
}

/* Give @d its cpufreq table (or its continuous range) from its perf[] */
static int vcpufreq_domain_set_table(struct vcpufreq_guest *vf,
				     struct vcpufreq_domain *d)
{
	struct cpufreq_frequency_table *table;
	u32 i;

	if (d->nr_perf == 1) {
		d->max_khz = d->perf[0];
		d->min_khz = IS_ENABLED(CONFIG_GENERIC_ARCH_TOPOLOGY) ? 1 :
			     max(d->max_khz / VCPUFREQ_CONTINUOUS_MIN_DIV, 1U);
		return 0;
	}

	table = devm_kcalloc(vf->dev, d->nr_perf + 1, sizeof(*table),
			     GFP_KERNEL);
	if (!table)
		return -ENOMEM;
	for (i = 0; i < d->nr_perf; i++) {
		table[i].driver_data = i;
		table[i].frequency = d->perf[i];
	}
	table[i].frequency = CPUFREQ_TABLE_END;
	d->table = table;
	d->min_khz = d->perf[0];
	d->max_khz = d->perf[d->nr_perf - 1];
	return 0;
}

static struct vcpufreq_domain *vcpufreq_find_domain(struct vcpufreq_guest *vf,
						    u32 id)
{
	unsigned int i;

	for (i = 0; i < vf->nr_domains; i++)
		if (vf->domains[i].id == id)
			return &vf->domains[i];
	return NULL;
}

/* Put @cpu, whose table is @perf[@len], into the domain with its id */
static int vcpufreq_add_cpu(struct vcpufreq_guest *vf, unsigned int cpu,
			    const u32 *perf, u32 len)
{
	struct vcpufreq_domain *d;
	u32 id = vf->ops->perf_domain(vf, cpu);
	int ret;

	if (id > VCPUFREQ_MAX_DOMAIN_ID) {
		dev_err(vf->dev, "vCPU %u: perf domain %u out of range 0..%u\n",
			cpu, id, VCPUFREQ_MAX_DOMAIN_ID);
		return -ENODEV;
	}

	d = vcpufreq_find_domain(vf, id);
	if (d) {
		/* one policy, one table: siblings must agree */
		if (d->nr_perf != len ||
		    memcmp(d->perf, perf, len * sizeof(*perf))) {
			dev_err(vf->dev,
				"vCPU %u: perf table differs from vCPU %u in perf domain %u\n",
				cpu, cpumask_first(&d->cpus), id);
			return -ENODEV;
		}
	} else {
		d = &vf->domains[vf->nr_domains++];
		d->id = id;
		d->nr_perf = len;
		memcpy(d->perf, perf, len * sizeof(*perf));
		ret = vcpufreq_domain_set_table(vf, d);
		if (ret)
			return ret;
	}

	cpumask_set_cpu(cpu, &d->cpus);
	vf->cpu_domain[cpu] = d;
	return 0;
}

static int vcpufreq_discover(struct vcpufreq_guest *vf)
{
	u32 perf[VCPUFREQ_PERFTBL_MAX];
	unsigned int cpu;
	int len, ret;

	/* at most one domain per CPU */
	vf->domains = devm_kcalloc(vf->dev, num_possible_cpus(),
				   sizeof(*vf->domains), GFP_KERNEL);
	vf->cpu_domain = devm_kcalloc(vf->dev, nr_cpu_ids,
				      sizeof(*vf->cpu_domain), GFP_KERNEL);
	if (!vf->domains || !vf->cpu_domain)
		return -ENOMEM;

	for_each_possible_cpu(cpu) {
		len = vcpufreq_read_table(vf, cpu, perf);
		if (len < 0)
			return len;
		ret = vcpufreq_add_cpu(vf, cpu, perf, len);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- registration ---------------------------------------------------- */

static void vcpufreq_unregister(void *data)
{
	cpufreq_unregister_driver(&vcpufreq_driver);
	/*
	 * Our frequency source went first (devm runs in reverse), so until
	 * schedutil stopped, cpufreq itself wrote its scale: undo that too.
	 */
	vcpufreq_fie_reset();

	mutex_lock(&vcpufreq_lock);
	vcpufreq_active = NULL;
	mutex_unlock(&vcpufreq_lock);
}

static int vcpufreq_register_driver(struct vcpufreq_guest *vf)
{
	int ret;

	mutex_lock(&vcpufreq_lock);
	if (vcpufreq_active) {
		dev_err(vf->dev, "%s already drives cpufreq, not using this device\n",
			dev_name(vcpufreq_active->dev));
		ret = -EBUSY;
		goto unlock;
	}

	/* the callbacks find the device here from the first ->init on */
	vcpufreq_active = vf;
	ret = cpufreq_register_driver(&vcpufreq_driver);
	if (ret) {
		vcpufreq_active = NULL;
		dev_err(vf->dev, "cannot register cpufreq driver %s: %d\n",
			vcpufreq_driver.name, ret);
	}
unlock:
	mutex_unlock(&vcpufreq_lock);
	if (ret)
		return ret;

	return devm_add_action_or_reset(vf->dev, vcpufreq_unregister, NULL);
}

int vcpufreq_probe(struct vcpufreq_guest *vf)
{
	int ret;

	ret = vcpufreq_discover(vf);
	if (ret)
		return ret;

	ret = vcpufreq_register_driver(vf);
	if (ret)
		return ret;

	ret = vcpufreq_fie_start(vf);
	if (ret)
		return ret;

	dev_info(vf->dev, "cpufreq driver %s: %u vCPUs in %u perf domains\n",
		 vcpufreq_driver.name, num_possible_cpus(), vf->nr_domains);
	return 0;
}

/* ---- module ---------------------------------------------------------- */

static int __init vcpufreq_init(void)
{
	int ret;

	ret = platform_driver_register(&vcpufreq_mmio_driver);
	if (ret)
		return ret;

	ret = pci_register_driver(&vcpufreq_ivshmem_driver);
	if (ret)
		platform_driver_unregister(&vcpufreq_mmio_driver);
	return ret;
}
module_init(vcpufreq_init);

static void __exit vcpufreq_exit(void)
{
	pci_unregister_driver(&vcpufreq_ivshmem_driver);
	platform_driver_unregister(&vcpufreq_mmio_driver);
}
module_exit(vcpufreq_exit);

MODULE_DESCRIPTION("Virtual cpufreq driver for guests (devicetree MMIO and ivshmem PCI)");
MODULE_LICENSE("GPL");
