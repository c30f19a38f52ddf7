"""The production web command (scripts/web.sh, exchange_platform/web.py): its workers
share the connections that arrive together."""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.streaming.live import free_port

ROOT = Path(__file__).resolve().parent.parent
ESTABLISHED, LISTEN = "01", "0A"


def sockets_on(port: int, state: str) -> set[str]:
    """The inodes of this machine's IPv4 TCP sockets on local ``port`` in ``state``."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
            found.add(fields[9])
    return found


def owner_of(pids: list[int]) -> dict[str, int]:
    """Socket inode -> the process among ``pids`` that holds it."""
    owners = {}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                owners[target[8:-1]] = pid
    return owners


def listening(port: int, workers: list[int]) -> list[int]:
    """The workers holding a listening socket on ``port``, one entry per socket."""
    owners = owner_of(workers)
    return sorted(owners[inode] for inode in sockets_on(port, LISTEN) if inode in owners)


@pytest.fixture
def web():
    """scripts/web.sh with two workers on a free loopback port: (port, worker pids)."""
    port = free_port()
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY="2",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=str(ROOT))
    server = subprocess.Popen(["sh", "scripts/web.sh", "--log-level", "info"], cwd=ROOT,
                              env=env, stderr=subprocess.PIPE, text=True)
    started: list[int] = []
    deadline = time.monotonic() + 120
    try:
        while len(started) < 2:
            line = server.stderr.readline()
            assert line and time.monotonic() < deadline, "the workers did not start"
            started += [int(pid) for pid in re.findall(r"Started server process \[(\d+)\]",
                                                       line)]
        # Read on, so that a full pipe never holds a worker's logging (and the worker).
        threading.Thread(target=server.stderr.read, daemon=True).start()
        yield port, started
    finally:
        server.terminate()
        server.wait(30)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc")
def test_connections_opened_together_are_spread_across_the_workers(web):
    port, workers = web
    # A listening socket of its own in each worker, once each has started listening (a
    # worker says it started before it binds: on a loaded machine the second was late).
    deadline = time.monotonic() + 60
    while listening(port, workers) != sorted(workers):
        assert time.monotonic() < deadline, listening(port, workers)
        time.sleep(0.1)
    # Opened while the workers are busy (stopped here): the kernel queues them, as it
    # does while the workers' event loops run requests, and the workers resume together.
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
    try:
        deadline = time.monotonic() + 30
        while True:  # until the workers accepted them all
            owners = owner_of(workers)
            served = Counter(owners[inode] for inode in sockets_on(port, ESTABLISHED)
                             if inode in owners)
            if sum(served.values()) == 32 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        for client in clients:
            client.close()
    # The kernel hashes each connection to a socket: all 32 on one worker would be a
    # chance of 2 in 2**32, where from one shared socket the first worker to wake took
    # every connection waiting.
    assert sum(served.values()) == 32
    assert set(served) == set(workers), served
