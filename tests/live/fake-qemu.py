#!/usr/bin/env python3
"""A stand-in for QEMU under libvirt, for the bridge's --libvirt tests.

Connects to the bridge's ivshmem socket (so the bridge sees this process
as QEMU), runs N idle threads standing for vCPUs, and writes what libvirt
would write once QEMU runs: DIR/NAME.xml with <domstatus pid=...> and one
<vcpu id= pid=> per thread.  --pid and --tid override what it writes, to
play a status file of another QEMU.  Prints "ready" and lives until killed.
--ring SECONDS plays a hostile guest once the bridge attached: vCPU 0
stores a new set_perf and rings the doorbell as fast as it can for that
long, then prints "rang N".

  fake-qemu.py SOCKET DIR NAME N [--pid PID] [--tid TID] [--ring SECONDS]
"""
import argparse, array, mmap, os, socket, struct, sys, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("socket"); ap.add_argument("dir"); ap.add_argument("name")
ap.add_argument("n", type=int)
ap.add_argument("--pid", type=int); ap.add_argument("--tid", type=int)
ap.add_argument("--ring", type=float)
a = ap.parse_args()

def ivshmem_message(s):
    """one int64 of the ivshmem protocol, with its fd or None"""
    fds = array.array("i")
    data, anc, _, _ = s.recvmsg(8, socket.CMSG_SPACE(4))
    for level, kind, raw in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(raw[:4])
    return struct.unpack("q", data)[0], (fds[0] if fds else None)

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(a.socket)
# version, our id, the memory, the bridge's doorbell (peer 1), our vector
greeting = [ivshmem_message(s) for _ in range(5)]
shm_fd, doorbell_fd = greeting[2][1], greeting[3][1]
tids, ready = [], threading.Barrier(a.n + 1)
def vcpu():
    tids.append(threading.get_native_id())
    ready.wait()
    while True:
        time.sleep(3600)
for _ in range(a.n):
    threading.Thread(target=vcpu, daemon=True).start()
ready.wait()
tids.sort()
if a.tid:
    tids[-1] = a.tid
vcpus = "".join(f"    <vcpu id='{i}' pid='{t}'/>\n" for i, t in enumerate(tids))
xml = (f"<domstatus state='running' reason='booted' pid='{a.pid or os.getpid()}'>\n"
       f"  <vcpus>\n{vcpus}  </vcpus>\n  <domain type='qemu'><name>{a.name}</name></domain>\n"
       "</domstatus>\n")
tmp = os.path.join(a.dir, f".{a.name}.xml")
with open(tmp, "w") as f:
    f.write(xml)
os.rename(tmp, os.path.join(a.dir, f"{a.name}.xml"))  # as libvirt: whole or nothing
print("ready " + " ".join(map(str, tids)), flush=True)
if a.ring:
    shm = mmap.mmap(shm_fd, 0x10000)
    while shm[0:8] != b"vcpufreq":		# the bridge attached
        time.sleep(0.01)
    blk, n, end = 0x100, 0, time.monotonic() + a.ring	# vCPU 0's block
    while time.monotonic() < end:
        for _ in range(100):
            n += 1
            struct.pack_into("I", shm, blk + 4, 1 + n % 2)	# set_perf
            struct.pack_into("I", shm, blk + 16, n)		# seq
            os.write(doorbell_fd, struct.pack("Q", 1))
    print(f"rang {n}", flush=True)
while True:
    s.recv(4096) or sys.exit(0)   # the bridge closes: we are done too
