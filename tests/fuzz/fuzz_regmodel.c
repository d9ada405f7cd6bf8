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
 *                    bits 4-6: nr_vcpus - 1; bit 7: VCPUFREQ_DEV_SCOPE_DOMAIN
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
 *                       answers: 0, value % 2048, value; bits 5-7 the
 *                       writer: 0 vcpufreq_dev_write (not known), else
 *                       vcpufreq_dev_write_from with writer bits - 1
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
	uint32_t sel, last, last_host;
	uint32_t block;		/* the block the last request was written to */
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
	bool domain_scope;
	uint32_t block;		/* the block being written: submits' scale */
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

/*
 * capacity * g / fmax rounded down, at most 1024; under schedutil 80% of
 * that, rounded down again (crosvm's two steps)
 */
static uint32_t expect_host(const struct harness *h,
			    const struct vcpufreq_vcpu_config *v, uint32_t g)
{
	uint64_t host = (uint64_t)v->capacity * g / fmax_of(v);

	if (host > VCPUFREQ_PERF_MAX)
		host = VCPUFREQ_PERF_MAX;
	return h->schedutil ? host * 4 / 5 : host;
}

static uint32_t expect_cur(const struct harness *h, uint32_t vcpu)
{
	const struct vcpufreq_vcpu_config *v = &h->cfg[vcpu];
	const struct shadow_vcpu *s = &h->sh[vcpu];
	uint64_t g;

	/* no host value: the last nonzero request, else fmax */
	if (!h->cur_answer)
		g = s->requested && s->last ? s->last : fmax_of(v);
	else	/* the host's, not rounded to a table entry */
		g = (uint64_t)h->cur_answer * fmax_of(v) / v->capacity;
	return g < fmax_of(v) ? (uint32_t)g : fmax_of(v);
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
	v = &h->cfg[h->block];	/* the request is in the written block's scale */
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

	switch (how % 11) {
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
		v->perf[j] = v->perf[j - 1] - (how % 11 == 6 ? 1 : 0);
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
	case 10:
		cfg->scope = 2 + get8(in);
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

/* SET_PERF's request lands on vCPU @n: remembered, submitted if it has a thread */
static int expect_request(struct harness *h, uint32_t n, uint32_t g,
			  uint32_t host)
{
	h->sh[n].last = g;
	h->sh[n].last_host = host;
	h->sh[n].block = h->block;
	h->sh[n].requested = true;
	return h->cfg[n].tid ? 1 : 0;
}

/* @writer: UINT32_MAX for vcpufreq_dev_write() */
static void do_write(struct harness *h, struct vcpufreq_dev *dev,
		     uint32_t writer, uint32_t vcpu, uint32_t off,
		     uint32_t value)
{
	const struct vcpufreq_vcpu_config *v;
	int submits = h->submits, want = 0;
	uint32_t g, host, n, last = UINT32_MAX;

	h->block = vcpu < h->nr ? vcpu : 0;
	if (writer == UINT32_MAX)
		vcpufreq_dev_write(dev, vcpu, off, value);
	else
		vcpufreq_dev_write_from(dev, writer, vcpu, off, value);
	h->st.writes++;
	if (vcpu >= h->nr || !is_writable(off)) {
		h->st.bad_writes++;
		ensure(h->submits == submits);
		return;
	}
	v = &h->cfg[vcpu];
	if (off == VCPUFREQ_REG_PERFTBL_SEL) {
		h->sh[vcpu].sel = value;
		ensure(h->submits == submits);
		return;
	}
	g = expect_snap(v, value);
	host = expect_host(h, v, g);
	if (value > fmax_of(v))
		h->st.clamped++;
	h->st.requests++;
	if (writer >= h->nr) {
		writer = vcpu;
	} else if (h->cfg[writer].perf_domain != v->perf_domain) {
		h->st.outside_domain++;
		writer = vcpu;
	}
	if (writer != vcpu)
		h->st.foreign++;
	for (n = 0; n < h->nr; n++) {
		if (h->domain_scope ? h->cfg[n].perf_domain != v->perf_domain :
				      n != writer)
			continue;
		if (expect_request(h, n, g, host)) {
			want++;
			last = n;
		}
	}
	ensure(h->submits == submits + want);
	if (!want)
		return;
	ensure(h->last.vcpu == last && h->last.tid == h->cfg[last].tid);
	ensure(h->last.guest == g);
	ensure(h->last.host == host);
}

static void do_set_tid(struct harness *h, struct vcpufreq_dev *dev,
		       uint32_t vcpu, uint32_t tid)
{
	int submits = h->submits, ret;

	/* a request resubmitted is in the scale of the block it was written to */
	if (vcpu < h->nr)
		h->block = h->sh[vcpu].block;
	ret = vcpufreq_dev_set_tid(dev, vcpu, tid);
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
		ensure(h->last.host == h->sh[vcpu].last_host);
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
			do_write(h, dev, op >> 5 ? (op >> 5) - 1u : UINT32_MAX,
				 vcpu, off, value);
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
	h.domain_scope = flags >> 7;
	for (n = 0; n < h.nr; n++)
		read_vcpu(&in, &h.cfg[n]);
	cfg = (struct vcpufreq_dev_config){
		.nr_vcpus = h.nr, .vm_id = size, .host_schedutil = h.schedutil,
		.scope = h.domain_scope ? VCPUFREQ_DEV_SCOPE_DOMAIN :
					  VCPUFREQ_DEV_SCOPE_WRITER,
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
	ensure(st.foreign == h.st.foreign);
	ensure(st.outside_domain == h.st.outside_domain);
	vcpufreq_dev_free(dev);
	return 0;
}
