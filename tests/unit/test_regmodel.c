// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * lib/regmodel.c: the virtual cpufreq register model, driven the way a
 * guest driver and a VMM's MMIO handler would drive it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "vcpufreq/abi.h"
#include "vcpufreq/regmodel.h"
#include "regs.h"
#include "unit.h"

/* ---- fixtures --------------------------------------------------------- */

/* vCPU 0: a 4-entry table on a half-capacity CPU */
static const struct vcpufreq_vcpu_config little = {
	.tid = 1001, .perf_domain = 3, .capacity = 512, .nr_perf = 4,
	.perf = { 300000, 600000, 900000, 1200000 },
};

/* vCPU 1: continuous, up to 2 GHz on a full-capacity CPU */
static const struct vcpufreq_vcpu_config big = {
	.tid = 1002, .perf_domain = 7, .capacity = 1024, .nr_perf = 1,
	.perf = { 2000000 },
};

struct submitted {
	uint32_t vcpu, tid, host, guest;
};

/* what the fake host saw and what it answers for CUR_PERF */
struct fake_host {
	int nr_submits;
	struct submitted last;
	uint32_t cur;		/* capacity units, 0: unknown */
	int nr_cur_calls;
	uint32_t cur_vcpu, cur_tid;
};

static int fake_submit(void *ctx, uint32_t vcpu, uint32_t tid,
		       uint32_t host_perf, uint32_t guest_perf)
{
	struct fake_host *h = ctx;

	h->nr_submits++;
	h->last = (struct submitted){ vcpu, tid, host_perf, guest_perf };
	return 0;
}

static uint32_t fake_cur_perf(void *ctx, uint32_t vcpu, uint32_t tid)
{
	struct fake_host *h = ctx;

	h->nr_cur_calls++;
	h->cur_vcpu = vcpu;
	h->cur_tid = tid;
	return h->cur;
}

static struct vcpufreq_vcpu_config vcpus[2];
static char err[256];

/* little + big, with @h as the host (NULL: no ops at all) */
static struct vcpufreq_dev *make_dev(int schedutil, struct fake_host *h)
{
	struct vcpufreq_dev_config cfg = {
		.nr_vcpus = 2, .vm_id = 42, .host_schedutil = schedutil,
		.vcpus = vcpus,
	};
	struct vcpufreq_dev_ops ops = {
		.submit = fake_submit, .cur_perf = fake_cur_perf, .ctx = h,
	};
	struct vcpufreq_dev *dev = NULL;
	int ret;

	vcpus[0] = little;
	vcpus[1] = big;
	ret = vcpufreq_dev_new(&cfg, h ? &ops : NULL, &dev, err, sizeof(err));
	if (ret || !dev) {
		fprintf(stderr, "vcpufreq_dev_new: %d %s\n", ret, err);
		exit(2);
	}
	return dev;
}

static struct vcpufreq_dev_stats stats(struct vcpufreq_dev *dev)
{
	struct vcpufreq_dev_stats st;

	vcpufreq_dev_get_stats(dev, &st);
	return st;
}

/* ---- table discovery -------------------------------------------------- */

TEST(table_mode_registers_describe_the_table_and_domain)
{
	struct vcpufreq_dev *dev = make_dev(0, NULL);
	uint32_t i;

	CHECK_EQ(vcpufreq_dev_read(dev, 0, LEN), 4);
	for (i = 0; i < 4; i++) {
		vcpufreq_dev_write(dev, 0, SEL, i);
		CHECK_EQ(vcpufreq_dev_read(dev, 0, RD), little.perf[i]);
	}
	CHECK_EQ(vcpufreq_dev_read(dev, 0, DOM), 3);
	CHECK_EQ(stats(dev).bad_reads, 0);
	CHECK_EQ(stats(dev).bad_writes, 0);
	vcpufreq_dev_free(dev);
}

TEST(perftbl_rd_reads_0_past_the_end_of_the_table)
{
	struct vcpufreq_dev *dev = make_dev(0, NULL);

	vcpufreq_dev_write(dev, 0, SEL, 4);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, RD), 0);
	vcpufreq_dev_write(dev, 0, SEL, 0xffffffff);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, RD), 0);
	/* not a bad access: the guest may probe */
	CHECK_EQ(stats(dev).bad_reads, 0);
	CHECK_EQ(stats(dev).bad_writes, 0);
	vcpufreq_dev_free(dev);
}

TEST(perftbl_sel_starts_at_entry_0)
{
	struct vcpufreq_dev *dev = make_dev(0, NULL);

	CHECK_EQ(vcpufreq_dev_read(dev, 0, RD), 300000);
	vcpufreq_dev_free(dev);
}

TEST(continuous_mode_has_one_entry_which_is_the_max)
{
	struct vcpufreq_dev *dev = make_dev(0, NULL);

	CHECK_EQ(vcpufreq_dev_read(dev, 1, LEN), 1);
	vcpufreq_dev_write(dev, 1, SEL, 0);
	CHECK_EQ(vcpufreq_dev_read(dev, 1, RD), 2000000);
	vcpufreq_dev_write(dev, 1, SEL, 1);
	CHECK_EQ(vcpufreq_dev_read(dev, 1, RD), 0);
	CHECK_EQ(vcpufreq_dev_read(dev, 1, DOM), 7);
	vcpufreq_dev_free(dev);
}

TEST(each_vcpu_has_its_own_table_selector_and_domain)
{
	struct vcpufreq_dev *dev = make_dev(0, NULL);

	vcpufreq_dev_write(dev, 0, SEL, 2);
	vcpufreq_dev_write(dev, 1, SEL, 0);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, RD), 900000);
	CHECK_EQ(vcpufreq_dev_read(dev, 1, RD), 2000000);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, LEN), 4);
	CHECK_EQ(vcpufreq_dev_read(dev, 1, LEN), 1);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, DOM), 3);
	CHECK_EQ(vcpufreq_dev_read(dev, 1, DOM), 7);
	vcpufreq_dev_free(dev);
}

TEST(config_is_copied_not_referenced)
{
	struct vcpufreq_dev *dev = make_dev(0, NULL);

	vcpus[0].nr_perf = 2;
	vcpus[0].perf[0] = 1;
	vcpus[0].perf_domain = 99;
	CHECK_EQ(vcpufreq_dev_read(dev, 0, LEN), 4);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, RD), 300000);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, DOM), 3);
	vcpufreq_dev_free(dev);
}

/* ---- SET_PERF --------------------------------------------------------- */

TEST(set_perf_in_table_mode_snaps_up_to_a_table_entry)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);

	vcpufreq_dev_write(dev, 0, SET, 700000);
	CHECK_EQ(h.last.guest, 900000);
	vcpufreq_dev_write(dev, 0, SET, 600000);	/* exact entry */
	CHECK_EQ(h.last.guest, 600000);
	vcpufreq_dev_write(dev, 0, SET, 1);		/* below the first */
	CHECK_EQ(h.last.guest, 300000);
	vcpufreq_dev_write(dev, 0, SET, 1199999);
	CHECK_EQ(h.last.guest, 1200000);
	CHECK_EQ(stats(dev).requests, 4);
	CHECK_EQ(stats(dev).clamped, 0);
	vcpufreq_dev_free(dev);
}

TEST(set_perf_in_continuous_mode_passes_any_value_up_to_the_max)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);

	vcpufreq_dev_write(dev, 1, SET, 333333);
	CHECK_EQ(h.last.guest, 333333);
	vcpufreq_dev_write(dev, 1, SET, 1);
	CHECK_EQ(h.last.guest, 1);
	vcpufreq_dev_write(dev, 1, SET, 2000000);
	CHECK_EQ(h.last.guest, 2000000);
	CHECK_EQ(stats(dev).clamped, 0);
	vcpufreq_dev_free(dev);
}

TEST(set_perf_above_the_max_is_clamped_to_the_max_and_counted)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);

	vcpufreq_dev_write(dev, 0, SET, 1200001);
	CHECK_EQ(h.last.guest, 1200000);
	CHECK_EQ(h.last.host, 512);
	vcpufreq_dev_write(dev, 1, SET, 0xffffffff);
	CHECK_EQ(h.last.guest, 2000000);
	CHECK_EQ(h.last.host, 1024);
	CHECK_EQ(stats(dev).clamped, 2);
	CHECK_EQ(stats(dev).requests, 2);
	vcpufreq_dev_free(dev);
}

TEST(set_perf_0_requests_no_demand_in_both_modes)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);

	vcpufreq_dev_write(dev, 0, SET, 0);
	CHECK_EQ(h.last.guest, 0);
	CHECK_EQ(h.last.host, 0);
	vcpufreq_dev_write(dev, 1, SET, 0);
	CHECK_EQ(h.last.guest, 0);
	CHECK_EQ(h.last.host, 0);
	CHECK_EQ(h.nr_submits, 2);
	CHECK_EQ(stats(dev).clamped, 0);
	CHECK_EQ(stats(dev).requests, 2);
	vcpufreq_dev_free(dev);
}

TEST(set_perf_converts_to_capacity_times_guest_over_fmax)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);

	/* 512 * 900000 / 1200000 */
	vcpufreq_dev_write(dev, 0, SET, 700000);
	CHECK_EQ(h.last.host, 384);
	/* 512 * 300000 / 1200000 */
	vcpufreq_dev_write(dev, 0, SET, 300000);
	CHECK_EQ(h.last.host, 128);
	/* 1024 * 333333 / 2000000 = 170.67, rounded down */
	vcpufreq_dev_write(dev, 1, SET, 333333);
	CHECK_EQ(h.last.host, 170);
	vcpufreq_dev_write(dev, 1, SET, 2000000);
	CHECK_EQ(h.last.host, 1024);
	vcpufreq_dev_free(dev);
}

TEST(set_perf_takes_off_the_host_schedutil_margin)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(1, &h);

	/* 80% of 384 */
	vcpufreq_dev_write(dev, 0, SET, 700000);
	CHECK_EQ(h.last.host, 307);
	CHECK_EQ(h.last.guest, 900000);
	/* 80% of 512 = 409.6 */
	vcpufreq_dev_write(dev, 0, SET, 1200000);
	CHECK_EQ(h.last.host, 409);
	/* 80% of 170.67 = 136.53: one rounding, not two */
	vcpufreq_dev_write(dev, 1, SET, 333333);
	CHECK_EQ(h.last.host, 136);
	/* 80% of 1024 = 819.2 */
	vcpufreq_dev_write(dev, 1, SET, 2000000);
	CHECK_EQ(h.last.host, 819);
	vcpufreq_dev_free(dev);
}

TEST(to_host_matches_set_perf_and_caps_at_1024)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);
	struct vcpufreq_dev *su = make_dev(1, &h);

	CHECK_EQ(vcpufreq_dev_to_host(dev, 0, 900000), 384);
	CHECK_EQ(vcpufreq_dev_to_host(dev, 1, 333333), 170);
	CHECK_EQ(vcpufreq_dev_to_host(su, 0, 900000), 307);
	/* not snapped, so out-of-table values still convert */
	CHECK_EQ(vcpufreq_dev_to_host(dev, 0, 700000), 298);
	/* 512 * 3 = 1536 */
	CHECK_EQ(vcpufreq_dev_to_host(dev, 0, 3600000), 1024);
	CHECK_EQ(vcpufreq_dev_to_host(dev, 1, 0xffffffff), 1024);
	CHECK_EQ(vcpufreq_dev_to_host(su, 1, 0xffffffff), 819);
	CHECK_EQ(vcpufreq_dev_to_host(dev, 2, 900000), 0);
	CHECK_EQ(h.nr_submits, 0);
	vcpufreq_dev_free(dev);
	vcpufreq_dev_free(su);
}

TEST(submit_gets_the_vcpu_its_tid_and_both_values)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);

	vcpufreq_dev_write(dev, 1, SET, 1000000);
	CHECK_EQ(h.nr_submits, 1);
	CHECK_EQ(h.last.vcpu, 1);
	CHECK_EQ(h.last.tid, 1002);
	CHECK_EQ(h.last.host, 512);
	CHECK_EQ(h.last.guest, 1000000);

	vcpufreq_dev_write(dev, 0, SET, 900000);
	CHECK_EQ(h.nr_submits, 2);
	CHECK_EQ(h.last.vcpu, 0);
	CHECK_EQ(h.last.tid, 1001);
	CHECK_EQ(h.last.host, 384);
	CHECK_EQ(h.last.guest, 900000);
	vcpufreq_dev_free(dev);
}

TEST(a_request_made_before_the_tid_is_known_is_submitted_when_it_is)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);

	CHECK_EQ(vcpufreq_dev_set_tid(dev, 0, 0), 0);
	vcpufreq_dev_write(dev, 0, SET, 500000);
	CHECK_EQ(h.nr_submits, 0);
	CHECK_EQ(stats(dev).requests, 1);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 600000);

	/* the request made before the thread was known reaches it now */
	CHECK_EQ(vcpufreq_dev_set_tid(dev, 0, 4242), 0);
	CHECK_EQ(h.nr_submits, 1);
	CHECK_EQ(h.last.tid, 4242);
	CHECK_EQ(h.last.guest, 600000);
	CHECK_EQ(h.last.host, 256);
	CHECK_EQ(vcpufreq_dev_set_tid(dev, 0, 4242), 0);	/* same: nothing */
	CHECK_EQ(h.nr_submits, 1);
	vcpufreq_dev_write(dev, 0, SET, 500000);
	CHECK_EQ(h.nr_submits, 2);
	CHECK_EQ(h.last.tid, 4242);
	vcpufreq_dev_free(dev);
}

TEST(set_perf_without_ops_is_still_accepted_and_remembered)
{
	struct vcpufreq_dev *dev = make_dev(0, NULL);

	vcpufreq_dev_write(dev, 0, SET, 800000);
	CHECK_EQ(stats(dev).requests, 1);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 900000);
	vcpufreq_dev_free(dev);
}

TEST(ops_with_null_callbacks_are_skipped)
{
	struct vcpufreq_dev_config cfg = {
		.nr_vcpus = 1, .vcpus = &little,
	};
	struct vcpufreq_dev_ops ops = { 0 };
	struct vcpufreq_dev *dev = NULL;

	CHECK_EQ(vcpufreq_dev_new(&cfg, &ops, &dev, err, sizeof(err)), 0);
	vcpufreq_dev_write(dev, 0, SET, 300000);
	CHECK_EQ(stats(dev).requests, 1);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 300000);
	vcpufreq_dev_free(dev);
}

/* ---- CUR_PERF --------------------------------------------------------- */

TEST(cur_perf_before_any_request_is_fmax)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);

	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 1200000);
	CHECK_EQ(vcpufreq_dev_read(dev, 1, CUR), 2000000);
	vcpufreq_dev_free(dev);
}

TEST(cur_perf_falls_back_to_the_last_request_then_fmax)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);

	vcpufreq_dev_write(dev, 0, SET, 650000);
	vcpufreq_dev_write(dev, 1, SET, 123456);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 900000);
	CHECK_EQ(vcpufreq_dev_read(dev, 1, CUR), 123456);
	CHECK_EQ(h.nr_cur_calls, 2);
	/* no demand, no host value: nothing says the vCPU is slowed down */
	vcpufreq_dev_write(dev, 0, SET, 0);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 1200000);
	vcpufreq_dev_write(dev, 1, SET, 5000000);
	CHECK_EQ(vcpufreq_dev_read(dev, 1, CUR), 2000000);
	vcpufreq_dev_free(dev);
}

TEST(cur_perf_converts_the_host_view_back_to_guest_units)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);

	vcpufreq_dev_write(dev, 1, SET, 1500000);	/* the host's view wins */
	/* 256 * 2000000 / 1024 */
	h.cur = 256;
	CHECK_EQ(vcpufreq_dev_read(dev, 1, CUR), 500000);
	CHECK_EQ(h.cur_vcpu, 1);
	CHECK_EQ(h.cur_tid, 1002);
	/* 1 * 2000000 / 1024 = 1953.1, rounded down */
	h.cur = 1;
	CHECK_EQ(vcpufreq_dev_read(dev, 1, CUR), 1953);
	h.cur = 1024;
	CHECK_EQ(vcpufreq_dev_read(dev, 1, CUR), 2000000);
	vcpufreq_dev_free(dev);
}

TEST(cur_perf_in_table_mode_is_not_rounded_to_a_table_entry)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);

	/* 300 * 1200000 / 512 = 703125, between two entries */
	h.cur = 300;
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 703125);
	CHECK_EQ(h.cur_vcpu, 0);
	CHECK_EQ(h.cur_tid, 1001);
	/* 384 -> exactly 900000 */
	h.cur = 384;
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 900000);
	/* 10 -> 23437, below the first entry: a throttled vCPU says so */
	h.cur = 10;
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 23437);
	vcpufreq_dev_free(dev);
}

TEST(cur_perf_is_capped_at_fmax)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);

	/* a 1024-capacity host CPU under a 512-capacity vCPU */
	h.cur = 1000;
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 1200000);
	h.cur = 0xffffffff;
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 1200000);
	CHECK_EQ(vcpufreq_dev_read(dev, 1, CUR), 2000000);
	vcpufreq_dev_free(dev);
}

TEST(cur_perf_does_not_undo_the_schedutil_margin)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(1, &h);

	/* 409 * 1200000 / 512 = 958593, as without schedutil */
	h.cur = 409;
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 958593);
	h.cur = 256;
	CHECK_EQ(vcpufreq_dev_read(dev, 1, CUR), 500000);
	vcpufreq_dev_free(dev);
}

/* ---- bad accesses ----------------------------------------------------- */

/* one read and one write at (@vcpu, @offset): both bad, nothing changes */
static void check_bad_both_ways(struct vcpufreq_dev *dev, struct fake_host *h,
				uint32_t vcpu, uint32_t offset)
{
	struct vcpufreq_dev_stats before = stats(dev), after;
	int submits = h->nr_submits;

	CHECK_EQ(vcpufreq_dev_read(dev, vcpu, offset), 0);
	vcpufreq_dev_write(dev, vcpu, offset, 700000);
	after = stats(dev);
	CHECK_EQ(after.reads, before.reads + 1);
	CHECK_EQ(after.writes, before.writes + 1);
	CHECK_EQ(after.bad_reads, before.bad_reads + 1);
	CHECK_EQ(after.bad_writes, before.bad_writes + 1);
	CHECK_EQ(after.requests, before.requests);
	CHECK_EQ(h->nr_submits, submits);
}

TEST(unaligned_offsets_read_0_ignore_writes_and_are_counted)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);
	uint32_t off;

	for (off = 1; off < 0x18; off++) {
		if (off % 4)
			check_bad_both_ways(dev, &h, 0, off);
	}
	/* SET_PERF + 1 must not have reached SET_PERF or PERFTBL_SEL */
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 1200000);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, RD), 300000);
	vcpufreq_dev_free(dev);
}

TEST(unknown_offsets_read_0_ignore_writes_and_are_counted)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);

	check_bad_both_ways(dev, &h, 0, 0x18);
	check_bad_both_ways(dev, &h, 1, 0xffc);
	check_bad_both_ways(dev, &h, 0, VCPUFREQ_REG_STRIDE);
	check_bad_both_ways(dev, &h, 0, VCPUFREQ_REG_STRIDE + SET);
	check_bad_both_ways(dev, &h, 0, 0xfffffffc);
	CHECK_EQ(stats(dev).bad_reads, 5);
	CHECK_EQ(stats(dev).bad_writes, 5);
	vcpufreq_dev_free(dev);
}

TEST(out_of_range_vcpus_read_0_ignore_writes_and_are_counted)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);
	uint32_t off;

	for (off = 0; off < 0x18; off += 4) {
		check_bad_both_ways(dev, &h, 2, off);
		check_bad_both_ways(dev, &h, 0xffffffff, off);
	}
	CHECK_EQ(stats(dev).bad_reads, 12);
	CHECK_EQ(stats(dev).bad_writes, 12);
	CHECK_EQ(h.nr_cur_calls, 0);
	vcpufreq_dev_free(dev);
}

TEST(writes_to_read_only_registers_are_ignored_and_counted)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);
	static const uint32_t ro[] = { CUR, LEN, RD, DOM };
	uint32_t i;

	for (i = 0; i < 4; i++)
		vcpufreq_dev_write(dev, 0, ro[i], 1);
	CHECK_EQ(stats(dev).writes, 4);
	CHECK_EQ(stats(dev).bad_writes, 4);
	CHECK_EQ(stats(dev).requests, 0);
	CHECK_EQ(h.nr_submits, 0);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, CUR), 1200000);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, LEN), 4);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, RD), 300000);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, DOM), 3);
	CHECK_EQ(stats(dev).bad_reads, 0);
	vcpufreq_dev_free(dev);
}

TEST(reads_of_write_only_registers_return_0_and_are_counted)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);

	vcpufreq_dev_write(dev, 0, SET, 900000);
	vcpufreq_dev_write(dev, 0, SEL, 2);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, SET), 0);
	CHECK_EQ(vcpufreq_dev_read(dev, 0, SEL), 0);
	CHECK_EQ(stats(dev).reads, 2);
	CHECK_EQ(stats(dev).bad_reads, 2);
	CHECK_EQ(stats(dev).bad_writes, 0);
	vcpufreq_dev_free(dev);
}

TEST(every_access_is_counted_in_reads_and_writes)
{
	struct fake_host h = { 0 };
	struct vcpufreq_dev *dev = make_dev(0, &h);
	struct vcpufreq_dev_stats st;

	vcpufreq_dev_read(dev, 0, LEN);
	vcpufreq_dev_read(dev, 1, CUR);
	vcpufreq_dev_read(dev, 5, CUR);
	vcpufreq_dev_write(dev, 0, SEL, 1);
	vcpufreq_dev_write(dev, 1, SET, 1);
	vcpufreq_dev_write(dev, 0, 0x18, 1);
	vcpufreq_dev_write(dev, 0, 0x03, 1);
	st = stats(dev);
	CHECK_EQ(st.reads, 3);
	CHECK_EQ(st.writes, 4);
	CHECK_EQ(st.bad_reads, 1);
	CHECK_EQ(st.bad_writes, 2);
	CHECK_EQ(st.requests, 1);
	CHECK_EQ(st.clamped, 0);
	vcpufreq_dev_free(dev);
}

/* ---- configuration ---------------------------------------------------- */

/* vcpufreq_dev_new on @nr vCPUs from @v: 0 or the error, reason in err */
static int try_new(uint32_t nr, struct vcpufreq_vcpu_config *v)
{
	struct vcpufreq_dev_config cfg = {
		.nr_vcpus = nr, .vcpus = v,
	};
	struct vcpufreq_dev *dev = (struct vcpufreq_dev *)&cfg;
	int ret;

	err[0] = '\0';
	ret = vcpufreq_dev_new(&cfg, NULL, &dev, err, sizeof(err));
	if (ret)
		CHECK(dev == NULL);
	else
		vcpufreq_dev_free(dev);
	return ret;
}

static struct vcpufreq_vcpu_config four[4];

static void reset_four(void)
{
	int i;

	for (i = 0; i < 4; i++)
		four[i] = little;
}

TEST(config_with_no_or_too_many_vcpus_is_refused)
{
	reset_four();
	CHECK_EQ(try_new(0, four), -EINVAL);
	CHECK(!strcmp(err, "nr_vcpus 0 out of range 1..1024"));
	CHECK_EQ(try_new(1025, four), -EINVAL);
	CHECK(!strcmp(err, "nr_vcpus 1025 out of range 1..1024"));
	CHECK_EQ(try_new(1, NULL), -EINVAL);
	CHECK(err[0] != '\0');
}

TEST(config_with_an_empty_or_oversized_table_is_refused)
{
	reset_four();
	four[2].nr_perf = 0;
	CHECK_EQ(try_new(4, four), -EINVAL);
	CHECK(!strcmp(err, "vcpu 2: perf table has 0 entries (1..64 allowed)"));
	four[2].nr_perf = 65;
	CHECK_EQ(try_new(4, four), -EINVAL);
	CHECK(!strcmp(err, "vcpu 2: perf table has 65 entries (1..64 allowed)"));
}

TEST(config_with_a_table_that_does_not_ascend_is_refused)
{
	reset_four();
	four[0].perf[0] = 100;
	four[0].perf[1] = 400;
	four[0].perf[2] = 800;
	four[0].perf[3] = 500;
	CHECK_EQ(try_new(4, four), -EINVAL);
	CHECK(!strcmp(err, "vcpu 0: perf[3] = 500 is not above perf[2] = 800 (table must ascend)"));
	/* equal entries do not ascend either */
	reset_four();
	four[1].perf[1] = four[1].perf[0];
	CHECK_EQ(try_new(4, four), -EINVAL);
	CHECK(!strcmp(err, "vcpu 1: perf[1] = 300000 is not above perf[0] = 300000 (table must ascend)"));
}

TEST(config_with_a_zero_perf_entry_is_refused)
{
	reset_four();
	four[1].perf[0] = 0;
	CHECK_EQ(try_new(4, four), -EINVAL);
	CHECK(!strcmp(err, "vcpu 1: perf[0] is 0"));
	/* continuous mode too */
	reset_four();
	four[1].nr_perf = 1;
	four[1].perf[0] = 0;
	CHECK_EQ(try_new(4, four), -EINVAL);
	CHECK(!strcmp(err, "vcpu 1: perf[0] is 0"));
}

TEST(config_with_capacity_out_of_range_is_refused)
{
	reset_four();
	four[3].capacity = 0;
	CHECK_EQ(try_new(4, four), -EINVAL);
	CHECK(!strcmp(err, "vcpu 3: capacity 0 out of range 1..1024"));
	four[3].capacity = 1025;
	CHECK_EQ(try_new(4, four), -EINVAL);
	CHECK(!strcmp(err, "vcpu 3: capacity 1025 out of range 1..1024"));
}

TEST(config_at_the_limits_is_accepted)
{
	static struct vcpufreq_vcpu_config many[VCPUFREQ_DEV_MAX_VCPUS];
	uint32_t i;

	for (i = 0; i < VCPUFREQ_DEV_MAX_VCPUS; i++) {
		many[i].capacity = i % 2 ? 1 : 1024;
		many[i].nr_perf = 1;
		many[i].perf[0] = 0xffffffff;
	}
	many[5].nr_perf = VCPUFREQ_PERFTBL_MAX;
	for (i = 0; i < VCPUFREQ_PERFTBL_MAX; i++)
		many[5].perf[i] = i + 1;
	CHECK_EQ(try_new(VCPUFREQ_DEV_MAX_VCPUS, many), 0);
	CHECK_EQ(try_new(1, many), 0);
}

TEST(null_config_or_output_is_refused)
{
	struct vcpufreq_dev_config cfg = { .nr_vcpus = 1, .vcpus = &little };
	struct vcpufreq_dev *dev = (struct vcpufreq_dev *)&cfg;

	err[0] = '\0';
	CHECK_EQ(vcpufreq_dev_new(NULL, NULL, &dev, err, sizeof(err)), -EINVAL);
	CHECK(dev == NULL);
	CHECK(err[0] != '\0');
	err[0] = '\0';
	CHECK_EQ(vcpufreq_dev_new(&cfg, NULL, NULL, err, sizeof(err)), -EINVAL);
	CHECK(err[0] != '\0');
	/* no room for the reason is fine */
	CHECK_EQ(vcpufreq_dev_new(NULL, NULL, &dev, NULL, 0), -EINVAL);
}

TEST(set_tid_refuses_out_of_range_vcpus)
{
	struct vcpufreq_dev *dev = make_dev(0, NULL);

	CHECK_EQ(vcpufreq_dev_set_tid(dev, 1, 77), 0);
	CHECK_EQ(vcpufreq_dev_set_tid(dev, 2, 77), -EINVAL);
	CHECK_EQ(vcpufreq_dev_set_tid(dev, 0xffffffff, 77), -EINVAL);
	CHECK_EQ(vcpufreq_dev_set_tid(NULL, 0, 77), -EINVAL);
	vcpufreq_dev_free(dev);
}

TEST(free_of_null_is_a_no_op)
{
	vcpufreq_dev_free(NULL);
	CHECK(1);
}

RUN_TESTS(
	CASE(table_mode_registers_describe_the_table_and_domain),
	CASE(perftbl_rd_reads_0_past_the_end_of_the_table),
	CASE(perftbl_sel_starts_at_entry_0),
	CASE(continuous_mode_has_one_entry_which_is_the_max),
	CASE(each_vcpu_has_its_own_table_selector_and_domain),
	CASE(config_is_copied_not_referenced),
	CASE(set_perf_in_table_mode_snaps_up_to_a_table_entry),
	CASE(set_perf_in_continuous_mode_passes_any_value_up_to_the_max),
	CASE(set_perf_above_the_max_is_clamped_to_the_max_and_counted),
	CASE(set_perf_0_requests_no_demand_in_both_modes),
	CASE(set_perf_converts_to_capacity_times_guest_over_fmax),
	CASE(set_perf_takes_off_the_host_schedutil_margin),
	CASE(to_host_matches_set_perf_and_caps_at_1024),
	CASE(submit_gets_the_vcpu_its_tid_and_both_values),
	CASE(a_request_made_before_the_tid_is_known_is_submitted_when_it_is),
	CASE(set_perf_without_ops_is_still_accepted_and_remembered),
	CASE(ops_with_null_callbacks_are_skipped),
	CASE(cur_perf_before_any_request_is_fmax),
	CASE(cur_perf_falls_back_to_the_last_request_then_fmax),
	CASE(cur_perf_converts_the_host_view_back_to_guest_units),
	CASE(cur_perf_in_table_mode_is_not_rounded_to_a_table_entry),
	CASE(cur_perf_is_capped_at_fmax),
	CASE(cur_perf_does_not_undo_the_schedutil_margin),
	CASE(unaligned_offsets_read_0_ignore_writes_and_are_counted),
	CASE(unknown_offsets_read_0_ignore_writes_and_are_counted),
	CASE(out_of_range_vcpus_read_0_ignore_writes_and_are_counted),
	CASE(writes_to_read_only_registers_are_ignored_and_counted),
	CASE(reads_of_write_only_registers_return_0_and_are_counted),
	CASE(every_access_is_counted_in_reads_and_writes),
	CASE(config_with_no_or_too_many_vcpus_is_refused),
	CASE(config_with_an_empty_or_oversized_table_is_refused),
	CASE(config_with_a_table_that_does_not_ascend_is_refused),
	CASE(config_with_a_zero_perf_entry_is_refused),
	CASE(config_with_capacity_out_of_range_is_refused),
	CASE(config_at_the_limits_is_accepted),
	CASE(null_config_or_output_is_refused),
	CASE(set_tid_refuses_out_of_range_vcpus),
	CASE(free_of_null_is_a_no_op),
)
