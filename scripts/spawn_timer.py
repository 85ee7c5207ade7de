"""scripts/spawn_timer.py N COMMAND [ARG...]: the mean wall-clock milliseconds of one run of
COMMAND over N runs, started with posix_spawn (output to /dev/null) and waited for one at a
time. Any run failing stops it with a message: a figure is only printed for working runs."""
import os
import shutil
import sys
import time

runs = int(sys.argv[1])
argv = sys.argv[2:]
path = shutil.which(argv[0]) or sys.exit(f"spawn_timer.py: {argv[0]}: not found")
null = os.open(os.devnull, os.O_WRONLY)
quiet = [(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)]
start = time.perf_counter()
for _ in range(runs):
    pid = os.posix_spawn(path, argv, os.environ, file_actions=quiet)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        sys.exit(f"spawn_timer.py: {' '.join(argv)}: exit status {os.waitstatus_to_exitcode(status)}")
print("%.4f" % ((time.perf_counter() - start) / runs * 1000))
