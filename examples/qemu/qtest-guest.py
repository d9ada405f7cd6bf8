#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Play the guest driver against a running bridge, without a guest.

Starts QEMU paused (-S, TCG: no firmware, no guest code runs) with a qtest
socket, through which this script places the ivshmem-doorbell BARs through PCI config space, checks
the shared memory the bridge published, then makes requests the way the
guest driver does -- store set_perf and writer, bump seq, write header.doorbell to
BAR0 DOORBELL -- so QEMU's own doorbell -> eventfd path is exercised.

  qtest-guest.py --socket PATH --qmp PATH [--smp N] [--request VCPU:KHZ]...

The bridge must already listen on --socket.  Prints what it reads and
writes; exits 0 when every check passed.  Needs qemu-system-x86_64.
"""
import argparse
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

BAR0 = 0xFE100000          # registers, 256 bytes
BAR2 = 0xFE000000          # shared memory, VCPUFREQ_SHM_SIZE
IVSHMEM_IVPOSITION = 0x08
IVSHMEM_DOORBELL = 0x0C
VCPU_OFFSET, VCPU_STRIDE = 0x100, 0x200
CUR_PERF, SET_PERF, PERFTBL_LEN, PERF_DOMAIN, SEQ, WRITER = 0, 4, 8, 12, 16, 20
PERFTBL = 0x40


class QTest:
    def __init__(self, conn):
        self.f = conn.makefile("rw", buffering=1, newline="\n")

    def cmd(self, line):
        self.f.write(line + "\n")
        self.f.flush()
        while True:
            reply = self.f.readline()
            if not reply:
                raise SystemExit("qtest: QEMU closed the connection")
            if reply.startswith("IRQ"):
                continue            # asynchronous, not our answer
            if not reply.startswith("OK"):
                raise SystemExit(f"qtest: {line!r} -> {reply.strip()!r}")
            parts = reply.split()
            return int(parts[1], 16) if len(parts) > 1 else None

    def readl(self, addr):
        return self.cmd(f"readl 0x{addr:x}")

    def writel(self, addr, val):
        self.cmd(f"writel 0x{addr:x} 0x{val:x}")

    def cfg_addr(self, dev, reg):
        return 0x80000000 | dev << 11 | reg

    def cfg_read(self, dev, reg):
        self.cmd(f"outl 0xcf8 0x{self.cfg_addr(dev, reg):x}")
        return self.cmd("inl 0xcfc")

    def cfg_write(self, dev, reg, val):
        self.cmd(f"outl 0xcf8 0x{self.cfg_addr(dev, reg):x}")
        self.cmd(f"outl 0xcfc 0x{val:x}")


def place_ivshmem(qt):
    for dev in range(32):
        if qt.cfg_read(dev, 0) == 0x11101AF4:
            qt.cfg_write(dev, 0x10, BAR0)
            qt.cfg_write(dev, 0x18, BAR2)   # 64-bit prefetchable BAR
            qt.cfg_write(dev, 0x1C, 0)
            qt.cfg_write(dev, 0x04, qt.cfg_read(dev, 0x04) | 0x2)
            return dev
    raise SystemExit("no ivshmem device (1af4:1110) on bus 0")


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--qmp", required=True)
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--request", action="append", default=[],
                    help="VCPU:VALUE, default: half the top entry, each vCPU")
    ap.add_argument("--hold", type=float, default=0.5,
                    help="seconds to keep QEMU after the last request")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="bridge-qtest-")
    qpath = os.path.join(tmp, "qtest.sock")
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(qpath)
    lsock.listen(1)
    qemu = subprocess.Popen([
        "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-S",
        "-qtest", f"unix:{qpath}", "-qtest-log", "/dev/null",
        "-smp", str(a.smp), "-m", "128",
        "-display", "none", "-nodefaults",
        "-chardev", f"socket,id=vcf,path={a.socket}",
        "-device", "ivshmem-doorbell,chardev=vcf,vectors=1",
        "-qmp", f"unix:{a.qmp},server=on,wait=off"])
    lsock.settimeout(10)
    conn, _ = lsock.accept()
    qt = QTest(conn)
    good = True
    try:
        dev = place_ivshmem(qt)
        print(f"ivshmem at 00:{dev:02x}.0, BAR0 0x{BAR0:x}, BAR2 0x{BAR2:x}")
        good &= check(qt.readl(BAR0 + IVSHMEM_IVPOSITION) == 0,
                      "IVPosition is 0 (QEMU is peer 0)")
        magic = b""
        for _ in range(100):            # the bridge needs QMP first
            magic = struct.pack("<II", qt.readl(BAR2), qt.readl(BAR2 + 4))
            if magic == b"vcpufreq":
                break
            time.sleep(0.05)
        good &= check(magic == b"vcpufreq", f"magic {magic!r}")
        version, nr, off, stride, doorbell = (
            qt.readl(BAR2 + 8 + 4 * i) for i in range(5))
        print(f"header: version {version} nr_vcpus {nr} vcpu_offset 0x{off:x}"
              f" vcpu_stride 0x{stride:x} doorbell 0x{doorbell:x}")
        good &= check(nr == a.smp, f"nr_vcpus == {a.smp}")
        blocks = []
        for i in range(min(nr, a.smp)):
            blk = BAR2 + VCPU_OFFSET + i * VCPU_STRIDE
            n = qt.readl(blk + PERFTBL_LEN)
            tbl = [qt.readl(blk + PERFTBL + 4 * k) for k in range(min(n, 64))]
            print(f"vcpu {i}: cur_perf {qt.readl(blk + CUR_PERF)} "
                  f"domain {qt.readl(blk + PERF_DOMAIN)} table {tbl}")
            blocks.append((blk, tbl))
        reqs = [tuple(int(x) for x in r.split(":")) for r in a.request] or \
            [(i, max(t[-1] // 2, 1)) for i, (_, t) in enumerate(blocks)]
        for vcpu, value in reqs:
            blk = blocks[vcpu][0]
            seq = qt.readl(blk + SEQ) + 1 & 0xFFFFFFFF
            qt.writel(blk + SET_PERF, value)
            qt.writel(blk + WRITER, vcpu + 1)   # as if that vCPU wrote it
            qt.writel(blk + SEQ, seq)
            qt.writel(BAR0 + IVSHMEM_DOORBELL, doorbell)
            time.sleep(0.1)
            print(f"vcpu {vcpu}: set_perf {value} seq {seq} rang 0x{doorbell:x}"
                  f" -> cur_perf {qt.readl(blk + CUR_PERF)}")
        time.sleep(a.hold)
    finally:
        qemu.terminate()
        qemu.wait()
        conn.close()
        lsock.close()
        os.unlink(qpath)
        os.rmdir(tmp)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
