"""Value types of the matching core: enums, events, the market spec.

Everything here is plain data. An event is a plain tuple ``(Kind, seq, *fields)``: ``Kind``
is one of the ``NamedTuple`` classes below (``Accepted`` ... ``BookChanged``), which name and
document the fields, and ``event[1:]`` holds exactly that class's fields in declaration order
(so ``event[1]`` is always ``seq`` and field ``f`` sits at ``field_index(Kind, f)``). Plain
tuples are what the engine can build cheapest in the hot path (a tuple subclass instance
costs several times as much in CPython); they compare by value, kind included, and
``named_event`` turns one into its ``NamedTuple`` when names are wanted (``raw_event`` is the
inverse). Dispatch on the kind by identity: ``if event[0] is Trade: ...``.
"""

from __future__ import annotations

from collections.abc import Hashable
from decimal import Decimal, localcontext
from enum import IntEnum
from typing import Any, NamedTuple

__all__ = [
    "Accepted",
    "BookChanged",
    "CancelReason",
    "Cancelled",
    "CrossedBookError",
    "DepthSnapshot",
    "Event",
    "InternalStateError",
    "EventKind",
    "MarketSpec",
    "NamedEvent",
    "OrderType",
    "OrderView",
    "PrecisionError",
    "RejectReason",
    "Rejected",
    "Reduced",
    "Replaced",
    "RestingOrder",
    "Side",
    "StpMode",
    "Trade",
    "field_index",
    "named_event",
    "raw_event",
    "trade_id",
]


class Side(IntEnum):
    BUY = 0
    SELL = 1


class OrderType(IntEnum):
    """How an order meets the book (see the module docstring of ``apps.matching.book``)."""

    LIMIT = 0  # good till cancelled: match, rest the remainder
    IOC = 1  # limit, immediate or cancel: match, cancel the remainder
    FOK = 2  # limit, fill or kill: fill all at once or be rejected untouched
    POST_ONLY = 3  # limit that must not take: rejected if it would cross
    MARKET = 4  # no price: match by quantity or (buy only) by quote budget, cancel the rest


class StpMode(IntEnum):
    """Self-trade prevention: what happens when a taker meets a maker of the same owner."""

    NONE = 0  # the orders trade with each other
    CANCEL_TAKER = 1  # the taker's remainder is cancelled; the maker stays
    CANCEL_MAKER = 2  # the maker is cancelled; the taker goes on matching
    CANCEL_BOTH = 3  # both are cancelled


class RejectReason(IntEnum):
    INVALID_QUANTITY = 1
    INVALID_PRICE = 2
    INVALID_BUDGET = 3
    DUPLICATE_ORDER_ID = 4
    UNKNOWN_ORDER = 5
    POST_ONLY_WOULD_CROSS = 6
    FOK_NOT_FILLABLE = 7


class CancelReason(IntEnum):
    USER = 1  # cancel command
    UNFILLED = 2  # remainder of an IOC or market order that found no more liquidity
    SELF_TRADE = 3  # self-trade prevention removed this order (maker or taker)


class Accepted(NamedTuple):
    """A place command passed validation; the order is now matching (and perhaps resting)."""

    seq: int
    order_id: Hashable
    owner: Hashable
    side: Side
    order_type: OrderType
    price: int | None  # ticks; None for market orders
    qty: int | None  # lots; None for a market buy by quote budget
    quote_budget: int | None  # quote units (ticks * lots); only for a market buy by budget


class Rejected(NamedTuple):
    """A command changed nothing (apart from the sequence number this event took)."""

    seq: int
    order_id: Hashable
    reason: RejectReason


class Trade(NamedTuple):
    """One fill between a resting maker and an incoming taker, at the maker's price."""

    seq: int
    market_id: str
    maker_order_id: Hashable
    taker_order_id: Hashable
    maker_owner: Hashable
    taker_owner: Hashable
    maker_side: Side
    price: int
    qty: int

    @property
    def trade_id(self) -> str:
        """Unique per market and stable across replays: ``"<market_id>:<seq>"``."""
        return f"{self.market_id}:{self.seq}"


class Cancelled(NamedTuple):
    """``qty`` lots of ``order_id`` left the book or were never filled; the order is done.

    A market buy by quote budget reports ``qty=0``: its unspent budget is its budget minus the
    quote value of its trades.
    """

    seq: int
    order_id: Hashable
    qty: int
    reason: CancelReason


class Reduced(NamedTuple):
    """A resting order's open quantity went down by ``qty`` to ``new_qty``; priority kept."""

    seq: int
    order_id: Hashable
    qty: int
    new_qty: int


class Replaced(NamedTuple):
    """A resting order moved to ``new_price`` and lost its time priority."""

    seq: int
    order_id: Hashable
    old_price: int
    new_price: int
    qty: int


class BookChanged(NamedTuple):
    """L2: the total open quantity at (side, price) is now ``qty`` (0 = the level is gone)."""

    seq: int
    side: Side
    price: int
    qty: int


NamedEvent = Accepted | Rejected | Trade | Cancelled | Reduced | Replaced | BookChanged
EventKind = (
    type[Accepted] | type[Rejected] | type[Trade] | type[Cancelled] | type[Reduced]
    | type[Replaced] | type[BookChanged]
)
# What the engine emits: ``(Kind, seq, *fields)`` with ``Kind`` one of the classes above.
Event = tuple[Any, ...]


def named_event(event: Event) -> NamedEvent:
    """The ``NamedTuple`` view of an emitted event: ``(Trade, 8, ...)`` -> ``Trade(8, ...)``."""
    kind = event[0]
    if len(event) != len(kind._fields) + 1:
        raise ValueError(f"{kind.__name__} event needs {len(kind._fields)} fields: {event!r}")
    return tuple.__new__(kind, event[1:])


def raw_event(named: NamedEvent) -> Event:
    """The emitted form of a ``NamedTuple`` event: ``Trade(8, ...)`` -> ``(Trade, 8, ...)``."""
    return (type(named), *named)


def field_index(kind: EventKind, name: str) -> int:
    """Where field ``name`` of ``kind`` sits in an emitted event (``seq`` is always 1)."""
    return kind._fields.index(name) + 1


def trade_id(event: Event | Trade) -> str:
    """A trade's id, unique per market and stable across replays: ``"<market_id>:<seq>"``."""
    trade = event if type(event) is Trade else named_event(event)
    if type(trade) is not Trade:
        raise TypeError(f"not a trade event: {event!r}")
    return trade.trade_id


class OrderView(NamedTuple):
    """A resting order as seen from outside the book."""

    order_id: Hashable
    owner: Hashable
    side: Side
    price: int
    qty: int
    stp: StpMode | None  # None: the market default applies
    post_only: bool


class RestingOrder(NamedTuple):
    """An open order handed to ``OrderBook.rebuild`` (in time priority order)."""

    order_id: Hashable
    owner: Hashable
    side: Side
    price: int
    qty: int
    stp: StpMode | None = None
    post_only: bool = False


class DepthSnapshot(NamedTuple):
    """Top-N L2 levels, best first, with a CRC32 over their canonical text (see ``checksum``)."""

    seq: int
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]
    checksum: int


class PrecisionError(ValueError):
    """A Decimal amount is not an exact positive multiple of the market's increment."""


class CrossedBookError(ValueError):
    """Rebuilding would leave the best bid at or above the best ask (or the orders are bad)."""


class InternalStateError(RuntimeError):
    """``validate_internal_state`` found a broken invariant: the book must not be used."""


def _units(amount: Decimal | int, step: Decimal, what: str) -> int:
    # Exact division only: an amount that needs rounding is a client error, never a fill.
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise PrecisionError(f"{what} must be a Decimal, not {type(amount).__name__}")
    amount = Decimal(amount)
    if not amount.is_finite() or amount <= 0:
        raise PrecisionError(f"{what} must be a finite positive amount, got {amount}")
    # Enough digits that a 36-digit amount over an 18-decimal step divides exactly.
    with localcontext() as ctx:
        ctx.prec = 80
        units, rest = divmod(amount, step)
    if rest != 0:
        raise PrecisionError(f"{what} {amount} is not a multiple of {step}")
    return int(units)


class MarketSpec(NamedTuple):
    """One market's identity and increments; converts Decimal amounts to and from integers.

    ``tick_size`` is the price increment, ``lot_size`` the quantity increment; a quote unit is
    ``tick_size * lot_size``, the value of one lot at one tick. Conversions never round: an
    amount that is not an exact positive multiple raises ``PrecisionError``.
    """

    market_id: str
    tick_size: Decimal
    lot_size: Decimal
    stp_default: StpMode = StpMode.CANCEL_TAKER

    def validate(self) -> None:
        for name in ("tick_size", "lot_size"):
            step = getattr(self, name)
            if not isinstance(step, Decimal) or not step.is_finite() or step <= 0:
                raise ValueError(f"{name} must be a positive finite Decimal, got {step!r}")
        if not isinstance(self.market_id, str) or not self.market_id:
            raise ValueError("market_id must be a non-empty string")
        StpMode(self.stp_default)

    @property
    def quote_unit(self) -> Decimal:
        return self.tick_size * self.lot_size

    def to_ticks(self, price: Decimal) -> int:
        return _units(price, self.tick_size, "price")

    def to_lots(self, qty: Decimal) -> int:
        return _units(qty, self.lot_size, "quantity")

    def to_quote_units(self, amount: Decimal) -> int:
        return _units(amount, self.quote_unit, "quote amount")

    def price(self, ticks: int) -> Decimal:
        return self.tick_size * ticks

    def qty(self, lots: int) -> Decimal:
        return self.lot_size * lots

    def quote(self, units: int) -> Decimal:
        return self.quote_unit * units
