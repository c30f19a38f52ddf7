"""An emulator's asyncio server on a daemon thread, for tests and other synchronous code.

The server lives on its own event loop in that thread; ``call`` marshals a coroutine onto
the loop and waits for it, so a control call from any thread is safe and, once it returns,
what it did is done on the loop.
"""
from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Coroutine
from typing import Any, Protocol, Self, TypeVar

T = TypeVar("T")

# Control calls are local and quick; a stuck loop should fail a test, not hang it.
CALL_TIMEOUT_S = 10.0


class Server(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ServerThread:
    """``server`` started on a background loop by ``start()``, stopped by ``stop()``."""

    def __init__(self, server: Server, *, name: str) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    def start(self) -> Self:
        """Starts the server (binding its port); raises if it could not start."""
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
        """Stops the server, then the loop and the thread (once; later calls do nothing)."""
        if not self._loop.is_running():
            return
        self.call(self.server.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CALL_TIMEOUT_S)

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Runs ``coroutine`` on the server's loop and returns its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(CALL_TIMEOUT_S)


async def serve_until_signalled(server: Server) -> None:
    """``python -m devtools.<emulator>``: starts ``server`` on the running loop, serves until
    SIGINT or SIGTERM, then stops it."""
    await server.start()
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    await stopped.wait()
    await server.stop()
