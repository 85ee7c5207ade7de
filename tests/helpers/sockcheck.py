"""Test helper: a real Python program exercising socket options and listeners under the library.

Run by tests/socket_options.rs and tests/direction.rs inside their network namespace, with the
library preloaded. Prints one line of key=value facts read back from the kernel.

usage:
  sockcheck.py option FAMILY ROLE WHEN LEVEL NAME VALUE [accepted]
      ROLE client|listener; WHEN before|after (connect() or listen()). Sets the option, moves a
      payload over a loopback connection, reports the protocol, the option's value and errno;
      with `accepted`, also the value the accepted connection reads (last).
  sockcheck.py dualstack
      An AF_INET6 listener with SO_REUSEADDR, IPV6_V6ONLY=0, TCP_DEFER_ACCEPT, then
      TCP_USER_TIMEOUT before listen(); an IPv4 and an IPv6 client each send a payload.
  sockcheck.py listener FAMILY
      A non-blocking, close-on-exec listener bound to port 0 whose port is read before listen();
      reports its protocol, flags and whether the port held.
  sockcheck.py client FAMILY PORT
      Connects to PORT, sends a payload, reports the protocol.
"""
import errno
import fcntl
import os
import socket
import sys

SOL_MPTCP, MPTCP_INFO = 284, 1
PAYLOAD = os.urandom(65536)


def family(word):
    return socket.AF_INET6 if word == "6" else socket.AF_INET


def loopback(fam):
    return "::1" if fam == socket.AF_INET6 else "127.0.0.1"


def protocol(sock):
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)


def mptcp_info_ok(sock):
    """MPTCP_INFO answers on a live MPTCP connection, fails after a fallback to TCP."""
    try:
        sock.getsockopt(SOL_MPTCP, MPTCP_INFO, 256)
        return 1
    except OSError:
        return 0


def receive_all(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def try_set(sock, level, name, value):
    try:
        sock.setsockopt(level, name, value)
        return 0
    except OSError as error:
        return error.errno


def read_back(sock, level, name):
    try:
        return sock.getsockopt(level, name)
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error.errno))


def option(fam, role, when, level, name, value, accepted_too=False):
    listener = socket.socket(fam, socket.SOCK_STREAM)
    client = socket.socket(fam, socket.SOCK_STREAM)
    target = listener if role == "listener" else client
    set_errno = None
    if when == "before":
        set_errno = try_set(target, level, name, value)
    listener.bind((loopback(fam), 0))
    listener.listen()
    listener.settimeout(10)
    client.settimeout(10)
    client.connect(listener.getsockname()[:2])
    if when == "after":
        set_errno = try_set(target, level, name, value)
    accepted, _ = listener.accept()
    client.sendall(PAYLOAD)
    client.shutdown(socket.SHUT_WR)
    intact = int(receive_all(accepted, len(PAYLOAD)) == PAYLOAD)
    print(
        f"set_errno={set_errno} value={read_back(target, level, name)} "
        f"protocol={protocol(target)} client_protocol={protocol(client)} "
        f"client_mptcp_info={mptcp_info_ok(client)} intact={intact}"
        + (f" accepted_value={read_back(accepted, level, name)}" if accepted_too else "")
    )


def dualstack():
    listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 5)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 4321)
    listener.bind(("::", 0))
    port = listener.getsockname()[1]
    listener.listen()
    listener.settimeout(10)
    facts = [f"protocol={protocol(listener)}",
             f"user_timeout={listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)}",
             f"v6only={listener.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)}",
             f"reuseaddr={listener.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)}",
             f"defer_accept={int(listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT) > 0)}",
             f"port_kept={int(listener.getsockname()[1] == port)}"]
    for name, fam, host in (("v4", socket.AF_INET, "127.0.0.1"), ("v6", socket.AF_INET6, "::1")):
        client = socket.create_connection((host, port), timeout=10)
        client.sendall(PAYLOAD)  # TCP_DEFER_ACCEPT: accept() returns once data arrived
        client.shutdown(socket.SHUT_WR)
        accepted, _ = listener.accept()
        facts.append(f"{name}_intact={int(receive_all(accepted, len(PAYLOAD)) == PAYLOAD)}")
    print(" ".join(facts))


def listener_flags(fam):
    listener = socket.socket(fam, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
    listener.bind((loopback(fam), 0))
    port = listener.getsockname()[1]
    listener.listen()
    status = fcntl.fcntl(listener.fileno(), fcntl.F_GETFL)
    fd_flags = fcntl.fcntl(listener.fileno(), fcntl.F_GETFD)
    print(f"protocol={protocol(listener)} nonblock={int(bool(status & os.O_NONBLOCK))} "
          f"cloexec={int(bool(fd_flags & fcntl.FD_CLOEXEC))} "
          f"port_kept={int(listener.getsockname()[1] == port)}")


def client(fam, port):
    sock = socket.create_connection((loopback(fam), port), timeout=10)
    sock.sendall(b"hello from the client\n")
    print(f"protocol={protocol(sock)} mptcp_info={mptcp_info_ok(sock)}")
    sock.close()


def main(args):
    if args[:1] == ["option"] and len(args) in (7, 8) and args[7:] in ([], ["accepted"]):
        option(family(args[1]), args[2], args[3], int(args[4]), int(args[5]), int(args[6]),
               accepted_too=len(args) == 8)
    elif args == ["dualstack"]:
        dualstack()
    elif args[:1] == ["listener"] and len(args) == 2:
        listener_flags(family(args[1]))
    elif args[:1] == ["client"] and len(args) == 3:
        client(family(args[1]), int(args[2]))
    else:
        sys.exit(__doc__)


main(sys.argv[1:])
