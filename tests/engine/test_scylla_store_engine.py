"""The engine with the ScyllaDB order store (``ORDER_STORE=scylla``), through the real
cassandra-driver against the CQL emulator (``devtools/cql``): orders placed, matched and
settled by the runner reach the store after commit (on the dispatcher's thread too), the
trades API reads them from it, and a restart's restore compares its book with the store's
open orders (a tampered row is refused). The other engine tests run with the SQL store;
the store contract itself is ``tests/orderstore``. (The orders API reads the core's SQL
rows, not the store.)"""
from collections.abc import Iterator
from dataclasses import replace
from itertools import count

import pytest
from django.core.management import call_command
from django.test import override_settings
from rest_framework.test import APIClient

from apps.engine.models import EngineOutbox
from apps.engine.runner import RestoreRefused
from apps.orderstore.base import get_store
from apps.orderstore.scylla import ScyllaOrderStore
from apps.trading.constants import OrderStatus
from devtools.cql.runner import CqlEmulator, running_emulator
from tests.engine.helpers import D, drain, eco_market, place, runner, take_over, trader
from tests.trading.helpers import books_clean, fresh

pytestmark = pytest.mark.django_db(transaction=True)
_keyspaces = count()


@pytest.fixture(scope="module")
def cql() -> Iterator[CqlEmulator]:
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture
def scylla(cql, capsys) -> Iterator[ScyllaOrderStore]:
    """This process's store is ScyllaDB, in a keyspace of the test's own, migrated."""
    with override_settings(
            ORDER_STORE="scylla", SCYLLA_HOSTS=[cql.host], SCYLLA_PORT=cql.port,
            SCYLLA_KEYSPACE=f"engine_{next(_keyspaces)}",
            SCYLLA_REPLICATION="{'class': 'SimpleStrategy', 'replication_factor': 1}"):
        call_command("orderstore_migrate")
        capsys.readouterr()
        store = get_store()
        assert isinstance(store, ScyllaOrderStore)
        yield store


@pytest.fixture
def market(currencies, scylla):
    return eco_market()


def test_matched_orders_are_settled_and_reach_the_store_and_the_trades_api(market, scylla):
    seller, buyer = trader(), trader()
    r = runner(market)
    ask = place(seller, side="SELL", price="10.00", amount="2")
    bid = place(buyer, side="BUY", price="11.00", amount="1.5")
    assert drain(r) == 2
    ask, bid = fresh(ask), fresh(bid)
    assert (ask.status, bid.status) == (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED)
    # The store has each order's newest state, the open one among the market's open orders.
    stored_bid = scylla.order(venue="ecosystem", order_id=bid.pk)
    assert (stored_bid.status, stored_bid.remaining) == ("FILLED", D(0))
    assert [(o.order_id, o.remaining) for o in scylla.open_orders(
        venue="ecosystem", market="ABC/USDT")] == [(ask.pk, D("0.5"))]
    assert [o.order_id for o in scylla.user_orders(venue="ecosystem", user_id=seller.pk,
                                                   open_only=True).items] == [ask.pk]
    trades = APIClient().get("/api/v1/ecosystem/trades/", {"symbol": "ABC/USDT"}).json()
    assert [(t["price"], t["amount"], t["taker_side"]) for t in trades["trades"]] == [
        ("10", "1.5", "BUY")]
    assert books_clean() == []


@override_settings(ENGINE_BATCH=1)
def test_batches_sent_by_the_dispatcher_reach_the_store_in_order(market, scylla):
    # On MariaDB the batches go out on the dispatcher's thread (the driver's session
    # shared with it), on SQLite on the runner's.
    seller, buyer = trader(), trader()
    r = runner(market)
    ask = place(seller, side="SELL", price="10.00", amount="3")
    bids = [place(buyer, side="BUY", price="10.00", amount="1") for _ in range(3)]
    with r.dispatching():
        assert drain(r) == 4
    assert not EngineOutbox.objects.filter(market=market, sent_at__isnull=True).exists()
    assert scylla.order(venue="ecosystem", order_id=ask.pk).status == "FILLED"
    assert {scylla.order(venue="ecosystem", order_id=b.pk).status for b in bids} == {"FILLED"}
    assert scylla.open_orders(venue="ecosystem", market="ABC/USDT") == []
    assert len(scylla.market_trades(venue="ecosystem", market="ABC/USDT").items) == 3


def test_a_restart_restores_the_book_the_store_agrees_with(market, scylla):
    users = [trader(), trader()]
    first = runner(market)
    for i in range(6):
        place(users[i % 2], side="BUY" if i % 2 else "SELL", price=f"{10 + i % 3}.00",
              amount="0.5")
    place(users[0], side="BUY", price="8.00", amount="1")
    drain(first)
    before = first.states[market.pk].book
    assert len(scylla.open_orders(venue="ecosystem", market="ABC/USDT")) == len(before)
    restored = take_over(market).states[market.pk].book
    assert restored.state_hash() == before.state_hash()


def test_a_restore_refuses_a_book_unlike_the_store(market, scylla):
    first = runner(market)
    place(trader(), side="BUY", price="9.00", amount="1")
    drain(first)
    (record,) = scylla.open_orders(venue="ecosystem", market="ABC/USDT")
    scylla.put_orders(records=[replace(record, remaining=record.remaining - D("0.5"),
                                       version=record.version + 1)])
    with pytest.raises(RestoreRefused, match="order store's open orders differ"):
        take_over(market)
