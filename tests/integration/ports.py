"""Ports for the processes a test starts to listen on.

A port found free and released is free only until someone else binds it, and two kinds of
someone run beside a test here: the other test processes (`ctest -j`), and every outgoing
connection on the machine, which takes its local port from the kernel's ephemeral range.
So ports are picked below that range, and each pick is held, for the life of the process
that made it, by a lock file no other test process can take.
"""
import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path

LOCK_DIR = Path(tempfile.gettempdir()) / "weir-test-ports"
LOWEST = 10000


def _ephemeral_low():
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_held = []  # the lock files of this process's picks, released when it exits
_random = random.Random(os.getpid())


def _bindable(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port():
    """A loopback port nothing listens on and no other test process will pick."""
    highest = _ephemeral_low() - 1
    if highest - LOWEST >= 1000:
        for _ in range(1000):
            port = _random.randint(LOWEST, highest)
            try:
                LOCK_DIR.mkdir(exist_ok=True)
                lock = open(LOCK_DIR / str(port), "w")
            except OSError:
                break  # a lock directory this user cannot write: the kernel's pick
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                lock.close()
                continue
            if _bindable(port):
                _held.append(lock)
                return port
            lock.close()
    # No lock directory, or an ephemeral range that leaves no room below it: the kernel's
    # pick.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
