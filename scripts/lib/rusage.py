#!/usr/bin/env python3
"""Run a command and write the CPU time of its whole process tree.

    rusage.py OUT COMMAND [ARG...]

Standard input is /dev/null. OUT gets one line, "utime stime wall" in seconds: the user and
system time of the command and every child it waited for (wait4 rusage), and the wall time.
Exits with the command's exit status. Shared by scripts/bench-engine.sh and
scripts/profile-qd1.sh.
"""
import os
import sys
import time

if len(sys.argv) < 3:
    sys.exit(__doc__)
out, argv = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
pid = os.posix_spawnp(argv[0], argv, os.environ,
                      file_actions=[(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0)])
_, status, ru = os.wait4(pid, 0)
with open(out, "w") as f:
    f.write(f"{ru.ru_utime} {ru.ru_stime} {time.monotonic() - t0}\n")
sys.exit(os.waitstatus_to_exitcode(status))
