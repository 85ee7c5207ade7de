"""Test helper: the service that systemd runs in the container tests (tests/systemd.rs), and its
client. A real program started by a real systemd reports what the kernel says about its sockets.

usage:
  unitserver.py serve RESULT PORT
      Listens on 127.0.0.1:PORT, or on the socket systemd passed it (socket activation:
      LISTEN_FDS, fd 3), connects once to itself, then writes RESULT (key=value lines, written
      whole): SO_PROTOCOL of its listener and of that outgoing socket, and its LD_PRELOAD,
      GODEBUG and MPTCPIZE. Then tells systemd it is ready (Type=notify) and echoes what each
      client sends, first writing RESULT.accepted: SO_PROTOCOL of the accepted socket.
  unitserver.py client PORT [http [PATH]]
      Connects with an explicit MPTCP socket (so the handshake shows whether the server is
      MPTCP), sends a payload and checks its echo (with "http": GETs PATH, default /, and
      checks the body is "hello from go").
      Prints key=value facts: intact, mptcp_info (MPTCP_INFO answers only when the connection
      did not fall back to TCP), and how much this namespace's MP_CAPABLE counters rose.
"""
import os
import socket
import sys
import time

IPPROTO_MPTCP, SOL_MPTCP, MPTCP_INFO = 262, 284, 1
SD_LISTEN_FDS_START = 3
PAYLOAD_SIZE = 65536


def protocol(sock):
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)


def write_whole(path, text):
    """Readers never see half a file: write beside it, then rename over it."""
    temporary = f"{path}.tmp"
    with open(temporary, "w") as out:
        out.write(text)
    os.replace(temporary, path)


def receive_all(sock, size=None):
    data = b""
    while size is None or len(data) < size:
        chunk = sock.recv(65536 if size is None else size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def notify_ready():
    """sd_notify(READY=1) without libsystemd: one datagram to $NOTIFY_SOCKET."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notifier:
        notifier.sendto(b"READY=1", address)


def listener(port):
    if os.environ.get("LISTEN_PID") == str(os.getpid()) and os.environ.get("LISTEN_FDS") == "1":
        return socket.socket(fileno=SD_LISTEN_FDS_START)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def serve(result, port):
    server = listener(port)
    # One outgoing connection, to itself: what the program's dialing sockets become.
    dialer = socket.create_connection(server.getsockname()[:2], timeout=10)
    accepted, _ = server.accept()
    dialer_protocol = protocol(dialer)
    dialer.close()
    accepted.close()
    facts = {
        "listener": protocol(server),
        "dialer": dialer_protocol,
        "ld_preload": os.environ.get("LD_PRELOAD", ""),
        "godebug": os.environ.get("GODEBUG", ""),
        "mptcpize": os.environ.get("MPTCPIZE", ""),
    }
    write_whole(result, "".join(f"{key}={value}\n" for key, value in facts.items()))
    notify_ready()
    while True:
        conn, _ = server.accept()
        with conn:
            write_whole(f"{result}.accepted", f"{protocol(conn)}\n")
            conn.settimeout(10)
            conn.sendall(receive_all(conn))


def mp_capable_counters():
    """This namespace's MPTcpExt counters (the header line names them, the next holds values)."""
    with open("/proc/net/netstat") as netstat:
        lines = [line.split() for line in netstat if line.startswith("MPTcpExt:")]
    return dict(zip(lines[0][1:], map(int, lines[1][1:]))) if len(lines) == 2 else {}


def connect_retrying(port):
    """The service may still be starting: retry a refused connection for up to 10 s."""
    deadline = time.monotonic() + 10
    while True:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
        sock.settimeout(10)
        try:
            sock.connect(("127.0.0.1", port))
            return sock
        except ConnectionRefusedError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def mptcp_info_ok(sock):
    try:
        sock.getsockopt(SOL_MPTCP, MPTCP_INFO, 256)
        return 1
    except OSError:
        return 0


def client(port, http, path="/"):
    before = mp_capable_counters()
    sock = connect_retrying(port)
    if http:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
        info = mptcp_info_ok(sock)
        reply = receive_all(sock)
        intact = int(reply.startswith(b"HTTP/1.") and reply.endswith(b"\r\n\r\nhello from go"))
    else:
        payload = os.urandom(PAYLOAD_SIZE)
        sock.sendall(payload)
        info = mptcp_info_ok(sock)
        sock.shutdown(socket.SHUT_WR)
        intact = int(receive_all(sock, PAYLOAD_SIZE) == payload)
    sock.close()
    after = mp_capable_counters()
    rose = {name: after.get(name, 0) - before.get(name, 0)
            for name in ("MPCapableSYNRX", "MPCapableSYNACKRX")}
    print(f"intact={intact}")
    print(f"mptcp_info={info}")
    print(f"syn_rx={rose['MPCapableSYNRX']}")
    print(f"synack_rx={rose['MPCapableSYNACKRX']}")


def main(args):
    if args[:1] == ["serve"] and len(args) == 3:
        serve(args[1], int(args[2]))
    elif args[:1] == ["client"] and len(args) in (2, 3) and args[2:] in ([], ["http"]):
        client(int(args[1]), args[2:] == ["http"])
    elif args[:1] == ["client"] and len(args) == 4 and args[2] == "http":
        client(int(args[1]), True, args[3])
    else:
        sys.exit(__doc__)


main(sys.argv[1:])
