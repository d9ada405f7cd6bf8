// SPDX-License-Identifier: GPL-2.0-only
/*
 * vcpufreq_badio: the accesses the virtual cpufreq binding leaves
 * undefined, made from the guest kernel against the device at @base
 * (QEMU virt: 0x090c0000) with @nr_vcpus blocks, for
 * tests/vm/qemu-device.sh.  Each should read as 0 or be ignored, and
 * neither the guest nor QEMU should notice otherwise.  One line says what
 * each read returned:
 *
 *   A64-BADIO unaligned=V read64=V ro_write=V past_end=V past_end_write=V len=V
 *
 * unaligned: a 32-bit read of vCPU 0's PERFTBL_LEN 2 bytes in (which QEMU's
 * TCG splits into aligned reads of PERFTBL_LEN and PERFTBL_SEL, so the
 * device sees a read of a write-only register; on hardware and under KVM
 * an unaligned access to Device memory is an alignment fault); read64: a
 * 64-bit read of PERFTBL_LEN and PERFTBL_SEL; ro_write: vCPU 0's
 * PERFTBL_LEN after writing 63 to it; past_end: PERFTBL_LEN of the block
 * after the last vCPU's; past_end_write: the same after writing 7 into
 * that block's PERFTBL_SEL; len: vCPU 0's PERFTBL_LEN after all of it.
 */
#include <linux/io.h>
#include <linux/module.h>
#include <vcpufreq/device.h>

static ulong base = 0x090c0000;
module_param(base, ulong, 0444);
MODULE_PARM_DESC(base, "physical address of the device");
static uint nr_vcpus = 1;
module_param(nr_vcpus, uint, 0444);
MODULE_PARM_DESC(nr_vcpus, "vCPU blocks the devicetree gives it");

static int __init badio_init(void)
{
	size_t size = (size_t)VCPUFREQ_REG_STRIDE * (nr_vcpus + 1);
	void __iomem *regs = ioremap(base, size);
	void __iomem *past = regs + (size_t)VCPUFREQ_REG_STRIDE * nr_vcpus;
	u32 unaligned, ro_write, past_end, past_end_write, len;
	u64 read64;

	if (!regs)
		return -ENOMEM;
	unaligned = readl(regs + VCPUFREQ_REG_PERFTBL_LEN + 2);
	read64 = readq(regs + VCPUFREQ_REG_PERFTBL_LEN);
	writel(63, regs + VCPUFREQ_REG_PERFTBL_LEN);
	ro_write = readl(regs + VCPUFREQ_REG_PERFTBL_LEN);
	past_end = readl(past + VCPUFREQ_REG_PERFTBL_LEN);
	writel(7, past + VCPUFREQ_REG_PERFTBL_SEL);
	past_end_write = readl(past + VCPUFREQ_REG_PERFTBL_RD);
	len = readl(regs + VCPUFREQ_REG_PERFTBL_LEN);
	iounmap(regs);
	pr_err("A64-BADIO unaligned=%u read64=%llu ro_write=%u past_end=%u past_end_write=%u len=%u\n",
	       unaligned, read64, ro_write, past_end, past_end_write, len);
	return 0;
}

static void __exit badio_exit(void)
{
}

module_init(badio_init);
module_exit(badio_exit);
MODULE_DESCRIPTION("Bad accesses to the virtual cpufreq device (a test)");
MODULE_LICENSE("GPL");
