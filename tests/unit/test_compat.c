// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The register model against its two peers, access sequence by access
 * sequence: Linux's drivers/cpufreq/virtual-cpufreq.c (6.13+, the guest
 * that drives the registers) and crosvm's devices/src/virtcpufreq_v2.rs
 * (the other device behind them).  Each test runs the sequence on the
 * model through its public API and compares with what the peer gives,
 * computed here by a few lines that restate the peer's arithmetic (its
 * source read for facts, not copied).  Where we chose to differ the test
 * says so and pins our value; docs/compatibility.md has the table.
 */
#include <stdint.h>
#include <stdlib.h>

#include "vcpufreq/abi.h"
#include "vcpufreq/regmodel.h"
#include "regs.h"
#include "unit.h"

/* ---- crosvm's device, restated ----------------------------------------- */

/*
 * One VirtCpufreqV2: one vCPU's block, on a host CPU (pcpu) whose
 * capacity, cpuinfo_max_freq and cpuinfo_min_freq it read at start, and
 * util_factor 80 when that CPU runs schedutil, else 100.
 */
struct crosvm_dev {
	const uint32_t *table;
	uint32_t len;
	uint32_t vcpu_capacity;
	uint32_t pcpu_capacity, pcpu_fmax, pcpu_fmin;
	uint32_t util_factor;
};

static uint32_t crosvm_fmax(const struct crosvm_dev *c)
{
	uint32_t m = 0;

	for (uint32_t i = 0; i < c->len; i++)
		if (c->table[i] > m)
			m = c->table[i];
	return m;
}

/* PERFTBL_RD after PERFTBL_SEL @sel: 0 past the end */
static uint32_t crosvm_tbl_rd(const struct crosvm_dev *c, uint32_t sel)
{
	return sel < c->len ? c->table[sel] : 0;
}

/*
 * SET_PERF @val: the utilization it gives sched_setattr(), rounded down
 * twice (capacity * val / fmax, then * util_factor / 100); -1 when that is
 * above 1024, which sched_setattr() refuses and crosvm then panics on.
 */
static long long crosvm_set_perf(const struct crosvm_dev *c, uint32_t val)
{
	uint64_t raw = (uint64_t)c->vcpu_capacity * val / crosvm_fmax(c);
	uint64_t util;

	if (raw > UINT32_MAX)
		raw = 1024;	/* its overflow fallback */
	util = raw * c->util_factor / 100;
	return util > 1024 ? -1 : (long long)util;
}

/*
 * SET_PERF @val's utilization before the util_factor: what crosvm keeps as
 * its domain's shared perf, and only when the vCPU's fmax is not the
 * pCPU's (else nothing needs throttling and it stays 0)
 */
static uint32_t crosvm_shared_util(const struct crosvm_dev *c, uint32_t val)
{
	if (crosvm_fmax(c) == c->pcpu_fmax)
		return 0;
	return (uint32_t)((uint64_t)c->vcpu_capacity * val / crosvm_fmax(c));
}

/*
 * CUR_PERF with the host CPU at @freq kHz (scaling_cur_freq), the domain's
 * shared perf @shared_util.  Below the pCPU's lowest speed crosvm's
 * throttle worker stalls the vCPUs to emulate the request, and CUR_PERF
 * answers the request; otherwise the host's speed at the vCPU's relative
 * capacity (the vCPU's capacity unscaled by its fmax, against the pCPU's).
 */
static uint32_t crosvm_cur_perf(const struct crosvm_dev *c, uint32_t freq,
				uint32_t shared_util)
{
	uint32_t pcpu_min_cap = c->pcpu_fmin * c->pcpu_capacity / c->pcpu_fmax;
	uint64_t rel = (uint64_t)c->vcpu_capacity * c->pcpu_fmax /
		       crosvm_fmax(c);

	if (shared_util && shared_util < pcpu_min_cap)
		return shared_util * crosvm_fmax(c) / c->vcpu_capacity;
	return (uint32_t)((uint64_t)freq * c->pcpu_capacity / rel);
}

/* ---- Linux's driver, restated ------------------------------------------ */

/* virt_scale_freq_tick(): the scheduler's frequency scale from CUR_PERF */
static uint32_t upstream_freq_scale(uint32_t cur, uint32_t max_freq)
{
	uint64_t scale = ((uint64_t)cur << 10) / max_freq;

	return scale < 1024 ? (uint32_t)scale : 1024;
}

/* ---- the model, with a host that records every submit ------------------- */

#define MAX_SUBMITS 16

struct host {
	int n;
	uint32_t vcpu[MAX_SUBMITS], tid[MAX_SUBMITS], perf[MAX_SUBMITS];
	uint32_t cur;		/* capacity units, 0: unknown */
};

static int host_submit(void *ctx, uint32_t vcpu, uint32_t tid,
		       uint32_t host_perf, uint32_t guest_perf)
{
	struct host *h = ctx;

	(void)guest_perf;
	if (h->n < MAX_SUBMITS) {
		h->vcpu[h->n] = vcpu;
		h->tid[h->n] = tid;
		h->perf[h->n] = host_perf;
	}
	h->n++;
	return 0;
}

static uint32_t host_cur_perf(void *ctx, uint32_t vcpu, uint32_t tid)
{
	(void)vcpu;
	(void)tid;
	return ((struct host *)ctx)->cur;
}

/* @n vCPUs all like @v (tid 100 + i, perf_domain = @domains[i]) */
static struct vcpufreq_dev *model(const struct vcpufreq_vcpu_config *v,
				  uint32_t n, const uint32_t *domains,
				  int schedutil, uint32_t scope, struct host *h)
{
	struct vcpufreq_vcpu_config cfg[8];
	struct vcpufreq_dev_config dc = {
		.nr_vcpus = n, .host_schedutil = schedutil, .scope = scope,
		.vcpus = cfg,
	};
	struct vcpufreq_dev_ops ops = {
		.submit = host_submit, .cur_perf = host_cur_perf, .ctx = h,
	};
	struct vcpufreq_dev *dev;
	char why[256];

	for (uint32_t i = 0; i < n; i++) {
		cfg[i] = *v;
		cfg[i].tid = 100 + i;
		cfg[i].perf_domain = domains ? domains[i] : i;
	}
	if (vcpufreq_dev_new(&dc, &ops, &dev, why, sizeof(why))) {
		fprintf(stderr, "vcpufreq_dev_new: %s\n", why);
		exit(2);
	}
	return dev;
}

/* A host CPU of capacity 1023 at up to 2 GHz (a big core) */
static const uint32_t big_table[] = { 500000, 1000000, 2000000 };
static const struct vcpufreq_vcpu_config big = {
	.capacity = 1023, .nr_perf = 3, .perf = { 500000, 1000000, 2000000 },
};
static const struct crosvm_dev big_crosvm = {
	.table = big_table, .len = 3, .vcpu_capacity = 1023,
	.pcpu_capacity = 1023, .pcpu_fmax = 2000000, .pcpu_fmin = 500000,
	.util_factor = 100,
};

/*
 * A vCPU smaller and slower than the big pCPU it runs on (a little core's
 * table on a 1024 / 2 GHz CPU that can go down to 300 MHz): crosvm's
 * relative capacity is 512 * 2 / 1.8 = 568, so the pCPU at 1.8 GHz is
 * more than this vCPU's top speed
 */
static const uint32_t little_table[] = { 200000, 900000, 1800000 };
static const struct vcpufreq_vcpu_config little = {
	.capacity = 512, .nr_perf = 3, .perf = { 200000, 900000, 1800000 },
};
static const struct crosvm_dev little_crosvm = {
	.table = little_table, .len = 3, .vcpu_capacity = 512,
	.pcpu_capacity = 1024, .pcpu_fmax = 2000000, .pcpu_fmin = 300000,
	.util_factor = 100,
};

/* a vCPU bigger and faster than its pCPU (768 at up to 2 GHz) */
static const struct vcpufreq_vcpu_config fast = {
	.capacity = 1024, .nr_perf = 3, .perf = { 600000, 1200000, 2400000 },
};
static const uint32_t fast_table[] = { 600000, 1200000, 2400000 };
static const struct crosvm_dev fast_crosvm = {
	.table = fast_table, .len = 3, .vcpu_capacity = 1024,
	.pcpu_capacity = 768, .pcpu_fmax = 2000000, .pcpu_fmin = 500000,
	.util_factor = 100,
};

static const uint32_t cont_table[] = { 2400000 };
static const struct vcpufreq_vcpu_config cont = {
	.capacity = 1024, .nr_perf = 1, .perf = { 2400000 },
};
static const struct crosvm_dev cont_crosvm = {
	.table = cont_table, .len = 1, .vcpu_capacity = 1024,
	.pcpu_capacity = 1024, .pcpu_fmax = 2400000, .pcpu_fmin = 600000,
	.util_factor = 100,
};

/* ---- discovery: PERFTBL_LEN / _SEL / _RD, PERF_DOMAIN -------------------- */

TEST(table_discovery_reads_what_crosvm_gives_including_selectors_past_the_end)
{
	struct host h = { 0 };
	struct vcpufreq_dev *dev = model(&big, 1, NULL, 0, 0, &h);
	const uint32_t sels[] = { 0, 1, 2, 3, 64, 0xffffffff };

	CHECK_EQ(vcpufreq_dev_read(dev, 0, LEN), big_crosvm.len);
	for (size_t i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		vcpufreq_dev_write(dev, 0, SEL, sels[i]);
		CHECK_EQ(vcpufreq_dev_read(dev, 0, RD),
			 crosvm_tbl_rd(&big_crosvm, sels[i]));
	}
	vcpufreq_dev_free(dev);
}

TEST(continuous_discovery_reads_one_entry_the_maximum_like_crosvm)
{
	struct host h = { 0 };
	struct vcpufreq_dev *dev = model(&cont, 1, NULL, 0, 0, &h);

	CHECK_EQ(vcpufreq_dev_read(dev, 0, LEN), 1);
	for (uint32_t sel = 0; sel < 3; sel++) {
		vcpufreq_dev_write(dev, 0, SEL, sel);
		CHECK_EQ(vcpufreq_dev_read(dev, 0, RD),
			 crosvm_tbl_rd(&cont_crosvm, sel));
	}
	vcpufreq_dev_free(dev);
}

/* ---- SET_PERF: the number ----------------------------------------------- */

TEST(set_perf_gives_crosvms_utilization_for_every_table_entry_and_zero)
{
	struct host h = { 0 };
	struct vcpufreq_dev *dev = model(&big, 1, NULL, 0, 0, &h);
	const uint32_t vals[] = { 0, 500000, 1000000, 2000000 };

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		h.n = 0;
		vcpufreq_dev_write_from(dev, 0, 0, SET, vals[i]);
		CHECK_EQ(h.n, 1);
		CHECK_EQ(h.perf[0], crosvm_set_perf(&big_crosvm, vals[i]));
	}
	vcpufreq_dev_free(dev);
}

TEST(set_perf_in_continuous_mode_gives_crosvms_utilization_for_any_value)
{
	struct host h = { 0 };
	struct vcpufreq_dev *dev = model(&cont, 1, NULL, 0, 0, &h);

	for (uint32_t val = 0; val <= 2400000; val += 2399) {
		h.n = 0;
		vcpufreq_dev_write_from(dev, 0, 0, SET, val);
		CHECK_EQ(h.perf[0], crosvm_set_perf(&cont_crosvm, val));
	}
	vcpufreq_dev_free(dev);
}

/* crosvm rounds twice: 1023 * 1 GHz / 2 GHz = 511, * 80 / 100 = 408 */
TEST(set_perf_takes_the_schedutil_margin_off_rounding_twice_like_crosvm)
{
	struct host h = { 0 };
	struct vcpufreq_dev *dev = model(&cont, 1, NULL, 1, 0, &h);
	struct vcpufreq_vcpu_config half = big;
	struct crosvm_dev su = cont_crosvm, bsu = big_crosvm;
	struct vcpufreq_dev *bdev;

	su.util_factor = bsu.util_factor = 80;
	for (uint32_t val = 1; val <= 2400000; val += 1201) {
		h.n = 0;
		vcpufreq_dev_write(dev, 0, SET, val);
		CHECK_EQ(h.perf[0], crosvm_set_perf(&su, val));
	}
	vcpufreq_dev_free(dev);

	bdev = model(&half, 1, NULL, 1, 0, &h);
	h.n = 0;
	vcpufreq_dev_write(bdev, 0, SET, 1000000);
	CHECK_EQ(crosvm_set_perf(&bsu, 1000000), 408);
	CHECK_EQ(h.perf[0], 408);
	vcpufreq_dev_free(bdev);
}

/* crosvm: capacity * 3 GHz / 2 GHz > 1024, sched_setattr fails, panic */
TEST(set_perf_above_fmax_is_clamped_where_crosvm_stops)
{
	struct host h = { 0 };
	struct vcpufreq_dev *dev = model(&cont, 1, NULL, 0, 0, &h);
	struct vcpufreq_dev_stats st;

	CHECK_EQ(crosvm_set_perf(&cont_crosvm, 3600000), -1);
	vcpufreq_dev_write(dev, 0, SET, 3600000);
	CHECK_EQ(h.n, 1);
	CHECK_EQ(h.perf[0], 1024);
	vcpufreq_dev_get_stats(dev, &st);
	CHECK_EQ(st.clamped, 1);
	vcpufreq_dev_free(dev);
}

/* upstream never writes one; crosvm takes it as is, we round it up */
TEST(set_perf_between_table_entries_rounds_up_where_crosvm_takes_it_as_is)
{
	struct host h = { 0 };
	struct vcpufreq_dev *dev = model(&big, 1, NULL, 0, 0, &h);

	vcpufreq_dev_write(dev, 0, SET, 700000);
	CHECK_EQ(crosvm_set_perf(&big_crosvm, 700000), 358);
	CHECK_EQ(h.perf[0], crosvm_set_perf(&big_crosvm, 1000000));
	vcpufreq_dev_free(dev);
}

/* ---- SET_PERF: whose thread --------------------------------------------- */

/*
 * Linux's driver, policy {0, 1}: vCPU 1 runs schedutil's update and
 * writes SET_PERF into policy->cpu's block, block 0.  crosvm boosts the
 * thread that trapped, vCPU 1.
 */
TEST(set_perf_from_a_sibling_boosts_the_writer_like_crosvm)
{
	const uint32_t shared[] = { 5, 5 };
	struct host h = { 0 };
	struct vcpufreq_dev *dev = model(&big, 2, shared, 0,
					 VCPUFREQ_DEV_SCOPE_WRITER, &h);
	struct vcpufreq_dev_stats st;

	vcpufreq_dev_write_from(dev, 1, 0, SET, 2000000);
	CHECK_EQ(h.n, 1);
	CHECK_EQ(h.vcpu[0], 1);
	CHECK_EQ(h.tid[0], 101);
	CHECK_EQ(h.perf[0], crosvm_set_perf(&big_crosvm, 2000000));
	vcpufreq_dev_get_stats(dev, &st);
	CHECK_EQ(st.foreign, 1);
	vcpufreq_dev_free(dev);
}

TEST(set_perf_without_a_known_writer_boosts_the_blocks_vcpu)
{
	const uint32_t shared[] = { 5, 5 };
	struct host h = { 0 };
	struct vcpufreq_dev *dev = model(&big, 2, shared, 0,
					 VCPUFREQ_DEV_SCOPE_WRITER, &h);

	vcpufreq_dev_write(dev, 0, SET, 1000000);
	CHECK_EQ(h.n, 1);
	CHECK_EQ(h.tid[0], 100);
	/* a writer that is no vCPU of the device is unknown too */
	vcpufreq_dev_write_from(dev, 7, 1, SET, 1000000);
	CHECK_EQ(h.n, 2);
	CHECK_EQ(h.tid[1], 101);
	vcpufreq_dev_free(dev);
}

/*
 * A writer from another perf domain is no sibling running the policy's
 * update (upstream writes only from CPUs of the policy): taken as unknown,
 * the block's vCPU gets the request, never the writer (a little vCPU
 * would get a big block's scale).  crosvm boosts the writer; we differ.
 */
TEST(set_perf_from_outside_the_blocks_domain_boosts_the_blocks_vcpu)
{
	const uint32_t doms[] = { 5, 5, 6 };
	struct host h = { 0 };
	struct vcpufreq_dev *dev = model(&big, 3, doms, 0,
					 VCPUFREQ_DEV_SCOPE_WRITER, &h);
	struct vcpufreq_dev_stats st;

	vcpufreq_dev_write_from(dev, 2, 0, SET, 2000000);
	CHECK_EQ(h.n, 1);
	CHECK_EQ(h.vcpu[0], 0);
	CHECK_EQ(h.tid[0], 100);
	vcpufreq_dev_write_from(dev, 0, 2, SET, 1000000);
	CHECK_EQ(h.n, 2);
	CHECK_EQ(h.tid[1], 102);
	vcpufreq_dev_get_stats(dev, &st);
	CHECK_EQ(st.outside_domain, 2);
	CHECK_EQ(st.foreign, 0);
	/* a sibling of the domain is still trusted */
	vcpufreq_dev_write_from(dev, 1, 0, SET, 1000000);
	CHECK_EQ(h.tid[2], 101);
	vcpufreq_dev_free(dev);
}

/* the domain's one frequency goes to each of its vCPU threads, once */
TEST(set_perf_in_domain_scope_boosts_every_vcpu_of_the_domain_only)
{
	const uint32_t doms[] = { 5, 5, 5, 6 };
	struct host h = { 0 };
	struct vcpufreq_dev *dev = model(&big, 4, doms, 0,
					 VCPUFREQ_DEV_SCOPE_DOMAIN, &h);

	vcpufreq_dev_write_from(dev, 2, 0, SET, 1000000);
	CHECK_EQ(h.n, 3);
	CHECK_EQ(h.tid[0], 100);
	CHECK_EQ(h.tid[1], 101);
	CHECK_EQ(h.tid[2], 102);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(h.perf[i], crosvm_set_perf(&big_crosvm, 1000000));
	/* with no host value, each sibling reads the request back */
	CHECK_EQ(vcpufreq_dev_read(dev, 1, CUR), 1000000);
	CHECK_EQ(vcpufreq_dev_read(dev, 3, CUR), 2000000);
	vcpufreq_dev_free(dev);
}

TEST(an_unknown_scope_is_refused)
{
	struct vcpufreq_dev_config dc = {
		.nr_vcpus = 1, .scope = 2, .vcpus = &big,
	};
	struct vcpufreq_dev *dev;
	char why[256] = "";

	CHECK_EQ(vcpufreq_dev_new(&dc, NULL, &dev, why, sizeof(why)), -22);
	CHECK(strstr(why, "scope 2") != NULL);
}

/* ---- CUR_PERF ------------------------------------------------------------ */

/*
 * The host at @freq, no throttling: our host callback gives capacity
 * units, crosvm reads kHz; the two agree to within what each rounds away,
 * one host capacity unit for us, one unit of relative capacity for
 * crosvm, in kHz of this vCPU.  Above the vCPU's fmax (a pCPU faster than the vCPU) ours
 * stops at fmax where crosvm goes on: the guest's frequency scale is
 * capped at 1024 either way.
 */
static void check_cur_like_crosvm(struct vcpufreq_dev *dev, struct host *h,
				  const struct crosvm_dev *c, uint32_t freq)
{
	uint32_t fmax = crosvm_fmax(c);
	uint32_t rel = (uint64_t)c->vcpu_capacity * c->pcpu_fmax / fmax;
	uint32_t unit = fmax / c->vcpu_capacity + fmax / rel + 2;
	uint32_t ours, theirs, s_ours, s_theirs;

	h->cur = (uint32_t)((uint64_t)freq * c->pcpu_capacity / c->pcpu_fmax);
	ours = vcpufreq_dev_read(dev, 0, CUR);
	theirs = crosvm_cur_perf(c, freq, 0);
	if (theirs > fmax)
		CHECK_EQ(ours, fmax);
	else
		CHECK(ours <= theirs + unit && theirs <= ours + unit);
	s_ours = upstream_freq_scale(ours, fmax);
	s_theirs = upstream_freq_scale(theirs, fmax);
	CHECK(s_ours <= s_theirs + 1024 * unit / fmax + 1 &&
	      s_theirs <= s_ours + 1024 * unit / fmax + 1);
}

/* CUR_PERF against crosvm's for host frequencies @from..@to kHz */
static void sweep_cur_like_crosvm(const struct vcpufreq_vcpu_config *v,
				  const struct crosvm_dev *c, uint32_t from,
				  uint32_t to)
{
	struct host h = { 0 };
	struct vcpufreq_dev *dev = model(v, 1, NULL, 0, 0, &h);

	for (uint32_t f = from; f <= to; f += 50000)
		check_cur_like_crosvm(dev, &h, c, f);
	vcpufreq_dev_free(dev);
}

TEST(cur_perf_with_a_host_value_follows_crosvm_without_rounding_to_entries)
{
	sweep_cur_like_crosvm(&big, &big_crosvm, 100000, 2000000);
	sweep_cur_like_crosvm(&cont, &cont_crosvm, 100000, 2400000);
}

/* the vCPU's capacity and fmax are not the pCPU's: relative capacity */
TEST(cur_perf_of_a_vcpu_unlike_its_pcpu_follows_crosvms_relative_capacity)
{
	struct host h = { 0 };
	struct vcpufreq_dev *dev = model(&little, 1, NULL, 0, 0, &h);

	sweep_cur_like_crosvm(&little, &little_crosvm, 300000, 2000000);
	/* the pCPU at 1 GHz: 1 GHz * 1024 / 568, not 1 GHz */
	h.cur = 512;
	CHECK_EQ(crosvm_cur_perf(&little_crosvm, 1000000, 0), 1802816);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 1800000);
	h.cur = 256;
	CHECK_EQ(crosvm_cur_perf(&little_crosvm, 500000, 0), 901408);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 900000);
	vcpufreq_dev_free(dev);
	sweep_cur_like_crosvm(&fast, &fast_crosvm, 500000, 2000000);
}

/*
 * A request below what the pCPU does at its lowest speed: crosvm stalls
 * the domain's vCPUs (its throttle worker) and CUR_PERF answers the
 * request; we do not throttle, and CUR_PERF answers what the host runs
 * (its minimum), which is what the vCPU gets.
 */
TEST(cur_perf_below_the_pcpus_minimum_is_the_host_where_crosvm_throttles)
{
	struct host h = { 0 };
	struct vcpufreq_dev *dev = model(&little, 1, NULL, 0, 0, &h);
	uint32_t shared = crosvm_shared_util(&little_crosvm, 200000);
	uint32_t ours;

	vcpufreq_dev_write(dev, 0, SET, 200000);
	CHECK_EQ(h.perf[0], crosvm_set_perf(&little_crosvm, 200000));
	/* 512 * 200 MHz / 1.8 GHz = 56, below the pCPU's 300 MHz = 153 */
	CHECK_EQ(shared, 56);
	CHECK_EQ(crosvm_cur_perf(&little_crosvm, 300000, shared), 196875);
	h.cur = 300000 * 1024 / 2000000;
	ours = vcpufreq_dev_read(dev, 0, CUR);
	CHECK_EQ(ours, 537890);
	CHECK(ours + 2 * 1800000 / 512 >=
	      crosvm_cur_perf(&little_crosvm, 300000, 0));
	/* at or above the pCPU's minimum crosvm reads the host too */
	shared = crosvm_shared_util(&little_crosvm, 900000);
	CHECK_EQ(shared, 256);
	vcpufreq_dev_write(dev, 0, SET, 900000);
	h.cur = 256;
	ours = vcpufreq_dev_read(dev, 0, CUR);
	CHECK_EQ(ours, 900000);
	CHECK_EQ(crosvm_cur_perf(&little_crosvm, 500000, shared), 901408);
	vcpufreq_dev_free(dev);
}

/* a host at 1000/1024 of a {0.5, 1, 2} GHz table: ~1000, not 512 */
TEST(cur_perf_gives_upstreams_frequency_invariance_the_hosts_ratio)
{
	struct vcpufreq_vcpu_config full = big;
	struct host h = { .cur = 1000 };
	struct vcpufreq_dev *dev;
	uint32_t cur;

	full.capacity = 1024;
	dev = model(&full, 1, NULL, 0, 0, &h);
	cur = vcpufreq_dev_read(dev, 0, CUR);
	/* 1000 * 2 GHz / 1024; rounded down to an entry it would be 1 GHz */
	CHECK_EQ(cur, 1953125);
	CHECK_EQ(upstream_freq_scale(cur, 2000000), 1000);
	vcpufreq_dev_free(dev);
}

/*
 * No host value: crosvm reads 0 when it cannot read scaling_cur_freq,
 * which upstream turns into a frequency scale of 0.  Ours answers the
 * last nonzero request, or fmax: never 0.
 */
TEST(cur_perf_without_a_host_value_is_the_request_or_fmax_never_zero)
{
	struct host h = { 0 };
	struct vcpufreq_dev *dev = model(&big, 1, NULL, 0, 0, &h);

	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 2000000);
	vcpufreq_dev_write(dev, 0, SET, 500000);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 500000);
	CHECK_EQ(upstream_freq_scale(vcpufreq_dev_read(dev, 0, CUR), 2000000),
		 256);
	vcpufreq_dev_write(dev, 0, SET, 0);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 2000000);
	CHECK_EQ(upstream_freq_scale(vcpufreq_dev_read(dev, 0, CUR), 2000000),
		 1024);
	vcpufreq_dev_free(dev);
}

/*
 * below the table (a host held low, by thermal limits say): the guest
 * sees it, like crosvm's (whose vCPU fmax is the pCPU's: no throttling)
 */
TEST(cur_perf_below_the_first_entry_is_reported_as_is)
{
	struct host h = { 0 };
	struct vcpufreq_dev *dev = model(&big, 1, NULL, 0, 0, &h);

	vcpufreq_dev_write(dev, 0, SET, 500000);
	CHECK_EQ(crosvm_shared_util(&big_crosvm, 500000), 0);
	check_cur_like_crosvm(dev, &h, &big_crosvm, 195504);
	/* 100 * 2000000 / 1023 */
	CHECK_EQ(h.cur, 100);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 195503);
	CHECK_EQ(crosvm_cur_perf(&big_crosvm, 195504, 0), 195504);
	vcpufreq_dev_free(dev);
}

RUN_TESTS(
	CASE(table_discovery_reads_what_crosvm_gives_including_selectors_past_the_end),
	CASE(continuous_discovery_reads_one_entry_the_maximum_like_crosvm),
	CASE(set_perf_gives_crosvms_utilization_for_every_table_entry_and_zero),
	CASE(set_perf_in_continuous_mode_gives_crosvms_utilization_for_any_value),
	CASE(set_perf_takes_the_schedutil_margin_off_rounding_twice_like_crosvm),
	CASE(set_perf_above_fmax_is_clamped_where_crosvm_stops),
	CASE(set_perf_between_table_entries_rounds_up_where_crosvm_takes_it_as_is),
	CASE(set_perf_from_a_sibling_boosts_the_writer_like_crosvm),
	CASE(set_perf_without_a_known_writer_boosts_the_blocks_vcpu),
	CASE(set_perf_from_outside_the_blocks_domain_boosts_the_blocks_vcpu),
	CASE(set_perf_in_domain_scope_boosts_every_vcpu_of_the_domain_only),
	CASE(an_unknown_scope_is_refused),
	CASE(cur_perf_with_a_host_value_follows_crosvm_without_rounding_to_entries),
	CASE(cur_perf_of_a_vcpu_unlike_its_pcpu_follows_crosvms_relative_capacity),
	CASE(cur_perf_below_the_pcpus_minimum_is_the_host_where_crosvm_throttles),
	CASE(cur_perf_gives_upstreams_frequency_invariance_the_hosts_ratio),
	CASE(cur_perf_without_a_host_value_is_the_request_or_fmax_never_zero),
	CASE(cur_perf_below_the_first_entry_is_reported_as_is),
)
