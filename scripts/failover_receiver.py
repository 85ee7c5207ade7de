"""Bench helper for scripts/bench.sh: accept one connection, read it to the end and report the
byte count, the SHA-256 of what arrived and the longest gap between two reads (a stall). Gives up
after LIMIT seconds without data (done=0).

usage: failover_receiver.py HOST PORT LIMIT
"""
import hashlib
import socket
import sys
import time

host, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((host, port))
server.listen(1)
conn, _ = server.accept()
conn.settimeout(limit)
digest, total, last, longest = hashlib.sha256(), 0, None, 0.0
try:
    while True:
        data = conn.recv(1 << 16)
        now = time.monotonic()
        if not data:
            break
        if last is not None:
            longest = max(longest, now - last)
        last, total = now, total + len(data)
        digest.update(data)
    done = 1
except socket.timeout:
    done = 0
    longest = max(longest, time.monotonic() - last if last is not None else limit)
print(f"done={done} bytes={total} sha256={digest.hexdigest()} longest_stall_ms={longest * 1000:.0f}")
