"""Running the CQL emulator on a background thread, for tests and other synchronous code."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Self

from devtools.background import ServerThread

from .server import CqlServer, Request


class CqlEmulator:
    """A started emulator on its own asyncio loop in a daemon thread; ``clock`` (seconds
    since the epoch) times TTLs and the writes that carry no timestamp."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0,
                 clock: Callable[[], float] = time.time) -> None:
        self.server = CqlServer(host=host, port=port, clock=clock)
        self._thread = ServerThread(self.server, name="cql-emulator")

    def start(self) -> Self:
        """Binds the port and starts serving; raises if the server could not start."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Closes the connections and the port, then ends the thread."""
        self._thread.stop()

    def requests(self) -> list[Request]:
        """The statements asked for so far (the latest 10,000), oldest first."""

        async def copy() -> list[Request]:
            return list(self.server.requests)

        return self._thread.call(copy())

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port


@contextmanager
def running_emulator(**options: object) -> Iterator[CqlEmulator]:
    """``with running_emulator() as cql: Cluster([cql.host], port=cql.port, ...)``."""
    emulator = CqlEmulator(**options).start()  # type: ignore[arg-type]
    try:
        yield emulator
    finally:
        emulator.stop()
