"""The pure parts: integer price units, the seeded walk, bar alignment, event encoding."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from decimal import Decimal

import pytest

from devtools.twelvedata import Catalog
from devtools.twelvedata.market import Market, bar_start, history, previous_bar, to_units
from devtools.twelvedata.wire import encode_event, format_units

from .conftest import START


def market(seed: int = 1) -> Market:
    return Market(Catalog(), seed, clock=lambda: START)


def test_prices_round_half_even_to_the_symbols_units() -> None:
    assert to_units("1.123455", 5) == 112346
    assert to_units("1.123445", 5) == 112344
    assert to_units(Decimal("190"), 2) == 19000
    for bad in ("0", "-1", "abc", "NaN"):
        with pytest.raises(ValueError):
            to_units(bad, 2)


def test_set_price_keeps_the_spread_through_the_walk() -> None:
    m = market()

    m.set_price("eur/usd", "1.10000", bid="1.09990", ask="1.10020")
    moved = {t.symbol: t for t in m.step()}["EUR/USD"]

    assert (moved.price - moved.bid, moved.ask - moved.price) == (10, 20)
    with pytest.raises(ValueError):
        m.set_price("EUR/USD", "1.1", bid="1.2", ask="1.1")
    with pytest.raises(KeyError):
        m.set_price("NOPE", "1")


def test_default_spread_is_about_a_basis_point() -> None:
    tick = market().set_price("AAPL", "200.00")

    assert (tick.bid_decimal, tick.ask_decimal) == (Decimal("199.99"), Decimal("200.01"))


def test_the_walk_is_seeded() -> None:
    a, b, c = market(1), market(1), market(2)
    for m in (a, b, c):
        for _ in range(10):
            m.step()

    assert a.ticks() == b.ticks()
    assert a.ticks() != c.ticks()
    # Each step moves a price by at most 5 basis points.
    start = market(1).tick("BTC/USD").price
    assert abs(a.tick("BTC/USD").price - start) <= 10 * start * 5 // 10_000


@pytest.mark.parametrize(("interval", "expected"), [
    ("1min", datetime(2024, 2, 29, 13, 47)),
    ("45min", datetime(2024, 2, 29, 13, 30)),
    ("4h", datetime(2024, 2, 29, 12, 0)),
    ("1day", datetime(2024, 2, 29)),
    ("1week", datetime(2024, 2, 26)),
    ("1month", datetime(2024, 2, 1)),
])
def test_bar_start(interval: str, expected: datetime) -> None:
    assert bar_start(datetime(2024, 2, 29, 13, 47, 59), interval) == expected


def test_previous_month_bar() -> None:
    assert previous_bar(datetime(2024, 3, 1), "1month") == datetime(2024, 2, 1)
    assert previous_bar(datetime(2024, 1, 1), "1month") == datetime(2023, 12, 1)


def test_events_write_decimals_as_exact_json_numbers() -> None:
    text = encode_event({"event": "price", "price": Decimal("1.10000"),
                         "big": Decimal("67250.50"), "day_volume": 12})

    assert text == '{"event":"price","price":1.1,"big":67250.5,"day_volume":12}'
    assert json.loads(text, parse_float=Decimal)["price"] == Decimal("1.1")


def test_a_long_history_of_a_high_price_neither_drifts_nor_explodes() -> None:
    """5000 daily bars of SPX (500000 units): a draw of 16 bits taken modulo a wider range
    only ever moved the walk up, to 10^35 units, which the REST formatter could not even
    round (schemathesis found it as a 502 from /candles)."""
    spx = next(i for i in Catalog().instruments if i.symbol == "SPX")
    close = to_units("5203.58", spx.decimals)
    closes = [bar.close for bar in itertools.islice(
        history(spx, close, "1day", datetime(2026, 12, 1), 42), 5000)]

    assert close // 1000 < min(closes) and max(closes) < close * 1000
    assert format_units(max(closes), spx.decimals, 5)
