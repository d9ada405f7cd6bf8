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
 * (crosvm compatibility only), 80% of that, as crosvm feeds uclamp_min.
 *
 * A SET_PERF of 0 is passed through as "no demand" rather than snapped to
 * the lowest entry, so a VMM can drop the vCPU's request.
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
#include "errmsg.h"

/* crosvm: schedutil (before 6.8) ran uclamp_min 25% higher; 4/5 undid it */
#define SCHEDUTIL_NUM	4
#define SCHEDUTIL_DEN	5

struct vcpu_state {
	struct vcpufreq_vcpu_config cfg;	/* copied, tid kept current */
	uint32_t sel;			/* PERFTBL_SEL as last written */
	uint32_t last_guest;		/* last snapped SET_PERF value */
	bool requested;			/* last_guest is valid */
};

struct vcpufreq_dev {
	uint32_t nr_vcpus;
	uint32_t vm_id;
	bool host_schedutil;
	bool has_ops;
	struct vcpufreq_dev_ops ops;
	struct vcpufreq_dev_stats stats;
	struct vcpu_state *vcpus;
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
	struct vcpu_state *v;

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

static bool is_table_mode(const struct vcpu_state *v)
{
	return v->cfg.nr_perf > 1;
}

/* the top of the vCPU's range: its last entry, or the one continuous max */
static uint32_t vcpu_fmax(const struct vcpu_state *v)
{
	return v->cfg.perf[v->cfg.nr_perf - 1];
}

/*
 * A requested value rounds up, never down: the guest's schedutil asked for
 * at least this much, and its own driver would resolve a frequency between
 * two OPPs the same way (CPUFREQ_RELATION_L).  Past the top there is
 * nothing to round up to, so the top it is.
 */
static uint32_t snap_request(const struct vcpu_state *v, uint32_t guest)
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
 * A current value rounds down: the vCPU runs at least this fast, and the
 * guest's frequency invariance must not see more than it gets.  Below the
 * first entry there is nothing lower to report, so the first entry it is.
 */
static uint32_t snap_current(const struct vcpu_state *v, uint32_t guest)
{
	uint32_t i;

	if (!is_table_mode(v))
		return guest;
	for (i = v->cfg.nr_perf; i > 1; i--) {
		if (v->cfg.perf[i - 1] <= guest)
			return v->cfg.perf[i - 1];
	}
	return v->cfg.perf[0];
}

/*
 * guest -> host capacity in one 64-bit step, rounded down once: capacity
 * and the schedutil factor are small, so capacity * guest * 4 fits in 44
 * bits.  Snapped values never exceed capacity; the cap (1024, or 80% of
 * it under schedutil) is for unsnapped values past fmax given to
 * vcpufreq_dev_to_host(), which must still stay within the host's scale.
 */
static uint32_t guest_to_host(const struct vcpufreq_dev *dev,
			      const struct vcpu_state *v, uint32_t guest)
{
	uint64_t num = (uint64_t)v->cfg.capacity * guest;
	uint64_t den = vcpu_fmax(v);
	uint64_t cap = VCPUFREQ_PERF_MAX;
	uint64_t host;

	if (dev->host_schedutil) {
		num *= SCHEDUTIL_NUM;
		den *= SCHEDUTIL_DEN;
		cap = cap * SCHEDUTIL_NUM / SCHEDUTIL_DEN;
	}
	host = num / den;
	return host < cap ? (uint32_t)host : (uint32_t)cap;
}

/*
 * host capacity -> guest, for CUR_PERF.  The schedutil factor is not
 * undone: the host reports what it runs at, not what was asked of it.
 */
static uint32_t host_to_guest(const struct vcpu_state *v, uint32_t host)
{
	uint64_t guest = (uint64_t)host * vcpu_fmax(v) / v->cfg.capacity;

	if (guest > vcpu_fmax(v))
		guest = vcpu_fmax(v);
	return snap_current(v, (uint32_t)guest);
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
 * The host's view when it has one; otherwise what the guest last asked
 * for, which is what the guest would assume anyway, or fmax before its
 * first request (a vCPU starts out unthrottled).
 */
static uint32_t read_cur_perf(struct vcpufreq_dev *dev, uint32_t vcpu)
{
	struct vcpu_state *v = &dev->vcpus[vcpu];
	uint32_t host = 0;

	if (dev->has_ops && dev->ops.cur_perf)
		host = dev->ops.cur_perf(dev->ops.ctx, vcpu, v->cfg.tid);
	if (host)
		return host_to_guest(v, host);
	return v->requested ? v->last_guest : vcpu_fmax(v);
}

/*
 * Without a host thread there is nobody to send the request to; it is
 * still remembered so that CUR_PERF answers it back.
 */
static void write_set_perf(struct vcpufreq_dev *dev, uint32_t vcpu,
			   uint32_t value)
{
	struct vcpu_state *v = &dev->vcpus[vcpu];
	uint32_t guest;

	if (value > vcpu_fmax(v))
		dev->stats.clamped++;
	guest = snap_request(v, value);
	v->last_guest = guest;
	v->requested = true;
	dev->stats.requests++;
	submit_last_request(dev, vcpu);
}

static void submit_last_request(struct vcpufreq_dev *dev, uint32_t vcpu)
{
	struct vcpu_state *v = &dev->vcpus[vcpu];

	if (dev->has_ops && dev->ops.submit && v->cfg.tid)
		dev->ops.submit(dev->ops.ctx, vcpu, v->cfg.tid,
				guest_to_host(dev, v, v->last_guest),
				v->last_guest);
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
	struct vcpu_state *v;

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

void vcpufreq_dev_write(struct vcpufreq_dev *dev, uint32_t vcpu,
			uint32_t offset, uint32_t value)
{
	if (!dev)
		return;
	dev->stats.writes++;
	if (!is_decoded(dev, vcpu, offset))
		goto bad;

	switch (offset) {
	case VCPUFREQ_REG_SET_PERF:
		write_set_perf(dev, vcpu, value);
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
