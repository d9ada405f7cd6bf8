/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The virtual cpufreq device as a guest sees it, shared by the guest driver
 * (guest-driver/, kernel), the register model and the QEMU bridge (user
 * space).  Only <linux/types.h> types; every field is little-endian.
 *
 * 1. MMIO registers (Linux 6.13 "qemu,virtual-cpufreq"): one block of
 *    32-bit registers per vCPU, block n at n * VCPUFREQ_REG_STRIDE.
 *
 * 2. The same device in shared memory, for guests without devicetree:
 *    BAR2 of a QEMU ivshmem-doorbell PCI device (1af4:1110).  The host
 *    fills the header and one block per vCPU, and writes the magic last.
 *    The guest stores set_perf and writer, bumps seq, then writes
 *    header.doorbell to the device's DOORBELL register (BAR0 +
 *    IVSHMEM_DOORBELL), which QEMU turns into an eventfd signal for the
 *    host: no polling on either side.  A table is read where the MMIO
 *    device has PERFTBL_SEL/RD.  Shared memory has no trap to tell the
 *    host which vCPU wrote, so the guest says it in writer: 1 + the
 *    number of the CPU that stored set_perf (0: not said, the block's own
 *    vCPU stands in).
 */
#ifndef VCPUFREQ_DEVICE_H
#define VCPUFREQ_DEVICE_H

#if !defined(__VCPUFREQ_BPF__)
#include <linux/types.h>
#endif

#define VCPUFREQ_REG_STRIDE		0x1000
#define VCPUFREQ_REG_CUR_PERF		0x00	/* RO */
#define VCPUFREQ_REG_SET_PERF		0x04	/* WO */
#define VCPUFREQ_REG_PERFTBL_LEN	0x08	/* RO, 1 = continuous */
#define VCPUFREQ_REG_PERFTBL_SEL	0x0c	/* WO */
#define VCPUFREQ_REG_PERFTBL_RD		0x10	/* RO */
#define VCPUFREQ_REG_PERF_DOMAIN	0x14	/* RO */
#define VCPUFREQ_PERFTBL_MAX		64

/* QEMU's ivshmem device (docs/specs/ivshmem-spec.rst): ids, BARs, BAR0 */
#define IVSHMEM_PCI_VENDOR		0x1af4
#define IVSHMEM_PCI_DEVICE		0x1110	/* ivshmem-plain and -doorbell */
#define IVSHMEM_REG_BAR			0
#define IVSHMEM_SHM_BAR			2

#define IVSHMEM_INTRMASK		0x00
#define IVSHMEM_INTRSTATUS		0x04
#define IVSHMEM_IVPOSITION		0x08	/* this guest's peer id */
#define IVSHMEM_DOORBELL		0x0c	/* peer id << 16 | vector */

#define VCPUFREQ_SHM_MAGIC		"vcpufreq"	/* 8 bytes, no NUL */
#define VCPUFREQ_SHM_VERSION		1
#define VCPUFREQ_SHM_VCPU_OFFSET	0x100
#define VCPUFREQ_SHM_VCPU_STRIDE	0x200
#define VCPUFREQ_SHM_SIZE		0x10000	/* what the bridge creates */
/*
 * The host publishes the magic before the guest can probe (the bridge
 * does it while QEMU starts); a guest that finds no magic leaves the
 * device alone.  perf_domain ids are only compared: 0..0xffff.
 */

struct vcpufreq_shm_header {		/* at offset 0 */
	__u8  magic[8];			/* VCPUFREQ_SHM_MAGIC, written last */
	__u32 version;			/* VCPUFREQ_SHM_VERSION */
	__u32 nr_vcpus;			/* blocks that follow */
	__u32 vcpu_offset;		/* VCPUFREQ_SHM_VCPU_OFFSET */
	__u32 vcpu_stride;		/* VCPUFREQ_SHM_VCPU_STRIDE */
	__u32 doorbell;			/* host peer id << 16 | vector */
	__u32 reserved[57];
};

struct vcpufreq_shm_vcpu {		/* at vcpu_offset + n * vcpu_stride */
	__u32 cur_perf;			/* host: CUR_PERF */
	__u32 set_perf;			/* guest: SET_PERF */
	__u32 perftbl_len;		/* host: PERFTBL_LEN, 1 = continuous */
	__u32 perf_domain;		/* host: PERF_DOMAIN */
	__u32 seq;			/* guest: +1 after each set_perf store */
	__u32 writer;			/* guest: 1 + CPU of set_perf, 0 */
	__u32 reserved[10];
	__u32 perftbl[VCPUFREQ_PERFTBL_MAX];	/* host: at 0x40 */
	__u32 pad[48];
};

#endif /* VCPUFREQ_DEVICE_H */
