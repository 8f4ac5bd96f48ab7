"""Child processes that die with the demo, however the demo ends (even ``kill -9``).

The demo stops its children in order on Ctrl-C or SIGTERM. When it cannot
(SIGKILL, a crash), Linux's parent-death signal does it: each child is
started through a tiny launcher that asks the kernel (``prctl(PR_SET_PDEATHSIG,
SIGTERM)``) to send it SIGTERM when its parent dies, then execs the real
program, which keeps that setting. SIGTERM lets Mosquitto save its state and
the gateway stop cleanly. The launcher checks that its parent is still the
demo after the ``prctl``, which closes the race of a demo dying in between.

Limits (see ``prctl(2)``): the signal follows the *thread* that started the
child, so start children from a thread that lives as long as they should; it
is cleared when a child changes its user id (Mosquitto started as root drops
to its ``user`` unless that is root, which the demo sets when run as root).
Elsewhere than Linux the prefix is empty and children outlive a killed demo.
"""

from __future__ import annotations

import os
import sys

__all__ = ["die_with_us"]

_LAUNCHER = """\
import ctypes, os, signal, sys
PR_SET_PDEATHSIG = 1
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
    sys.exit(f"prctl(PR_SET_PDEATHSIG): {os.strerror(ctypes.get_errno())}")
if os.getppid() != int(sys.argv[1]):
    sys.exit("the demo died before its child started")
os.execvp(sys.argv[2], sys.argv[2:])
"""


def die_with_us() -> list[str]:
    """The command prefix that makes a child get SIGTERM when this process dies.

    Prefix a child's argv with it (``[*die_with_us(), program, *args]``); the
    child's pid is the program's (the launcher execs it). Empty off Linux.
    """
    if not sys.platform.startswith("linux"):
        return []
    return [sys.executable, "-c", _LAUNCHER, str(os.getpid())]
