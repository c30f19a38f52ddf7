"""Restores are deterministic and checked: the latest snapshot plus a replay equals a
replay from the first command; a book that does not match its record or the order store
is refused."""

import pytest
from django.test import override_settings

from apps.engine.models import EngineLease, EngineSnapshot
from apps.engine.runner import RestoreRefused, replay
from apps.matching import StpMode
from apps.orderstore.base import get_store
from tests.engine.helpers import drain, eco_market, place, runner, take_over, trader

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def market(currencies):
    return eco_market()


@override_settings(ENGINE_SNAPSHOT_EVERY=3, ENGINE_BATCH=2)
def test_snapshot_plus_replay_equals_a_replay_from_the_start(market):
    first = runner(market)
    users = [trader(), trader()]
    for i in range(9):
        place(users[i % 2], side="BUY" if i % 3 else "SELL", price=f"{10 + i % 4}.00",
              amount="0.5")
    drain(first)
    assert EngineSnapshot.objects.filter(market=market).exists()
    restored = take_over(market).states[market.pk].book
    lease = EngineLease.objects.get(pk=market.pk)
    scratch = replay(market=market, stp_default=StpMode.CANCEL_TAKER, upto=lease.applied_seq)
    assert restored.state_hash() == scratch.state_hash()
    assert restored.state_hash() == first.states[market.pk].book.state_hash()


def test_a_book_unlike_the_order_store_is_refused(market):
    first = runner(market)
    place(trader(), side="BUY", price="9.00", amount="1")
    drain(first)
    record = get_store().open_orders(venue="ecosystem", market="ABC/USDT")[0]
    from dataclasses import replace
    get_store().put_orders(records=[replace(record, status="CANCELED",
                                            version=record.version + 1)])
    with pytest.raises(RestoreRefused, match="order store"):
        take_over(market)


def test_a_replay_that_ends_elsewhere_than_its_record_is_refused(market):
    first = runner(market)
    place(trader(), side="BUY", price="9.00", amount="1")
    drain(first)
    EngineLease.objects.filter(pk=market.pk).update(book_seq=99)
    with pytest.raises(RestoreRefused, match="replay ends at event 2"):
        take_over(market)


def test_a_crossed_snapshot_is_refused(market):
    runner(market)
    book = {"market_id": str(market.pk), "tick_size": "0.01", "lot_size": "0.001",
            "stp_default": 1, "seq": 4,
            "orders": [[1, 7, 0, 1100, 1000, None, False], [2, 8, 1, 1000, 1000, None, False]]}
    EngineSnapshot.objects.create(market=market, command_seq=0, book_seq=4, state_hash="x",
                                  book=book)
    with pytest.raises(RestoreRefused, match="crossed"):
        take_over(market)


def test_a_book_whose_levels_differ_from_the_order_stores_is_refused(market):
    first = runner(market)
    place(trader(), side="BUY", price="9.00", amount="1")
    drain(first)
    record = get_store().open_orders(venue="ecosystem", market="ABC/USDT")[0]
    from dataclasses import replace
    get_store().put_orders(records=[replace(record, price=record.price - 1,
                                            version=record.version + 1)])
    with pytest.raises(RestoreRefused, match="other price levels"):
        take_over(market)
