"""Races on the ecosystem venue against a real MariaDB (its default collation folds case and
accents; its row locks are where deadlocks show): one client order id placed by several
requests at once, ids differing only in case, cancels racing each other and the engine's
fill."""
import threading
from decimal import Decimal

import pytest

from apps.engine.models import EngineCommand
from apps.trading import services
from apps.trading.models import Order
from apps.wallets import selectors as wallet_selectors
from apps.wallets.models import Hold
from tests.engine.helpers import balance, drain, eco_market, place, runner, trader
from tests.wallets.test_concurrency import run_threads

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]
D = Decimal


@pytest.fixture
def market(currencies):
    return eco_market()


def test_one_client_order_id_placed_by_six_requests_at_once_is_one_order(market):
    me = trader()
    outcomes = run_threads(6, lambda i: place(me, side="BUY", price="9.00", amount="1",
                                              client_order_id="race-1"))
    assert outcomes == {"ok": 6}  # the losers of the unique key are replays
    order = Order.objects.get(user=me)
    assert order.client_order_id == "race-1"
    assert Hold.objects.filter(key__contains="race-1").count() == 1
    assert EngineCommand.objects.filter(order_id=order.pk).count() == 1
    assert balance(me, "USDT")[1] == D("9.018")  # 9.00 and the 0.2 % taker fee, once
    assert wallet_selectors.reconcile() == []


def test_client_order_ids_differing_only_in_case_are_two_orders(market):
    """MariaDB's default collation would take RACE-2 for race-2: a replay of the other
    order, or a unique-key clash. The ids compare byte-exact (a binary collation)."""
    me = trader()
    ids = ["race-2", "RACE-2", "Race-2", "rAcE-2"]
    outcomes = run_threads(4, lambda i: place(me, side="BUY", price="9.00", amount="1",
                                              client_order_id=ids[i]))
    assert outcomes == {"ok": 4}
    assert sorted(Order.objects.values_list("client_order_id", flat=True)) == sorted(ids)
    assert EngineCommand.objects.filter(kind="place").count() == 4
    assert Hold.objects.count() == 4
    assert wallet_selectors.reconcile() == []


def test_two_cancels_of_one_order_at_once_enqueue_one_cancel(market):
    me = trader()
    order = place(me, side="BUY", price="9.00", amount="1")
    r = runner(market)
    drain(r)
    outcomes = run_threads(4, lambda i: services.order_cancel(user_id=me.pk, venue="ecosystem",
                                                              order_id=order.pk))
    assert outcomes == {"ok": 4}  # still NEW until the engine takes the first
    assert EngineCommand.objects.filter(order_id=order.pk, kind="cancel").count() == 1
    drain(r)
    order.refresh_from_db()
    assert order.status == "CANCELED"
    assert balance(me, "USDT") == (D(100000), 0)
    assert wallet_selectors.reconcile() == []


def test_cancels_racing_the_engines_fill_end_in_one_outcome(market):
    """The engine settles a crossing order while its owner cancels it: it ends FILLED (the
    cancel came too late: a no-op) or CANCELED with nothing filled, its hold released or
    spent once."""
    seller, buyer = trader(), trader()
    r = runner(market)
    bid = place(buyer, side="BUY", price="10.00", amount="1")
    drain(r)
    place(seller, side="SELL", price="10.00", amount="1")
    stop = threading.Event()

    def work(i: int) -> None:
        if i == 0:
            drain(r)
            stop.set()
        else:
            while not stop.is_set():
                try:
                    services.order_cancel(user_id=buyer.pk, venue="ecosystem",
                                          order_id=bid.pk)
                except Exception as exc:  # noqa: BLE001 - a Conflict once it is done
                    if type(exc).__name__ != "Conflict":
                        raise
                    return

    outcomes = run_threads(3, work)
    assert outcomes == {"ok": 3}, outcomes
    drain(r)
    bid.refresh_from_db()
    usdt = balance(buyer, "USDT")
    if bid.status == "FILLED":
        assert usdt == (D(100000) - bid.cost - bid.fee, 0)  # spent once, nothing held
    else:
        assert (bid.status, bid.filled, usdt) == ("CANCELED", 0, (D(100000), 0))
    assert usdt[1] == 0
    assert EngineCommand.objects.filter(order_id=bid.pk, kind="cancel").count() <= 1
    assert wallet_selectors.reconcile() == []
