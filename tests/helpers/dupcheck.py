"""Test helper: options read and set through duplicates Python makes with fcntl(F_DUPFD_CLOEXEC)
(os.dup, socket.dup, socket.fromfd), on both ends of a loopback connection. Run by
tests/established.rs with and without the library; prints one line of what the program saw."""
import os
import socket
import sys

PAYLOAD = os.urandom(65536)


def attempt(action):
    try:
        return str(action())
    except OSError as error:
        return f"errno{error.errno}"


def main(family_word):
    family = socket.AF_INET6 if family_word == "6" else socket.AF_INET
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind((host, 0))
    listener.listen()
    listener.settimeout(10)
    client = socket.socket(family, socket.SOCK_STREAM)
    client.settimeout(10)
    client.connect(listener.getsockname()[:2])
    accepted, _ = listener.accept()
    facts = []
    for name, duplicate in (
        ("client_dup", client.dup()),
        ("accepted_fromfd", socket.fromfd(accepted.fileno(), family, socket.SOCK_STREAM)),
        ("listener_osdup", socket.socket(fileno=os.dup(listener.fileno()))),
    ):
        facts.append(f"{name}.user_timeout={attempt(lambda: duplicate.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT))}")
        facts.append(f"{name}.oobinline_set={attempt(lambda: duplicate.setsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE, 1))}")
        facts.append(f"{name}.oobinline={attempt(lambda: duplicate.getsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE))}")
        facts.append(f"{name}.ulp={attempt(lambda: duplicate.getsockopt(socket.IPPROTO_TCP, 31, 16))}")
        duplicate.close()
    client.sendall(PAYLOAD)
    client.shutdown(socket.SHUT_WR)
    received = b""
    while len(received) < len(PAYLOAD):
        chunk = accepted.recv(65536)
        if not chunk:
            break
        received += chunk
    facts.append(f"intact={int(received == PAYLOAD)}")
    facts.append(f"protocols={client.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)}/{accepted.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)}")
    print(" ".join(facts))


main(sys.argv[1] if len(sys.argv) > 1 else "4")
