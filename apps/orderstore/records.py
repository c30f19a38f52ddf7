"""What the internal markets' order store keeps: one order's state, one trade.

Plain frozen values (no Django, no driver): the engine builds them after its trades are
settled in SQL and hands them to ``InternalOrderStore``; the store gives the same values
back. Money and prices are ``Decimal`` (never ``float``), times are aware UTC datetimes.

``OrderRecord.version`` is the engine's command sequence number that produced this state
of the order: it only grows for one order, and the store keeps the state with the highest
version it was given (an older or equal one never replaces it), so a replay or a late
writer is harmless.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from apps.trading.constants import RESTING_STATUSES

# An order "open" in the store is one resting on the engine's book: what a book rebuild
# reads and what a user's open-orders list shows.
OPEN_STATUSES: frozenset[str] = frozenset(RESTING_STATUSES)


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One internal order's state after the engine command ``version``.

    ``market`` is the market's symbol (``"ABC/USDT"``), ``order_id`` the core's
    ``trading.Order`` id (unique per venue); ``price`` is None for a market order;
    ``cost`` and ``fee`` are totals over the order's fills so far.
    """

    venue: str
    market: str
    order_id: int
    user_id: int
    client_order_id: str
    side: str
    type: str
    time_in_force: str
    post_only: bool
    price: Decimal | None
    amount: Decimal
    filled: Decimal
    remaining: Decimal
    cost: Decimal
    fee: Decimal
    fee_currency: str
    status: str
    reason: str
    created_at: datetime
    updated_at: datetime
    version: int

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One engine trade of ``market`` (its symbol).

    ``trade_id`` is the engine's deterministic id, unique per (venue, market); ``seq`` is
    the trade's position in the market's trade sequence (a function of ``trade_id``: a
    replay carries the same one). ``bot`` marks a market-maker bot's trade, so volume
    can leave it out.
    """

    venue: str
    market: str
    trade_id: str
    seq: int
    price: Decimal
    amount: Decimal
    taker_side: str
    maker_order_id: int
    taker_order_id: int
    maker_user_id: int
    taker_user_id: int
    maker_fee: Decimal
    taker_fee: Decimal
    executed_at: datetime
    bot: bool
