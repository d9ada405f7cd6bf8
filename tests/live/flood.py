#!/usr/bin/env python3
# flood.py bpf PIN_DIR TID | broker SOCKET TID | hostile SOCKET TID: write
# TID's request as fast as one process can, until killed -- a hostile or
# broken VMM.  "bpf": bpf(BPF_MAP_UPDATE_ELEM) on the pinned requests map
# (root only since the broker; what a granted user could do before).
# "broker": REQUEST messages on the broker's socket, after registering TID;
# "hostile": the same without registering (another VM's thread).
import ctypes, os, socket, struct, sys

def bpf_flood(pin_dir, tid):
    libc = ctypes.CDLL(None, use_errno=True)
    nr_bpf = 321 if os.uname().machine == "x86_64" else 280
    path = ctypes.create_string_buffer(f"{pin_dir}/requests".encode())
    attr = ctypes.create_string_buffer(struct.pack("QII", ctypes.addressof(path), 0, 0), 128)
    fd = libc.syscall(nr_bpf, 7, attr, 128)		# BPF_OBJ_GET
    if fd < 0:
        sys.exit(f"flood: BPF_OBJ_GET: {os.strerror(ctypes.get_errno())}")
    key = ctypes.create_string_buffer(struct.pack("I", tid))
    vals = [ctypes.create_string_buffer(struct.pack("5I", p, 0, 9, 0, 0)) for p in (300, 600)]
    attrs = [ctypes.create_string_buffer(struct.pack("IIQQQ", fd, 0, ctypes.addressof(key),
                                                     ctypes.addressof(v), 0), 128) for v in vals]
    print("flooding", flush=True)
    i = 0
    while True:
        libc.syscall(nr_bpf, 2, attrs[i & 1], 128)	# BPF_MAP_UPDATE_ELEM
        i += 1

def broker_flood(sock, tid, register=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sock)
    s.send(struct.pack("6I", 1, 1, 0, 0, 0, 0))		# HELLO
    if register:
        s.send(struct.pack("6I", 2, tid, 9, 0, 0, 0))	# REGISTER
    for _ in range(1 + register):
        op, _, e = struct.unpack("IIi", s.recv(16)[:12])
        if e:
            sys.exit(f"flood: broker op {op}: error {e}")
    msgs = [struct.pack("6I", 3, tid, 0, 0, p, 0) for p in (300, 600)]
    print("flooding", flush=True)
    i = 0
    while True:
        try:
            s.send(msgs[i & 1])
        except (BlockingIOError, ConnectionResetError):
            return	# the agent stopped
        i += 1

mode, where, tid = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "bpf":
    bpf_flood(where, tid)
broker_flood(where, tid, mode == "broker")
