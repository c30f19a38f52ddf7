"""Races on MariaDB: threads with their own connections hit the same orders, wallets and
market at once."""
import random
import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection, transaction
from rest_framework.test import APIClient

from apps.marketdata import services as marketdata_services
from apps.marketdata.services import publish
from apps.trading import services
from apps.trading.models import Fill, Order
from apps.twelvedata.paper import fill_crossing
from apps.wallets import selectors as wallet_selectors
from apps.wallets.models import Hold, Journal, Wallet
from tests.factories import UserFactory
from tests.twelvedata.fixtures import make_quote
from tests.wallets.test_concurrency import run_threads

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]
D = Decimal
ORDERS = "/api/v1/twd/orders/"
DEADLOCK, LOCK_WAIT_TIMEOUT = 1213, 1205


def test_two_executors_and_duplicate_ticks_fill_each_order_once(markets, user):
    publish(quote=make_quote("EUR/USD", "1.20000", bid="1.19990", ask="1.20010"))
    prices = [D("1.00000") + D("0.00010") * i for i in range(1000)]
    for price in prices:
        services.order_place(user_id=user.pk, venue="paper", symbol="EUR/USD", side="BUY",
                             type="LIMIT", amount=D("5"), price=price)
    tick = make_quote("EUR/USD", "1.04990", bid="1.04980", ask="1.05000")
    crossing = {p for p in prices if p >= D("1.05000")}

    filled_by: dict[int, int] = {}
    outcomes = run_threads(4, lambda i: filled_by.__setitem__(  # 2 x 2 ticks
        i, fill_crossing(quote=tick)))
    assert outcomes == {"ok": 4}
    # Between them the four calls filled each crossing order exactly once.
    assert sum(filled_by.values()) == len(crossing)

    orders = {o.price: o for o in Order.objects.all()}
    assert {p for p, o in orders.items() if o.status == "FILLED"} == crossing
    assert all(o.status == "OPEN" and o.filled == 0 for p, o in orders.items()
               if p not in crossing)
    assert Fill.objects.count() == len(crossing)
    assert Journal.objects.filter(kind="TRADE").count() == len(crossing)
    eur = Wallet.objects.get(user=user, type="PAPER", currency_id="EUR")
    assert eur.balance == D("5") * len(crossing)
    assert wallet_selectors.reconcile() == []


def test_fills_of_two_users_never_wait_on_the_system_wallets_they_share(markets):
    """Alice's EUR/USD fill and Bob's AAPL fill share no row but the system wallets
    (PAPER_MARKET and FEES in USD): Bob's fill goes through while Alice's transaction is
    still open (system wallets are never locked)."""
    alice, bob, carol = UserFactory(), UserFactory(), UserFactory()
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    publish(quote=make_quote("AAPL", "150.00", bid="149.90", ask="150.10"))
    for symbol in ("EUR/USD", "AAPL"):  # the system wallets exist before the race
        services.order_place(user_id=carol.pk, venue="paper", symbol=symbol, side="BUY",
                             type="MARKET", amount=D("1"))
    resting = {symbol: services.order_place(user_id=user.pk, venue="paper", symbol=symbol,
                                            side="BUY", type="LIMIT", amount=D("1"),
                                            price=D(price))
               for symbol, user, price in (("EUR/USD", alice, "1.09"),
                                           ("AAPL", bob, "149.00"))}
    alice_holds, alice_done = threading.Event(), threading.Event()
    waited = []

    def alice_fills() -> None:
        with transaction.atomic():
            assert fill_crossing(quote=make_quote("EUR/USD", "1.08", bid="1.079",
                                                  ask="1.081")) == 1
            alice_holds.set()
            alice_done.wait(20)

    def bob_fills() -> None:
        assert alice_holds.wait(20)
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION innodb_lock_wait_timeout = 3")
        started = time.monotonic()
        try:
            # A lock wait timeout here is logged and deferred: nothing filled.
            assert fill_crossing(quote=make_quote("AAPL", "148.00", bid="147.90",
                                                  ask="148.10")) == 1
        finally:
            waited.append(time.monotonic() - started)
            alice_done.set()

    assert run_threads(2, lambda i: (alice_fills, bob_fills)[i]()) == {"ok": 2}
    assert waited[0] < 2, waited
    assert {o.market.symbol: o.status for o in Order.objects.filter(
        pk__in=[o.pk for o in resting.values()])} == {"EUR/USD": "FILLED", "AAPL": "FILLED"}
    assert wallet_selectors.reconcile() == []


# --- placing, filling and cancelling at once ----------------------------------------------


@pytest.fixture
def quiet_bus(monkeypatch):
    """No listeners on the quote bus: the race's fillers call ``fill_crossing`` themselves,
    so that an error in it is counted here instead of logged and swallowed by publish."""
    monkeypatch.setattr(marketdata_services, "_listeners", {})


def _race(*, seconds: float, seed: int, threads: int = 12) -> None:
    """``threads`` threads, for ``seconds``, each doing at random (seeded per thread) for
    one of three users of EUR/USD: place an order that fills at once (MARKET, through the
    API), place a resting LIMIT near the price (API), move the quote and fill what it
    crosses (as the executor task does), or cancel one of the user's OPEN orders (API).
    Each thread counts its outcomes; none may be a deadlock, a lock wait timeout, a 5xx or
    any other error, and the ledger must reconcile afterwards. On a slow machine the race
    goes on (a minute at most) until each kind of action has succeeded at least once."""
    symbol, tick = "EUR/USD", D("0.00010")
    traders = [UserFactory() for _ in range(3)]
    publish(quote=make_quote(symbol, "1.10000", bid="1.09990", ask="1.10010"))
    for trader in traders:  # some EUR to sell
        services.order_place(user_id=trader.pk, venue="paper", symbol=symbol, side="BUY",
                             type="MARKET", amount=D("20000"))
    mid = [D("1.10000")]
    shared = threading.Lock()
    deadline = time.monotonic() + seconds
    per_thread: dict[int, Counter] = {}
    wanted, seen = {"take 201", "rest 201", "filled", "cancel 200"}, set()

    def go_on() -> bool:
        now = time.monotonic()
        with shared:
            return now < deadline or (bool(wanted - seen) and now < deadline + 60)

    def one_action(rng: random.Random, clients: dict[int, APIClient], counts: Counter) -> None:
        trader = rng.choice(traders)
        client = clients[trader.pk]
        action = rng.choice(("take", "rest", "fill", "cancel"))
        side = rng.choice(("BUY", "SELL"))
        amount = str(D(rng.randint(1000, 50000)) / 100)
        if action == "fill":
            with shared:
                mid[0] = min(max(mid[0] + tick * rng.randint(-5, 5), D("1.09")), D("1.11"))
                price = mid[0]
            quote = make_quote(symbol, str(price), bid=str(price - tick), ask=str(price + tick))
            publish(quote=quote)
            if filled := fill_crossing(quote=quote):
                counts["filled"] += filled
                with shared:
                    seen.add("filled")
            return
        if action == "cancel":
            open_ids = list(Order.objects.filter(user=trader, status="OPEN")
                            .values_list("pk", flat=True))
            if not open_ids:
                counts["cancel none open"] += 1
                return
            response = client.post(f"{ORDERS}{rng.choice(open_ids)}/cancel/")
        elif action == "take":
            response = client.post(ORDERS, {"symbol": symbol, "side": side, "type": "MARKET",
                                            "amount": amount}, format="json")
        else:
            offset = tick * rng.randint(1, 10)
            price = mid[0] - offset if side == "BUY" else mid[0] + offset
            response = client.post(ORDERS, {"symbol": symbol, "side": side, "type": "LIMIT",
                                            "amount": amount, "price": str(price)},
                                   format="json")
        outcome = f"{action} {response.status_code}"
        counts[outcome] += 1
        with shared:
            seen.add(outcome)

    def work(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        counts: Counter = Counter()
        per_thread[i] = counts
        clients = {}
        for trader in traders:
            clients[trader.pk] = APIClient()
            clients[trader.pk].force_authenticate(trader)
        while go_on():
            try:
                one_action(rng, clients, counts)
            except OperationalError as exc:
                counts[{DEADLOCK: "deadlock", LOCK_WAIT_TIMEOUT: "lock wait timeout"}.get(
                    exc.args[0], f"error {exc!r}")] += 1
            except Exception as exc:  # noqa: BLE001 - every other error is counted too
                counts[f"error {exc!r}"] += 1

    assert run_threads(threads, work) == {"ok": threads}
    for i, counts in sorted(per_thread.items()):
        failures = {k: n for k, n in counts.items()
                    if k in ("deadlock", "lock wait timeout") or k.startswith("error")
                    or k.split()[-1].startswith("5")}
        assert failures == {}, f"thread {i} (seed {seed}): {dict(counts)}"
        assert counts["deadlock"] == 0 and counts["lock wait timeout"] == 0
    total = sum(per_thread.values(), Counter())
    # The race did what it says: orders filled at once, rested, filled later, cancelled.
    assert total["take 201"] and total["rest 201"] and total["filled"] and total[
        "cancel 200"], dict(total)
    call_command("wallets_reconcile")
    for order in Order.objects.all():
        # An order filled as it was placed may never have held anything.
        hold = Hold.objects.filter(key=order.hold_key).first()
        assert (hold is not None and hold.status == Hold.Status.OPEN) == (
            order.status == "OPEN"), order
        # Nothing here gives sizes: an order fills whole or not at all.
        assert order.status in ("OPEN", "FILLED", "CANCELED", "EXPIRED"), order
        assert order.fills.count() == (order.status == "FILLED"), order
        if order.status == "EXPIRED":  # a MARKET order whose price moved past its hold's
            assert order.type == "MARKET" and "price moved" in order.reason, order


def test_placing_filling_and_cancelling_at_once_never_deadlocks(markets, quiet_bus):
    _race(seconds=3, seed=1)


@pytest.mark.slow
def test_placing_filling_and_cancelling_at_once_never_deadlocks_for_a_minute(markets,
                                                                              quiet_bus):
    _race(seconds=60, seed=2, threads=24)
