"""Running the CQL emulator on a background thread, for tests and other synchronous code."""
from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Self

from .server import CqlServer

CALL_TIMEOUT_S = 10.0


class CqlEmulator:
    """A started emulator on its own asyncio loop in a daemon thread; ``clock`` (seconds
    since the epoch) times TTLs and the writes that carry no timestamp."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0,
                 clock: Callable[[], float] = time.time) -> None:
        self.server = CqlServer(host=host, port=port, clock=clock)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="cql-emulator", daemon=True)
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    def start(self) -> Self:
        """Binds the port and starts serving; raises if the server could not start."""
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            raise self._startup_error
        return self

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as error:  # handed to start() on the caller's thread
            self._startup_error = error
            self._loop.close()
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    def stop(self) -> None:
        """Closes the connections and the port, then ends the thread."""
        if not self._loop.is_running():
            return
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(CALL_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CALL_TIMEOUT_S)

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
