"""Invented, deterministic market data for the emulator.

Prices are integers in each symbol's smallest unit (``decimals`` places: 5 for most forex,
2 for stocks), so the random walk, the spreads and the bars never touch ``float``; they
become ``Decimal`` only when rendered.

* :class:`Market` holds the live state the WebSocket feed and ``/quote``/``/price`` report:
  a seeded random walk per symbol with a bid/ask spread, and a growing day volume.
* :func:`history` invents OHLC bars for ``/time_series`` that end at the live price. Each
  bar's move is a hash of (seed, symbol, interval, bar label), so asking twice gives the same
  history, and the newest bar closes at the current price like the real API's in-progress bar.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from .catalog import Catalog, Instrument

# TwelveData's intervals and their length in minutes. The spec lists ``5h``, while the API's
# own error text lists ``8h``, so both are accepted.
INTERVAL_MINUTES: dict[str, int] = {
    "1min": 1,
    "5min": 5,
    "15min": 15,
    "30min": 30,
    "45min": 45,
    "1h": 60,
    "2h": 120,
    "4h": 240,
    "5h": 300,
    "8h": 480,
    "1day": 1440,
    "1week": 10080,
    "1month": 43200,
}
# Bars of a day or longer are labelled with a date only.
DAILY_MINUTES = 1440


def to_units(value: Decimal | str, decimals: int) -> int:
    """Converts a price to integer units, rounding half-even to the symbol's precision."""
    try:
        quantized = Decimal(value).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_EVEN)
    except InvalidOperation:
        raise ValueError(f"not a price: {value!r}") from None
    if not quantized.is_finite() or quantized <= 0:
        raise ValueError(f"a price must be positive: {value!r}")
    return int(quantized.scaleb(decimals))


def from_units(units: int, decimals: int) -> Decimal:
    """The exact ``Decimal`` value of integer price units."""
    return Decimal(units).scaleb(-decimals)


@dataclass(frozen=True)
class Tick:
    """A symbol's live state, as the price feed reports it (prices in integer units)."""

    symbol: str
    decimals: int
    price: int
    bid: int
    ask: int
    day_volume: int
    timestamp: int

    @property
    def price_decimal(self) -> Decimal:
        return from_units(self.price, self.decimals)

    @property
    def bid_decimal(self) -> Decimal:
        return from_units(self.bid, self.decimals)

    @property
    def ask_decimal(self) -> Decimal:
        return from_units(self.ask, self.decimals)


def default_spread(price: int) -> int:
    """About one basis point of the price, and at least one unit."""
    return max(1, price // 10_000)


class Market:
    """The live prices of every catalog symbol: a seeded random walk with a spread.

    ``step()`` moves every symbol by a few basis points at most, keeping each symbol's
    bid/ask offsets (so a spread set through :meth:`set_price` survives the walk). The
    starting prices are the catalog's reference prices nudged by up to 1%, per seed.
    """

    def __init__(self, catalog: Catalog, seed: int, clock: Callable[[], float]) -> None:
        self.catalog = catalog
        self.seed = seed
        self.clock = clock
        self.steps = 0
        # Reproducible simulation, not secrecy: a seeded PRNG is the point.
        self._rng = random.Random(seed)  # noqa: S311
        self._ticks: dict[str, Tick] = {}
        now = int(clock())
        for instrument in catalog.instruments:
            start = random.Random(f"{seed}:{instrument.symbol}")  # noqa: S311
            reference = to_units(instrument.reference_price, instrument.decimals)
            price = reference + start.randint(-reference // 100, reference // 100)
            spread = default_spread(price)
            self._ticks[instrument.symbol] = Tick(
                symbol=instrument.symbol,
                decimals=instrument.decimals,
                price=price,
                bid=price - spread // 2,
                ask=price - spread // 2 + spread,
                day_volume=instrument.daily_volume * start.randint(20, 60) // 100,
                timestamp=now,
            )

    def tick(self, symbol: str) -> Tick:
        """The live state of a symbol, looked up like the API does (case-insensitive)."""
        instrument = self.catalog.get(symbol)
        if instrument is None:
            raise KeyError(symbol)
        return self._ticks[instrument.symbol]

    def ticks(self) -> list[Tick]:
        return list(self._ticks.values())

    def step(self) -> list[Tick]:
        """Moves every symbol one walk step; returns the new ticks in catalog order."""
        now = int(self.clock())
        self.steps += 1
        for instrument in self.catalog.instruments:
            old = self._ticks[instrument.symbol]
            reach = max(1, old.price * 5 // 10_000)
            price = max(1, old.price + self._rng.randint(-reach, reach))
            traded = instrument.daily_volume // 20_000
            self._ticks[instrument.symbol] = replace(
                old,
                price=price,
                bid=max(1, price - (old.price - old.bid)),
                ask=price + (old.ask - old.price),
                day_volume=old.day_volume + (self._rng.randint(0, traded) if traded else 0),
                timestamp=now,
            )
        return self.ticks()

    def set_price(self, symbol: str, price: Decimal | str, bid: Decimal | str | None = None,
                  ask: Decimal | str | None = None, day_volume: int | None = None) -> Tick:
        """Pins a symbol's price (and optionally its bid/ask and day volume).

        Values are rounded half-even to the symbol's precision. Without ``bid``/``ask`` the
        default one-basis-point spread is put around the price.
        """
        instrument = self.catalog.get(symbol)
        if instrument is None:
            raise KeyError(symbol)
        units = to_units(price, instrument.decimals)
        spread = default_spread(units)
        bid_units = units - spread // 2 if bid is None else to_units(bid, instrument.decimals)
        ask_units = bid_units + spread if ask is None else to_units(ask, instrument.decimals)
        if bid_units > ask_units:
            raise ValueError(f"bid {bid} is above ask {ask}")
        old = self._ticks[instrument.symbol]
        tick = replace(
            old,
            price=units,
            bid=bid_units,
            ask=ask_units,
            day_volume=old.day_volume if day_volume is None else day_volume,
            timestamp=int(self.clock()),
        )
        self._ticks[instrument.symbol] = tick
        return tick


@dataclass(frozen=True)
class Bar:
    """One OHLC bar in integer price units; ``label`` is its start in the display timezone."""

    label: datetime
    open: int
    high: int
    low: int
    close: int
    volume: int


def bar_start(moment: datetime, interval: str) -> datetime:
    """The start of the bar containing ``moment`` (naive wall-clock time of the display zone).

    Intraday bars are aligned to midnight, weeks start on Monday, months on the 1st.
    """
    minutes = INTERVAL_MINUTES[interval]
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "1month":
        return midnight.replace(day=1)
    if interval == "1week":
        return midnight - timedelta(days=midnight.weekday())
    if interval == "1day":
        return midnight
    since_midnight = (moment - midnight) // timedelta(minutes=1)
    return midnight + timedelta(minutes=since_midnight // minutes * minutes)


def previous_bar(start: datetime, interval: str) -> datetime:
    if interval == "1month":
        return (start - timedelta(days=1)).replace(day=1)
    return start - timedelta(minutes=INTERVAL_MINUTES[interval])


def _draws(seed: int, symbol: str, interval: str, label: datetime) -> Iterator[int]:
    """Endless pseudo-random 16-bit draws fixed by the bar's identity."""
    digest = hashlib.blake2b(
        f"{seed}|{symbol}|{interval}|{label.isoformat()}".encode(), digest_size=16
    ).digest()
    while True:
        for i in range(0, len(digest), 2):
            yield int.from_bytes(digest[i:i + 2], "big")
        digest = hashlib.blake2b(digest, digest_size=16).digest()


def _below(draws: Iterator[int], bound: int) -> int:
    """A draw in ``[0, bound)``, joining as many 16-bit draws as ``bound`` needs: one draw
    taken modulo a larger bound could only land in its lowest 65536 values (a walk on a
    high price then only ever rose)."""
    value, span = next(draws), 1 << 16
    while span < bound:
        value, span = value << 16 | next(draws), span << 16
    return value % bound


def history(instrument: Instrument, close: int, interval: str, newest: datetime,
            seed: int) -> Iterator[Bar]:
    """Bars from the one starting at ``newest`` backwards in time, newest first.

    The newest bar closes at ``close`` (the live price); each earlier bar closes where the
    next one opens. A bar moves up to ``5 * sqrt(minutes)`` basis points, like a random walk
    whose one-minute steps are 5 bp, so longer intervals swing proportionally more.
    """
    minutes = INTERVAL_MINUTES[interval]
    reach_bp = math.isqrt(25 * minutes)
    label = newest
    while True:
        draws = _draws(seed, instrument.symbol, interval, label)
        reach = max(1, close * reach_bp // 10_000)
        open_ = max(1, close - (_below(draws, 2 * reach + 1) - reach))
        wick = reach // 2 + 1
        volume = 0
        if instrument.has_volume and instrument.daily_volume:
            # Half to one and a half times the interval's share of a typical day.
            share = 5_000 + next(draws) % 10_000
            volume = instrument.daily_volume * minutes * share // (1440 * 10_000)
        yield Bar(
            label=label,
            open=open_,
            high=max(open_, close) + _below(draws, wick),
            low=max(1, min(open_, close) - _below(draws, wick)),
            close=close,
            volume=volume,
        )
        close = open_
        try:
            label = previous_bar(label, interval)
        except OverflowError:
            return  # walked back past year 1: there is no earlier bar to label
