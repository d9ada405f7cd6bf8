// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Register model of the virtual cpufreq device ("qemu,virtual-cpufreq",
 * Linux 6.13): what a VMM's MMIO handler answers for each vCPU block.
 *
 * Two kinds of vCPU, told apart by the length of their perf table:
 *
 *   table mode      2..64 entries; the guest driver builds its OPP table
 *                   from them, so a SET_PERF value is snapped up to the
 *                   smallest entry that satisfies it
 *   continuous      1 entry, the maximum; any value 0..max is requested
 *                   as is
 *
 * Guest perf values are opaque to the model (kHz in practice); what leaves
 * it is host capacity, 0..VCPUFREQ_PERF_MAX, scaled like crosvm does:
 *
 *   host = capacity * guest / fmax          (fmax = the vCPU's top entry)
 *
 * which is a request as vcpufreq/abi.h defines it.  With host_schedutil
 * (crosvm compatibility only), 80% of that, rounded down once more, as
 * crosvm feeds uclamp_min.  A value above fmax is taken as fmax (crosvm
 * would hand sched_setattr() a utilization above 1024 and stop).
 *
 * A SET_PERF is for the vCPU that wrote it or for its whole perf domain
 * (enum vcpufreq_dev_scope); which block it was written into only decides
 * the scale.  A SET_PERF of 0 is passed through as "no demand" rather
 * than snapped to the lowest entry, so a VMM can drop the request.
 *
 * CUR_PERF is the host's current perf converted back, never rounded to a
 * table entry: the guest's frequency invariance divides it by fmax on
 * every tick.  Without a host value it is the last nonzero request, or
 * fmax (no demand: the host is not known to slow the vCPU down).
 *
 * Bad accesses never fail: reads answer 0, writes are dropped, and both
 * are counted, like a device that ignores what it does not decode.
 *
 * There is no global state; the caller serializes calls per device.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vcpufreq/abi.h"
#include "vcpufreq/regmodel.h"
#include "util.h"

/* crosvm: schedutil (before 6.8) ran uclamp_min 25% higher; 4/5 undid it */
#define SCHEDUTIL_NUM	4
#define SCHEDUTIL_DEN	5

struct vcpu_regs {
	struct vcpufreq_vcpu_config cfg;	/* copied, tid kept current */
	uint32_t sel;			/* PERFTBL_SEL as last written */
	uint32_t last_guest;		/* last snapped request for this vCPU */
	uint32_t last_host;		/* ... as submitted, host units */
	bool requested;			/* last_* are valid */
};

struct vcpufreq_dev {
	uint32_t nr_vcpus;
	uint32_t vm_id;
	bool host_schedutil;
	enum vcpufreq_dev_scope scope;
	bool has_ops;
	struct vcpufreq_dev_ops ops;
	struct vcpufreq_dev_stats stats;
	struct vcpu_regs *vcpus;
};

/* ---- configuration ---------------------------------------------------- */

#define refuse(err, err_len, ...) vf_err(err, err_len, -EINVAL, __VA_ARGS__)

/*
 * The guest driver refuses a table of 0 or more than 64 entries and builds
 * its OPP table assuming strictly ascending, nonzero frequencies; refusing
 * such a table here keeps the failure on the host, where it can be read.
 */
static int check_vcpu(const struct vcpufreq_vcpu_config *v, uint32_t n,
		      char *err, size_t err_len)
{
	uint32_t i;

	if (v->nr_perf < 1 || v->nr_perf > VCPUFREQ_PERFTBL_MAX)
		return refuse(err, err_len,
			      "vcpu %u: perf table has %u entries (1..%u allowed)",
			      n, v->nr_perf, VCPUFREQ_PERFTBL_MAX);
	if (!v->perf[0])
		return refuse(err, err_len, "vcpu %u: perf[0] is 0", n);
	for (i = 1; i < v->nr_perf; i++) {
		if (v->perf[i] <= v->perf[i - 1])
			return refuse(err, err_len,
				      "vcpu %u: perf[%u] = %u is not above perf[%u] = %u (table must ascend)",
				      n, i, v->perf[i], i - 1, v->perf[i - 1]);
	}
	if (v->capacity < 1 || v->capacity > VCPUFREQ_PERF_MAX)
		return refuse(err, err_len,
			      "vcpu %u: capacity %u out of range 1..%u",
			      n, v->capacity, VCPUFREQ_PERF_MAX);
	return 0;
}

static int check_config(const struct vcpufreq_dev_config *cfg,
			char *err, size_t err_len)
{
	uint32_t n;
	int ret;

	if (cfg->nr_vcpus < 1 || cfg->nr_vcpus > VCPUFREQ_DEV_MAX_VCPUS)
		return refuse(err, err_len, "nr_vcpus %u out of range 1..%u",
			      cfg->nr_vcpus, VCPUFREQ_DEV_MAX_VCPUS);
	if (!cfg->vcpus)
		return refuse(err, err_len, "vcpus is NULL for %u vCPUs",
			      cfg->nr_vcpus);
	if (cfg->scope != VCPUFREQ_DEV_SCOPE_WRITER &&
	    cfg->scope != VCPUFREQ_DEV_SCOPE_DOMAIN)
		return refuse(err, err_len,
			      "scope %u is not VCPUFREQ_DEV_SCOPE_WRITER or _DOMAIN",
			      cfg->scope);
	for (n = 0; n < cfg->nr_vcpus; n++) {
		ret = check_vcpu(&cfg->vcpus[n], n, err, err_len);
		if (ret)
			return ret;
	}
	return 0;
}

int vcpufreq_dev_new(const struct vcpufreq_dev_config *cfg,
		     const struct vcpufreq_dev_ops *ops,
		     struct vcpufreq_dev **out, char *err, size_t err_len)
{
	struct vcpufreq_dev *dev;
	uint32_t n;
	int ret;

	if (out)
		*out = NULL;
	if (!cfg || !out)
		return refuse(err, err_len, "%s is NULL",
			      !cfg ? "config" : "output pointer");
	ret = check_config(cfg, err, err_len);
	if (ret)
		return ret;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		goto nomem;
	dev->vcpus = calloc(cfg->nr_vcpus, sizeof(*dev->vcpus));
	if (!dev->vcpus) {
		free(dev);
		goto nomem;
	}
	dev->nr_vcpus = cfg->nr_vcpus;
	dev->vm_id = cfg->vm_id;
	dev->host_schedutil = cfg->host_schedutil != 0;
	dev->scope = (enum vcpufreq_dev_scope)cfg->scope;
	if (ops) {
		dev->ops = *ops;
		dev->has_ops = true;
	}
	for (n = 0; n < cfg->nr_vcpus; n++)
		dev->vcpus[n].cfg = cfg->vcpus[n];
	*out = dev;
	return 0;

nomem:
	if (err && err_len)
		snprintf(err, err_len, "out of memory for %u vCPUs",
			 cfg->nr_vcpus);
	return -ENOMEM;
}

void vcpufreq_dev_free(struct vcpufreq_dev *dev)
{
	if (!dev)
		return;
	free(dev->vcpus);
	free(dev);
}

static void submit_last_request(struct vcpufreq_dev *dev, uint32_t vcpu);

/*
 * A request the guest made before its thread was known (or for the old
 * thread) is submitted for the new one, so the host never misses it.
 */
int vcpufreq_dev_set_tid(struct vcpufreq_dev *dev, uint32_t vcpu,
			 uint32_t tid)
{
	struct vcpu_regs *v;

	if (!dev || vcpu >= dev->nr_vcpus)
		return -EINVAL;
	v = &dev->vcpus[vcpu];
	if (v->cfg.tid == tid)
		return 0;
	v->cfg.tid = tid;
	if (tid && v->requested)
		submit_last_request(dev, vcpu);
	return 0;
}

/* ---- perf values ------------------------------------------------------ */

static bool is_table_mode(const struct vcpu_regs *v)
{
	return v->cfg.nr_perf > 1;
}

/* the top of the vCPU's range: its last entry, or the one continuous max */
static uint32_t vcpu_fmax(const struct vcpu_regs *v)
{
	return v->cfg.perf[v->cfg.nr_perf - 1];
}

/*
 * A requested value rounds up, never down: the guest's schedutil asked for
 * at least this much, and its own driver would resolve a frequency between
 * two OPPs the same way (CPUFREQ_RELATION_L).  Past the top there is
 * nothing to round up to, so the top it is.
 */
static uint32_t snap_request(const struct vcpu_regs *v, uint32_t guest)
{
	uint32_t i;

	if (guest == 0 || !is_table_mode(v))
		return guest < vcpu_fmax(v) ? guest : vcpu_fmax(v);
	/* stops at the last entry, which is the answer when nothing fits */
	for (i = 0; i < v->cfg.nr_perf - 1; i++) {
		if (v->cfg.perf[i] >= guest)
			break;
	}
	return v->cfg.perf[i];
}

/*
 * guest -> host capacity, rounded down, then the schedutil factor rounded
 * down again: crosvm's two steps, so that both give the same number.
 * capacity <= 1024 and guest < 2^32: the product fits in 64 bits.  Values
 * past fmax (only from vcpufreq_dev_to_host(); SET_PERF clamps first)
 * stop at the host's top, 1024.
 */
static uint32_t guest_to_host(const struct vcpufreq_dev *dev,
			      const struct vcpu_regs *v, uint32_t guest)
{
	uint64_t host = (uint64_t)v->cfg.capacity * guest / vcpu_fmax(v);

	if (host > VCPUFREQ_PERF_MAX)
		host = VCPUFREQ_PERF_MAX;
	if (dev->host_schedutil)
		host = host * SCHEDUTIL_NUM / SCHEDUTIL_DEN;
	return (uint32_t)host;
}

/*
 * host capacity -> guest, for CUR_PERF, not rounded to a table entry: the
 * guest's scale is cur / fmax, and rounding down to an entry would cut it
 * (a host at 1000/1024 of a {0.5, 1, 2} GHz table would read 1 GHz, half
 * of what the vCPU gets).  The schedutil factor is not undone: the host
 * reports what it runs at, not what was asked of it.
 */
static uint32_t host_to_guest(const struct vcpu_regs *v, uint32_t host)
{
	uint64_t guest = (uint64_t)host * vcpu_fmax(v) / v->cfg.capacity;

	return guest < vcpu_fmax(v) ? (uint32_t)guest : vcpu_fmax(v);
}

uint32_t vcpufreq_dev_to_host(const struct vcpufreq_dev *dev, uint32_t vcpu,
			      uint32_t guest_perf)
{
	if (!dev || vcpu >= dev->nr_vcpus)
		return 0;
	return guest_to_host(dev, &dev->vcpus[vcpu], guest_perf);
}

/* ---- registers -------------------------------------------------------- */

/*
 * The host's view when it has one; otherwise the last nonzero request,
 * which is what the guest would assume anyway, or fmax: before the first
 * request and after a 0 ("no demand") nothing says the vCPU is slowed
 * down, and a 0 here would stop the guest's clock of utilization.
 */
static uint32_t read_cur_perf(struct vcpufreq_dev *dev, uint32_t vcpu)
{
	struct vcpu_regs *v = &dev->vcpus[vcpu];
	uint32_t host = 0;

	if (dev->has_ops && dev->ops.cur_perf)
		host = dev->ops.cur_perf(dev->ops.ctx, vcpu, v->cfg.tid);
	if (host)
		return host_to_guest(v, host);
	if (v->requested && v->last_guest)
		return v->last_guest < vcpu_fmax(v) ? v->last_guest :
						      vcpu_fmax(v);
	return vcpu_fmax(v);
}

/*
 * Without a host thread there is nobody to send the request to; it is
 * still remembered so that CUR_PERF answers it back and so that it goes
 * out once the thread is known.
 */
static void submit_last_request(struct vcpufreq_dev *dev, uint32_t vcpu)
{
	struct vcpu_regs *v = &dev->vcpus[vcpu];

	if (dev->has_ops && dev->ops.submit && v->cfg.tid)
		dev->ops.submit(dev->ops.ctx, vcpu, v->cfg.tid, v->last_host,
				v->last_guest);
}

static void request_for(struct vcpufreq_dev *dev, uint32_t vcpu,
			uint32_t guest, uint32_t host)
{
	struct vcpu_regs *v = &dev->vcpus[vcpu];

	v->last_guest = guest;
	v->last_host = host;
	v->requested = true;
	submit_last_request(dev, vcpu);
}

/*
 * Whose thread a write into @vcpu's block is for under the writer scope.
 * Linux's driver writes only from CPUs of the policy, so a writer from
 * another perf domain is not a sibling running the update: taken as
 * unknown, it would otherwise get the block's scale (a little vCPU the
 * big block's capacity).  crosvm has no such check.
 */
static uint32_t trusted_writer(struct vcpufreq_dev *dev, uint32_t writer,
			       uint32_t vcpu)
{
	if (writer >= dev->nr_vcpus)
		return vcpu;
	if (dev->vcpus[writer].cfg.perf_domain !=
	    dev->vcpus[vcpu].cfg.perf_domain) {
		dev->stats.outside_domain++;
		return vcpu;
	}
	if (writer != vcpu)
		dev->stats.foreign++;
	return writer;
}

/*
 * @value is read in the scale of the block written (@vcpu's table and
 * capacity), whoever it is for: crosvm converts with the block's device.
 */
static void write_set_perf(struct vcpufreq_dev *dev, uint32_t writer,
			   uint32_t vcpu, uint32_t value)
{
	struct vcpu_regs *v = &dev->vcpus[vcpu];
	uint32_t guest, host, n;

	if (value > vcpu_fmax(v))
		dev->stats.clamped++;
	writer = trusted_writer(dev, writer, vcpu);
	dev->stats.requests++;
	guest = snap_request(v, value);
	host = guest_to_host(dev, v, guest);

	if (dev->scope == VCPUFREQ_DEV_SCOPE_WRITER) {
		request_for(dev, writer, guest, host);
		return;
	}
	for (n = 0; n < dev->nr_vcpus; n++)
		if (dev->vcpus[n].cfg.perf_domain == v->cfg.perf_domain)
			request_for(dev, n, guest, host);
}

/* checks shared by reads and writes: alignment and the vCPU index */
static bool is_decoded(const struct vcpufreq_dev *dev, uint32_t vcpu,
		       uint32_t offset)
{
	return vcpu < dev->nr_vcpus && offset % 4 == 0;
}

uint32_t vcpufreq_dev_read(struct vcpufreq_dev *dev, uint32_t vcpu,
			   uint32_t offset)
{
	struct vcpu_regs *v;

	if (!dev)
		return 0;
	dev->stats.reads++;
	if (!is_decoded(dev, vcpu, offset))
		goto bad;
	v = &dev->vcpus[vcpu];

	switch (offset) {
	case VCPUFREQ_REG_CUR_PERF:
		return read_cur_perf(dev, vcpu);
	case VCPUFREQ_REG_PERFTBL_LEN:
		return v->cfg.nr_perf;
	case VCPUFREQ_REG_PERFTBL_RD:
		return v->sel < v->cfg.nr_perf ? v->cfg.perf[v->sel] : 0;
	case VCPUFREQ_REG_PERF_DOMAIN:
		return v->cfg.perf_domain;
	default:
		/* SET_PERF, PERFTBL_SEL (write-only) and unknown offsets */
		break;
	}
bad:
	dev->stats.bad_reads++;
	return 0;
}

void vcpufreq_dev_write_from(struct vcpufreq_dev *dev, uint32_t writer,
			     uint32_t vcpu, uint32_t offset, uint32_t value)
{
	if (!dev)
		return;
	dev->stats.writes++;
	if (!is_decoded(dev, vcpu, offset))
		goto bad;

	switch (offset) {
	case VCPUFREQ_REG_SET_PERF:
		write_set_perf(dev, writer, vcpu, value);
		return;
	case VCPUFREQ_REG_PERFTBL_SEL:
		/* range is checked at PERFTBL_RD, which reads 0 past the end */
		dev->vcpus[vcpu].sel = value;
		return;
	default:
		/* CUR_PERF, PERFTBL_LEN, PERFTBL_RD, PERF_DOMAIN (read-only) */
		break;
	}
bad:
	dev->stats.bad_writes++;
}

void vcpufreq_dev_write(struct vcpufreq_dev *dev, uint32_t vcpu,
			uint32_t offset, uint32_t value)
{
	vcpufreq_dev_write_from(dev, VCPUFREQ_DEV_NO_WRITER, vcpu, offset,
				value);
}

void vcpufreq_dev_get_stats(const struct vcpufreq_dev *dev,
			    struct vcpufreq_dev_stats *st)
{
	if (!st)
		return;
	if (!dev) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = dev->stats;
}
