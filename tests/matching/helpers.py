"""Shared test plumbing: a market, a differential driver and event bookkeeping."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from apps.matching import (
    Accepted,
    BookChanged,
    Cancelled,
    MarketSpec,
    OrderBook,
    Reduced,
    Rejected,
    Replaced,
    StpMode,
    Trade,
    named_event,
    raw_event,
)
from tests.matching.reference_book import ReferenceBook

EVENT_KINDS = (Accepted, Rejected, Trade, Cancelled, Reduced, Replaced, BookChanged)


def spec(stp_default: StpMode = StpMode.CANCEL_TAKER, market_id: str = "T-USD") -> MarketSpec:
    return MarketSpec(market_id, Decimal("0.01"), Decimal("0.001"), stp_default)


def typed(events: Iterable[Any]) -> list[tuple[str, tuple]]:
    """Emitted events as (kind name, fields): readable in a failed assertion's diff."""
    return [(e[0].__name__, e[1:]) for e in events]


def assert_emitted_form(events: Iterable[Any]) -> None:
    """Each event is a plain tuple (Kind, seq, *fields) with exactly Kind's fields."""
    for e in events:
        assert type(e) is tuple and e[0] in EVENT_KINDS, e
        assert len(e) == len(e[0]._fields) + 1, e
        assert raw_event(named_event(e)) == e


class Twin:
    """Runs every command on the fast book and the reference and insists they agree.

    Both emit plain tuples ``(Kind, seq, *fields)``; ``do`` compares those exactly (kind
    included) and hands the tests the ``NamedTuple`` views, which read better.
    """

    def __init__(self, market: MarketSpec) -> None:
        self.fast = OrderBook(market)
        self.ref = ReferenceBook(market)
        self.events: list[Any] = []

    def do(self, command: str, **kwargs: Any) -> list[Any]:
        got = getattr(self.fast, command)(**kwargs)
        want = getattr(self.ref, command)(**kwargs)
        assert typed(got) == typed(want), (command, kwargs)
        assert_emitted_form(got)
        named = [named_event(e) for e in got]
        self.events.extend(named)
        return named

    def check_books(self, *, validate: bool = True) -> None:
        if validate:
            self.fast.validate_internal_state()
        assert list(self.fast.open_orders()) == list(self.ref.open_orders())
        assert self.fast.depth(levels=25) == self.ref.depth(levels=25)
        assert self.fast.best_bid() == self.ref.best_bid()
        assert self.fast.best_ask() == self.ref.best_ask()
        assert self.fast.seq == self.ref.seq
        assert len(self.fast) == len(self.ref)


def conservation(events: Iterable[Any], resting_lots: int) -> tuple[int, int]:
    """(lots placed, lots filled + cancelled + reduced + resting), summed over orders.

    Every trade fills two orders by its quantity, the maker and the taker. A market buy by
    quote budget has no placed quantity: what it fills is what it placed.
    """
    placed = filled = cancelled = 0
    budget_orders: set[Any] = set()
    for e in events:
        kind = type(e)
        if kind is Accepted:
            # Ids are unique among open orders only: a later order may reuse a budget's id.
            if e.qty is None:
                budget_orders.add(e.order_id)
            else:
                budget_orders.discard(e.order_id)
                placed += e.qty
        elif kind is Trade:
            filled += 2 * e.qty
            if e.taker_order_id in budget_orders:
                placed += e.qty
        elif kind is Cancelled or kind is Reduced:
            cancelled += e.qty
    return placed, filled + cancelled + resting_lots


def assert_gapless(events: Iterable[Any], start: int = 1) -> None:
    seqs = [e.seq for e in events]
    assert seqs == list(range(start, start + len(seqs)))
