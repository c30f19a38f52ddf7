"""Running the emulator on a background thread, for tests and other synchronous code.

The emulator lives on its own asyncio loop in a daemon thread; every control call is
marshalled onto that loop and waited for, so calls from any thread are safe and, once a
call returns, its price events have been written to the subscribers' sockets.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Self, TypeVar

from .market import Tick
from .server import Emulator, EmulatorConfig

T = TypeVar("T")

# Control calls are local and quick; a stuck loop should fail a test, not hang it.
CALL_TIMEOUT_S = 10.0


class EmulatorHandle:
    """A started emulator on a background thread, with a blocking control API."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.emulator = Emulator(config)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._serve, name="twelvedata-emulator", daemon=True
        )
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
            self._loop.run_until_complete(self.emulator.start())
        except BaseException as error:  # handed to start() on the caller's thread
            self._startup_error = error
            self._loop.close()
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    def stop(self) -> None:
        """Closes the stream connections and the port, then ends the thread."""
        if not self._loop.is_running():
            return
        self._call(self.emulator.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CALL_TIMEOUT_S)

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(CALL_TIMEOUT_S)

    # -- where it listens ------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self.emulator.port

    @property
    def apikey(self) -> str:
        return self.emulator.config.apikey

    @property
    def base_url(self) -> str:
        """For ``TDClient(apikey=handle.apikey, base_url=handle.base_url)``."""
        return self.emulator.base_url

    @property
    def ws_url(self) -> str:
        """For ``ws = td.websocket(...); ws.url = handle.ws_url`` (the key is included)."""
        return self.emulator.ws_url

    # -- control ---------------------------------------------------------------------------

    def set_price(self, symbol: str, price: Decimal | str, bid: Decimal | str | None = None,
                  ask: Decimal | str | None = None, day_volume: int | None = None) -> Tick:
        """Forces a price (rounded to the symbol's decimals) and pushes it to subscribers."""
        return self._call(self.emulator.set_price(symbol, price, bid, ask, day_volume))

    def tick(self, symbol: str) -> Tick:
        """The symbol's live price, bid, ask and day volume."""

        async def read() -> Tick:
            return self.emulator.market.tick(symbol)

        return self._call(read())

    def step(self, count: int = 1) -> list[Tick]:
        """Runs ``count`` random-walk steps now, even while paused; returns the last ticks."""
        return self._call(self.emulator.step(count))

    def pause(self) -> None:
        self._call(self.emulator.pause())

    def resume(self) -> None:
        self._call(self.emulator.resume())

    def drop_websockets(self) -> int:
        """Closes every stream connection (code 1001); returns how many were open."""
        return self._call(self.emulator.drop_websockets())

    def stats(self) -> dict[str, Any]:
        return self._call(self.emulator.stats())


@contextmanager
def running_emulator(**options: Any) -> Iterator[EmulatorHandle]:
    """``with running_emulator(paused=True) as td: ...``; options are EmulatorConfig's."""
    handle = EmulatorHandle(EmulatorConfig(**options)).start()
    try:
        yield handle
    finally:
        handle.stop()
