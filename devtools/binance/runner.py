"""Running the emulator on a background thread, for tests and other synchronous code.

The emulator lives on its own asyncio loop in a daemon thread; every control call is
marshalled onto that loop and waited for, so calls from any thread are safe and, once a
call returns, its stream events are queued to every subscriber.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, TypeVar

from devtools.background import ServerThread

from . import wire
from .exchange import Fill, Order
from .server import Emulator, EmulatorConfig, Fault, FaultRule

T = TypeVar("T")


class EmulatorHandle(ServerThread):
    """A started emulator on a background thread, with a blocking control API
    (``start()``; ``stop()`` releases withheld answers, closes the streams and the port)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.emulator = Emulator(config)
        super().__init__(self.emulator, name="binance-emulator")

    def _read(self, read: Callable[[], T]) -> T:
        """``read()`` on the emulator's loop, so it sees no half-applied request."""

        async def on_loop() -> T:
            return read()

        return self.call(on_loop())

    # -- where it listens ------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self.emulator.port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:P``: stands for ``https://api.binance.com`` and its siblings."""
        return self.emulator.base_url

    @property
    def ws_url(self) -> str:
        """ccxt.pro's ``urls["api"]["ws"]["spot"]``."""
        return self.emulator.ws_url

    @property
    def ws_api_url(self) -> str:
        """ccxt.pro's ``urls["api"]["ws"]["ws-api"]["spot"]``."""
        return self.emulator.ws_api_url

    @property
    def api_key(self) -> str:
        return self.emulator.config.api_key

    @property
    def api_secret(self) -> str:
        return self.emulator.config.api_secret

    # -- control ---------------------------------------------------------------------------

    def set_book(self, symbol: str, bids: Iterable[Iterable[object]],
                 asks: Iterable[Iterable[object]]) -> None:
        """Replaces the outside levels ``[[price, qty], ...]`` of a symbol (``"BTCUSDT"``);
        resting orders they cross fill at once against them."""
        self.call(self.emulator.set_book(symbol, bids, asks))

    def set_price(self, symbol: str, price: Decimal | str,
                  qty: Decimal | str | None = None) -> None:
        """Prints an outside trade at ``price``: resting orders at or through it fill (up
        to ``qty`` in all; None: entirely) and stop orders at it trigger."""
        self.call(self.emulator.set_price(symbol, price, qty))

    def step(self, count: int = 1) -> None:
        """Runs ``count`` random-walk steps now, even while paused."""
        self.call(self.emulator.step(count))

    def pause(self) -> None:
        self.call(self.emulator.pause())

    def resume(self) -> None:
        self.call(self.emulator.resume())

    def set_balance(self, asset: str, free: Decimal | str) -> None:
        self.call(self.emulator.set_balance(asset, free))

    def inject(self, fault: Fault | str, count: int | None = 1, **options: Any) -> FaultRule:
        """See :meth:`Emulator.inject` (``endpoint``, ``probability``, ``delay``,
        ``status``, ``retry_after``, ``applied``)."""
        return self.call(self.emulator.inject(fault, count, **options))

    def clear_faults(self) -> None:
        self.call(self.emulator.clear_faults())

    def restart_ws(self) -> int:
        """Drops every WebSocket connection and subscription; state stays."""
        return self.call(self.emulator.restart_ws())

    def stats(self) -> dict[str, Any]:
        return self.call(self.emulator.stats())

    # -- assertions ------------------------------------------------------------------------

    def account_balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Each asset's (free, locked)."""
        return self._read(self.emulator.exchange.balances)

    def orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Every order the account ever placed, as ``GET /api/v3/order`` renders it."""
        return self._read(lambda: [wire.order(o) for o in self._orders(symbol)])

    def trades(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Every fill of the account, as ``GET /api/v3/myTrades`` renders it."""
        return self._read(lambda: [wire.my_trade(f) for f in self._fills(symbol)])

    def _orders(self, symbol: str | None) -> list[Order]:
        return [o for o in self.emulator.exchange.orders.values()
                if symbol is None or o.symbol == symbol]

    def _fills(self, symbol: str | None) -> list[Fill]:
        return [f for f in self.emulator.exchange.fills if symbol is None or f.symbol == symbol]

    def book(self, symbol: str) -> dict[str, Any]:
        """The depth as ``GET /api/v3/depth`` renders it (all levels)."""
        return self._read(lambda: wire.depth(self.emulator.exchange.book(symbol), 5000))


@contextmanager
def running_emulator(**options: Any) -> Iterator[EmulatorHandle]:
    """``with running_emulator(paused=True) as binance: ...``; options are EmulatorConfig's."""
    handle = EmulatorHandle(EmulatorConfig(**options)).start()
    try:
        yield handle
    finally:
        handle.stop()
