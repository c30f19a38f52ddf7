"""Unit tests of the order book: each order type, STP mode and command, with exact events.

Every scenario runs through ``Twin`` so the reference book agrees on each event as well.
"""

from __future__ import annotations

import subprocess
import sys
import zlib

import pytest

from apps.matching import (
    Accepted,
    BookChanged,
    Cancelled,
    CancelReason,
    CrossedBookError,
    InternalStateError,
    OrderBook,
    OrderType,
    Reduced,
    Rejected,
    RejectReason,
    Replaced,
    RestingOrder,
    Side,
    StpMode,
    Trade,
    depth_checksum,
    field_index,
    named_event,
    raw_event,
    trade_id,
)
from tests.matching.helpers import Twin, spec

BUY, SELL = Side.BUY, Side.SELL


@pytest.fixture
def twin() -> Twin:
    return Twin(spec(StpMode.NONE))


def limit(t: Twin, oid: object, side: Side, price: int, qty: int, owner: object = "x", **kw):
    return t.do("place", order_id=oid, owner=owner, side=side, price=price, qty=qty, **kw)


def trades(events) -> list[tuple]:
    return [(e.maker_order_id, e.taker_order_id, e.price, e.qty) for e in events
            if type(e) is Trade]


def test_limit_rests_and_emits_accepted_then_level(twin: Twin) -> None:
    events = limit(twin, 1, BUY, 100, 5)
    assert events == [
        Accepted(1, 1, "x", BUY, OrderType.LIMIT, 100, 5, None),
        BookChanged(2, BUY, 100, 5),
    ]
    assert twin.fast.best_bid() == 100 and twin.fast.best_ask() is None
    assert twin.fast.order(1).qty == 5
    twin.check_books()


def test_events_are_plain_tuples_led_by_their_kind() -> None:
    book = OrderBook(spec(StpMode.NONE))
    assert book.place(order_id=1, owner="m", side=SELL, price=100, qty=3) == [
        (Accepted, 1, 1, "m", SELL, OrderType.LIMIT, 100, 3, None),
        (BookChanged, 2, SELL, 100, 3),
    ]
    events = book.place(order_id=2, owner="t", side=BUY, price=100, qty=1)
    assert [type(e) for e in events] == [tuple, tuple, tuple]
    assert [e[0] for e in events] == [Accepted, Trade, BookChanged]
    fill = events[1]
    assert fill == (Trade, 4, "T-USD", 1, 2, "m", "t", SELL, 100, 1)
    assert named_event(fill) == Trade(4, "T-USD", 1, 2, "m", "t", SELL, 100, 1)
    assert type(named_event(fill)) is Trade and raw_event(named_event(fill)) == fill
    assert fill[field_index(Trade, "qty")] == 1 and fill[field_index(Trade, "seq")] == 4
    assert trade_id(fill) == trade_id(named_event(fill)) == "T-USD:4"
    with pytest.raises(TypeError):
        trade_id(events[0])
    with pytest.raises(ValueError):
        named_event((Trade, 4, "T-USD"))
    assert book.cancel(order_id=1) == [
        (Cancelled, 6, 1, 2, CancelReason.USER),
        (BookChanged, 7, SELL, 100, 0),
    ]


def test_price_then_time_priority_and_maker_price(twin: Twin) -> None:
    limit(twin, "a", SELL, 101, 2, owner="m1")
    limit(twin, "b", SELL, 100, 2, owner="m2")
    limit(twin, "c", SELL, 100, 2, owner="m3")
    events = limit(twin, "t", BUY, 105, 5, owner="tk")
    assert trades(events) == [("b", "t", 100, 2), ("c", "t", 100, 2), ("a", "t", 101, 1)]
    fill = events[1]
    assert fill == Trade(8, "T-USD", "b", "t", "m2", "tk", SELL, 100, 2)
    assert fill.trade_id == "T-USD:8"
    assert [e for e in events if type(e) is BookChanged] == [
        BookChanged(10, SELL, 100, 0),
        BookChanged(12, SELL, 101, 1),
    ]
    assert twin.fast.best_ask() == 101 and twin.fast.best_bid() is None
    twin.check_books()


def test_limit_remainder_rests_after_sweeping(twin: Twin) -> None:
    limit(twin, 1, SELL, 100, 3)
    events = limit(twin, 2, BUY, 100, 5, owner="y")
    assert events[-1] == BookChanged(events[-1].seq, BUY, 100, 2)
    assert twin.fast.order(2).qty == 2
    twin.check_books()


def test_ioc_cancels_remainder_and_never_rests(twin: Twin) -> None:
    limit(twin, 1, SELL, 100, 3)
    limit(twin, 2, SELL, 102, 3)
    events = limit(twin, 3, BUY, 101, 5, owner="y", order_type=OrderType.IOC)
    assert trades(events) == [(1, 3, 100, 3)]
    assert events[-1] == Cancelled(events[-1].seq, 3, 2, CancelReason.UNFILLED)
    assert 3 not in twin.fast
    twin.check_books()


def test_fok_fills_completely_or_is_rejected_untouched(twin: Twin) -> None:
    limit(twin, 1, SELL, 100, 3)
    limit(twin, 2, SELL, 101, 3)
    before = list(twin.fast.open_orders())
    events = limit(twin, 3, BUY, 101, 7, owner="y", order_type=OrderType.FOK)
    assert [type(e) for e in events] == [Rejected]
    assert events[0].reason is RejectReason.FOK_NOT_FILLABLE
    assert list(twin.fast.open_orders()) == before
    events = limit(twin, 4, BUY, 100, 4, owner="y", order_type=OrderType.FOK)
    assert events[0].reason is RejectReason.FOK_NOT_FILLABLE
    events = limit(twin, 5, BUY, 101, 6, owner="y", order_type=OrderType.FOK)
    assert trades(events) == [(1, 5, 100, 3), (2, 5, 101, 3)]
    assert len(twin.fast) == 0
    twin.check_books()


@pytest.mark.parametrize(
    ("mode", "fillable"),
    [
        (StpMode.NONE, True),
        (StpMode.CANCEL_MAKER, False),
        (StpMode.CANCEL_TAKER, False),
        (StpMode.CANCEL_BOTH, False),
    ],
)
def test_fok_counts_only_what_stp_lets_it_take(twin: Twin, mode: StpMode, fillable: bool) -> None:
    limit(twin, 1, SELL, 100, 2, owner="me")
    limit(twin, 2, SELL, 100, 3, owner="other")
    events = limit(twin, 3, BUY, 100, 5, owner="me", order_type=OrderType.FOK, stp=mode)
    assert (type(events[0]) is Accepted) is fillable
    twin.check_books()


def test_fok_under_cancel_maker_fills_from_others_and_cancels_own(twin: Twin) -> None:
    limit(twin, 1, SELL, 100, 2, owner="me")
    limit(twin, 2, SELL, 100, 3, owner="other")
    events = limit(twin, 3, BUY, 100, 3, owner="me", order_type=OrderType.FOK,
                   stp=StpMode.CANCEL_MAKER)
    assert [type(e) for e in events] == [Accepted, Cancelled, Trade, BookChanged]
    assert trades(events) == [(2, 3, 100, 3)]
    twin.check_books()


def test_post_only_rejected_when_crossing_and_rests_otherwise(twin: Twin) -> None:
    limit(twin, 1, SELL, 100, 3)
    events = limit(twin, 2, BUY, 100, 1, owner="y", order_type=OrderType.POST_ONLY)
    assert events == [Rejected(events[0].seq, 2, RejectReason.POST_ONLY_WOULD_CROSS)]
    events = limit(twin, 3, BUY, 99, 1, owner="y", order_type=OrderType.POST_ONLY)
    assert type(events[0]) is Accepted and twin.fast.order(3).post_only
    # It stays post-only: moving it onto the ask is refused and leaves it where it was.
    events = twin.do("replace", order_id=3, price=100)
    assert events[0].reason is RejectReason.POST_ONLY_WOULD_CROSS
    assert twin.fast.order(3).price == 99
    twin.check_books()


def test_market_by_quantity_sweeps_and_cancels_the_rest(twin: Twin) -> None:
    limit(twin, 1, BUY, 100, 2)
    limit(twin, 2, BUY, 90, 2)
    events = twin.do("place", order_id=3, owner="y", side=SELL, order_type=OrderType.MARKET,
                     qty=5)
    assert events[0] == Accepted(events[0].seq, 3, "y", SELL, OrderType.MARKET, None, 5, None)
    assert trades(events) == [(1, 3, 100, 2), (2, 3, 90, 2)]
    assert events[-1] == Cancelled(events[-1].seq, 3, 1, CancelReason.UNFILLED)
    twin.check_books()


def test_market_on_an_empty_side_is_accepted_then_cancelled(twin: Twin) -> None:
    events = twin.do("place", order_id=1, owner="y", side=BUY, order_type=OrderType.MARKET,
                     qty=5)
    assert [type(e) for e in events] == [Accepted, Cancelled]
    assert events[1].qty == 5


def test_market_buy_by_budget_buys_whole_lots_it_can_afford(twin: Twin) -> None:
    limit(twin, 1, SELL, 100, 2)
    limit(twin, 2, SELL, 150, 5)
    events = twin.do("place", order_id=3, owner="y", side=BUY, order_type=OrderType.MARKET,
                     quote_budget=520)
    # 2 lots at 100 = 200, then 320 // 150 = 2 lots, 20 left: less than one lot at 150.
    assert trades(events) == [(1, 3, 100, 2), (2, 3, 150, 2)]
    assert events[-1] == Cancelled(events[-1].seq, 3, 0, CancelReason.UNFILLED)
    assert twin.fast.order(2).qty == 3
    events = twin.do("place", order_id=4, owner="y", side=BUY, order_type=OrderType.MARKET,
                     quote_budget=300)
    assert trades(events) == [(2, 4, 150, 2)] and type(events[-1]) is BookChanged
    twin.check_books()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"side": SELL, "order_type": OrderType.MARKET, "quote_budget": 10},
        {"side": BUY, "order_type": OrderType.MARKET, "quote_budget": 10, "qty": 1},
        {"side": BUY, "order_type": OrderType.MARKET, "quote_budget": 0},
        {"side": BUY, "order_type": OrderType.LIMIT, "quote_budget": 10, "price": 1, "qty": 1},
    ],
)
def test_bad_budgets_are_rejected(twin: Twin, kwargs: dict) -> None:
    events = twin.do("place", order_id=1, owner="y", **kwargs)
    assert events == [Rejected(1, 1, RejectReason.INVALID_BUDGET)]


@pytest.mark.parametrize(
    ("price", "qty", "reason"),
    [
        (0, 1, RejectReason.INVALID_PRICE),
        (-5, 1, RejectReason.INVALID_PRICE),
        (None, 1, RejectReason.INVALID_PRICE),
        (True, 1, RejectReason.INVALID_PRICE),
        (100, 0, RejectReason.INVALID_QUANTITY),
        (100, -1, RejectReason.INVALID_QUANTITY),
        (100, True, RejectReason.INVALID_QUANTITY),
        (100, 1.0, RejectReason.INVALID_QUANTITY),
        (100.0, 1, RejectReason.INVALID_PRICE),
    ],
)
def test_bad_price_or_qty_is_rejected_without_change(
    twin: Twin, price: object, qty: object, reason: RejectReason
) -> None:
    events = twin.do("place", order_id=1, owner="y", side=BUY, price=price, qty=qty)
    assert events == [Rejected(1, 1, reason)]
    assert len(twin.fast) == 0 and twin.fast.seq == 1


def test_market_with_a_price_is_rejected(twin: Twin) -> None:
    events = twin.do("place", order_id=1, owner="y", side=BUY, order_type=OrderType.MARKET,
                     price=5, qty=1)
    assert events[0].reason is RejectReason.INVALID_PRICE


def test_duplicate_open_order_id_is_rejected(twin: Twin) -> None:
    limit(twin, 1, BUY, 100, 1)
    assert limit(twin, 1, BUY, 99, 1)[0].reason is RejectReason.DUPLICATE_ORDER_ID
    twin.do("cancel", order_id=1)
    assert type(limit(twin, 1, BUY, 99, 1)[0]) is Accepted  # ids are unique among open orders
    twin.check_books()


def test_invalid_enums_raise() -> None:
    book = OrderBook(spec())
    with pytest.raises(ValueError):
        book.place(order_id=1, owner="y", side=7, price=1, qty=1)
    with pytest.raises(ValueError):
        book.place(order_id=1, owner="y", side=BUY, order_type=9, price=1, qty=1)
    with pytest.raises(ValueError):
        book.place(order_id=1, owner="y", side=BUY, price=1, qty=1, stp=9)
    assert book.seq == 0


# ---------------------------------------------------------------- self-trade prevention


def _stp_book(mode: StpMode) -> Twin:
    t = Twin(spec(mode))
    limit(t, "m1", SELL, 100, 2, owner="me")
    limit(t, "m2", SELL, 100, 2, owner="other")
    limit(t, "m3", SELL, 101, 2, owner="me")
    return t


def test_stp_none_trades_with_itself() -> None:
    t = _stp_book(StpMode.NONE)
    events = limit(t, "t", BUY, 101, 6, owner="me")
    assert trades(events) == [("m1", "t", 100, 2), ("m2", "t", 100, 2), ("m3", "t", 101, 2)]
    t.check_books()


def test_stp_cancel_taker_stops_at_own_maker() -> None:
    t = _stp_book(StpMode.CANCEL_TAKER)
    events = limit(t, "t", BUY, 101, 6, owner="me")
    assert trades(events) == []
    assert events[-1] == Cancelled(events[-1].seq, "t", 6, CancelReason.SELF_TRADE)
    assert t.fast.order("m1").qty == 2
    t.check_books()


def test_stp_cancel_maker_removes_own_makers_and_goes_on() -> None:
    t = _stp_book(StpMode.CANCEL_MAKER)
    events = limit(t, "t", BUY, 101, 6, owner="me")
    assert trades(events) == [("m2", "t", 100, 2)]
    stp = [(e.order_id, e.qty) for e in events if type(e) is Cancelled]
    assert stp == [("m1", 2), ("m3", 2)]
    assert t.fast.order("t").qty == 4 and t.fast.best_ask() is None
    t.check_books()


def test_stp_cancel_both() -> None:
    t = _stp_book(StpMode.CANCEL_BOTH)
    events = limit(t, "t", BUY, 101, 6, owner="me")
    assert [(type(e).__name__, getattr(e, "order_id", None)) for e in events[1:]] == [
        ("Cancelled", "m1"),
        ("BookChanged", None),
        ("Cancelled", "t"),
    ]
    assert t.fast.order("m2").qty == 2
    t.check_books()


def test_order_stp_overrides_market_default() -> None:
    t = _stp_book(StpMode.CANCEL_TAKER)
    events = limit(t, "t", BUY, 100, 2, owner="me", stp=StpMode.NONE)
    assert trades(events) == [("m1", "t", 100, 2)]
    t.check_books()


def test_stp_on_budget_market_buy() -> None:
    t = _stp_book(StpMode.CANCEL_MAKER)
    events = t.do("place", order_id="t", owner="me", side=BUY, order_type=OrderType.MARKET,
                  quote_budget=1000)
    assert trades(events) == [("m2", "t", 100, 2)]
    assert events[-1].reason is CancelReason.UNFILLED
    t = _stp_book(StpMode.CANCEL_TAKER)
    events = t.do("place", order_id="t", owner="me", side=BUY, order_type=OrderType.MARKET,
                  quote_budget=1000)
    assert events[-1] == Cancelled(events[-1].seq, "t", 0, CancelReason.SELF_TRADE)


# ---------------------------------------------------------------- cancel / reduce / replace


def test_cancel_reports_open_qty_and_level(twin: Twin) -> None:
    limit(twin, 1, BUY, 100, 5)
    limit(twin, 2, BUY, 100, 3)
    limit(twin, 9, SELL, 100, 2, owner="y")
    events = twin.do("cancel", order_id=1)
    assert events == [
        Cancelled(events[0].seq, 1, 3, CancelReason.USER),
        BookChanged(events[0].seq + 1, BUY, 100, 3),
    ]
    assert twin.do("cancel", order_id=1)[0].reason is RejectReason.UNKNOWN_ORDER
    twin.check_books()


def test_reduce_keeps_priority(twin: Twin) -> None:
    limit(twin, 1, BUY, 100, 5)
    limit(twin, 2, BUY, 100, 5)
    events = twin.do("reduce", order_id=1, qty=2)
    assert events == [Reduced(events[0].seq, 1, 3, 2), BookChanged(events[0].seq + 1, BUY, 100, 7)]
    events = limit(twin, 3, SELL, 100, 3, owner="y")
    assert trades(events) == [(1, 3, 100, 2), (2, 3, 100, 1)]
    twin.check_books()


@pytest.mark.parametrize("qty", [0, 5, 6, -1, True])
def test_reduce_must_lower_to_a_positive_qty(twin: Twin, qty: object) -> None:
    limit(twin, 1, BUY, 100, 5)
    events = twin.do("reduce", order_id=1, qty=qty)
    assert events[0].reason is RejectReason.INVALID_QUANTITY
    assert twin.fast.order(1).qty == 5


def test_replace_loses_priority_even_at_the_same_price(twin: Twin) -> None:
    limit(twin, 1, BUY, 100, 5)
    limit(twin, 2, BUY, 100, 5)
    events = twin.do("replace", order_id=1, price=100)
    assert events[0] == Replaced(events[0].seq, 1, 100, 100, 5)
    events = limit(twin, 3, SELL, 100, 6, owner="y")
    assert trades(events) == [(2, 3, 100, 5), (1, 3, 100, 1)]
    twin.check_books()


def test_replace_into_the_spread_matches_first(twin: Twin) -> None:
    limit(twin, 1, SELL, 105, 2, owner="s")
    limit(twin, 2, BUY, 100, 5)
    events = twin.do("replace", order_id=2, price=106)
    assert [type(e) for e in events] == [Replaced, BookChanged, Trade, BookChanged, BookChanged]
    assert trades(events) == [(1, 2, 105, 2)]
    assert twin.fast.order(2).price == 106 and twin.fast.order(2).qty == 3
    assert twin.do("replace", order_id=2, price=0)[0].reason is RejectReason.INVALID_PRICE
    assert twin.do("replace", order_id=99, price=5)[0].reason is RejectReason.UNKNOWN_ORDER
    twin.check_books()


# ---------------------------------------------------------------- queries and state


def test_depth_checksum_is_crc32_of_the_canonical_levels(twin: Twin) -> None:
    limit(twin, 1, BUY, 100, 5)
    limit(twin, 2, BUY, 99, 1)
    limit(twin, 3, SELL, 103, 4)
    depth = twin.fast.depth(levels=1)
    assert depth.bids == ((100, 5),) and depth.asks == ((103, 4),)
    assert depth.checksum == zlib.crc32(b"b:100:5;a:103:4")
    assert depth.checksum == depth_checksum(depth.bids, depth.asks)
    limit(twin, 4, BUY, 100, 1)
    assert twin.fast.depth(levels=1).checksum != depth.checksum
    assert twin.fast.depth().bids == ((100, 6), (99, 1))
    with pytest.raises(ValueError):
        twin.fast.depth(levels=0)


def _busy_book() -> OrderBook:
    book = OrderBook(spec(StpMode.CANCEL_MAKER))
    for i in range(60):
        side = BUY if i % 2 else SELL
        price = 100 - i % 7 if side is BUY else 101 + i % 5
        book.place(order_id=i, owner=i % 3, side=side, price=price, qty=1 + i % 4,
                   stp=StpMode.NONE if i % 5 == 0 else None,
                   order_type=OrderType.POST_ONLY if i % 6 == 0 else OrderType.LIMIT)
    book.cancel(order_id=7)
    book.reduce(order_id=9, qty=1)
    book.place(order_id="x", owner=1, side=BUY, price=102, qty=9)
    return book


def test_snapshot_restore_gives_the_same_hash_and_behaviour() -> None:
    book = _busy_book()
    restored = OrderBook.restore(book.snapshot())
    assert restored.state_hash() == book.state_hash()
    assert restored.seq == book.seq
    restored.validate_internal_state()
    for b in (book, restored):
        b.place(order_id="y", owner=2, side=SELL, price=95, qty=30)
    assert restored.state_hash() == book.state_hash()
    book.cancel(order_id=10)
    assert restored.state_hash() != book.state_hash()


def test_snapshot_is_json_ready() -> None:
    import json

    book = _busy_book()
    snap = json.loads(json.dumps(book.snapshot()))
    assert OrderBook.restore(snap).state_hash() == book.state_hash()


def test_rebuild_from_open_orders_keeps_their_priority() -> None:
    book = _busy_book()
    rebuilt = OrderBook.rebuild(spec=book.spec, orders=list(book.open_orders()), seq=book.seq)
    assert rebuilt.state_hash() == book.state_hash()
    assert rebuilt.seq == book.seq and len(rebuilt) == len(book)


@pytest.mark.parametrize(
    "orders",
    [
        [RestingOrder(1, "a", BUY, 100, 1), RestingOrder(2, "b", SELL, 100, 1)],
        [RestingOrder(1, "a", BUY, 101, 1), RestingOrder(2, "b", SELL, 100, 1)],
        [RestingOrder(1, "a", BUY, 99, 1), RestingOrder(1, "b", SELL, 100, 1)],
        [RestingOrder(1, "a", BUY, 0, 1)],
        [RestingOrder(1, "a", BUY, 10, 0)],
    ],
)
def test_rebuild_refuses_crossed_or_bad_orders(orders: list[RestingOrder]) -> None:
    with pytest.raises(CrossedBookError):
        OrderBook.rebuild(spec=spec(), orders=orders)


def test_validate_internal_state_catches_corruption() -> None:
    book = _busy_book()
    book.validate_internal_state()
    record = book._orders[next(book.open_orders()).order_id]  # white-box: corrupt a total
    record[7].total += 1
    with pytest.raises(InternalStateError):
        book.validate_internal_state()
    record[7].total -= 1
    book.validate_internal_state()
    book._ask_heap.append(12345)
    with pytest.raises(InternalStateError):
        book.validate_internal_state()


def test_cancelled_records_are_compacted(twin: Twin) -> None:
    for i in range(200):
        limit(twin, i, BUY, 100, 1)
    for i in range(1, 200, 3):
        twin.do("cancel", order_id=i)
    for i in range(2, 200, 3):
        twin.do("cancel", order_id=i)
    queue = twin.fast._bids[-100].queue
    assert len(queue) < 200 and twin.fast._bids[-100].dead < 34
    twin.check_books()
    events = limit(twin, "s", SELL, 100, 70, owner="y")
    assert [t[0] for t in trades(events)] == list(range(0, 200, 3))[:67]
    twin.check_books()


def test_levels_emptied_by_takers_are_kept_and_reused(twin: Twin) -> None:
    limit(twin, 1, SELL, 100, 2)
    limit(twin, 2, SELL, 100, 1)
    twin.do("cancel", order_id=2)  # a cancelled record behind order 1
    lvl = twin.fast._asks[100]
    assert lvl.dead == 1
    limit(twin, 3, BUY, 100, 2, owner="y")  # empties the level
    assert twin.fast._asks[100] is lvl and not lvl.listed and not lvl.queue
    assert 100 not in twin.fast._ask_heap and twin.fast.best_ask() is None
    twin.check_books()
    limit(twin, 4, SELL, 100, 1)
    assert twin.fast._asks[100] is lvl and lvl.listed and twin.fast.best_ask() == 100
    twin.check_books()
    lvl.listed = False  # white-box: an open level missing from the heap is caught
    with pytest.raises(InternalStateError):
        twin.fast.validate_internal_state()


def test_empty_levels_are_swept_from_the_heap(twin: Twin) -> None:
    for i in range(3000):
        limit(twin, i, SELL, 1000 + i, 1)
        twin.do("cancel", order_id=i)
    assert len(twin.fast._asks) <= 1024 and len(twin.fast._ask_heap) == len(twin.fast._asks)
    limit(twin, "a", SELL, 5000, 1)
    twin.check_books()
    assert twin.fast.best_ask() == 5000


def test_matching_imports_nothing_of_django_or_the_project() -> None:
    code = (
        "import sys, apps.matching\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('django', 'rest_framework', 'redis', 'cassandra', 'celery', 'socket', 'asyncio')"
        " or (m.startswith('apps.') and not m.startswith('apps.matching')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2]))
    assert out.stdout.strip() == ""
