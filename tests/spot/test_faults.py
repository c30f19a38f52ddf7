"""Orders sent while the exchange misbehaves (MariaDB, real row locks): it accepts and then
times out a third of them, answers some twice (the client sees "Duplicate order sent.")
and returns 5xx to others, executed or not, while workers place orders at once and the
tracker runs beside them. Afterwards: no order twice on the exchange, none lost, every
fill settled once and every hold closed."""
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from apps.marketdata.services import publish
from apps.spot import prices, services
from apps.trading import services as trading_services
from apps.trading.models import Fill, Order
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as wallet_services
from apps.wallets.models import Hold
from devtools.binance import Fault

D = Decimal
ORDER = "POST /api/v3/order"


@pytest.fixture
def emulator_options():
    # Client ids unique among all orders, not only open ones as on Binance: a request the
    # network delivers twice (the DUPLICATE fault) would otherwise place an order that
    # closed at once a second time, which no client can prevent (apps/spot/gateway.py).
    return {"balances": {"BTC": D("10"), "USDT": D("10000000")}, "unique_client_ids": "all"}


def _place(user_id: int, rng_seed: int) -> None:
    rng = random.Random(rng_seed)
    amount = D(rng.randint(1, 100)) * D("0.0001")
    kind = rng.choice(["rest", "rest", "cross", "market"])
    try:
        if kind == "market":
            trading_services.order_place(user_id=user_id, venue="spot", symbol="BTC/USDT",
                                         side="BUY", type="MARKET", amount=amount)
        else:
            price = (D("60010") if kind == "cross"
                     else D("58900") + D(rng.randint(0, 100)))
            trading_services.order_place(user_id=user_id, venue="spot", symbol="BTC/USDT",
                                         side="BUY", type="LIMIT", amount=amount, price=price)
    finally:
        connection.close()


def _settle_down(rounds: int = 30) -> None:
    """Run the tracker until nothing is NEW or UNKNOWN."""
    for _ in range(rounds):
        services.orders_track()
        if not Order.objects.filter(venue="spot", status__in=["NEW", "UNKNOWN"]).exists():
            return
        time.sleep(0.5)
    raise AssertionError("orders still NEW or UNKNOWN")


def _run(count: int, *, trader, binance, settings) -> None:
    settings.SPOT_REQUEST_TIMEOUT_MS = 400
    binance.set_book("BTCUSDT", bids=[["59990", "1000"]], asks=[["60010", "1000"]])
    wallet_services.deposit(user_id=trader.pk, wallet_type="SPOT", currency="USDT",
                            amount=D("1000000"), key=f"test:deposit:{trader.pk}:more")
    binance.inject(Fault.TIMEOUT, None, endpoint=ORDER, probability=1 / 3, delay=1)
    binance.inject(Fault.DUPLICATE, None, endpoint=ORDER, probability=0.15)
    binance.inject(Fault.SERVER_ERROR, None, endpoint=ORDER, probability=0.1, applied=True)
    binance.inject(Fault.SERVER_ERROR, None, endpoint=ORDER, probability=0.1)
    stop = threading.Event()

    def track() -> None:
        try:
            while not stop.is_set():
                services.orders_track()
                # The price stream's part: MARKET orders need a fresh quote.
                prices.poll(publish=lambda quote: publish(quote=quote))
                time.sleep(0.2)
        finally:
            connection.close()

    tracker = threading.Thread(target=track)
    tracker.start()
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda i: _place(trader.pk, 1000 + i), range(count)))
    finally:
        stop.set()
        tracker.join()
    hits = binance.stats()["faults_hit"]
    # The faults did happen: timeouts on about a third, and each of the others.
    assert hits[Fault.TIMEOUT.value] > count / 4, hits
    assert min(hits[f.value] for f in (Fault.DUPLICATE, Fault.SERVER_ERROR)) > 0, hits
    binance.clear_faults()
    _settle_down()
    binance.set_price("BTCUSDT", "58900")  # every resting buy fills
    services.orders_track()

    orders = list(Order.objects.filter(venue="spot"))
    assert len(orders) == count
    sent = Counter(o["clientOrderId"] for o in binance.orders("BTCUSDT"))
    assert [cid for cid, n in sent.items() if n > 1] == []  # 0 duplicates
    assert set(sent) == {f"x-ep-{o.pk}" for o in orders}  # 0 lost (none rejected)
    there = {o["clientOrderId"]: o for o in binance.orders("BTCUSDT")}
    for order in orders:
        theirs = there[f"x-ep-{order.pk}"]
        assert (order.status, order.filled) == (
            {"FILLED": "FILLED", "EXPIRED": "EXPIRED"}[theirs["status"]],
            D(theirs["executedQty"])), order.pk
    trades = {f"BTCUSDT-{t['id']}" for t in binance.trades("BTCUSDT")}
    assert sorted(Fill.objects.values_list("trade_id", flat=True)) == sorted(trades)
    assert not Hold.objects.filter(status=Hold.Status.OPEN).exists()
    assert wallet_selectors.reconcile() == []
    call_command("spot_reconcile")


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_sixty_orders_under_faults_are_placed_once_and_settled_once(spot, trader, binance,
                                                                     settings):
    _run(60, trader=trader, binance=binance, settings=settings)


@pytest.mark.slow
@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_five_hundred_orders_under_faults(spot, trader, binance, settings):
    _run(500, trader=trader, binance=binance, settings=settings)
