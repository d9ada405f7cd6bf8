// SPDX-License-Identifier: GPL-2.0
/*
 * vcpufreq_labio: the effect lab's device.  A write of N to
 * /proc/vcpufreq_labio takes N ns (at most one second), waited for in
 * iowait, as a task waiting on a block device does: the kernel's
 * schedutil gives the wakeup its iowait boost.  io_schedule()'s helpers
 * are not exported, so the wait sets in_iowait itself.
 *
 * Loaded in the lab's emulated host (the host-native row) and in the real
 * arm64 guest of lab/fidelity.sh (the same workloads run by a real guest
 * kernel).  Test-only.
 */
#include <linux/hrtimer.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/uaccess.h>

#define LABIO_MAX_NS	(1 * NSEC_PER_SEC)

static ssize_t labio_write(struct file *file, const char __user *ubuf,
			   size_t len, loff_t *off)
{
	ktime_t t;
	int old;
	u64 ns;

	if (kstrtou64_from_user(ubuf, len, 10, &ns))
		return -EINVAL;
	t = ns_to_ktime(min_t(u64, ns, LABIO_MAX_NS));
	old = current->in_iowait;
	current->in_iowait = 1;
	set_current_state(TASK_UNINTERRUPTIBLE);
	schedule_hrtimeout(&t, HRTIMER_MODE_REL);
	current->in_iowait = old;
	return len;
}

static const struct proc_ops labio_ops = {
	.proc_write	= labio_write,
};

static int __init labio_init(void)
{
	return proc_create("vcpufreq_labio", 0222, NULL, &labio_ops) ? 0 : -ENOMEM;
}

static void __exit labio_exit(void)
{
	remove_proc_entry("vcpufreq_labio", NULL);
}

module_init(labio_init);
module_exit(labio_exit);
MODULE_DESCRIPTION("vcpufreq-bpf effect lab: a device whose requests wait in iowait");
MODULE_LICENSE("GPL");
