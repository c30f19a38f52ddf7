"""A runner's committed batches are sent (order store, streams, quote, outbox row marked)
in commit order, on the dispatcher's thread while the runner settles the next; a batch
that cannot be sent stops the runner, and a restarted runner sends it and those after it;
a batch sent twice changes nothing."""
import threading

import pytest
from django.db import OperationalError, connection
from django.test import override_settings

from apps.engine.dispatch import DispatchFailed
from apps.engine.models import EngineOutbox
from apps.orderstore.base import get_store
from apps.trading.constants import OrderStatus
from tests.engine.helpers import SYMBOL, drain, eco_market, place, runner, take_over, trader

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def market(currencies):
    return eco_market()


def outboxes(market) -> list[tuple[int, bool]]:
    return [(pk, at is not None) for pk, at in EngineOutbox.objects.filter(
        market=market).order_by("id").values_list("id", "sent_at")]


def stored(order_id: int):
    return get_store().order(venue="ecosystem", order_id=order_id)


def stored_trades() -> list:
    return get_store().market_trades(venue="ecosystem", market=SYMBOL).items


@override_settings(ENGINE_BATCH=1)
def test_batches_are_sent_in_commit_order_on_the_dispatchers_thread(market, monkeypatch):
    seller, buyer = trader(), trader()
    r = runner(market)
    sent = []
    dispatch = r.dispatch

    def recording(**kwargs):
        sent.append((kwargs["outbox"].pk, threading.current_thread().name))
        dispatch(**kwargs)

    monkeypatch.setattr(r, "dispatch", recording)
    ask = place(seller, side="SELL", price="10.00", amount="3")
    bids = [place(buyer, side="BUY", price="10.00", amount="1") for _ in range(3)]
    with r.dispatching():
        assert drain(r) == 4
    assert [pk for pk, _ in sent] == [pk for pk, _ in outboxes(market)]
    assert all(done for _, done in outboxes(market))
    # SQLite has one writer at a time: there the batches are sent on the runner's thread.
    thread = "MainThread" if connection.vendor == "sqlite" else "test-dispatch"
    assert {name for _, name in sent} == {thread}
    assert (stored(ask.pk).status, stored(ask.pk).remaining) == (OrderStatus.FILLED, 0)
    assert {stored(b.pk).status for b in bids} == {OrderStatus.FILLED}
    assert len(stored_trades()) == 3


@override_settings(ENGINE_BATCH=1)
def test_a_batch_not_sent_stops_the_runner_and_a_restart_sends_it_and_the_rest(market,
                                                                            monkeypatch):
    seller, buyer = trader(), trader()
    r = runner(market)
    store = get_store()
    put_orders, calls = store.put_orders, []

    def failing_once(*, records):
        calls.append(len(records))
        if len(calls) == 2:  # the first trade's batch
            raise OperationalError("the order store is unreachable")
        put_orders(records=records)

    monkeypatch.setattr(store, "put_orders", failing_once)
    ask = place(seller, side="SELL", price="10.00", amount="2")
    for _ in range(2):
        place(buyer, side="BUY", price="10.00", amount="1")
    with pytest.raises(DispatchFailed), r.dispatching():
        drain(r)
    sent = [done for _, done in outboxes(market)]
    # The resting ask's batch was sent; the first trade's was not, nor any after it.
    assert sent[:2] == [True, False] and not any(sent[2:])
    assert stored(ask.pk).status == OrderStatus.OPEN
    # A restart sends what committed (the book it restores agrees with the store), then
    # settles the rest.
    after = take_over(market)
    assert all(done for _, done in outboxes(market))
    drain(after)
    assert (stored(ask.pk).status, stored(ask.pk).remaining) == (OrderStatus.FILLED, 0)
    assert len(stored_trades()) == 2
    assert all(done for _, done in outboxes(market))


def test_batches_sent_twice_change_nothing(market):
    seller, buyer = trader(), trader()
    r = runner(market)
    place(seller, side="SELL", price="10.00", amount="2")
    place(buyer, side="BUY", price="10.00", amount="0.5")
    place(buyer, side="BUY", price="9.00", amount="1")
    with r.dispatching():
        drain(r)
    open_before, trades_before = (get_store().open_orders(venue="ecosystem", market=SYMBOL),
                                  stored_trades())
    # As if the runner had died before marking its batches sent: the next sends them again.
    EngineOutbox.objects.filter(market=market).update(sent_at=None)
    take_over(market)
    assert all(done for _, done in outboxes(market))
    assert get_store().open_orders(venue="ecosystem", market=SYMBOL) == open_before
    assert stored_trades() == trades_before
    assert len(open_before) == 2 and len(trades_before) == 1
