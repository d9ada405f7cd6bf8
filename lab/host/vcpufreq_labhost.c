// SPDX-License-Identifier: GPL-2.0
/*
 * vcpufreq_labhost: the effect lab's host.  Loaded into the test VM, it
 * turns the VM's CPUs into a Google Tensor (gs101, Pixel 6) whose CPU
 * frequency really sets execution speed.  Test-only; it needs the test
 * kernel's export patch (tests/vm/patches/).
 *
 * - Clusters: the first a55_cpus CPUs are Cortex-A55 (capacity 161), the
 *   next a76_cpus Cortex-A76 (499), the rest Cortex-X1 (1024): capacities
 *   are gs101.dtsi's capacity-dmips-mhz x fmax, normalised.  OPPs and
 *   per-core currents are Pixel 6's power profile (Perfetto oriole.sql).
 *   One cpufreq policy per cluster; schedutil drives it by fast switch.
 * - The scheduler sees what Android's sees: per-CPU capacities, frequency
 *   invariant load tracking (arch_freq_scale = f / fmax) and an energy
 *   model, so capacity-aware wakeup, misfit migration and EAS all run.
 * - Speed: a CPU of capacity C at frequency f runs at
 *   speed_pct / 100 * C / 1024 * f / fmax of a full-speed vCPU.  While a task
 *   executes in user mode, its CPU owes stall time, (1 / speed - 1) per
 *   nanosecond.  The task pays it at its next system call entry, or, when
 *   it computes without system calls, at the return from this module's 1 ms
 *   timer: it halts the vCPU (hlt, interrupts on) while it stays the
 *   running task.  Kernel-mode time is not slowed: emulation already makes
 *   the kernel's paths many times slower than on hardware, and slowing them
 *   again would make every workload kernel-bound.  Its runtime, PELT signal and misfit state therefore see
 *   the longer run of a slower core, and the emulator's vCPU thread really
 *   frees its host core.  speed_pct keeps all CPUs busy within the host's.
 * - Declared work: a wall-time charge is only right when the vCPU really
 *   ran for that time; on a shared host the emulator's thread waits for a
 *   core, and that wait would be charged as work.  So the lab's own work
 *   units say what they did: each ends with getppid(LAB_WORK_MAGIC, ITERS,
 *   START_NS) (lab/lab.h; getppid ignores its arguments elsewhere), and
 *   with work_ipms (iterations per ms of a full-speed vCPU, measured before
 *   the module loads) the unit is held until it has taken exactly
 *   ITERS / work_ipms / speed since START_NS: what the spin itself took,
 *   slowed by the host or not, is subtracted from the stall.  The emulated
 *   speed is then exact whenever the vCPU gets at least that share of a
 *   host core (half a core for an X1 at fmax with speed_pct 50).  The rest
 *   of the unit's process is charged by wall time as above.
 * - Only the lab's workloads run slowed: the processes that ended a work
 *   unit.  Every other process (the lab's scripts, jq, vcpufreq-bpf's
 *   agent) runs at a full vCPU's speed: its busy time still counts for
 *   energy at the CPU's OPP, but it is not stretched.
 * - Idle states, chosen as an oracle governor would (the deepest whose
 *   target residency the idle period met): WFI, and gs101's "c2" (CPU off:
 *   exit latency 160 / 190 / 220 us, min residency 2000 / 2500 / 3500 us,
 *   gs101.dtsi).  Waking from c2 costs its exit latency: the woken task's
 *   CPU owes that much stall.  A cluster all of whose CPUs are idle longer
 *   than the c2 residency is off (cluster-off) for that time.
 * - Energy as Android's CpuPowerCalculator counts it: busy time per CPU at
 *   each OPP (stalls included: a slower core is busy longer) x the OPP's
 *   per-core current; per cluster, the time it is awake (not cluster-off) x
 *   its cluster current; the time any CPU is busy x cpu.active.  All in
 *   /proc/vcpufreq_labhost; writing "reset" there clears them.
 * The device the host-native row waits on in iowait is a module of its
 * own, lab/io (vcpufreq_labio), so that a real arm64 guest has it too.
 */
#include <linux/cpu.h>
#include <linux/cpufreq.h>
#include <linux/cpuset.h>
#include <linux/energy_model.h>
#include <linux/hrtimer.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/task_work.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>
#include <asm/irq_regs.h>
#include <asm/ptrace.h>
#include <asm/syscall.h>
#include <asm/topology.h>

#define LAB_PPM			1000000ULL
#define LAB_TICK_NS		(1 * NSEC_PER_MSEC)
#define LAB_MIN_STALL_NS	(20 * NSEC_PER_USEC)
#define LAB_MAX_STALL_NS	(4 * NSEC_PER_MSEC)	/* one halt at most */
#define LAB_MAX_DEBT_NS		(200 * NSEC_PER_MSEC)
#define LAB_MAX_CREDIT_NS	(1 * NSEC_PER_MSEC)
#define LAB_WORK_MAGIC		0x1abf0c0d1abf0c0dULL	/* lab/lab.h */
#define LAB_MAX_UNIT_NS		(1 * NSEC_PER_SEC)
#define LAB_MAX_OPPS		17
/* Android power_profile cpu.active (public gs101 profile), uA */
#define LAB_CPU_ACTIVE_UA	12370

static unsigned int a55_cpus = 2;
module_param(a55_cpus, uint, 0444);
MODULE_PARM_DESC(a55_cpus, "how many of the first CPUs are Cortex-A55 (default 2)");
static unsigned int a76_cpus = 2;
module_param(a76_cpus, uint, 0444);
MODULE_PARM_DESC(a76_cpus, "how many of the next CPUs are Cortex-A76 (default 2); the rest are X1");
static unsigned int speed_pct = 50;
module_param(speed_pct, uint, 0444);
MODULE_PARM_DESC(speed_pct, "an X1 at fmax runs at this % of a full-speed vCPU (5..100, default 50)");
static unsigned long work_ipms;
module_param(work_ipms, ulong, 0444);
MODULE_PARM_DESC(work_ipms, "lab-guest's work loop: iterations per ms of a full-speed vCPU; 0: declared work is charged by wall time");

/* Pixel 6 (oriole) power profile: kHz and per-core current in uA */
struct lab_opp {
	unsigned int khz;
	unsigned int ua;
};

static const struct lab_opp a55_opps[] = {
	{  300000,  1890 }, {  574000,  6150 }, {  738000,  9340 },
	{  930000, 14220 }, { 1098000, 18940 }, { 1197000, 21980 },
	{ 1328000, 26830 }, { 1401000, 30170 }, { 1598000, 41550 },
	{ 1704000, 48360 }, { 1803000, 58450 },
};

static const struct lab_opp a76_opps[] = {
	{  400000,  3710 }, {  553000,  6160 }, {  696000,  8000 },
	{  799000, 10940 }, {  910000, 12730 }, { 1024000, 14400 },
	{ 1197000, 21390 }, { 1328000, 24100 }, { 1491000, 30420 },
	{ 1663000, 42490 }, { 1836000, 49370 }, { 1999000, 58090 },
	{ 2130000, 67540 }, { 2253000, 79040 },
};

static const struct lab_opp x1_opps[] = {
	{  500000,   8360 }, {  851000,  16330 }, {  984000,  19440 },
	{ 1106000,  36710 }, { 1277000,  41420 }, { 1426000,  48240 },
	{ 1582000,  54770 }, { 1745000,  65320 }, { 1826000,  69580 },
	{ 2048000, 128490 }, { 2188000, 142150 }, { 2252000, 149740 },
	{ 2401000, 164780 }, { 2507000, 188680 }, { 2630000, 193150 },
	{ 2704000, 227980 }, { 2802000, 254250 },
};

/*
 * Capacity as arch_topology derives it from DT: capacity-dmips-mhz (250 for
 * the A55, 620 for the A76, 1024 for the X1, gs101.dtsi) x fmax, normalised
 * to the biggest: 250 * 1803 / 2802 = 161, 620 * 2253 / 2802 = 499.
 * cluster_ua: power_profile cpu.cluster_power.clusterN (public gs101
 * profile).  c2: gs101.dtsi's idle state of the cluster's cores.
 */
struct lab_cluster {
	const char *name;
	unsigned int capacity;
	const struct lab_opp *opps;
	unsigned int nr_opps;
	unsigned int cluster_ua;
	u64 c2_exit_ns, c2_residency_ns;
	u32 speed_ppm[LAB_MAX_OPPS];
	struct cpufreq_frequency_table table[LAB_MAX_OPPS + 1];
	struct cpumask cpus;
	/* under lab_idle_lock */
	unsigned int nr_awake;	/* CPUs not running the idle task */
	u64 idle_since;		/* when the last one went idle */
	u64 off_ns, busy_any_ns, busy_since;
};

static struct lab_cluster lab_clusters[] = {
	{ "a55", 161, a55_opps, ARRAY_SIZE(a55_opps), 240,
	  160 * NSEC_PER_USEC, 2000 * NSEC_PER_USEC },
	{ "a76", 499, a76_opps, ARRAY_SIZE(a76_opps), 3230,
	  190 * NSEC_PER_USEC, 2500 * NSEC_PER_USEC },
	{ "x1", 1024, x1_opps, ARRAY_SIZE(x1_opps), 5940,
	  220 * NSEC_PER_USEC, 3500 * NSEC_PER_USEC },
};

/* the whole system's idle bookkeeping (cluster-off, cpu.active) */
static DEFINE_RAW_SPINLOCK(lab_idle_lock);
static unsigned int lab_nr_busy;
static u64 lab_busy_since, lab_active_ns, lab_reset_at;

struct lab_cpu {
	raw_spinlock_t lock;
	struct lab_cluster *cl;
	unsigned int opp;
	u64 seg_start;		/* start of the segment not yet accounted */
	bool busy;		/* a task other than idle is current */
	bool user;		/* ... and it is a user task */
	bool stalling;
	u64 user_mark;		/* user-mode time since then is not charged (0: in kernel) */
	u64 switched_at;
	s64 debt;		/* stall owed (ns); negative: overpaid */
	s64 carry;		/* debt at the last system call's return */
	u64 busy_ns[LAB_MAX_OPPS];
	u64 stall_ns[LAB_MAX_OPPS];
	u64 idle_since;		/* the idle task is current since */
	u64 wfi_ns, c2_ns;	/* idle residency per state */
	u64 c2_exits;
	struct hrtimer tick;	/* runs while a user task does */
	struct hrtimer wake;	/* ends a halt */
	struct callback_head pay;
	bool pay_queued;
};

static DEFINE_PER_CPU(struct lab_cpu, lab_cpus);
static bool lab_stopping;

static struct lab_cluster *cluster_of(unsigned int cpu)
{
	if (cpu < a55_cpus)
		return &lab_clusters[0];
	return &lab_clusters[cpu < a55_cpus + a76_cpus ? 1 : 2];
}

/*
 * A CPU goes idle (busy = false) or wakes: its idle residency by state,
 * its cluster's cluster-off time and the system's active time.  Returns
 * the exit latency the waking CPU owes (c2), 0 otherwise.
 */
static u64 lab_idle_transition(struct lab_cpu *lc, bool busy, u64 now)
{
	struct lab_cluster *cl = lc->cl;
	u64 idle, exit_ns = 0;

	raw_spin_lock(&lab_idle_lock);
	if (busy) {
		idle = now - max(lc->idle_since, lab_reset_at);
		if (now - lc->idle_since >= cl->c2_residency_ns) {
			lc->c2_ns += idle;
			lc->c2_exits++;
			exit_ns = cl->c2_exit_ns;
		} else {
			lc->wfi_ns += idle;
		}
		if (cl->nr_awake++ == 0) {
			if (now - cl->idle_since >= cl->c2_residency_ns)
				cl->off_ns += now - max(cl->idle_since, lab_reset_at);
			cl->busy_since = now;
		}
		if (lab_nr_busy++ == 0)
			lab_busy_since = now;
	} else {
		lc->idle_since = now;
		if (cl->nr_awake && --cl->nr_awake == 0) {
			cl->idle_since = now;
			cl->busy_any_ns += now - max(cl->busy_since, lab_reset_at);
		}
		if (lab_nr_busy && --lab_nr_busy == 0)
			lab_active_ns += now - max(lab_busy_since, lab_reset_at);
	}
	raw_spin_unlock(&lab_idle_lock);
	return exit_ns;
}

/* close the segment since seg_start: busy time and stall paid */
static void lab_account(struct lab_cpu *lc, u64 now)
{
	u64 delta = now > lc->seg_start ? now - lc->seg_start : 0;

	lc->seg_start = now;
	if (!lc->busy)
		return;
	lc->busy_ns[lc->opp] += delta;
	if (lc->stalling) {
		lc->stall_ns[lc->opp] += delta;
		lc->debt = max_t(s64, lc->debt - delta, -LAB_MAX_CREDIT_NS);
	}
}

/* user-mode time since user_mark becomes debt at the current OPP */
static void lab_charge_user(struct lab_cpu *lc, u64 now)
{
	u64 ppm = lc->cl->speed_ppm[lc->opp];

	if (lc->user_mark && now > lc->user_mark && lc->user) {
		lc->debt += div64_u64((now - lc->user_mark) * (LAB_PPM - ppm), ppm);
		lc->debt = min_t(s64, lc->debt, LAB_MAX_DEBT_NS);
	}
	lc->user_mark = 0;
}

/* the current task is about to run in user mode: charge it from now */
static void lab_mark_user(struct lab_cpu *lc)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&lc->lock, flags);
	lc->user_mark = ktime_get_ns();
	raw_spin_unlock_irqrestore(&lc->lock, flags);
}

static enum hrtimer_restart lab_wake_fn(struct hrtimer *t)
{
	return HRTIMER_NORESTART;	/* its interrupt ends the halt */
}

/*
 * Pay this CPU's debt by halting, the current task staying current.
 * Preemption is off so that the halt is charged to this CPU; a task that
 * must run here ends it early (need_resched) and the rest stays owed.
 */
static void lab_stall(bool to_user)
{
	struct lab_cpu *lc;
	s64 owe;
	u64 end;

	preempt_disable();
	lc = this_cpu_ptr(&lab_cpus);
	while (!need_resched() && lc->debt >= (s64)LAB_MIN_STALL_NS) {
		raw_spin_lock_irq(&lc->lock);
		lab_account(lc, ktime_get_ns());
		owe = min_t(s64, lc->debt, LAB_MAX_STALL_NS);
		if (owe < (s64)LAB_MIN_STALL_NS || !lc->user) {
			raw_spin_unlock_irq(&lc->lock);
			break;
		}
		lc->stalling = true;
		end = lc->seg_start + owe;
		raw_spin_unlock_irq(&lc->lock);

		hrtimer_start(&lc->wake, ns_to_ktime(end),
			      HRTIMER_MODE_ABS_PINNED_HARD);
		for (;;) {
			local_irq_disable();
			if (ktime_get_ns() >= end || need_resched()) {
				local_irq_enable();
				break;
			}
			safe_halt();	/* sti; hlt: until the next interrupt */
		}
		hrtimer_try_to_cancel(&lc->wake);

		raw_spin_lock_irq(&lc->lock);
		lab_account(lc, ktime_get_ns());
		lc->stalling = false;
		raw_spin_unlock_irq(&lc->lock);
	}
	if (to_user)
		lab_mark_user(lc);
	preempt_enable();
}

/*
 * The processes the emulated speed applies to: those that ended a work
 * unit (the lab's VM and native workloads, lab-guest --calibrate).  The
 * rest -- the lab's scripts, jq, vcpufreq-bpf's agent -- run at a full
 * vCPU's speed, so that what runs between two measured runs costs no
 * minutes of emulated A55.  By mm and tgid: a recycled mm of another
 * process does not match.
 */
#define LAB_MAX_WORKERS		16
static struct lab_worker {
	struct mm_struct *mm;
	pid_t tgid;
} lab_workers[LAB_MAX_WORKERS];
static unsigned int lab_next_worker;
static DEFINE_RAW_SPINLOCK(lab_worker_lock);

static bool lab_is_worker(struct task_struct *p)
{
	struct mm_struct *mm = READ_ONCE(p->mm);

	if (!mm)
		return false;
	for (int i = 0; i < LAB_MAX_WORKERS; i++)
		if (READ_ONCE(lab_workers[i].mm) == mm &&
		    READ_ONCE(lab_workers[i].tgid) == p->tgid)
			return true;
	return false;
}

static void lab_add_worker(void)
{
	unsigned long flags;
	unsigned int i;

	if (lab_is_worker(current))
		return;
	raw_spin_lock_irqsave(&lab_worker_lock, flags);
	i = lab_next_worker++ % LAB_MAX_WORKERS;
	WRITE_ONCE(lab_workers[i].mm, current->mm);
	WRITE_ONCE(lab_workers[i].tgid, current->tgid);
	raw_spin_unlock_irqrestore(&lab_worker_lock, flags);
}

static bool lab_may_stall(void)
{
	return current->mm && !(current->flags & (PF_KTHREAD | PF_EXITING)) &&
	       lab_is_worker(current);
}

static bool lab_is_work_unit(struct pt_regs *regs, long id, unsigned long *args)
{
	if (id != __NR_getppid)
		return false;
	syscall_get_arguments(current, regs, args);
	return args[0] == LAB_WORK_MAGIC;
}

static void lab_pay_fn(struct callback_head *head)
{
	struct lab_cpu *owner = container_of(head, struct lab_cpu, pay);

	WRITE_ONCE(owner->pay_queued, false);
	if (lab_may_stall())
		lab_stall(true);
}

/*
 * A declared unit (getppid(LAB_WORK_MAGIC, iters, start)): it owes what
 * makes its time since @start iters / work_ipms / speed; user time before
 * @start since the mark is charged by wall time.  False: not one.
 */
static bool lab_declared_unit(struct lab_cpu *lc, struct pt_regs *regs,
			      long id, u64 now)
{
	unsigned long args[3];
	u64 ppm, target, start;
	s64 owed;

	if (!work_ipms || !lab_is_work_unit(regs, id, args))
		return false;
	start = args[2];
	if (start > now || now - start > LAB_MAX_UNIT_NS)
		return false;
	ppm = lc->cl->speed_ppm[lc->opp];
	target = div64_u64(div64_u64((u64)args[1] * NSEC_PER_MSEC, work_ipms) * LAB_PPM, ppm);
	if (lc->user_mark && lc->user_mark < start)
		lab_charge_user(lc, start);
	lc->user_mark = 0;
	owed = (s64)target - (s64)(now - start);
	/*
	 * What the tick charged during this unit is replaced, not added; what
	 * was left when the last system call returned is kept: a credit (that
	 * halt's overshoot: a wakeup under emulation comes late) or a stall
	 * cut short by a task that had to run, so that the time per unit is
	 * right on average
	 */
	lc->debt = clamp_t(s64, owed + lc->carry, -(s64)LAB_MAX_CREDIT_NS, LAB_MAX_DEBT_NS);
	return true;
}

static enum hrtimer_restart lab_tick_fn(struct hrtimer *t);

/* the 1 ms timer that charges a unit's process computing without system calls */
static void lab_start_tick(struct lab_cpu *lc)
{
	if (!READ_ONCE(lab_stopping) && !hrtimer_is_queued(&lc->tick))
		hrtimer_start(&lc->tick, ns_to_ktime(LAB_TICK_NS),
			      HRTIMER_MODE_REL_PINNED_HARD);
}

/* a burst between two system calls is paid before the next one runs */
static void lab_sys_enter(void *data, struct pt_regs *regs, long id)
{
	struct lab_cpu *lc = this_cpu_ptr(&lab_cpus);
	unsigned long flags, args[3];
	u64 now;

	if (!lab_may_stall()) {
		if (!current->mm || (current->flags & (PF_KTHREAD | PF_EXITING)) ||
		    !lab_is_work_unit(regs, id, args))
			return;
		/* a process's first unit: from now on it runs at the emulated speed */
		lab_add_worker();
		raw_spin_lock_irqsave(&lc->lock, flags);
		lc->user = lc->busy;
		raw_spin_unlock_irqrestore(&lc->lock, flags);
		lab_start_tick(lc);
		return;
	}
	raw_spin_lock_irqsave(&lc->lock, flags);
	now = ktime_get_ns();
	lab_account(lc, now);
	if (!lab_declared_unit(lc, regs, id, now))
		lab_charge_user(lc, now);
	raw_spin_unlock_irqrestore(&lc->lock, flags);
	lab_stall(false);
}

static void lab_sys_exit(void *data, struct pt_regs *regs, long ret)
{
	struct lab_cpu *lc = this_cpu_ptr(&lab_cpus);

	if (lab_may_stall()) {
		lab_mark_user(lc);
		WRITE_ONCE(lc->carry, READ_ONCE(lc->debt));
	}
}

/* a task computing without system calls pays at return from this tick */
static enum hrtimer_restart lab_tick_fn(struct hrtimer *t)
{
	struct lab_cpu *lc = container_of(t, struct lab_cpu, tick);
	u64 now = ktime_get_ns();
	bool owes, user;

	raw_spin_lock(&lc->lock);
	lab_account(lc, now);
	/*
	 * Interrupted in user mode: it ran there since the mark, or, when it
	 * came back to user mode without a system call (after an interrupt or
	 * a switch), since the last tick or switch.
	 */
	if (lc->user && !lc->stalling && user_mode(get_irq_regs())) {
		if (!lc->user_mark)
			lc->user_mark = max(lc->switched_at, now - LAB_TICK_NS);
		lab_charge_user(lc, now);
		lc->user_mark = now;
	}
	owes = !lc->stalling && lc->debt >= (s64)LAB_MIN_STALL_NS;
	user = lc->user;
	raw_spin_unlock(&lc->lock);

	if (owes && user && lab_may_stall() && !READ_ONCE(lc->pay_queued)) {
		WRITE_ONCE(lc->pay_queued, true);
		if (task_work_add(current, &lc->pay, TWA_RESUME))
			WRITE_ONCE(lc->pay_queued, false);
	}
	if (!user || READ_ONCE(lab_stopping))
		return HRTIMER_NORESTART;
	hrtimer_forward_now(t, ns_to_ktime(LAB_TICK_NS));
	return HRTIMER_RESTART;
}

static void lab_switch(void *data, bool preempt, struct task_struct *prev,
		       struct task_struct *next, unsigned int prev_state)
{
	struct lab_cpu *lc = this_cpu_ptr(&lab_cpus);
	u64 now = ktime_get_ns();

	bool busy = !is_idle_task(next);
	u64 exit_ns = 0;

	if (busy != lc->busy)
		exit_ns = lab_idle_transition(lc, busy, now);
	raw_spin_lock(&lc->lock);
	lab_account(lc, now);
	lc->user_mark = 0;	/* prev is in the kernel: nothing to charge */
	lc->switched_at = now;
	lc->busy = busy;
	lc->user = lc->busy && !(next->flags & PF_KTHREAD) && lab_is_worker(next);
	if (exit_ns && lc->user)	/* the wakeup from c2 takes this long */
		lc->debt = min_t(s64, lc->debt + exit_ns, LAB_MAX_DEBT_NS);
	raw_spin_unlock(&lc->lock);
	if (lc->user)
		lab_start_tick(lc);
}

/* --- tracepoints (not exported to modules: found by name) ---------------- */
struct lab_probe {
	const char *name;
	void *fn;
	struct tracepoint *tp;
};

static struct lab_probe lab_probes[] = {
	{ "sched_switch", lab_switch },
	{ "sys_enter", lab_sys_enter },
	{ "sys_exit", lab_sys_exit },
};

static void lab_find_tp(struct tracepoint *tp, void *priv)
{
	for (int i = 0; i < ARRAY_SIZE(lab_probes); i++)
		if (!strcmp(tp->name, lab_probes[i].name))
			lab_probes[i].tp = tp;
}

static void lab_probes_unregister(int n)
{
	while (n--)
		tracepoint_probe_unregister(lab_probes[n].tp, lab_probes[n].fn, NULL);
	tracepoint_synchronize_unregister();
}

static int lab_probes_register(void)
{
	int i, ret;

	for_each_kernel_tracepoint(lab_find_tp, NULL);
	for (i = 0; i < ARRAY_SIZE(lab_probes); i++) {
		ret = lab_probes[i].tp ? tracepoint_probe_register(lab_probes[i].tp,
						lab_probes[i].fn, NULL) : -ENOENT;
		if (ret) {
			pr_err("cannot attach to tracepoint %s: %d\n",
			       lab_probes[i].name, ret);
			lab_probes_unregister(i);
			return ret;
		}
	}
	return 0;
}

/* --- cpufreq driver ------------------------------------------------------- */
static void lab_set_opp(struct cpufreq_policy *policy, unsigned int idx)
{
	struct lab_cluster *cl = cluster_of(policy->cpu);
	u64 now = ktime_get_ns();
	unsigned long flags;
	unsigned int cpu;

	for_each_cpu(cpu, policy->cpus) {
		struct lab_cpu *lc = per_cpu_ptr(&lab_cpus, cpu);

		raw_spin_lock_irqsave(&lc->lock, flags);
		lab_account(lc, now);
		if (lc->user_mark) {	/* user time so far at the old speed */
			lab_charge_user(lc, now);
			lc->user_mark = now;
		}
		lc->opp = idx;
		raw_spin_unlock_irqrestore(&lc->lock, flags);
		per_cpu(arch_freq_scale, cpu) = div_u64((u64)cl->opps[idx].khz *
			SCHED_CAPACITY_SCALE, cl->opps[cl->nr_opps - 1].khz);
	}
}

static int lab_target_index(struct cpufreq_policy *policy, unsigned int idx)
{
	lab_set_opp(policy, idx);
	return 0;
}

static unsigned int lab_fast_switch(struct cpufreq_policy *policy,
				    unsigned int target)
{
	int idx = cpufreq_frequency_table_target(policy, target, policy->min,
						 policy->max, CPUFREQ_RELATION_L);

	lab_set_opp(policy, idx);
	return policy->freq_table[idx].frequency;
}

static unsigned int lab_get(unsigned int cpu)
{
	struct lab_cpu *lc = per_cpu_ptr(&lab_cpus, cpu);

	return lc->cl->opps[READ_ONCE(lc->opp)].khz;
}

static int lab_policy_init(struct cpufreq_policy *policy)
{
	struct lab_cluster *cl = cluster_of(policy->cpu);

	cpumask_and(policy->cpus, &cl->cpus, cpu_online_mask);
	policy->freq_table = cl->table;
	policy->cpuinfo.transition_latency = 0;	/* schedutil: 1 ms rate limit */
	policy->fast_switch_possible = true;
	policy->cur = lab_get(policy->cpu);
	return 0;
}

static int lab_em_power(struct device *dev, unsigned long *uw,
			unsigned long *khz)
{
	struct lab_cluster *cl = cluster_of(dev->id);

	for (unsigned int i = 0; i < cl->nr_opps; i++) {
		if (cl->opps[i].khz >= *khz) {
			*khz = cl->opps[i].khz;
			/* current stands for power: one voltage for all */
			*uw = cl->opps[i].ua;
			return 0;
		}
	}
	return -EINVAL;
}

static void lab_register_em(struct cpufreq_policy *policy)
{
	struct em_data_callback cb = EM_DATA_CB(lab_em_power);
	struct lab_cluster *cl = cluster_of(policy->cpu);

	em_dev_register_perf_domain(get_cpu_device(policy->cpu), cl->nr_opps,
				    &cb, policy->related_cpus, true);
}

static void lab_policy_exit(struct cpufreq_policy *policy)
{
	em_dev_unregister_perf_domain(get_cpu_device(policy->cpu));
}

static struct cpufreq_driver lab_driver = {
	.name		= "labhost",
	.init		= lab_policy_init,
	.exit		= lab_policy_exit,
	.verify		= cpufreq_generic_frequency_table_verify,
	.target_index	= lab_target_index,
	.fast_switch	= lab_fast_switch,
	.get		= lab_get,
	.register_em	= lab_register_em,
	.attr		= cpufreq_generic_attr,
};

/* --- /proc/vcpufreq_labhost ------------------------------------------------ */
static int lab_show(struct seq_file *m, void *v)
{
	unsigned long flags;
	unsigned int cpu, i;

	u64 now = ktime_get_ns(), active;
	int c;

	seq_printf(m, "# vcpufreq_labhost speed_pct %u a55_cpus %u a76_cpus %u work_ipms %lu\n",
		   speed_pct, a55_cpus, a76_cpus, work_ipms);
	raw_spin_lock_irqsave(&lab_idle_lock, flags);
	active = lab_active_ns + (lab_nr_busy ? now - max(lab_busy_since, lab_reset_at) : 0);
	seq_printf(m, "# system elapsed_ns %llu active_ns %llu active_ua %u\n",
		   now - lab_reset_at, active, LAB_CPU_ACTIVE_UA);
	seq_puts(m, "# cluster name cluster_ua awake_ns busy_any_ns off_ns c2_exit_ns c2_residency_ns\n");
	for (c = 0; c < ARRAY_SIZE(lab_clusters); c++) {
		struct lab_cluster *cl = &lab_clusters[c];
		u64 off = cl->off_ns, busy = cl->busy_any_ns;

		if (cpumask_empty(&cl->cpus))
			continue;
		if (cl->nr_awake)
			busy += now - max(cl->busy_since, lab_reset_at);
		else if (now - cl->idle_since >= cl->c2_residency_ns)
			off += now - max(cl->idle_since, lab_reset_at);
		seq_printf(m, "#cluster %s %u %llu %llu %llu %llu %llu\n", cl->name,
			   cl->cluster_ua, now - lab_reset_at - off, busy, off,
			   cl->c2_exit_ns, cl->c2_residency_ns);
	}
	seq_puts(m, "# idle cpu wfi_ns c2_ns c2_exits\n");
	for_each_online_cpu(cpu) {
		struct lab_cpu *lc = per_cpu_ptr(&lab_cpus, cpu);
		u64 wfi = lc->wfi_ns, c2 = lc->c2_ns;

		if (!lc->busy) {
			u64 idle = now - max(lc->idle_since, lab_reset_at);

			if (now - lc->idle_since >= lc->cl->c2_residency_ns)
				c2 += idle;
			else
				wfi += idle;
		}
		seq_printf(m, "#idle %u %llu %llu %llu\n", cpu, wfi, c2, lc->c2_exits);
	}
	raw_spin_unlock_irqrestore(&lab_idle_lock, flags);
	seq_puts(m, "# cpu cluster capacity khz speed_ppm current_ua busy_ns stall_ns\n");
	for_each_online_cpu(cpu) {
		struct lab_cpu *lc = per_cpu_ptr(&lab_cpus, cpu);
		u64 busy[LAB_MAX_OPPS], stall[LAB_MAX_OPPS];

		raw_spin_lock_irqsave(&lc->lock, flags);
		lab_account(lc, ktime_get_ns());
		memcpy(busy, lc->busy_ns, sizeof(busy));
		memcpy(stall, lc->stall_ns, sizeof(stall));
		raw_spin_unlock_irqrestore(&lc->lock, flags);
		for (i = 0; i < lc->cl->nr_opps; i++)
			seq_printf(m, "%u %s %u %u %u %u %llu %llu\n", cpu,
				   lc->cl->name, lc->cl->capacity,
				   lc->cl->opps[i].khz, lc->cl->speed_ppm[i],
				   lc->cl->opps[i].ua, busy[i], stall[i]);
	}
	return 0;
}

static int lab_open(struct inode *inode, struct file *file)
{
	return single_open(file, lab_show, NULL);
}

static ssize_t lab_write(struct file *file, const char __user *ubuf,
			 size_t len, loff_t *off)
{
	char buf[8] = "";
	unsigned int cpu;

	if (copy_from_user(buf, ubuf, min(len, sizeof(buf) - 1)))
		return -EFAULT;
	unsigned long flags;
	int c;

	if (strncmp(buf, "reset", 5))
		return -EINVAL;
	for_each_possible_cpu(cpu) {
		struct lab_cpu *lc = per_cpu_ptr(&lab_cpus, cpu);

		raw_spin_lock_irqsave(&lc->lock, flags);
		lab_account(lc, ktime_get_ns());
		memset(lc->busy_ns, 0, sizeof(lc->busy_ns));
		memset(lc->stall_ns, 0, sizeof(lc->stall_ns));
		raw_spin_unlock_irqrestore(&lc->lock, flags);
	}
	/* the running intervals restart at lab_reset_at: max(since, reset) */
	raw_spin_lock_irqsave(&lab_idle_lock, flags);
	lab_reset_at = ktime_get_ns();
	lab_active_ns = 0;
	for (c = 0; c < ARRAY_SIZE(lab_clusters); c++)
		lab_clusters[c].off_ns = lab_clusters[c].busy_any_ns = 0;
	for_each_possible_cpu(cpu) {
		struct lab_cpu *lc = per_cpu_ptr(&lab_cpus, cpu);

		lc->wfi_ns = lc->c2_ns = lc->c2_exits = 0;
	}
	raw_spin_unlock_irqrestore(&lab_idle_lock, flags);
	return len;
}

static const struct proc_ops lab_proc_ops = {
	.proc_open	= lab_open,
	.proc_read	= seq_read,
	.proc_lseek	= seq_lseek,
	.proc_release	= single_release,
	.proc_write	= lab_write,
};

/* --- setup ------------------------------------------------------------------ */
static void lab_setup_clusters(void)
{
	unsigned int cpu;

	for (int c = 0; c < ARRAY_SIZE(lab_clusters); c++) {
		struct lab_cluster *cl = &lab_clusters[c];
		u64 fmax = cl->opps[cl->nr_opps - 1].khz;

		for (unsigned int i = 0; i < cl->nr_opps; i++) {
			cl->table[i].frequency = cl->opps[i].khz;
			cl->table[i].driver_data = i;
			cl->speed_ppm[i] = div64_u64((u64)speed_pct * 10000 *
				cl->capacity * cl->opps[i].khz,
				SCHED_CAPACITY_SCALE * fmax);
		}
		cl->table[cl->nr_opps].frequency = CPUFREQ_TABLE_END;
		cpumask_clear(&cl->cpus);
	}
	for_each_possible_cpu(cpu) {
		struct lab_cpu *lc = per_cpu_ptr(&lab_cpus, cpu);

		lc->cl = cluster_of(cpu);
		cpumask_set_cpu(cpu, &lc->cl->cpus);
		lc->opp = lc->cl->nr_opps - 1;	/* firmware leaves fmax */
		raw_spin_lock_init(&lc->lock);
		lc->seg_start = ktime_get_ns();
		lc->idle_since = lc->seg_start;
		hrtimer_init(&lc->tick, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_HARD);
		lc->tick.function = lab_tick_fn;
		hrtimer_init(&lc->wake, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_PINNED_HARD);
		lc->wake.function = lab_wake_fn;
		init_task_work(&lc->pay, lab_pay_fn);
	}
}

/* capacities and frequency invariance, then sched domains rebuilt on them */
static void lab_set_capacities(bool on)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu) {
		arch_set_cpu_capacity(cpu, on ? cluster_of(cpu)->capacity :
				      SCHED_CAPACITY_SCALE, SCHED_CAPACITY_SCALE, 1, 1);
		per_cpu(arch_freq_scale, cpu) = SCHED_CAPACITY_SCALE;
	}
	x86_topology_update = true;
	rebuild_sched_domains();
}

static void lab_stop_timers(void)
{
	unsigned int cpu;

	WRITE_ONCE(lab_stopping, true);
	for_each_possible_cpu(cpu) {
		hrtimer_cancel(&per_cpu_ptr(&lab_cpus, cpu)->tick);
		hrtimer_cancel(&per_cpu_ptr(&lab_cpus, cpu)->wake);
	}
}

static int __init lab_init(void)
{
	unsigned int cpu;
	int ret;

	if (speed_pct < 5 || speed_pct > 100)
		return -EINVAL;
	if (a55_cpus + a76_cpus >= num_possible_cpus()) {
		pr_err("a55_cpus=%u a76_cpus=%u: leave at least one of the %u CPUs for the X1\n",
		       a55_cpus, a76_cpus, num_possible_cpus());
		return -EINVAL;
	}
	if (cpufreq_get_current_driver()) {
		pr_err("a cpufreq driver (%s) is already registered\n",
		       cpufreq_get_current_driver());
		return -EBUSY;
	}
	lab_setup_clusters();
	lab_reset_at = ktime_get_ns();
	if (!arch_enable_hybrid_capacity_scale())
		return -ENOMEM;
	/*
	 * Frequency invariance cannot be turned off again (its static key is
	 * not exported either): load this module once per boot, as the lab
	 * does; a second load warns once.
	 */
	cpus_read_lock();
	freq_invariance_set_perf_ratio(SCHED_CAPACITY_SCALE, true);
	cpus_read_unlock();

	ret = lab_probes_register();
	if (ret)
		return ret;
	ret = cpufreq_register_driver(&lab_driver);
	if (ret)
		goto err_probes;
	lab_set_capacities(true);
	if (!proc_create("vcpufreq_labhost", 0644, NULL, &lab_proc_ops)) {
		ret = -ENOMEM;
		goto err_driver;
	}
	for_each_online_cpu(cpu)
		pr_info("cpu%u: %s, capacity %lu\n", cpu, cluster_of(cpu)->name,
			arch_scale_cpu_capacity(cpu));
	return 0;

err_driver:
	lab_set_capacities(false);
	cpufreq_unregister_driver(&lab_driver);
err_probes:
	lab_probes_unregister(ARRAY_SIZE(lab_probes));
	lab_stop_timers();
	return ret;
}

static void __exit lab_exit(void)
{
	unsigned int cpu;

	remove_proc_entry("vcpufreq_labhost", NULL);
	lab_set_capacities(false);
	cpufreq_unregister_driver(&lab_driver);
	lab_probes_unregister(ARRAY_SIZE(lab_probes));
	lab_stop_timers();
	/* a queued payment holds our callback: let its task run it */
	for_each_possible_cpu(cpu)
		while (READ_ONCE(per_cpu_ptr(&lab_cpus, cpu)->pay_queued))
			schedule_timeout_uninterruptible(1);
}

module_init(lab_init);
module_exit(lab_exit);
MODULE_DESCRIPTION("vcpufreq-bpf effect lab: an emulated Google Tensor host with DVFS, idle states and energy");
MODULE_LICENSE("GPL");
