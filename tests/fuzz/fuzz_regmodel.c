// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness for lib/regmodel.c.
 *
 * The input is a device description followed by a stream of MMIO accesses.
 * A shadow model, written from the register semantics rather than from the
 * library, predicts every read value, every submit() and the final stats;
 * any difference, or a host request above VCPUFREQ_PERF_MAX, traps.
 *
 * Layout (bytes past the end read as 0):
 *
 *   u8   flags       bit 0 host schedutil; bits 1-3 == 7: spoil the config;
 *                    bits 4-6: nr_vcpus - 1
 *   u8   err_len     size of the reason buffer handed to vcpufreq_dev_new
 *   u8   spoil       which way to spoil it (only with bits 1-3 == 7)
 *   per vCPU:
 *     u8  nr_perf - 1 (mod 64)
 *     u16 capacity - 1 (mod 1024)
 *     u8  perf domain
 *     u8  tid (0: not known yet)
 *     u8  step shift (mod 24)
 *     u32 perf[0] - 1
 *     u8  per further entry: step - 1, shifted; the table stops early
 *         rather than wrap past 2^32
 *   per access, 8 bytes:
 *     u8  vcpu          < 0x80: vcpu % nr_vcpus; else out of range
 *     u16 offset        bit 15 clear: a real register, else raw (bits 0-14)
 *     u32 value         written value, new tid, or host's CUR_PERF answer
 *     u8  op            bit 0 write; bit 1 set_tid instead; bit 2 also
 *                       check to_host(value); bits 3-4 what cur_perf()
 *                       answers: 0, value % 2048, value
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vcpufreq/abi.h"
#include "vcpufreq/regmodel.h"

#define MAX_VCPUS	8

#define ensure(cond)				\
	do {					\
		if (!(cond))			\
			__builtin_trap();	\
	} while (0)

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t get8(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint16_t get16(struct input *in)
{
	uint16_t lo = get8(in);

	return lo | (uint16_t)get8(in) << 8;
}

static uint32_t get32(struct input *in)
{
	uint32_t lo = get16(in);

	return lo | (uint32_t)get16(in) << 16;
}

/* ---- shadow model ----------------------------------------------------- */

struct shadow_vcpu {
	uint32_t sel, last;
	bool requested;
};

struct call {
	uint32_t vcpu, tid, host, guest;
};

struct harness {
	struct vcpufreq_vcpu_config cfg[MAX_VCPUS];
	struct shadow_vcpu sh[MAX_VCPUS];
	uint32_t nr;
	bool schedutil;
	struct vcpufreq_dev_stats st;
	/* what the callbacks saw */
	int submits, cur_calls;
	struct call last;
	uint32_t cur_answer;
};

static uint32_t fmax_of(const struct vcpufreq_vcpu_config *v)
{
	return v->perf[v->nr_perf - 1];
}

static bool in_table(const struct vcpufreq_vcpu_config *v, uint32_t perf)
{
	uint32_t i;

	for (i = 0; i < v->nr_perf; i++) {
		if (v->perf[i] == perf)
			return true;
	}
	return false;
}

/* what SET_PERF @value should become, in guest units */
static uint32_t expect_snap(const struct vcpufreq_vcpu_config *v,
			    uint32_t value)
{
	uint32_t i;

	if (value > fmax_of(v))
		return fmax_of(v);
	if (value == 0 || v->nr_perf == 1)
		return value;
	for (i = 0; i < v->nr_perf; i++) {
		if (v->perf[i] >= value)
			return v->perf[i];
	}
	__builtin_trap();
}

/* capacity * g / fmax, or 80% of it under schedutil; rounded down once */
static uint32_t expect_host(const struct harness *h,
			    const struct vcpufreq_vcpu_config *v, uint32_t g)
{
	uint64_t num = (uint64_t)v->capacity * g, den = fmax_of(v);
	uint64_t top = VCPUFREQ_PERF_MAX;

	if (h->schedutil) {
		num *= 4;
		den *= 5;
		top = VCPUFREQ_PERF_MAX * 4 / 5;
	}
	return num / den < top ? num / den : top;
}

static uint32_t expect_cur(const struct harness *h, uint32_t vcpu)
{
	const struct vcpufreq_vcpu_config *v = &h->cfg[vcpu];
	const struct shadow_vcpu *s = &h->sh[vcpu];
	uint64_t g;
	uint32_t best, i;

	if (!h->cur_answer)
		return s->requested ? s->last : fmax_of(v);
	g = (uint64_t)h->cur_answer * fmax_of(v) / v->capacity;
	if (g > fmax_of(v))
		g = fmax_of(v);
	if (v->nr_perf == 1)
		return g;
	best = v->perf[0];
	for (i = 0; i < v->nr_perf; i++) {
		if (v->perf[i] <= g)
			best = v->perf[i];
	}
	return best;
}

/* ---- callbacks -------------------------------------------------------- */

static int cb_submit(void *ctx, uint32_t vcpu, uint32_t tid,
		     uint32_t host_perf, uint32_t guest_perf)
{
	struct harness *h = ctx;
	const struct vcpufreq_vcpu_config *v;

	ensure(host_perf <= VCPUFREQ_PERF_MAX);
	ensure(!h->schedutil || host_perf <= VCPUFREQ_PERF_MAX * 4 / 5);
	ensure(vcpu < h->nr);
	ensure(tid != 0);
	v = &h->cfg[vcpu];
	ensure(guest_perf <= fmax_of(v));
	ensure(guest_perf == 0 || v->nr_perf == 1 || in_table(v, guest_perf));
	ensure(host_perf <= v->capacity);
	h->submits++;
	h->last = (struct call){ vcpu, tid, host_perf, guest_perf };
	/* the model ignores what submit() says, so say no now and then */
	return host_perf & 1 ? -EAGAIN : 0;
}

static uint32_t cb_cur_perf(void *ctx, uint32_t vcpu, uint32_t tid)
{
	struct harness *h = ctx;

	ensure(vcpu < h->nr);
	ensure(tid == h->cfg[vcpu].tid);
	h->cur_calls++;
	return h->cur_answer;
}

/* ---- config ----------------------------------------------------------- */

static void read_vcpu(struct input *in, struct vcpufreq_vcpu_config *v)
{
	uint32_t nr_perf, shift, i;
	uint64_t perf;

	memset(v, 0, sizeof(*v));
	nr_perf = 1 + get8(in) % VCPUFREQ_PERFTBL_MAX;
	v->capacity = 1 + get16(in) % VCPUFREQ_PERF_MAX;
	v->perf_domain = get8(in);
	v->tid = get8(in);
	shift = get8(in) % 24;
	perf = (uint64_t)get32(in) + 1;
	if (perf > UINT32_MAX)
		perf = UINT32_MAX;
	v->perf[0] = perf;
	v->nr_perf = 1;
	for (i = 1; i < nr_perf; i++) {
		perf += ((uint64_t)get8(in) + 1) << shift;
		if (perf > UINT32_MAX)
			break;
		v->perf[i] = perf;
		v->nr_perf++;
	}
}

/* Break @cfg in one of the ways vcpufreq_dev_new must refuse. */
static void spoil(struct input *in, struct vcpufreq_dev_config *cfg,
		  struct vcpufreq_vcpu_config *vcpus)
{
	uint8_t how = get8(in);
	struct vcpufreq_vcpu_config *v = &vcpus[get8(in) % cfg->nr_vcpus];
	uint32_t j;

	switch (how % 10) {
	case 0:
		cfg->nr_vcpus = 0;
		break;
	case 1:
		/* vcpus[] holds only MAX_VCPUS: must be refused unread */
		cfg->nr_vcpus = VCPUFREQ_DEV_MAX_VCPUS + 1 + get16(in);
		break;
	case 2:
		v->nr_perf = 0;
		break;
	case 3:
		v->nr_perf = VCPUFREQ_PERFTBL_MAX + 1 + get32(in) % 1000000;
		break;
	case 4:
		v->perf[0] = 0;
		break;
	case 5:
	case 6:
		/* an entry equal to (5) or below (6) the one before it */
		if (v->nr_perf < 2) {
			v->nr_perf = 2;
			v->perf[1] = v->perf[0];
		}
		j = 1 + get8(in) % (v->nr_perf - 1);
		v->perf[j] = v->perf[j - 1] - (how % 10 == 6 ? 1 : 0);
		break;
	case 7:
		v->capacity = 0;
		break;
	case 8:
		v->capacity = VCPUFREQ_PERF_MAX + 1 + get32(in) % 1000000;
		break;
	case 9:
		cfg->vcpus = NULL;
		break;
	}
}

/* ---- accesses --------------------------------------------------------- */

static uint32_t pick_vcpu(const struct harness *h, uint8_t b)
{
	if (b == 0xff)
		return UINT32_MAX;
	if (b & 0x80)
		return h->nr + (b & 0x7f);
	return b % h->nr;
}

static uint32_t pick_offset(uint16_t o)
{
	if (o & 0x8000)
		return o & 0x7fff;
	return (o % 6) * 4;
}

static bool is_readable(uint32_t off)
{
	return off == VCPUFREQ_REG_CUR_PERF ||
	       off == VCPUFREQ_REG_PERFTBL_LEN ||
	       off == VCPUFREQ_REG_PERFTBL_RD ||
	       off == VCPUFREQ_REG_PERF_DOMAIN;
}

static bool is_writable(uint32_t off)
{
	return off == VCPUFREQ_REG_SET_PERF || off == VCPUFREQ_REG_PERFTBL_SEL;
}

static void do_read(struct harness *h, struct vcpufreq_dev *dev,
		    uint32_t vcpu, uint32_t off)
{
	const struct vcpufreq_vcpu_config *v;
	uint32_t got, want = 0;
	int calls = h->cur_calls;

	got = vcpufreq_dev_read(dev, vcpu, off);
	h->st.reads++;
	if (vcpu >= h->nr || !is_readable(off)) {
		h->st.bad_reads++;
		ensure(got == 0);
		ensure(h->cur_calls == calls);
		return;
	}
	v = &h->cfg[vcpu];
	switch (off) {
	case VCPUFREQ_REG_CUR_PERF:
		want = expect_cur(h, vcpu);
		ensure(h->cur_calls == calls + 1);
		ensure(got <= fmax_of(v));
		break;
	case VCPUFREQ_REG_PERFTBL_LEN:
		want = v->nr_perf;
		break;
	case VCPUFREQ_REG_PERFTBL_RD:
		want = h->sh[vcpu].sel < v->nr_perf ? v->perf[h->sh[vcpu].sel] : 0;
		break;
	case VCPUFREQ_REG_PERF_DOMAIN:
		want = v->perf_domain;
		break;
	}
	ensure(got == want);
}

static void do_write(struct harness *h, struct vcpufreq_dev *dev,
		     uint32_t vcpu, uint32_t off, uint32_t value)
{
	const struct vcpufreq_vcpu_config *v;
	struct shadow_vcpu *s;
	int submits = h->submits;
	uint32_t g;

	vcpufreq_dev_write(dev, vcpu, off, value);
	h->st.writes++;
	if (vcpu >= h->nr || !is_writable(off)) {
		h->st.bad_writes++;
		ensure(h->submits == submits);
		return;
	}
	v = &h->cfg[vcpu];
	s = &h->sh[vcpu];
	if (off == VCPUFREQ_REG_PERFTBL_SEL) {
		s->sel = value;
		ensure(h->submits == submits);
		return;
	}
	g = expect_snap(v, value);
	if (value > fmax_of(v))
		h->st.clamped++;
	h->st.requests++;
	s->last = g;
	s->requested = true;
	if (!v->tid) {
		ensure(h->submits == submits);
		return;
	}
	ensure(h->submits == submits + 1);
	ensure(h->last.vcpu == vcpu && h->last.tid == v->tid);
	ensure(h->last.guest == g);
	ensure(h->last.host == expect_host(h, v, g));
}

static void do_set_tid(struct harness *h, struct vcpufreq_dev *dev,
		       uint32_t vcpu, uint32_t tid)
{
	int submits = h->submits;
	int ret = vcpufreq_dev_set_tid(dev, vcpu, tid);

	if (vcpu >= h->nr) {
		ensure(ret == -EINVAL);
		return;
	}
	ensure(ret == 0);
	/* a new thread gets the request the guest already made */
	if (tid && tid != h->cfg[vcpu].tid && h->sh[vcpu].requested) {
		h->cfg[vcpu].tid = tid;
		ensure(h->submits == submits + 1);
		ensure(h->last.vcpu == vcpu && h->last.tid == tid);
		ensure(h->last.guest == h->sh[vcpu].last);
		ensure(h->last.host == expect_host(h, &h->cfg[vcpu],
						   h->sh[vcpu].last));
		return;
	}
	h->cfg[vcpu].tid = tid;
	ensure(h->submits == submits);
}

static void check_to_host(struct harness *h, struct vcpufreq_dev *dev,
			  uint32_t vcpu, uint32_t guest)
{
	uint32_t host = vcpufreq_dev_to_host(dev, vcpu, guest);

	ensure(host <= VCPUFREQ_PERF_MAX);
	if (vcpu >= h->nr)
		ensure(host == 0);
	else
		ensure(host == expect_host(h, &h->cfg[vcpu], guest));
}

static void run_accesses(struct input *in, struct harness *h,
			 struct vcpufreq_dev *dev)
{
	while (in->left) {
		uint32_t vcpu = pick_vcpu(h, get8(in));
		uint32_t off = pick_offset(get16(in));
		uint32_t value = get32(in);
		uint8_t op = get8(in);

		switch ((op >> 3) & 3) {
		case 0:
			h->cur_answer = 0;
			break;
		case 1:
			h->cur_answer = value % 2048;
			break;
		default:
			h->cur_answer = value;
			break;
		}
		if (op & 4)
			check_to_host(h, dev, vcpu, value);
		if (op & 2)
			do_set_tid(h, dev, vcpu, value);
		else if (op & 1)
			do_write(h, dev, vcpu, off, value);
		else
			do_read(h, dev, vcpu, off);
	}
}

/* ---- entry ------------------------------------------------------------ */

static void check_refusal(int ret, struct vcpufreq_dev *dev,
			  const char *err, size_t err_len)
{
	ensure(ret == -EINVAL);
	ensure(dev == NULL);
	if (err_len) {
		/* one line, cut to fit (ASan checks the bound) */
		ensure(err_len == 1 || err[0] != '\0');
		ensure(strlen(err) < err_len);
		ensure(!strchr(err, '\n'));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct harness h;
	struct vcpufreq_dev_config cfg;
	struct vcpufreq_dev_ops ops = {
		.submit = cb_submit, .cur_perf = cb_cur_perf, .ctx = &h,
	};
	struct vcpufreq_dev_stats st;
	struct vcpufreq_dev *dev = NULL;
	uint8_t flags = get8(&in);
	size_t err_len = get8(&in);
	bool spoiled = ((flags >> 1) & 7) == 7;
	char *err = NULL;
	uint32_t n;
	int ret;

	memset(&h, 0, sizeof(h));
	h.nr = 1 + ((flags >> 4) & 7);
	h.schedutil = flags & 1;
	for (n = 0; n < h.nr; n++)
		read_vcpu(&in, &h.cfg[n]);
	cfg = (struct vcpufreq_dev_config){
		.nr_vcpus = h.nr, .vm_id = size, .host_schedutil = h.schedutil,
		.vcpus = h.cfg,
	};
	if (spoiled)
		spoil(&in, &cfg, h.cfg);

	/* exactly err_len bytes, so that ASan sees any write past them */
	if (err_len) {
		err = malloc(err_len);
		if (!err)
			return 0;
		err[0] = '\0';
	}
	ret = vcpufreq_dev_new(&cfg, &ops, &dev, err, err_len);
	if (spoiled) {
		check_refusal(ret, dev, err, err_len);
		free(err);
		return 0;
	}
	free(err);
	ensure(ret == 0 && dev);

	run_accesses(&in, &h, dev);

	vcpufreq_dev_get_stats(dev, &st);
	ensure(st.reads == h.st.reads && st.writes == h.st.writes);
	ensure(st.bad_reads == h.st.bad_reads);
	ensure(st.bad_writes == h.st.bad_writes);
	ensure(st.requests == h.st.requests && st.clamped == h.st.clamped);
	vcpufreq_dev_free(dev);
	return 0;
}
