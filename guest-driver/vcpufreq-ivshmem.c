// SPDX-License-Identifier: GPL-2.0-only
/*
 * Virtual cpufreq guest driver: the ivshmem transport, for guests without
 * devicetree (x86 under QEMU).
 *
 * QEMU's ivshmem-doorbell (or ivshmem-plain) PCI device carries the same
 * registers in shared memory (BAR2, layout in <vcpufreq/device.h>): a
 * header, then one block per vCPU.  A request stores set_perf and the
 * writing CPU (what a trap would tell the host), bumps seq and rings the
 * host through the doorbell register in BAR0, which QEMU turns into an
 * eventfd signal: neither side polls.  Nothing flows from
 * host to guest asynchronously, so no interrupt vector is set up.
 *
 * Any ivshmem device matches the PCI ids; one whose shared memory does not
 * start with the magic is somebody else's and is declined silently.
 */

#include <linux/compiler.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/smp.h>
#include <linux/string.h>

#include <asm/barrier.h>

#include "vcpufreq.h"

struct vcpufreq_ivshmem {
	struct vcpufreq_guest vf;
	void __iomem *regs;				/* BAR0 */
	struct vcpufreq_shm_header *hdr;		/* BAR2 */
	/* checked copies of the header's layout fields */
	u32 nr_vcpus;
	u32 vcpu_offset;
	u32 vcpu_stride;
};

static struct vcpufreq_ivshmem *to_ivshmem(struct vcpufreq_guest *vf)
{
	return container_of(vf, struct vcpufreq_ivshmem, vf);
}

/* Shared memory is little-endian, and the host may change it at any time */
static u32 shm_read(const __u32 *p)
{
	return le32_to_cpu((__force __le32)READ_ONCE(*p));
}

static void shm_write(__u32 *p, u32 val)
{
	WRITE_ONCE(*p, (__force __u32)cpu_to_le32(val));
}

static struct vcpufreq_shm_vcpu *
vcpufreq_ivshmem_block(struct vcpufreq_ivshmem *iv, unsigned int cpu)
{
	return (void *)iv->hdr + iv->vcpu_offset + cpu * iv->vcpu_stride;
}

static u32 vcpufreq_ivshmem_perftbl_len(struct vcpufreq_guest *vf, unsigned int cpu)
{
	struct vcpufreq_ivshmem *iv = to_ivshmem(vf);

	return shm_read(&vcpufreq_ivshmem_block(iv, cpu)->perftbl_len);
}

static u32 vcpufreq_ivshmem_perftbl_entry(struct vcpufreq_guest *vf,
					  unsigned int cpu, u32 idx)
{
	struct vcpufreq_ivshmem *iv = to_ivshmem(vf);

	return shm_read(&vcpufreq_ivshmem_block(iv, cpu)->perftbl[idx]);
}

static u32 vcpufreq_ivshmem_perf_domain(struct vcpufreq_guest *vf, unsigned int cpu)
{
	struct vcpufreq_ivshmem *iv = to_ivshmem(vf);

	return shm_read(&vcpufreq_ivshmem_block(iv, cpu)->perf_domain);
}

static u32 vcpufreq_ivshmem_cur_perf(struct vcpufreq_guest *vf, unsigned int cpu)
{
	struct vcpufreq_ivshmem *iv = to_ivshmem(vf);

	return shm_read(&vcpufreq_ivshmem_block(iv, cpu)->cur_perf);
}

/*
 * The doorbell value is re-read on each request rather than cached: the
 * bridge gets a new peer id from the ivshmem server when it reconnects and
 * rewrites it.  It is host-controlled but harmless, only a value for
 * QEMU's doorbell register, which ignores unknown peers.
 */
static void vcpufreq_ivshmem_set_perf(struct vcpufreq_guest *vf, unsigned int cpu,
				      u32 khz)
{
	struct vcpufreq_ivshmem *iv = to_ivshmem(vf);
	struct vcpufreq_shm_vcpu *blk = vcpufreq_ivshmem_block(iv, cpu);

	shm_write(&blk->set_perf, khz);
	/* a hint like a trap's: the CPU this runs on, preemptible or not */
	shm_write(&blk->writer, raw_smp_processor_id() + 1);
	/* the host reads seq, then set_perf and writer */
	virt_wmb();
	shm_write(&blk->seq, shm_read(&blk->seq) + 1);
	/* writel() orders the stores above before the doorbell */
	writel(shm_read(&iv->hdr->doorbell), iv->regs + IVSHMEM_DOORBELL);
}

static const struct vcpufreq_transport vcpufreq_ivshmem_ops = {
	.perftbl_len	= vcpufreq_ivshmem_perftbl_len,
	.perftbl_entry	= vcpufreq_ivshmem_perftbl_entry,
	.perf_domain	= vcpufreq_ivshmem_perf_domain,
	.cur_perf	= vcpufreq_ivshmem_cur_perf,
	.set_perf	= vcpufreq_ivshmem_set_perf,
};

/* Claim memory BAR @bar of at least @min_len bytes (device-managed) */
static int vcpufreq_ivshmem_request_bar(struct pci_dev *pdev, int bar,
					resource_size_t min_len)
{
	resource_size_t len = pci_resource_len(pdev, bar);

	if (len < min_len || !(pci_resource_flags(pdev, bar) & IORESOURCE_MEM))
		return -ENODEV;
	if (!devm_request_mem_region(&pdev->dev, pci_resource_start(pdev, bar),
				     len, KBUILD_MODNAME))
		return -EBUSY;
	return 0;
}

/* BAR2, RAM on the host side: mapped cacheable, accessed with shm_*() */
static int vcpufreq_ivshmem_map_shm(struct pci_dev *pdev,
				    struct vcpufreq_ivshmem *iv)
{
	int bar = IVSHMEM_SHM_BAR;
	void *p;
	int ret;

	ret = vcpufreq_ivshmem_request_bar(pdev, bar, sizeof(*iv->hdr));
	if (ret)
		return ret;
	p = devm_memremap(&pdev->dev, pci_resource_start(pdev, bar),
			  pci_resource_len(pdev, bar), MEMREMAP_WB);
	if (IS_ERR(p))
		return PTR_ERR(p);
	iv->hdr = p;
	return 0;
}

/* BAR0, the ivshmem registers: only the doorbell is used */
static int vcpufreq_ivshmem_map_regs(struct pci_dev *pdev,
				     struct vcpufreq_ivshmem *iv)
{
	int bar = IVSHMEM_REG_BAR;
	int ret;

	ret = vcpufreq_ivshmem_request_bar(pdev, bar,
					   IVSHMEM_DOORBELL + sizeof(u32));
	if (ret)
		return ret;
	iv->regs = devm_ioremap(&pdev->dev, pci_resource_start(pdev, bar),
				pci_resource_len(pdev, bar));
	return iv->regs ? 0 : -ENOMEM;
}

/* Is this ours?  -ENODEV, quietly, when the magic is not there */
static int vcpufreq_ivshmem_check_magic(struct vcpufreq_ivshmem *iv)
{
	struct device *dev = iv->vf.dev;
	u32 version;

	if (memcmp(iv->hdr->magic, VCPUFREQ_SHM_MAGIC, sizeof(iv->hdr->magic))) {
		dev_dbg(dev, "no vcpufreq magic in shared memory, not ours\n");
		return -ENODEV;
	}
	/* the host writes the magic last: read the rest after it */
	virt_rmb();

	version = shm_read(&iv->hdr->version);
	if (version != VCPUFREQ_SHM_VERSION) {
		dev_err(dev, "shared memory version %u, want %u\n",
			version, VCPUFREQ_SHM_VERSION);
		return -ENODEV;
	}
	return 0;
}

/* Do the header's blocks lie in BAR2 and cover every possible CPU? */
static int vcpufreq_ivshmem_check_layout(struct vcpufreq_ivshmem *iv,
					 resource_size_t shm_len)
{
	struct device *dev = iv->vf.dev;
	unsigned int cpu;
	u64 end;

	iv->nr_vcpus = shm_read(&iv->hdr->nr_vcpus);
	iv->vcpu_offset = shm_read(&iv->hdr->vcpu_offset);
	iv->vcpu_stride = shm_read(&iv->hdr->vcpu_stride);

	end = iv->vcpu_offset + (u64)iv->nr_vcpus * iv->vcpu_stride;
	if (iv->vcpu_offset < sizeof(*iv->hdr) ||
	    iv->vcpu_stride < sizeof(struct vcpufreq_shm_vcpu) ||
	    !IS_ALIGNED(iv->vcpu_offset, sizeof(u32)) ||
	    !IS_ALIGNED(iv->vcpu_stride, sizeof(u32)) || end > shm_len) {
		dev_err(dev, "shared memory layout %u vCPUs at %#x, stride %#x, does not fit %llu bytes\n",
			iv->nr_vcpus, iv->vcpu_offset, iv->vcpu_stride,
			(unsigned long long)shm_len);
		return -ENODEV;
	}

	for_each_possible_cpu(cpu) {
		if (cpu >= iv->nr_vcpus) {
			dev_err(dev, "vCPU %u: no block in shared memory, host describes %u vCPUs\n",
				cpu, iv->nr_vcpus);
			return -ENODEV;
		}
	}
	return 0;
}

static int vcpufreq_ivshmem_probe(struct pci_dev *pdev,
				  const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	resource_size_t shm_len;
	struct vcpufreq_ivshmem *iv;
	int ret;

	iv = devm_kzalloc(dev, sizeof(*iv), GFP_KERNEL);
	if (!iv)
		return -ENOMEM;
	iv->vf.dev = dev;
	iv->vf.ops = &vcpufreq_ivshmem_ops;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	shm_len = pci_resource_len(pdev, IVSHMEM_SHM_BAR);

	ret = vcpufreq_ivshmem_map_shm(pdev, iv);
	if (ret) {
		dev_dbg(dev, "no usable shared memory BAR: %d\n", ret);
		return -ENODEV;
	}
	ret = vcpufreq_ivshmem_check_magic(iv);
	if (ret)
		return ret;

	ret = vcpufreq_ivshmem_map_regs(pdev, iv);
	if (ret) {
		dev_err(dev, "no usable register BAR for the doorbell: %d\n",
			ret);
		return -ENODEV;
	}

	ret = vcpufreq_ivshmem_check_layout(iv, shm_len);
	if (ret)
		return ret;

	return vcpufreq_probe(&iv->vf);
}

static const struct pci_device_id vcpufreq_ivshmem_ids[] = {
	{ PCI_DEVICE(IVSHMEM_PCI_VENDOR, IVSHMEM_PCI_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, vcpufreq_ivshmem_ids);

/* no .remove: everything probe sets up is device-managed */
struct pci_driver vcpufreq_ivshmem_driver = {
	.name		= "vcpufreq-ivshmem",
	.id_table	= vcpufreq_ivshmem_ids,
	.probe		= vcpufreq_ivshmem_probe,
};
