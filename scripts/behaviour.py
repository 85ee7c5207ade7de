#!/usr/bin/env python3
"""What a program sees of a connection, over TCP and over MPTCP: the kernel's behaviour table.

usage: behaviour.py [--bound SECONDS] [--only NAME]...

Runs each scenario below twice in this network namespace (loopback at MTU 1500, a veth pair for
the peer that vanishes), once with IPPROTO_TCP sockets and once with IPPROTO_MPTCP ones, and
prints one row per scenario: what the program saw over TCP, and over MPTCP. What it sees is
written as classes that hold on a fast host and under emulation alike:
- a transfer of 384 KiB: over TCP "done" within the bound; over MPTCP "as TCP" (within four
  times TCP's time and one second more) or "slow" (later, or not within the bound); the times
  go to stderr;
- an error: its errno name and "at once" (within the first second) or "late", or "none" (no
  error within the bound); a read: "EOF", "data", an errno, or "blocks" (nothing within it).
Each scenario is bounded (--bound, default 5 s); no loop runs without a count and a deadline.
All of them run at once, each on ports and addresses of its own, so a run takes about one bound.
scripts/behaviour-table.sh writes docs/behaviour/<series>.txt from it and checks it.
Needs root (ip, for the veth pair) in a private network namespace: unshare -n.
"""
import argparse
import errno
import os
import socket
import subprocess
import sys
import threading
import time

IPPROTO_MPTCP = 262
BUFFER = 4096  # the small buffer, as set by the asyncio test that found the stall
TRANSFER = 384 * 1024  # bytes per transfer
CHUNK = 1024  # bytes per write when writing to a closed peer
# The veth pair of the peer that vanishes: our end and the peer's, in this namespace.
NEAR = "10.231.0.1"


def far_address(scenario, proto):
    """The address of a peer that vanishes, one per scenario and protocol (all run at once)."""
    return f"10.231.{1 if proto == IPPROTO_MPTCP else 2}.{scenario}"


def error_name(number):
    return errno.errorcode.get(number, str(number))


class Pair:
    """A listener, a connected client and the accepted connection, of one protocol."""

    def __init__(self, proto, before=None, host="127.0.0.1", bind=None, after_listen=None):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
        if before:
            before(self.listener, "listener")
        self.listener.bind((host, 0))
        self.listener.listen()
        if after_listen:
            after_listen(self.listener)
        self.port = self.listener.getsockname()[1]
        self.client = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
        if before:
            before(self.client, "client")
        if bind:
            self.client.bind((bind, 0))
        self.client.connect((host, self.port))
        self.server, _ = self.listener.accept()

    def close(self):
        for sock in (self.client, self.server, self.listener):
            try:
                sock.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()


def on_a_pair(action, **pair_options):
    """A scenario: `action(pair, bound)` on a fresh connection of the protocol, closed after."""

    def run(proto, bound):
        with Pair(proto, **pair_options) as pair:
            return action(pair, bound)

    return run


def set_buffer(option, which):
    """A `before` hook that sets `option` to BUFFER on the sockets named in `which`."""

    def before(sock, name):
        if name in which:
            sock.setsockopt(socket.SOL_SOCKET, option, BUFFER)

    return before


def transfer(proto, bound, before=None, after=None, sender="client", how="send", after_listen=None):
    """Seconds to move TRANSFER bytes from `sender` to the other end, or None past the bound."""
    with Pair(proto, before, after_listen=after_listen) as pair:
        if after:
            after(pair)
        source = pair.client if sender == "client" else pair.server
        sink = pair.server if sender == "client" else pair.client
        payload = os.urandom(TRANSFER)
        got = bytearray()
        started = time.monotonic()
        sink.settimeout(bound)

        def send():
            try:
                send_with(source, payload, how)
                source.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        thread = threading.Thread(target=send, daemon=True)
        thread.start()
        deadline = started + bound
        for _ in range(TRANSFER):  # bounded: every pass receives at least one byte
            if len(got) >= TRANSFER or time.monotonic() > deadline:
                break
            try:
                chunk = sink.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            got += chunk
        elapsed = time.monotonic() - started
        if len(got) != TRANSFER:
            return None
        if bytes(got) != payload:
            raise SystemExit("behaviour.py: a transfer delivered other bytes than were sent")
        return elapsed


def send_with(sock, payload, how):
    """Sends all of `payload` the way a program would: send, sendfile, splice or writev."""
    if how == "send":
        sock.sendall(payload)
    elif how == "writev":
        view = memoryview(payload)
        while view:
            sent = sock.sendmsg([view[:16384], view[16384:32768]])
            view = view[sent:]
    elif how in ("sendfile", "splice"):
        read_end, write_end = os.pipe()
        path = f"/tmp/behaviour-{os.getpid()}-{threading.get_ident()}"
        try:
            if how == "sendfile":
                with open(path, "wb") as file:
                    file.write(payload)
                with open(path, "rb") as file:
                    offset = 0
                    while offset < len(payload):
                        offset += os.sendfile(sock.fileno(), file.fileno(), offset, len(payload) - offset)
            else:
                offset = 0
                while offset < len(payload):
                    piece = payload[offset:offset + 16384]
                    os.write(write_end, piece)
                    moved = 0
                    while moved < len(piece):
                        moved += os.splice(read_end, sock.fileno(), len(piece) - moved)
                    offset += len(piece)
        finally:
            os.close(read_end)
            os.close(write_end)
            if os.path.exists(path):
                os.unlink(path)


def write_until_error(sock, bound):
    """Writes CHUNK bytes at a time until one fails: (errno name or None, seconds)."""
    sock.settimeout(0.2)
    started = time.monotonic()
    for _ in range(1_000_000):
        if time.monotonic() - started > bound:
            break
        try:
            sock.send(b"w" * CHUNK)
        except OSError as error:
            if error.errno is None:  # our own timeout (the kernel's ETIMEDOUT has its errno)
                continue  # the peer's window is full: keep trying until the bound
            return error_name(error.errno), time.monotonic() - started
    return None, bound


def read_outcome(sock, bound):
    """What one read sees within the bound: EOF, data, an errno name, or blocks."""
    sock.settimeout(bound)
    started = time.monotonic()
    try:
        data = sock.recv(65536)
    except OSError as error:
        if error.errno is None:  # our own timeout (the kernel's ETIMEDOUT has its errno)
            return "blocks", bound
        return error_name(error.errno), time.monotonic() - started
    return ("data" if data else "EOF"), time.monotonic() - started


def when(seconds):
    return "at once" if seconds <= 1.0 else "late"


def error_row(outcome):
    name, seconds = outcome
    if name is None:
        return "none"
    if name in ("blocks", "EOF", "data"):
        return name if name == "blocks" else f"{name} {when(seconds)}"
    return f"{name} {when(seconds)}"


# Scenarios: name -> function(proto, bound) -> the class the program saw.

def closed_peer(unread):
    """The server accepts and closes; the client writes until an error (`unread`: who holds
    data nobody read when the server closes)."""

    def action(pair, bound):
        if unread == "server":
            pair.client.sendall(b"u" * CHUNK)
        if unread == "client":
            pair.server.sendall(b"u" * CHUNK)
        time.sleep(0.1)
        pair.server.close()
        time.sleep(0.1)
        return error_row(write_until_error(pair.client, bound))

    return on_a_pair(action)


def shutdown_row(how, then):
    """The server shuts down `how`; the client then reads or writes."""

    def action(pair, bound):
        pair.server.shutdown(how)
        time.sleep(0.1)
        if then == "read":
            return error_row(read_outcome(pair.client, bound))
        return error_row(write_until_error(pair.client, bound))

    return on_a_pair(action)


def own_shutdown_row(how):
    """The client shuts down `how` and then writes: its own error."""

    def action(pair, bound):
        pair.client.shutdown(how)
        name, seconds = write_until_error(pair.client, min(bound, 1.0))
        return error_row((name, seconds)) if name else "write accepted"

    return on_a_pair(action)


def linger_row(seconds):
    """The server sets SO_LINGER {1, seconds} and closes; the client reads."""

    def action(pair, bound):
        linger = (1).to_bytes(4, sys.byteorder) + seconds.to_bytes(4, sys.byteorder)
        pair.server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        pair.server.close()
        return error_row(read_outcome(pair.client, bound))

    return on_a_pair(action)


def vanished_row(keepalive, then, scenario):
    """The peer vanishes: its address (see `far_address`) leaves the veth pair, so what the client sends goes
    out bh0 towards an address nobody answers for (dropped silently), and the peer can send
    nothing; the client then reads (or writes) with or without keepalive (1 s idle, 1 s
    interval, 2 probes)."""

    def run(proto, bound):
        far = far_address(scenario, proto)
        added = subprocess.run(["ip", "addr", "add", f"{far}/32", "dev", "bh0"], capture_output=True)
        if added.returncode != 0:
            return "no veth"
        try:
            def before(sock, name):
                if name == "client" and keepalive:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)

            with Pair(proto, before, host=far, bind=NEAR) as pair:
                subprocess.run(["ip", "addr", "del", f"{far}/32", "dev", "bh0"], capture_output=True)
                if then == "read":
                    return error_row(read_outcome(pair.client, bound))
                return error_row(write_until_error(pair.client, bound))
        finally:
            subprocess.run(["ip", "addr", "del", f"{far}/32", "dev", "bh0"], capture_output=True)

    return run


def buffer_scenarios():
    """The transfers, each against TCP's time in the same run."""
    rcv, snd = socket.SO_RCVBUF, socket.SO_SNDBUF

    def on_server(option):
        return lambda pair: pair.server.setsockopt(socket.SOL_SOCKET, option, BUFFER)

    def on_client(option):
        return lambda pair: pair.client.setsockopt(socket.SOL_SOCKET, option, BUFFER)

    return [
        ("rcvbuf listener before listen, send", dict(before=set_buffer(rcv, ["listener"]))),
        ("rcvbuf listener before listen, sendfile", dict(before=set_buffer(rcv, ["listener"]), how="sendfile")),
        ("rcvbuf listener before listen, splice", dict(before=set_buffer(rcv, ["listener"]), how="splice")),
        ("rcvbuf listener before listen, writev", dict(before=set_buffer(rcv, ["listener"]), how="writev")),
        ("rcvbuf accepted after accept, send", dict(after=on_server(rcv))),
        ("rcvbuf client before connect, server sends", dict(before=set_buffer(rcv, ["client"]), sender="server")),
        ("rcvbuf client after connect, server sends", dict(after=on_client(rcv), sender="server")),
        ("sndbuf client before connect, send", dict(before=set_buffer(snd, ["client"]))),
        ("sndbuf client after connect, send", dict(after=on_client(snd))),
        ("sndbuf listener before listen, server sends", dict(before=set_buffer(snd, ["listener"]), sender="server")),
        ("sndbuf accepted after accept, server sends", dict(after=on_server(snd), sender="server")),
        # After listen(), before the connection (accepted sockets inherit it), as asyncio's tests do.
        ("rcvbuf listener after listen, send", dict(after_listen=lambda listener: listener.setsockopt(socket.SOL_SOCKET, rcv, BUFFER))),
    ]


def error_scenarios():
    return [
        ("write after the peer closed", closed_peer(None)),
        ("write after the peer closed with data it did not read", closed_peer("server")),
        ("write after the peer closed, our data unread", closed_peer("client")),
        ("read after the peer's shutdown(SHUT_WR)", shutdown_row(socket.SHUT_WR, "read")),
        ("write after the peer's shutdown(SHUT_RD)", shutdown_row(socket.SHUT_RD, "write")),
        ("write after the peer's shutdown(SHUT_RDWR)", shutdown_row(socket.SHUT_RDWR, "write")),
        ("write after our shutdown(SHUT_WR)", own_shutdown_row(socket.SHUT_WR)),
        ("read after the peer's close with SO_LINGER {1,0}", linger_row(0)),
        ("read after the peer vanished, no keepalive", vanished_row(False, "read", 1)),
        ("read after the peer vanished, keepalive 1+1x2 s", vanished_row(True, "read", 2)),
        ("write after the peer vanished, keepalive 1+1x2 s", vanished_row(True, "write", 3)),
    ]


def setup_network():
    subprocess.run(["ip", "link", "set", "lo", "mtu", "1500", "up"], check=True)
    # A veth pair whose far end has no address: what leaves bh0 for a peer's address once that
    # address is gone is dropped silently (nobody answers its neighbour solicitation).
    for command in (
        ["ip", "link", "add", "bh0", "type", "veth", "peer", "name", "bh1"],
        ["ip", "link", "set", "bh0", "up"],
        ["ip", "link", "set", "bh1", "up"],
        ["ip", "addr", "add", f"{NEAR}/16", "dev", "bh0"],
    ):
        subprocess.run(command, capture_output=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bound", type=float, default=5.0, help="seconds each scenario may take")
    parser.add_argument("--only", action="append", default=[], help="run only scenarios containing this text")
    args = parser.parse_args()
    if args.bound <= 0 or args.bound > 600:
        parser.error("--bound must be between 0 and 600 seconds")
    setup_network()
    jobs = []
    for name, options in buffer_scenarios():
        jobs.append((name, lambda proto, options=options: transfer(proto, args.bound, **options), True))
    for name, scenario in error_scenarios():
        jobs.append((name, lambda proto, scenario=scenario: scenario(proto, args.bound), False))
    jobs = [job for job in jobs if not args.only or any(part in job[0] for part in args.only)]
    # Every scenario and protocol at once (each on ports and addresses of its own): the run takes
    # about one bound, not one per scenario.
    results, took = {}, {}
    started = time.monotonic()

    def run(index, proto, scenario):
        begun = time.monotonic()
        try:
            results[index, proto] = scenario(proto)
        except Exception as error:  # a scenario that broke says how, in its row
            results[index, proto] = f"failed: {error}"
        took[index, proto] = time.monotonic() - begun

    threads = [
        threading.Thread(target=run, args=(index, proto, job[1]), daemon=True)
        for index, job in enumerate(jobs)
        for proto in (socket.IPPROTO_TCP, IPPROTO_MPTCP)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(args.bound * 4 + 10)
    print(f"{'# scenario':<56}  {'TCP':<18}  MPTCP")
    for index, (name, _, is_transfer) in enumerate(jobs):
        tcp = results.get((index, socket.IPPROTO_TCP), "unfinished")
        mptcp = results.get((index, IPPROTO_MPTCP), "unfinished")
        if is_transfer:
            tcp, mptcp = transfer_classes(name, tcp, mptcp)
        else:
            times = [took.get((index, proto)) for proto in (socket.IPPROTO_TCP, IPPROTO_MPTCP)]
            print(f"behaviour.py: {name}: TCP {seconds_text(times[0])}, MPTCP {seconds_text(times[1])} (the whole scenario)", file=sys.stderr)
        print(f"{name:<56}  {tcp:<18}  {mptcp}")
    print(f"behaviour.py: {len(jobs)} scenarios in {time.monotonic() - started:.1f} s", file=sys.stderr)


def transfer_classes(name, tcp, mptcp):
    """The classes of a transfer: TCP's is "done" (or "stalled" past the bound); MPTCP's is "as
    TCP" within four times TCP's time and a second more, else "slow" (whether it ended within
    the bound or not: how long a stall lasts varies from run to run). The times go to stderr."""
    print(f"behaviour.py: {name}: TCP {seconds_text(tcp)}, MPTCP {seconds_text(mptcp)}", file=sys.stderr)
    if isinstance(tcp, str) or isinstance(mptcp, str):  # a scenario that failed says so
        return str(tcp), str(mptcp)
    if tcp is None:
        return "stalled", "stalled" if mptcp is None else "done"
    if mptcp is None or mptcp > 4 * tcp + 1.0:
        return "done", "slow"
    return "done", "as TCP"


def seconds_text(seconds):
    return "not done within the bound" if seconds is None else f"{seconds:.3f} s"


if __name__ == "__main__":
    main()
