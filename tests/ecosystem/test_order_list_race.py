"""OCO pairs on the engine (the ecosystem venue) on MariaDB, under the runner, two trigger
executors given every engine quote twice, and traders moving the market at once: exactly
one leg of each pair executes, no order is left UNKNOWN, each pair's hold ends once, the
books balance.

Owners place sell OCOs (a limit leg above the last price, 10.10-11.90; a STOP_MARKET leg
below it, 8.10-9.90, on the last price or the bid). A ladder of bids (9.90 down to 8.00,
and a floor at 1.00 that takes whatever a stop sells) is the book's other side. While the
runner thread applies and settles commands, a driver thread places seeded takers: buys
that lift limit legs, sells that print down the ladder and fire stops (whose sales print
lower still). The engine's quotes (one per batch) are not triggered in the runner's
thread: they go to a feed that two executor threads each run twice, as two workers given
duplicated ticks do. A stop fired there writes its command (the pair: cancel the limit
leg, place the stop, unless the limit executed first) behind whatever the driver queued.

Which leg wins is not known in advance (the threads decide); what is checked is that the
pair ends with one leg executed and the other cancelled unfilled (its reason says which
way), once every pair has been decided by a last sweep (a buy through every limit).
"""
import random
import threading
import time
from collections import Counter
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from apps.ecosystem import services as eco_services
from apps.ecosystem import tasks as eco_tasks
from apps.engine import runner as engine_runner
from apps.marketdata.quotes import Quote
from apps.trading import services
from apps.trading.constants import OrderRole, OrderStatus
from apps.trading.models import Fill, Order
from apps.trading.services import conditional, settlement
from apps.wallets import selectors as wallet_selectors
from apps.wallets.models import Hold
from tests.engine.helpers import SYMBOL, D, drain, eco_market, place, runner, trader
from tests.trading.helpers import logged_events
from tests.wallets.test_concurrency import run_threads

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("currencies")]
S = OrderStatus
TICK = D("0.01")
# What the executors and the runner log when something is deferred, set aside or failed.
TROUBLE = {"order_batch_deferred", "order_deferred", "order_batch_failed_isolating",
           "order_set_aside", "engine_batch_failed"}


def _cents(rng: random.Random, low: int, high: int) -> Decimal:
    return TICK * rng.randint(low, high)


@pytest.fixture
def trouble(monkeypatch):
    """The events logged about deferred, set-aside or failed work (still logged too)."""
    return logged_events(monkeypatch, modules=(settlement, conditional, engine_runner),
                         events=TROUBLE)


def _race(*, pairs_count: int, owners_count: int, takers: int, seed: int, trouble,
          monkeypatch) -> None:
    rng = random.Random(seed)
    feed: list[dict] = []
    feed_lock = threading.Lock()

    def to_feed(quote: dict) -> None:
        with feed_lock:
            feed.append(quote)

    # The engine's quotes go to the executors' feed, not to a trigger in the runner.
    monkeypatch.setattr(eco_tasks.trigger_task, "delay", to_feed)

    market = eco_market()
    r = runner(market)
    deep = trader(usdt="1000000", abc="0")
    first_buyer, first_seller = trader(), trader()
    place(first_buyer, side="BUY", price="10.00", amount="0.1")
    place(first_seller, side="SELL", price="10.00", amount="0.1")  # the last price: 10.00
    for cents in range(990, 799, -10):  # 9.90 ... 8.00, 20 ABC each
        place(deep, side="BUY", price=str(TICK * cents), amount="20")
    place(deep, side="BUY", price="1.00", amount="20000")  # the floor
    drain(r)
    feed.clear()

    owners = [trader() for _ in range(owners_count)]
    lists = []
    for n in range(pairs_count):
        amount, price = D("0.001") * rng.randint(100, 2000), _cents(rng, 1010, 1190)
        stop, source = _cents(rng, 810, 990), "LAST" if rng.random() < 0.6 else "BID_ASK"
        if source == "BID_ASK":
            stop = min(stop, D("9.89"))  # a sell stop on the bid starts below it (9.90)
        lists.append(services.order_list_place(
            user_id=owners[n % owners_count].pk, venue="ecosystem", symbol=SYMBOL,
            kind="OCO", side="SELL", amount=amount, price=price, stop_price=stop,
            trigger_source=source))
    drain(r)
    feed.clear()
    assert Order.objects.filter(group__in=lists, status=S.OPEN).count() == pairs_count
    assert Order.objects.filter(group__in=lists, status=S.PENDING).count() == pairs_count

    buyers, sellers = [trader() for _ in range(4)], [trader() for _ in range(4)]
    moves = []
    for _ in range(takers):
        if rng.random() < 0.5:
            moves.append((rng.choice(buyers), "BUY", _cents(rng, 1010, 1200),
                          D("0.001") * rng.randint(100, 3000)))
        else:
            moves.append((rng.choice(sellers), "SELL", _cents(rng, 800, 990),
                          D("0.001") * rng.randint(500, 15000)))
    driving, running = threading.Event(), threading.Event()
    driving.set()
    running.set()
    fired = Counter()

    def driver() -> None:
        try:
            for user, side, price, amount in moves:
                services.order_place(user_id=user.pk, venue="ecosystem", symbol=SYMBOL,
                                     side=side, type="LIMIT", time_in_force="IOC",
                                     price=price, amount=amount)
                time.sleep(rng.random() * 0.05)
        finally:
            driving.clear()

    def engine() -> None:
        idle = 0
        try:
            # Until the driver is done and nothing has come in for a while (the
            # executors' fired legs are commands too).
            while idle < 20:
                done = r.step()
                idle = 0 if done or driving.is_set() else idle + 1
                if not done:
                    time.sleep(0.05)
        finally:
            running.clear()

    def executor(i: int) -> None:
        seen = 0
        while True:
            with feed_lock:
                batch = feed[seen:]
            if not batch:
                if not running.is_set():
                    with feed_lock:
                        if len(feed) == seen:
                            return
                time.sleep(0.01)
                continue
            for raw in batch:
                quote = Quote.from_dict(raw)
                for _ in range(2):  # every tick delivered twice
                    fired[i] += eco_services.quote_trigger(quote=quote)
            seen += len(batch)

    work = [driver, engine, lambda: executor(0), lambda: executor(1)]
    assert run_threads(4, lambda i: work[i]()) == {"ok": 4}
    assert trouble == []

    # Whatever the threads left (a stop fired by the last quotes): run it out, then
    # decide every pair still open: a buy through every limit leg.
    def settle_down() -> None:
        while True:
            drain(r)
            with feed_lock:
                quotes, feed[:] = list(feed), []
            if not quotes:
                return
            for raw in quotes:
                eco_services.quote_trigger(quote=Quote.from_dict(raw))

    settle_down()
    place(trader(usdt="1000000"), side="BUY", price="12.00", time_in_force="IOC",
          amount=str(sum((o.remaining for o in Order.objects.filter(
              group__in=lists, role=OrderRole.LIMIT)), D(0))))
    settle_down()
    assert trouble == []

    legs = {(o.group_id, o.role): o for o in Order.objects.filter(group__in=lists)}
    outcomes = Counter()
    for group in lists:
        limit, stop = legs[group.pk, OrderRole.LIMIT], legs[group.pk, OrderRole.STOP]
        won, lost = (limit, stop) if limit.filled else (stop, limit)
        assert won.status == S.FILLED and won.filled == won.amount, (won, lost)
        assert lost.status == S.CANCELED and lost.filled == 0, (won, lost)
        assert lost.reason.startswith("OCO: the other leg"), lost.reason
        outcomes[won.role, lost.reason] += 1
        hold = Hold.objects.get(key=limit.hold_key)
        assert (hold.status, hold.remaining) == (Hold.Status.CLOSED, 0), hold
    # Both legs won somewhere, the stops through the engine's pairs.
    assert {role for role, _ in outcomes} == {OrderRole.LIMIT, OrderRole.STOP}, outcomes
    assert not Order.objects.filter(status=S.UNKNOWN).exists()
    assert not Order.objects.filter(group__in=lists, status__in=[
        S.NEW, S.OPEN, S.PARTIALLY_FILLED, S.PENDING]).exists()
    # No execution settled twice; each pair's owner paid for one leg.
    assert not Fill.objects.values("trade_id").annotate(n=Count("pk")).filter(n__gt=1).exists()
    assert sum(fired.values()) >= sum(1 for o in legs.values() if o.triggered_at)
    assert wallet_selectors.reconcile() == []
    out = StringIO()
    call_command("wallets_reconcile", stdout=out)
    assert "no violations" in out.getvalue()
    # The engine's book is the log's: a restore from the command log agrees with it.
    restored = r.restore(market)
    assert restored.book.state_hash() == r.states[market.pk].book.state_hash()
    connection.close()


def test_two_executors_duplicated_ticks_and_the_engine_execute_one_leg_of_each_oco(
        trouble, monkeypatch):
    _race(pairs_count=30, owners_count=10, takers=24, seed=18, trouble=trouble,
          monkeypatch=monkeypatch)


@pytest.mark.slow
def test_three_hundred_oco_pairs_on_the_engine_under_two_executors(trouble, monkeypatch):
    _race(pairs_count=300, owners_count=60, takers=200, seed=1018, trouble=trouble,
          monkeypatch=monkeypatch)
