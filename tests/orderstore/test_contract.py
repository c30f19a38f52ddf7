"""One contract, every backend: the SQL store (on SQLite or MariaDB, whichever the run
uses) and the ScyllaDB store through the real cassandra-driver (against the CQL emulator,
or a real cluster when SCYLLA_HOSTS is set). ``store`` is each of them, empty."""
from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.orderstore.base import MAX_PAGE_LIMIT, InvalidPage
from apps.orderstore.records import OPEN_STATUSES, OrderRecord
from tests.factories import OrderRecordFactory, TradeRecordFactory

# Each hypothesis example trades in a market and as a user of its own (no cleanup).
_fresh = itertools.count(1)


def states(first: OrderRecord, *changes: dict) -> list[OrderRecord]:
    """``first`` and its next states, each one version and one second later."""
    found = [first]
    for change in changes:
        last = found[-1]
        found.append(replace(last, **change, version=last.version + 1,
                             updated_at=last.updated_at + timedelta(seconds=1)))
    return found


def all_pages(fetch, **query) -> list:
    found, page = [], None
    while True:
        result = fetch(**query, page=page)
        found += result.items
        if result.next_page is None:
            return found
        page = result.next_page


def test_an_order_comes_back_exactly_as_stored(store):
    limit = OrderRecordFactory(price=Decimal("0.000000000000000001"), post_only=True,
                               client_order_id="Ab-é1", reason="")
    market = OrderRecordFactory(type="MARKET", price=None, time_in_force="IOC", side="SELL",
                                status="FILLED", filled=Decimal("10"), cost=Decimal("12.5"),
                                fee=Decimal("0.0125"), reason="filled at once")
    store.put_orders(records=[limit, market])

    assert store.order(venue="ecosystem", order_id=limit.order_id) == limit
    assert store.order(venue="ecosystem", order_id=market.order_id) == market
    assert store.order(venue="futures", order_id=limit.order_id) is None
    assert store.order(venue="ecosystem", order_id=999_999) is None


def test_the_newest_version_wins_whatever_order_the_writes_come_in(store):
    opened, partly, cancelled = states(
        OrderRecordFactory(),
        {"status": "PARTIALLY_FILLED", "filled": Decimal("4"), "remaining": Decimal("6")},
        {"status": "CANCELED", "reason": "cancelled by the user"})

    store.put_orders(records=[partly])
    store.put_orders(records=[opened])  # older: changes nothing
    assert store.order(venue="ecosystem", order_id=opened.order_id) == partly
    store.put_orders(records=[cancelled, partly])
    store.put_orders(records=[cancelled])  # a replay of the same version
    assert store.order(venue="ecosystem", order_id=opened.order_id) == cancelled


def test_a_closed_order_leaves_the_open_views_and_no_replay_brings_it_back(store):
    opened, partly, filled = states(
        OrderRecordFactory(),
        {"status": "PARTIALLY_FILLED", "filled": Decimal("4"), "remaining": Decimal("6")},
        {"status": "FILLED", "filled": Decimal("10"), "remaining": Decimal("0")})
    store.put_orders(records=[opened])
    assert store.open_orders(venue="ecosystem", market="ABC/USDT") == [opened]

    store.put_orders(records=[partly])
    assert store.open_orders(venue="ecosystem", market="ABC/USDT") == [partly]
    assert store.user_orders(venue="ecosystem", user_id=7, open_only=True).items == [partly]

    store.put_orders(records=[filled])
    store.put_orders(records=[opened, partly])  # a writer replaying its old batches
    assert store.open_orders(venue="ecosystem", market="ABC/USDT") == []
    assert store.user_orders(venue="ecosystem", user_id=7, open_only=True).items == []
    assert store.user_orders(venue="ecosystem", user_id=7).items == [filled]


def test_a_close_that_arrives_before_the_open_keeps_the_order_closed(store):
    opened, cancelled = states(OrderRecordFactory(), {"status": "CANCELED"})
    store.put_orders(records=[cancelled])
    store.put_orders(records=[opened])

    assert store.open_orders(venue="ecosystem", market="ABC/USDT") == []
    assert store.order(venue="ecosystem", order_id=opened.order_id) == cancelled


def test_open_orders_are_one_markets_resting_orders_by_ascending_id(store):
    ids = [5, 3, 9, 1]
    resting = [OrderRecordFactory(order_id=i, side="SELL" if i % 2 else "BUY") for i in ids]
    elsewhere = [OrderRecordFactory(order_id=20, market="XYZ/USDT"),
                 OrderRecordFactory(order_id=21, venue="futures"),
                 OrderRecordFactory(order_id=22, status="FILLED"),
                 OrderRecordFactory(order_id=23, status="NEW")]
    store.put_orders(records=resting + elsewhere)

    found = store.open_orders(venue="ecosystem", market="ABC/USDT")
    assert [o.order_id for o in found] == sorted(ids)
    assert found == sorted(resting, key=lambda o: o.order_id)


def test_a_users_orders_come_newest_first_a_page_at_a_time(store):
    mine = [OrderRecordFactory(order_id=i, status="OPEN" if i % 2 else "CANCELED")
            for i in range(1, 8)]
    others = [OrderRecordFactory(order_id=50, user_id=8),
              OrderRecordFactory(order_id=51, venue="futures")]
    store.put_orders(records=mine + others)

    first = store.user_orders(venue="ecosystem", user_id=7, limit=3)
    assert [o.order_id for o in first.items] == [7, 6, 5]
    second = store.user_orders(venue="ecosystem", user_id=7, limit=3, page=first.next_page)
    assert [o.order_id for o in second.items] == [4, 3, 2]
    third = store.user_orders(venue="ecosystem", user_id=7, limit=3, page=second.next_page)
    assert [o.order_id for o in third.items] == [1]
    assert third.next_page is None
    # A page that ends exactly at the last order says so.
    assert store.user_orders(venue="ecosystem", user_id=7, limit=7).next_page is None

    open_pages = all_pages(store.user_orders, venue="ecosystem", user_id=7, open_only=True,
                           limit=2)
    assert [o.order_id for o in open_pages] == [7, 5, 3, 1]
    assert store.user_orders(venue="ecosystem", user_id=9).items == []


@pytest.mark.parametrize("token", ["", "nonsense", "dDo1", "bzotMQ", "bzox8", "o:1"])
def test_a_page_token_it_did_not_hand_out_is_refused(store, token):
    with pytest.raises(InvalidPage):
        store.user_orders(venue="ecosystem", user_id=7, page=token)


def test_a_trade_page_token_is_no_order_page_token(store):
    store.put_trades(records=TradeRecordFactory.build_batch(3))
    token = store.market_trades(venue="ecosystem", market="ABC/USDT", limit=1).next_page
    assert token is not None
    with pytest.raises(InvalidPage):
        store.user_orders(venue="ecosystem", user_id=7, page=token)


def test_a_page_token_the_store_did_not_hand_out_is_refused(store):
    """A token's form with a key of the caller's choosing, or padded, is not one given."""
    store.put_trades(records=TradeRecordFactory.build_batch(3))
    given = store.market_trades(venue="ecosystem", market="ABC/USDT", limit=1).next_page
    for forged in ("dDox", "dDox====", "dDo5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", given + "x",
                   given.upper()):
        with pytest.raises(InvalidPage):
            store.market_trades(venue="ecosystem", market="ABC/USDT", page=forged)
    assert len(store.market_trades(venue="ecosystem", market="ABC/USDT",
                                   page=given).items) == 2


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_LIMIT + 1, True])
def test_a_page_limit_out_of_range_is_refused(store, limit):
    with pytest.raises(ValueError, match="limit"):
        store.user_orders(venue="ecosystem", user_id=7, limit=limit)
    with pytest.raises(ValueError, match="limit"):
        store.market_trades(venue="ecosystem", market="ABC/USDT", limit=limit)


def test_trades_are_stored_once_and_come_newest_first(store):
    trades = TradeRecordFactory.build_batch(5)
    trades[2] = replace(trades[2], bot=True, taker_side="BUY",
                        maker_fee=Decimal("0"), price=Decimal("1.2345678901"))
    other = TradeRecordFactory(market="XYZ/USDT", trade_id="XYZ-1")
    store.put_trades(records=trades[:3] + [other])
    store.put_trades(records=trades[1:])  # replays two

    newest_first = sorted(trades, key=lambda t: t.seq, reverse=True)
    page = store.market_trades(venue="ecosystem", market="ABC/USDT", limit=2)
    assert page.items == newest_first[:2]
    assert all_pages(store.market_trades, venue="ecosystem", market="ABC/USDT",
                     limit=2) == newest_first
    assert store.market_trades(venue="ecosystem", market="XYZ/USDT").items == [other]
    assert store.market_trades(venue="futures", market="ABC/USDT").items == []


def test_trades_far_apart_in_sequence_page_in_order(store):
    seqs = [1, 2, 65_535, 65_536, 65_537, 5 * 65_536 + 3, 2**40]
    trades = [TradeRecordFactory(seq=seq, trade_id=f"t{seq}") for seq in seqs]
    store.put_trades(records=trades[::-1])

    for limit in (1, 2, 3, 10):
        assert all_pages(store.market_trades, venue="ecosystem", market="ABC/USDT",
                         limit=limit) == trades[::-1]


# -- properties ----------------------------------------------------------------------------------

_STATUSES = ["NEW", "OPEN", "PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED", "REJECTED"]
_PROPERTY = settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def histories(draw):
    """Some orders of one fresh market and user, each a run of versioned states, and the
    writes of those states in any order, some replayed, in batches of any size."""
    n = next(_fresh)
    market, user_id = f"P{n}/USDT", 10_000 + n
    written: list[OrderRecord] = []
    newest: dict[int, OrderRecord] = {}
    for order_id in range(n * 10, n * 10 + draw(st.integers(1, 4))):
        record = OrderRecordFactory(market=market, user_id=user_id, order_id=order_id,
                                    status=draw(st.sampled_from(_STATUSES)))
        for _ in range(draw(st.integers(0, 4))):
            filled = draw(st.integers(0, 10))
            record = replace(record, version=record.version + draw(st.integers(1, 3)),
                             status=draw(st.sampled_from(_STATUSES)),
                             filled=Decimal(filled), remaining=Decimal(10 - filled))
            written.append(record)
        written.append(record) if not written or written[-1] is not record else None
        newest[order_id] = record
    writes = draw(st.permutations(written))
    writes += draw(st.lists(st.sampled_from(written), max_size=6))  # replays
    cuts = sorted(draw(st.lists(st.integers(0, len(writes)), max_size=4)))
    batches = [writes[a:b] for a, b in itertools.pairwise([0, *cuts, len(writes)])]
    return market, user_id, batches, newest


@_PROPERTY
@given(history=histories())
def test_any_interleaving_or_replay_of_versions_ends_in_the_newest_states(store, history):
    market, user_id, batches, newest = history
    for batch in batches:
        store.put_orders(records=batch)

    for order_id, record in newest.items():
        assert store.order(venue="ecosystem", order_id=order_id) == record
    still_open = sorted((r for r in newest.values() if r.status in OPEN_STATUSES),
                        key=lambda r: r.order_id)
    assert store.open_orders(venue="ecosystem", market=market) == still_open
    assert store.user_orders(venue="ecosystem", user_id=user_id, open_only=True,
                             limit=MAX_PAGE_LIMIT).items == still_open[::-1]
    assert all_pages(store.user_orders, venue="ecosystem", user_id=user_id, limit=2) == sorted(
        newest.values(), key=lambda r: r.order_id, reverse=True)


@_PROPERTY
@given(data=st.data())
def test_any_replay_of_trades_stores_each_once_in_sequence(store, data):
    market = f"T{next(_fresh)}/USDT"
    trades = [TradeRecordFactory(market=market, seq=seq, trade_id=f"{market}-{seq}")
              # Sequence numbers far apart too (ScyllaDB splits a market's trades by them).
              for seq in data.draw(st.sets(st.integers(1, 2**20), min_size=1, max_size=12))]
    writes = data.draw(st.permutations(trades)) + data.draw(
        st.lists(st.sampled_from(trades), max_size=5))
    size = data.draw(st.integers(1, len(writes)))
    for start in range(0, len(writes), size):
        store.put_trades(records=writes[start:start + size])

    limit = data.draw(st.integers(1, 5))
    assert all_pages(store.market_trades, venue="ecosystem", market=market,
                     limit=limit) == sorted(trades, key=lambda t: t.seq, reverse=True)
