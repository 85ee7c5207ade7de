"""A transfer into a receive buffer the program set, timed: what tests/behaviour.rs measures.

usage: small_buffer.py WHERE BUFFER BYTES [4|6]
  WHERE   listener-before  the server sets SO_RCVBUF on its listener before listen() (accepted
                           sockets inherit it) and receives
          listener-after   the same, set after listen() (what asyncio's tests do)
          client-before    the client sets it before connect() and receives
          client-after     the client sets it once connected, and receives
          none             nobody sets it
Prints one line of facts: SO_RCVBUF read back on the listener, the accepted socket and a
receiving client, seconds, bytes received, the SHA-256 sent and received,
SO_PROTOCOL of the receiving socket and of its peer, and whether each reads MPTCP_INFO (an MPTCP connection
that did not fall back).
"""
import hashlib
import os
import socket
import sys
import threading
import time

SOL_MPTCP, MPTCP_INFO = 284, 1


def facts(sock):
    proto = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)
    try:
        sock.getsockopt(SOL_MPTCP, MPTCP_INFO, 48)
        info = "yes"
    except OSError:
        info = "no"
    return proto, info


def main():
    where, buffer, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    family, host = (socket.AF_INET6, "::1") if sys.argv[4:] == ["6"] else (socket.AF_INET, "127.0.0.1")
    payload = os.urandom(total)
    listener = socket.socket(family, socket.SOCK_STREAM)
    if where == "listener-before":
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
    listener.bind((host, 0))
    listener.listen()
    if where == "listener-after":
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
    port = listener.getsockname()[1]
    receiving_client = where in ("client-before", "client-after")
    seen = {}

    def client():
        sock = socket.socket(family, socket.SOCK_STREAM)
        if where == "client-before":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
        sock.connect((host, port))
        if where == "client-after":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
        seen["client"] = facts(sock)
        if receiving_client:
            seen["got"] = receive(sock, total)
            seen["client_rcvbuf"] = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        else:
            sock.sendall(payload)
        sock.close()

    started = time.monotonic()
    thread = threading.Thread(target=client)
    thread.start()
    conn, _ = listener.accept()
    seen["server"] = facts(conn)
    if receiving_client:
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        thread.join(60)
        got = seen.get("got", b"")
    else:
        got = receive(conn, total)
        thread.join(60)
    elapsed = time.monotonic() - started
    receiver, sender = ("client", "server") if receiving_client else ("server", "client")
    # What the program reads back of the listener's buffer and of an accepted socket's.
    buffers = (
        f"listener_rcvbuf={listener.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)} "
        f"accepted_rcvbuf={conn.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)} "
        f"client_rcvbuf={seen.get('client_rcvbuf', '-')} "
    )
    print(buffers, end="")
    print(
        f"seconds={elapsed:.4f} bytes={len(got)} "
        f"sent={hashlib.sha256(payload).hexdigest()[:16]} got={hashlib.sha256(got).hexdigest()[:16]} "
        f"receiver_proto={seen[receiver][0]} receiver_mptcp_info={seen[receiver][1]} "
        f"sender_proto={seen[sender][0]} sender_mptcp_info={seen[sender][1]}"
    )


def receive(sock, total):
    chunks, have = [], 0
    deadline = time.monotonic() + 60
    while have < total and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        have += len(chunk)
    return b"".join(chunks)


main()
