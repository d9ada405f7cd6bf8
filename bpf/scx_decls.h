/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The sched_ext interface (Linux 6.12) as the scheduler uses it, declared
 * here so that it builds against any kernel's vmlinux.h, including one
 * without CONFIG_SCHED_CLASS_EXT (like the build machines').  Types carry
 * preserve_access_index: their layout is relocated against the running
 * kernel's BTF at load.  Constant values are those of 6.12's BTF;
 * tests/vm/check-scx-decls.sh compares them with the VM kernel's.
 */
#ifndef VCPUFREQ_SCX_DECLS_H
#define VCPUFREQ_SCX_DECLS_H

#define BPF_STRUCT_OPS(name, args...) \
	SEC("struct_ops/" #name) BPF_PROG(name, ##args)
#define BPF_STRUCT_OPS_SLEEPABLE(name, args...) \
	SEC("struct_ops.s/" #name) BPF_PROG(name, ##args)

struct scx_exit_info;
struct scx_cpu_release_args;

/* the struct_ops type: libbpf matches members by name, a subset is fine */
struct sched_ext_ops {
	s32 (*select_cpu)(struct task_struct *p, s32 prev_cpu, u64 wake_flags);
	void (*enqueue)(struct task_struct *p, u64 enq_flags);
	void (*dispatch)(s32 cpu, struct task_struct *prev);
	void (*running)(struct task_struct *p);
	void (*stopping)(struct task_struct *p, bool runnable);
	void (*tick)(struct task_struct *p);
	void (*set_cpumask)(struct task_struct *p, const struct cpumask *mask);
	void (*cpu_release)(s32 cpu, struct scx_cpu_release_args *args);
	void (*enable)(struct task_struct *p);
	s32 (*init)(void);
	void (*exit)(struct scx_exit_info *ei);
	u64 flags;
	u32 timeout_ms;
	char name[128];
};

enum scx_exit_kind { SCX_EXIT_KIND_ANY___ };	/* values: SCX_EXIT_* */

struct scx_exit_info {
	enum scx_exit_kind kind;
	s64 exit_code;
	const char *reason;
	char *msg;
} __attribute__((preserve_access_index));

struct scx_rq {
	u32 cpuperf_target;
} __attribute__((preserve_access_index));

struct rq___scx {
	struct scx_rq scx;
} __attribute__((preserve_access_index));

/* enum scx_dsq_id_flags */
#define SCX_DSQ_FLAG_BUILTIN		(1ULL << 63)
#define SCX_DSQ_LOCAL			(SCX_DSQ_FLAG_BUILTIN | 2)
/* enum scx_public_consts */
#define SCX_SLICE_DFL			20000000ULL
#define SCX_CPUPERF_ONE			1024
/* enum scx_ops_flags */
#define SCX_OPS_SWITCH_PARTIAL		8ULL
/* enum scx_kick_flags */
#define SCX_KICK_IDLE			1ULL
#define SCX_KICK_PREEMPT		2ULL
/* enum scx_exit_kind: UNREG* = detached on purpose, ERROR* = ejected */
#define SCX_EXIT_UNREG			64
#define SCX_EXIT_SYSRQ			67
#define SCX_EXIT_ERROR			1024
#define SCX_EXIT_ERROR_STALL		1026
#define SCX_EXIT_MSG_LEN		1024

/*
 * kfuncs.  6.13 renamed dispatch/consume to dsq_insert/dsq_move_to_local;
 * both spellings are weak and the one the kernel has is picked at load.
 */
s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) __ksym;
bool scx_bpf_test_and_clear_cpu_idle(s32 cpu) __ksym;
s32 scx_bpf_select_cpu_dfl(struct task_struct *p, s32 prev_cpu,
			   u64 wake_flags, bool *is_idle) __ksym;
const struct cpumask *scx_bpf_get_idle_cpumask(void) __ksym;
void scx_bpf_put_idle_cpumask(const struct cpumask *cpumask) __ksym;
void scx_bpf_kick_cpu(s32 cpu, u64 flags) __ksym;
u32 scx_bpf_reenqueue_local(void) __ksym;
void scx_bpf_cpuperf_set(s32 cpu, u32 perf) __ksym;
u32 scx_bpf_cpuperf_cur(s32 cpu) __ksym;
u32 scx_bpf_cpuperf_cap(s32 cpu) __ksym;
u32 scx_bpf_nr_cpu_ids(void) __ksym;
/* deprecated from 6.18: weak, only used to read the target back */
struct rq___scx *scx_bpf_cpu_rq(s32 cpu) __ksym __weak;	/* STRUCT, not FWD */
s32 scx_bpf_task_cpu(const struct task_struct *p) __ksym;
s32 scx_bpf_pick_idle_cpu(const struct cpumask *cpus_allowed, u64 flags) __ksym;
s32 scx_bpf_dsq_nr_queued(u64 dsq_id) __ksym;
void scx_bpf_dispatch(struct task_struct *p, u64 dsq_id, u64 slice,
		      u64 enq_flags) __ksym __weak;
void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice,
			u64 enq_flags) __ksym __weak;
bool scx_bpf_consume(u64 dsq_id) __ksym __weak;
bool scx_bpf_dsq_move_to_local(u64 dsq_id) __ksym __weak;
bool bpf_cpumask_test_cpu(u32 cpu, const struct cpumask *cpumask) __ksym;

static __always_inline void dsq_insert(struct task_struct *p, u64 dsq_id,
				       u64 slice, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert))
		scx_bpf_dsq_insert(p, dsq_id, slice, enq_flags);
	else
		scx_bpf_dispatch(p, dsq_id, slice, enq_flags);
}

static __always_inline bool dsq_move_to_local(u64 dsq_id)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local))
		return scx_bpf_dsq_move_to_local(dsq_id);
	return scx_bpf_consume(dsq_id);
}

#endif /* VCPUFREQ_SCX_DECLS_H */
