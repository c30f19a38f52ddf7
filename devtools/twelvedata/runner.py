"""Running the emulator on a background thread, for tests and other synchronous code.

The emulator lives on its own asyncio loop in a daemon thread; every control call is
marshalled onto that loop and waited for, so calls from any thread are safe and, once a
call returns, its price events have been written to the subscribers' sockets.
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Self, TypeVar

from devtools.background import ServerThread

from .market import Tick
from .server import Emulator, EmulatorConfig

T = TypeVar("T")


class EmulatorHandle:
    """A started emulator on a background thread, with a blocking control API."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.emulator = Emulator(config)
        self._thread = ServerThread(self.emulator, name="twelvedata-emulator")

    def start(self) -> Self:
        """Binds the port and starts serving; raises if the server could not start."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Closes the stream connections and the port, then ends the thread."""
        self._thread.stop()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._thread.call(coroutine)

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
