#!/usr/bin/env python3
"""A stand-in for QEMU under libvirt, for the bridge's --libvirt tests.

Connects to the bridge's ivshmem socket (so the bridge sees this process
as QEMU), runs N idle threads standing for vCPUs, and writes what libvirt
would write once QEMU runs: DIR/NAME.xml with <domstatus pid=...> and one
<vcpu id= pid=> per thread.  --pid and --tid override what it writes, to
play a status file of another QEMU.  Prints "ready" and lives until killed.

  fake-qemu.py SOCKET DIR NAME N [--pid PID] [--tid TID]
"""
import argparse, os, socket, sys, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("socket"); ap.add_argument("dir"); ap.add_argument("name")
ap.add_argument("n", type=int)
ap.add_argument("--pid", type=int); ap.add_argument("--tid", type=int)
a = ap.parse_args()

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(a.socket)
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
while True:
    s.recv(4096) or sys.exit(0)   # the bridge closes: we are done too
