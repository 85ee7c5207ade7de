"""Test helper: servers and clients that set options on established connections, as real daemons do.

Run by tests/established.rs inside its network namespace, with or without the library. Each run
prints one line of key=value facts; the test compares them with the same run without the library.

usage:
  established.py serve KIND FAMILY PORT
      Listens on loopback (SO_REUSEADDR, SO_KEEPALIVE, TCP_NODELAY, as servers do), accepts one
      connection, then KIND:
        oob   sets SO_OOBINLINE=1 on it (an FTP or telnet daemon; a failure is fatal, as there)
        copy  copies every option it can read from the listener onto it, values as read (a
              runtime that mirrors listener options; it lists each option setsockopt refused)
      and echoes what it receives until the peer shuts down.
  established.py connect KIND FAMILY PORT
      Connects, then KIND: oob as above; copy copies every option a fresh socket of the family
      can read onto the connected one. Sends a random payload and checks the echo.
"""
import hashlib
import os
import socket
import sys

LEVELS = {
    "SOL_SOCKET": (socket.SOL_SOCKET, range(1, 81)),
    "IP": (socket.IPPROTO_IP, range(1, 71)),
    "IPV6": (socket.IPPROTO_IPV6, range(1, 81)),
    "TCP": (socket.IPPROTO_TCP, range(1, 47)),
}
# Options whose copy changes the test itself, not the connection: a repair mode (the kernel
# refuses it without privileges we have here as root), and a zero receive timeout read from a
# template is fine; everything else is copied.
SKIPPED = {("TCP", 19)}  # TCP_REPAIR


def family(word):
    return socket.AF_INET6 if word == "6" else socket.AF_INET


def loopback(fam):
    return "::1" if fam == socket.AF_INET6 else "127.0.0.1"


def copy_options(source, target, fam):
    """Every option `source` answers, set on `target` as read; the ones refused, sorted."""
    refused = []
    for level_name, (level, names) in LEVELS.items():
        if level_name == "IPV6" and fam != socket.AF_INET6:
            continue
        for name in names:
            if (level_name, name) in SKIPPED:
                continue
            try:
                value = source.getsockopt(level, name, 256)
            except OSError:
                continue
            try:
                target.setsockopt(level, name, value)
            except OSError as error:
                refused.append("%s:%d:%d" % (level_name, name, error.errno))
    return ",".join(refused) or "none"


def oob(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE, 1)
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE)


def serve(kind, fam, port):
    listener = socket.socket(fam, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind((loopback(fam), port))
    listener.listen(4)
    print("ready", flush=True)
    conn, _ = listener.accept()
    facts = {"protocol": conn.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)}
    if kind == "oob":
        facts["oobinline"] = oob(conn)
    else:
        facts["refused"] = copy_options(listener, conn, fam)
    received = 0
    while True:
        data = conn.recv(65536)
        if not data:
            break
        received += len(data)
        conn.sendall(data)
    conn.close()
    facts["echoed"] = received
    print(" ".join("%s=%s" % item for item in facts.items()), flush=True)


def connect(kind, fam, port):
    sock = socket.create_connection((loopback(fam), port), timeout=10)
    facts = {"protocol": sock.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)}
    if kind == "oob":
        facts["oobinline"] = oob(sock)
    else:
        template = socket.socket(fam, socket.SOCK_STREAM)
        facts["refused"] = copy_options(template, sock, fam)
        template.close()
    payload = os.urandom(256 * 1024)
    sock.sendall(payload)
    sock.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        data = sock.recv(65536)
        if not data:
            break
        got += data
    facts["intact"] = int(hashlib.sha256(got).digest() == hashlib.sha256(payload).digest())
    print(" ".join("%s=%s" % item for item in facts.items()), flush=True)


def main():
    what, kind, fam, port = sys.argv[1], sys.argv[2], family(sys.argv[3]), int(sys.argv[4])
    if what == "serve":
        serve(kind, fam, port)
    else:
        connect(kind, fam, port)


if __name__ == "__main__":
    main()
