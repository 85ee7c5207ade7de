"""Test helper: the life of a TCP_USER_TIMEOUT value on one socket, as tests/advisory.rs checks it
with and without the library (`+advisory`). Prints one line of what the program reads: through a
duplicate (libc's dup(), which the library sees; Python's os.dup uses fcntl, which it does not),
after a reset to the default, on a reused descriptor number, in a forked child, after a value TCP
refuses. Run from the test's own network namespace (no traffic)."""
import ctypes
import os
import socket

TCP, USER_TIMEOUT = socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT
libc = ctypes.CDLL(None, use_errno=True)

first = socket.socket()
first.setsockopt(TCP, USER_TIMEOUT, 1234)
duplicate = socket.socket(fileno=libc.dup(first.fileno()))
facts = [f"dup={duplicate.getsockopt(TCP, USER_TIMEOUT)}"]
first.setsockopt(TCP, USER_TIMEOUT, 0)
facts.append(f"reset={first.getsockopt(TCP, USER_TIMEOUT)}")
first.setsockopt(TCP, USER_TIMEOUT, 777)
number = first.fileno()
first.close()
reused = socket.socket()
facts.append(f"reused={int(reused.fileno() == number)} fresh={reused.getsockopt(TCP, USER_TIMEOUT)}")
reused.setsockopt(TCP, USER_TIMEOUT, 555)
read, write = os.pipe()
child = os.fork()
if child == 0:
    os.write(write, str(reused.getsockopt(TCP, USER_TIMEOUT)).encode())
    os._exit(0)
os.waitpid(child, 0)
facts.append(f"child={os.read(read, 32).decode()}")
try:
    reused.setsockopt(TCP, USER_TIMEOUT, -1)
    facts.append("negative_errno=0")
except OSError as error:
    facts.append(f"negative_errno={error.errno}")
facts.append(f"after_negative={reused.getsockopt(TCP, USER_TIMEOUT)}")
facts.append(f"protocol={reused.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)}")
print(" ".join(facts))
