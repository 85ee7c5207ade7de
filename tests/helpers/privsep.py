"""Test helper: the shapes of hardened daemons, where the library has no /proc or did not make the
socket in the process that uses it.

Run by tests/hardened.rs inside its network namespace, with or without the library. Each run
prints lines of "name: value" facts; the test compares them with the same run without the library.
"Hop limit" is IP_TTL on IPv4 and IPV6_UNICAST_HOPS on IPv6, set to 255 as BGP's TTL security
does: MPTCP refuses both on a socket that has not connected.

usage:
  privsep.py serve FAMILY PORT ROOT [fork|handover|exec]
      A privileged parent makes the listening socket and binds it; a worker receives it over a
      UNIX socket (SCM_RIGHTS), chroots into ROOT (an empty directory: no /proc), sets the hop
      limit, listens, and echoes two connections. fork: the worker is a forked child, made before
      the socket; handover: the worker is another program (this one, run again), as with a
      privileged port binder; exec: this program binds, then execs the worker, which keeps the
      socket (not close-on-exec) and chroots. Prints "ready" once the worker listens.
  privsep.py connect FAMILY PORT ROOT
      Chroots into ROOT, then connects twice: a socket bound first with the hop limit set (as a
      BGP speaker does), and a plain one; each sends a payload and checks the echo. ROOT "-"
      does not chroot (/proc is then hidden or absent by the test's own mounts).
  privsep.py echo FAMILY PORT COUNT
      A plain echo server for COUNT connections (the peer of "connect").
"""
import array
import hashlib
import os
import socket
import subprocess
import sys
import time

PAYLOAD = bytes(range(256)) * 256  # 64 KiB


def family(word):
    return socket.AF_INET6 if word == "6" else socket.AF_INET


def loopback(fam):
    return "::1" if fam == socket.AF_INET6 else "127.0.0.1"


def hop_limit(sock, fam):
    if fam == socket.AF_INET6:
        level, name = socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS
    else:
        level, name = socket.IPPROTO_IP, socket.IP_TTL
    try:
        sock.setsockopt(level, name, 255)
        return "ok"
    except OSError as error:
        return f"errno {error.errno}"


def fact(name, value):
    print(f"{name}: {value}", flush=True)


def echo_one(listener):
    conn, _ = listener.accept()
    received = 0
    while True:
        data = conn.recv(65536)
        if not data:
            break
        received += len(data)
        conn.sendall(data)
    conn.close()
    return received


def worker(channel, fam, root):
    """Receives the listener, then works as run_worker."""
    os.chroot(root)
    os.chdir("/")
    _, fds, _, _ = socket.recv_fds(channel, 16, 1)
    run_worker(fds[0], fam, lambda: channel.send(b"L"))


def run_worker(fd, fam, listening):
    """In the chroot: sets the hop limit on listener fd, listens, echoes two connections."""
    fact("worker sees /proc", os.path.exists("/proc/self/fd"))
    listener = socket.socket(fam, socket.SOCK_STREAM, 0, fileno=fd)
    fact("worker hop limit", hop_limit(listener, fam))
    try:
        listener.listen(8)
    except OSError as error:
        fact("worker listen", f"errno {error.errno}")
        return
    listening()
    fact("worker echoed", echo_one(listener) + echo_one(listener))


def exec_worker(fam, port, root):
    """Binds, then execs the worker program, which keeps the socket (not close-on-exec)."""
    listener = socket.socket(fam, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((loopback(fam), port))
    listener.set_inheritable(True)
    fd = str(listener.detach())
    script = os.path.abspath(__file__)
    os.execv(sys.executable, [sys.executable, script, "inherited", str(fam.value), fd, root])


def inherited(fam_value, fd, root):
    os.chroot(root)
    os.chdir("/")
    run_worker(int(fd), socket.AddressFamily(int(fam_value)), lambda: print("ready", flush=True))


def serve(fam, port, root, how):
    if how == "exec":
        exec_worker(fam, port, root)
    if how == "fork":
        parent_end, worker_end = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            parent_end.close()
            worker(worker_end, fam, root)
            sys.stdout.flush()
            os._exit(0)
        worker_end.close()
        channel, child = parent_end, None
    else:
        path = os.path.join(os.path.dirname(os.path.abspath(root)), "handover.sock")
        child = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "worker", str(fam.value), path, root]
        )
        channel = None
        for _ in range(200):
            try:
                channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                channel.connect(path)
                break
            except OSError:
                channel.close()
                channel = None
                time.sleep(0.02)
        if channel is None:
            fact("handover", "no worker")
            return
    listener = socket.socket(fam, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((loopback(fam), port))
    socket.send_fds(channel, [b"x"], [listener.fileno()])
    listener.close()
    if channel.recv(1) == b"L":
        print("ready", flush=True)
    if child is None:
        os.waitpid(pid, 0)
    else:
        child.wait(timeout=30)


def handover_worker(fam_value, path, root):
    fam = socket.AddressFamily(int(fam_value))
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    channel, _ = server.accept()
    server.close()
    os.unlink(path)
    worker(channel, fam, root)


def connect(fam, port, root):
    if root != "-":
        os.chroot(root)
        os.chdir("/")
    fact("client sees /proc", os.path.exists("/proc/self/fd"))
    for kind in ("hop-limited", "plain"):
        sock = socket.socket(fam, socket.SOCK_STREAM)
        if kind == "hop-limited":
            sock.bind((loopback(fam), 0))
            fact(f"{kind} hop limit", hop_limit(sock, fam))
        try:
            sock.settimeout(10)
            sock.connect((loopback(fam), port))
            sock.sendall(PAYLOAD)
            sock.shutdown(socket.SHUT_WR)
            back = b""
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                back += data
            intact = hashlib.sha256(back).digest() == hashlib.sha256(PAYLOAD).digest()
            fact(f"{kind} echo intact", intact)
        except OSError as error:
            fact(f"{kind} connect", f"errno {error.errno}")
        fact(f"{kind} protocol", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL))
        sock.close()


def echo(fam, port, count):
    listener = socket.socket(fam, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((loopback(fam), port))
    listener.listen(8)
    print("ready", flush=True)
    for _ in range(count):
        echo_one(listener)


def main(argv):
    if len(argv) >= 4 and argv[0] == "worker":
        handover_worker(argv[1], argv[2], argv[3])
    elif len(argv) == 4 and argv[0] == "inherited":
        inherited(argv[1], argv[2], argv[3])
    elif len(argv) == 5 and argv[0] == "serve" and argv[4] in ("fork", "handover", "exec"):
        serve(family(argv[1]), int(argv[2]), argv[3], argv[4])
    elif len(argv) == 4 and argv[0] == "connect":
        connect(family(argv[1]), int(argv[2]), argv[3])
    elif len(argv) == 4 and argv[0] == "echo":
        echo(family(argv[1]), int(argv[2]), int(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
