// SPDX-License-Identifier: GPL-2.0-only
/*
 * Virtual cpufreq guest driver: the devicetree transport.
 *
 * The "qemu,virtual-cpufreq" node's reg holds one VCPUFREQ_REG_STRIDE
 * block of registers per vCPU, block n for CPU n (Linux 6.13 interface).
 * Table entries are read by writing an index to PERFTBL_SEL and reading
 * PERFTBL_RD, which only ever happens while probing.
 */

#include <linux/io.h>
#include <linux/mod_devicetable.h>
#include <linux/module.h>
#include <linux/platform_device.h>

#include "vcpufreq.h"

struct vcpufreq_mmio {
	struct vcpufreq_guest vf;
	void __iomem *base;
};

static void __iomem *vcpufreq_mmio_reg(struct vcpufreq_guest *vf, unsigned int cpu,
				       unsigned int reg)
{
	struct vcpufreq_mmio *m = container_of(vf, struct vcpufreq_mmio, vf);

	return m->base + cpu * VCPUFREQ_REG_STRIDE + reg;
}

static u32 vcpufreq_mmio_perftbl_len(struct vcpufreq_guest *vf, unsigned int cpu)
{
	return readl(vcpufreq_mmio_reg(vf, cpu, VCPUFREQ_REG_PERFTBL_LEN));
}

static u32 vcpufreq_mmio_perftbl_entry(struct vcpufreq_guest *vf, unsigned int cpu,
				       u32 idx)
{
	writel(idx, vcpufreq_mmio_reg(vf, cpu, VCPUFREQ_REG_PERFTBL_SEL));
	return readl(vcpufreq_mmio_reg(vf, cpu, VCPUFREQ_REG_PERFTBL_RD));
}

static u32 vcpufreq_mmio_perf_domain(struct vcpufreq_guest *vf, unsigned int cpu)
{
	return readl(vcpufreq_mmio_reg(vf, cpu, VCPUFREQ_REG_PERF_DOMAIN));
}

static u32 vcpufreq_mmio_cur_perf(struct vcpufreq_guest *vf, unsigned int cpu)
{
	return readl_relaxed(vcpufreq_mmio_reg(vf, cpu, VCPUFREQ_REG_CUR_PERF));
}

/* The write traps to the host on the writing vCPU's thread */
static void vcpufreq_mmio_set_perf(struct vcpufreq_guest *vf, unsigned int cpu,
				   u32 khz)
{
	writel_relaxed(khz, vcpufreq_mmio_reg(vf, cpu, VCPUFREQ_REG_SET_PERF));
}

static const struct vcpufreq_transport vcpufreq_mmio_ops = {
	.perftbl_len	= vcpufreq_mmio_perftbl_len,
	.perftbl_entry	= vcpufreq_mmio_perftbl_entry,
	.perf_domain	= vcpufreq_mmio_perf_domain,
	.cur_perf	= vcpufreq_mmio_cur_perf,
	.set_perf	= vcpufreq_mmio_set_perf,
};

static int vcpufreq_mmio_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct vcpufreq_mmio *m;
	struct resource *res;
	resource_size_t nr_blocks;
	unsigned int cpu;

	m = devm_kzalloc(dev, sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;

	m->base = devm_platform_get_and_ioremap_resource(pdev, 0, &res);
	if (IS_ERR(m->base))
		return PTR_ERR(m->base);

	/* every CPU the guest may ever bring up needs its block */
	nr_blocks = resource_size(res) / VCPUFREQ_REG_STRIDE;
	for_each_possible_cpu(cpu) {
		if (cpu >= nr_blocks) {
			dev_err(dev, "vCPU %u: no register block, reg covers %llu vCPUs\n",
				cpu, (unsigned long long)nr_blocks);
			return -ENODEV;
		}
	}

	m->vf.dev = dev;
	m->vf.ops = &vcpufreq_mmio_ops;
	return vcpufreq_probe(&m->vf);
}

static const struct of_device_id vcpufreq_mmio_of_match[] = {
	{ .compatible = "qemu,virtual-cpufreq" },
	{ }
};
MODULE_DEVICE_TABLE(of, vcpufreq_mmio_of_match);

/* no .remove: everything probe sets up is device-managed */
struct platform_driver vcpufreq_mmio_driver = {
	.probe = vcpufreq_mmio_probe,
	.driver = {
		.name = "vcpufreq-mmio",
		.of_match_table = vcpufreq_mmio_of_match,
	},
};
