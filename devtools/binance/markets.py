"""The emulator's listings: spot symbols with Binance's filters, and USDT perpetuals.

A spot symbol's filters are what ``exchangeInfo`` serves and what order placement enforces
(PRICE_FILTER, LOT_SIZE, NOTIONAL); the perpetuals are only listed (``/fapi/v1/exchangeInfo``),
so that ``load_markets`` with the ``linear`` type finds them. No trading happens on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")


@dataclass(frozen=True)
class SpotSymbol:
    """One spot pair and its trading rules (Binance's filter values, as Decimals)."""

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    initial_price: Decimal
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal("1000000")
    max_notional: Decimal = Decimal("9000000")
    base_precision: int = 8
    quote_precision: int = 8
    status: str = "TRADING"
    order_types: tuple[str, ...] = ORDER_TYPES


@dataclass(frozen=True)
class Perpetual:
    """A USDT-margined perpetual contract as ``/fapi/v1/exchangeInfo`` lists it."""

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    price_precision: int
    quantity_precision: int


def default_spot() -> tuple[SpotSymbol, ...]:
    """BTC, ETH, SOL and BNB against USDT, with filters like the real listings'."""
    return (
        SpotSymbol("BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"),
                   Decimal("0.00001"), Decimal("9000"), Decimal("5"), Decimal("60000.00")),
        SpotSymbol("ETHUSDT", "ETH", "USDT", Decimal("0.01"), Decimal("0.0001"),
                   Decimal("0.0001"), Decimal("9000"), Decimal("5"), Decimal("3000.00")),
        SpotSymbol("SOLUSDT", "SOL", "USDT", Decimal("0.01"), Decimal("0.001"),
                   Decimal("0.001"), Decimal("90000"), Decimal("5"), Decimal("150.00")),
        SpotSymbol("BNBUSDT", "BNB", "USDT", Decimal("0.01"), Decimal("0.001"),
                   Decimal("0.001"), Decimal("90000"), Decimal("5"), Decimal("600.00")),
    )


def default_perpetuals() -> tuple[Perpetual, ...]:
    """The USDT perpetuals of the spot bases (``BTC/USDT:USDT`` and so on in ccxt)."""
    return (
        Perpetual("BTCUSDT", "BTC", "USDT", Decimal("0.10"), Decimal("0.001"),
                  Decimal("0.001"), Decimal("1000"), Decimal("100"), 2, 3),
        Perpetual("ETHUSDT", "ETH", "USDT", Decimal("0.01"), Decimal("0.001"),
                  Decimal("0.001"), Decimal("10000"), Decimal("20"), 2, 3),
        Perpetual("SOLUSDT", "SOL", "USDT", Decimal("0.0100"), Decimal("1"),
                  Decimal("1"), Decimal("1000000"), Decimal("5"), 4, 0),
    )


def default_balances() -> dict[str, Decimal]:
    """The omnibus account's opening balances: ample quote, some of each base."""
    return {"USDT": Decimal("1000000"), "BTC": Decimal("10"), "ETH": Decimal("100"),
            "SOL": Decimal("1000"), "BNB": Decimal("100")}
