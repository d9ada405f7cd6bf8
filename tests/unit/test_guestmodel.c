// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The effect lab's guest model (lab/guestmodel.c): what the guest's
 * schedutil asks for while tasks run, sleep, wait for I/O and migrate.
 */
#include <math.h>
#include <stdint.h>

#include "unit.h"
#include "guestmodel.h"

#define MS	1000000ULL
#define US	1000ULL

static struct gm_vcpu vcpus[2];
static struct gm_task tasks[2];
static struct gm g = { .nr_vcpus = 2, .nr_tasks = 2, .vcpus = vcpus,
		       .tasks = tasks };

/* two vCPUs like a big host CPU: continuous perf 1..1024, capacity 1024 */
static void setup_continuous(void)
{
	unsigned int fmax = 1024;

	for (int i = 0; i < 2; i++) {
		gm_vcpu_init(&vcpus[i], 1024, 1, &fmax);
		gm_task_init(&tasks[i], 0);
	}
}

/* run task @t flat out on its vCPU from @from to @to in 50 us units */
static void run_flat_out(struct gm_task *t, uint64_t from, uint64_t to)
{
	for (uint64_t now = from + 50 * US; now <= to; now += 50 * US)
		gm_task_ran(t, now, 50 * US);
}

TEST(hog_ramps_the_request_to_the_max_within_the_pelt_bound)
{
	/* util reaches 0.8 x 1024 (1.25 x util = max) after 32 ms x log2(5) */
	double bound_ms = 32 * log2(5);
	uint64_t now, reached = 0;
	unsigned int f, last = 0;

	setup_continuous();
	gm_task_enqueue(&tasks[0], 0, 0);
	for (now = 4 * MS; now <= 200 * MS && !reached; now += 4 * MS) {
		run_flat_out(&tasks[0], now - 4 * MS, now);
		f = gm_vcpu_update(&g, 0, now, 0);
		if (f) {
			CHECK(f > last);	/* only rises while hogging */
			last = f;
		}
		if (f == 1024)
			reached = now;
	}
	CHECK(reached >= (uint64_t)(bound_ms * MS) - 4 * MS);
	CHECK(reached <= (uint64_t)(bound_ms * MS) + 4 * MS);	/* one tick */
}

TEST(an_idle_vcpu_falls_back_at_its_next_wakeup)
{
	unsigned int f;

	setup_continuous();
	gm_task_enqueue(&tasks[0], 0, 0);
	run_flat_out(&tasks[0], 0, 200 * MS);
	CHECK_EQ(gm_vcpu_update(&g, 0, 200 * MS, 0), 1024);
	gm_task_dequeue(&tasks[0], 200 * MS);
	gm_vcpu_update(&g, 0, 200 * MS + 2 * MS, 0);
	gm_vcpu_idle(&vcpus[0]);
	/* 200 ms later a fresh task (a kworker) wakes there */
	gm_task_enqueue(&tasks[1], 0, 400 * MS);
	f = gm_vcpu_update(&g, 0, 400 * MS, 0);
	CHECK(f > 0);
	CHECK(f < 1024 / 10);	/* 1024 x 2^-(200/32) = 13, x 1.25 */
}

TEST(a_waking_task_brings_its_util_est)
{
	setup_continuous();
	gm_task_enqueue(&tasks[0], 0, 0);
	run_flat_out(&tasks[0], 0, 200 * MS);
	gm_task_dequeue(&tasks[0], 200 * MS);
	CHECK(tasks[0].util_est > 1000);
	/* asleep for 200 ms, its util has decayed but util_est has not */
	gm_task_enqueue(&tasks[0], 0, 400 * MS);
	CHECK(gm_vcpu_util(&g, 0, 400 * MS) > 1000);
	gm_task_dequeue(&tasks[0], 400 * MS);
	CHECK(tasks[0].util_est < 1024 * 0.8);	/* falls by a quarter */
}

TEST(iowait_boost_doubles_per_iowait_wakeup_and_halves_without)
{
	static const unsigned int want[] = { 160, 320, 640, 1024 };
	uint64_t now = 10 * MS;

	setup_continuous();
	/* a task with no util waking from I/O every 1.5 ms */
	for (int i = 0; i < 4; i++, now += 1500 * US) {
		CHECK_EQ(gm_vcpu_update(&g, 0, now, GM_IOWAIT), want[i]);
		CHECK_EQ(vcpus[0].iowait_boost, 128 << i);
		gm_vcpu_idle(&vcpus[0]);
	}
	CHECK_EQ(gm_vcpu_update(&g, 0, now, GM_IOWAIT), 0);	/* max already */
	CHECK_EQ(vcpus[0].iowait_boost, 1024);
	for (int i = 3; i >= 1; i--) {
		now += 1500 * US;
		gm_vcpu_idle(&vcpus[0]);
		CHECK_EQ(gm_vcpu_update(&g, 0, now, 0), want[i - 1]);
		CHECK_EQ(vcpus[0].iowait_boost, 128 << (i - 1));
	}
	now += 1500 * US;
	gm_vcpu_update(&g, 0, now, 0);
	CHECK_EQ(vcpus[0].iowait_boost, 0);	/* below 128: dropped */
}

TEST(iowait_boost_doubles_once_per_evaluation_and_resets_after_a_tick)
{
	uint64_t now = 10 * MS;

	setup_continuous();
	gm_vcpu_update(&g, 0, now, GM_IOWAIT);
	CHECK_EQ(vcpus[0].iowait_boost, 128);
	/* within the 1 ms rate limit: pending, so no second doubling */
	gm_vcpu_update(&g, 0, now + 200 * US, GM_IOWAIT);
	CHECK_EQ(vcpus[0].iowait_boost, 256);
	gm_vcpu_update(&g, 0, now + 400 * US, GM_IOWAIT);
	CHECK_EQ(vcpus[0].iowait_boost, 256);
	/* more than a tick without any update: starts over */
	gm_vcpu_update(&g, 0, now + 10 * MS, GM_IOWAIT);
	CHECK_EQ(vcpus[0].iowait_boost, 128);
	gm_vcpu_update(&g, 0, now + 20 * MS, 0);
	CHECK_EQ(vcpus[0].iowait_boost, 0);
}

TEST(tasks_queued_behind_each_other_ask_for_their_runnable_time)
{
	double util, sum;

	/* two tasks share vCPU 0 in 4 ms turns for 20 ms, from idle */
	setup_continuous();
	gm_task_enqueue(&tasks[0], 0, 0);
	gm_task_enqueue(&tasks[1], 0, 0);
	for (uint64_t now = 50 * US; now <= 20 * MS; now += 50 * US) {
		struct gm_task *cur = &tasks[(now - 1) / (4 * MS) % 2];

		gm_task_ran(cur, now, 50 * US);
		gm_task_runnable(&tasks[0], now, 50 * US);
		gm_task_runnable(&tasks[1], now, 50 * US);
		if (now % (4 * MS) == 0)
			gm_task_idle(&tasks[(now / (4 * MS)) % 2], now);
	}
	/*
	 * Each ran half the time, so their util adds up to one hog's
	 * (1024 x (1 - 2^(-20/32)) = 360); each was runnable all the time,
	 * so schedutil's runnable boost asks for about twice that
	 */
	sum = gm_task_util_at(&tasks[0], 20 * MS) + gm_task_util_at(&tasks[1], 20 * MS);
	util = gm_vcpu_util(&g, 0, 20 * MS);
	CHECK(fabs(sum - 360) < 40);
	CHECK(util > 1.8 * sum);
	CHECK(util < 2.2 * sum);
}

TEST(a_migrating_task_takes_its_util_along)
{
	double before;

	setup_continuous();
	gm_task_enqueue(&tasks[0], 0, 0);
	run_flat_out(&tasks[0], 0, 100 * MS);
	gm_vcpu_update(&g, 0, 100 * MS, 0);
	gm_task_dequeue(&tasks[0], 100 * MS);
	before = gm_vcpu_util(&g, 0, 101 * MS);
	CHECK(before > 800);
	CHECK(gm_vcpu_util(&g, 1, 101 * MS) < 1);
	/* it wakes on vCPU 1: vCPU 1's first update asks for it at once */
	gm_task_enqueue(&tasks[0], 1, 101 * MS);
	CHECK(gm_vcpu_util(&g, 0, 101 * MS) < 1);
	CHECK(gm_vcpu_util(&g, 1, 101 * MS) >= before);
	CHECK(gm_vcpu_update(&g, 1, 101 * MS, 0) == 1024);
}

TEST(the_request_never_exceeds_the_table_max_and_is_a_table_entry)
{
	static const unsigned int table[] = { 300000, 900000, 1400000, 1800000 };
	uint64_t now;
	unsigned int f;

	gm_vcpu_init(&vcpus[0], 499, 4, table);
	gm_task_init(&tasks[0], 0);
	gm_task_init(&tasks[1], 0);
	gm_task_enqueue(&tasks[0], 0, 0);
	for (now = 1 * MS; now <= 300 * MS; now += 1 * MS) {
		run_flat_out(&tasks[0], now - 1 * MS, now);
		f = gm_vcpu_update(&g, 0, now, GM_IOWAIT);
		if (!f)
			continue;
		CHECK(f <= 1800000);
		CHECK(f == table[0] || f == table[1] || f == table[2] ||
		      f == table[3]);
	}
	CHECK_EQ(vcpus[0].next_freq, 1800000);
	/* a little vCPU's util is capped at its capacity */
	CHECK(gm_vcpu_util(&g, 0, now) <= 499);
}

TEST(a_frequency_between_entries_rounds_up)
{
	static const unsigned int table[] = { 300000, 900000, 1800000 };

	gm_vcpu_init(&vcpus[0], 1024, 3, table);
	gm_task_init(&tasks[0], 0);
	gm_task_init(&tasks[1], 0);
	/* util 256 -> 1.25 x 256 / 1024 x 1.8 GHz = 562.5 MHz -> 900 MHz */
	tasks[0] = (struct gm_task){ .util = 256, .last_ns = 10 * MS,
				     .vcpu = 0, .queued = true };
	CHECK_EQ(gm_vcpu_update(&g, 0, 10 * MS, 0), 900000);
}

TEST(requests_are_rate_limited_to_one_per_ms)
{
	uint64_t now, last = 0;
	unsigned int f, n = 0;

	setup_continuous();
	gm_task_enqueue(&tasks[0], 0, 0);
	for (now = 100 * US; now <= 100 * MS; now += 100 * US) {
		gm_task_ran(&tasks[0], now, 100 * US);
		f = gm_vcpu_update(&g, 0, now, 0);
		if (!f)
			continue;
		if (n++)
			CHECK(now - last >= 1 * MS);
		last = now;
	}
	CHECK(n > 20);		/* it did keep rising, once per ms */
}

TEST(an_unchanged_request_is_not_written_again)
{
	setup_continuous();
	tasks[0] = (struct gm_task){ .util = 400, .last_ns = 10 * MS,
				     .vcpu = 0, .queued = true };
	CHECK_EQ(gm_vcpu_update(&g, 0, 10 * MS, 0), 500);
	tasks[0].last_ns = 20 * MS;	/* the same util, later */
	CHECK_EQ(gm_vcpu_update(&g, 0, 20 * MS, 0), 0);
}

TEST(a_lower_request_waits_until_the_vcpu_has_been_idle)
{
	setup_continuous();
	tasks[0] = (struct gm_task){ .util = 800, .last_ns = 10 * MS,
				     .vcpu = 0, .queued = true };
	CHECK_EQ(gm_vcpu_update(&g, 0, 10 * MS, 0), 1000);
	tasks[0] = (struct gm_task){ .util = 400, .last_ns = 20 * MS,
				     .vcpu = 0, .queued = true };
	CHECK_EQ(gm_vcpu_update(&g, 0, 20 * MS, 0), 0);	/* held */
	gm_vcpu_idle(&vcpus[0]);
	tasks[0].last_ns = 30 * MS;
	tasks[0].util = 400;
	CHECK_EQ(gm_vcpu_update(&g, 0, 30 * MS, 0), 500);
}

TEST(util_moves_once_per_pelt_period)
{
	setup_continuous();
	CHECK(gm_vcpu_pelt_decayed(&vcpus[0], 2 * MS));
	CHECK(!gm_vcpu_pelt_decayed(&vcpus[0], 2 * MS + 10 * US));
	CHECK(gm_vcpu_pelt_decayed(&vcpus[0], 2 * MS + GM_PELT_PERIOD_NS));
	CHECK(gm_vcpu_pelt_decayed(&vcpus[0], 2 * MS + GM_PELT_PERIOD_NS + GM_TICK_NS));
}

RUN_TESTS(CASE(hog_ramps_the_request_to_the_max_within_the_pelt_bound),
	  CASE(an_idle_vcpu_falls_back_at_its_next_wakeup),
	  CASE(a_waking_task_brings_its_util_est),
	  CASE(tasks_queued_behind_each_other_ask_for_their_runnable_time),
	  CASE(iowait_boost_doubles_per_iowait_wakeup_and_halves_without),
	  CASE(iowait_boost_doubles_once_per_evaluation_and_resets_after_a_tick),
	  CASE(a_migrating_task_takes_its_util_along),
	  CASE(the_request_never_exceeds_the_table_max_and_is_a_table_entry),
	  CASE(a_frequency_between_entries_rounds_up),
	  CASE(requests_are_rate_limited_to_one_per_ms),
	  CASE(an_unchanged_request_is_not_written_again),
	  CASE(a_lower_request_waits_until_the_vcpu_has_been_idle),
	  CASE(util_moves_once_per_pelt_period))
