"""OCO pairs on MariaDB under two executors and duplicated ticks: exactly one leg of each
pair executes, no order fills twice, each pair's shared hold ends once, the books balance.
Trailing stops beside them are moved by every quote and fire once at most.

Many users place sell OCOs (a limit above the market, a stop below) and buy OCOs (a limit
below, a stop above), their stops triggered on the last price or on the bid/ask, as
stop-market or stop-limit. Two executor threads, each on its own connection, are fed the
same seeded feed, every quote twice, and each publishes a quote then runs the paper
executor on it (``fill_crossing``: the triggers, then the resting orders it crosses), as
two workers given the same ticks do. The feed walks up and down through the legs and
ends at both extremes, so every pair is decided; some quotes cross both legs of the
pairs whose stop watches the last price (a last price through the stop while the book
is through the limit): the trigger runs first, so there the stop wins.

Which leg executes is known in advance: the first quote of the feed that crosses either
leg decides, the stop if it crosses both (a thread reaches a quote only after it has run
every earlier one, so the two threads never decide a pair differently from one thread;
a batch deferred by a lock error would break that, and the executors' log is checked
for one). What the stop's market child is paid is not known in advance (it fills at the
venue's latest quote, which the other thread may have moved on): the balances are checked
against the fills recorded, each fill's numbers against its price and amount.

Then the races taken apart, one interleaving each, deterministic: the trailing stops'
UPDATE against a batch firing one of them (MariaDB), and a tick that reaches the second
executor after a newer one (any database): it may not fill a child the newer tick's
trigger placed, nor fire a trailing stop against the stop the newer tick moved.
"""
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from apps.marketdata.quotes import Quote
from apps.marketdata.selectors import latest_quote
from apps.marketdata.services import publish
from apps.trading import services
from apps.trading.constants import OrderRole, OrderStatus
from apps.trading.models import Fill, Order
from apps.trading.services import conditional, settlement
from apps.trading.stores import store_for
from apps.twelvedata import paper
from apps.wallets import services as wallet_services
from apps.wallets.models import Hold, Journal
from tests.factories import UserFactory
from tests.trading.helpers import DEMO, D, logged_events, wallet
from tests.wallets.test_concurrency import run_threads

S = OrderStatus
TICK = D("0.00001")
MID0 = D("1.10000")
SPREAD = D("0.00010")  # bid and ask this far from the last price
EUR0 = D("10000")
CENT = D("0.01")
TAKER, MAKER = D("0.0010"), D("0.0008")
# The feed stays where a buy stop's market child is always covered by its hold (the
# lowest buy stop, 1.10020, holds at +5%: 1.15521).
LOW, HIGH = D("1.04600"), D("1.15400")
# What the executors log when a batch or an order is deferred or set aside.
TROUBLE = {"order_batch_deferred", "order_deferred", "order_batch_failed_isolating",
           "order_set_aside"}
# And when the trailing stops' UPDATE lost a deadlock and was run again.
RETRIED = "trailing_update_retried"


@dataclass(frozen=True)
class Pair:
    user: int          # index into the users
    side: str
    amount: Decimal
    limit: Decimal     # the LIMIT leg's price
    stop: Decimal      # the stop leg's trigger
    source: str        # LAST or BID_ASK
    stop_limit: Decimal | None  # a STOP_LIMIT leg's limit (None: STOP_MARKET)


def _ticks(rng: random.Random, low: int, high: int) -> Decimal:
    return TICK * rng.randint(low, high)


def make_pairs(rng: random.Random, *, count: int, users: int) -> list[Pair]:
    pairs = []
    for n in range(count):
        side = "SELL" if rng.random() < 0.6 else "BUY"
        away_limit, away_stop = _ticks(rng, 20, 4900), _ticks(rng, 20, 4900)
        sign = 1 if side == "SELL" else -1  # a sell's limit is above the market
        stop = MID0 - sign * away_stop
        # A stop-limit child priced 0.01 beyond its trigger: the feed's steps never gap
        # that far, so it fills as it triggers (at the then latest quote).
        stop_limit = stop - sign * D("0.01") if rng.random() < 0.3 else None
        pairs.append(Pair(user=n % users, side=side, amount=CENT * rng.randint(1000, 50000),
                          limit=MID0 + sign * away_limit, stop=stop,
                          source="LAST" if rng.random() < 0.7 else "BID_ASK",
                          stop_limit=stop_limit))
    return pairs


@dataclass(frozen=True)
class Tick:
    last: Decimal
    bid: Decimal
    ask: Decimal


def make_feed(rng: random.Random, *, steps: int) -> list[Tick]:
    """A seeded walk from the first price, up to 0.4% a step, with quotes that cross both
    legs of last-price pairs (the last price far from the book) every so often; it ends
    at the top and then the bottom of the range, where every pair is decided."""
    feed, mid = [], MID0
    for n in range(steps):
        mid = min(max(mid + _ticks(rng, -400, 400), LOW), HIGH)
        if n % 7 == 6:
            # The book far above and the last price far below (it crosses a sell
            # pair's limit and its last-price stop at once), or the other way round.
            gap = _ticks(rng, 1000, 3000)
            up = rng.random() < 0.5
            book, last = (mid + gap, mid - gap) if up else (mid - gap, mid + gap)
            book, last = min(max(book, LOW), HIGH), min(max(last, LOW), HIGH)
            feed.append(Tick(last=last, bid=book - SPREAD, ask=book + SPREAD))
        else:
            feed.append(Tick(last=mid, bid=mid - SPREAD, ask=mid + SPREAD))
    feed += [Tick(last=p, bid=p - SPREAD, ask=p + SPREAD) for p in (HIGH, LOW)]
    return feed


def crossed(pair: Pair, t: Tick) -> tuple[bool, bool]:
    """Whether ``t`` fires the pair's stop (on its trigger source's price) and whether
    it crosses its limit (a sell's at the bid, a buy's at the ask)."""
    if pair.side == "SELL":
        watched = t.last if pair.source == "LAST" else t.bid
        return watched <= pair.stop, t.bid >= pair.limit
    watched = t.last if pair.source == "LAST" else t.ask
    return watched >= pair.stop, t.ask <= pair.limit


def crosses_both(pair: Pair, t: Tick) -> bool:
    return all(crossed(pair, t))


def deciding(pair: Pair, feed: list[Tick]) -> tuple[int, str]:
    """The position of the quote that decides ``pair`` and the leg that executes there:
    its stop if that quote fires it (the trigger runs first), else its limit."""
    for n, t in enumerate(feed):
        stop, limit = crossed(pair, t)
        if stop:
            return n, OrderRole.STOP
        if limit:
            return n, OrderRole.LIMIT
    raise AssertionError(f"the feed never decides {pair}")


def _rounded(value: Decimal, rounding: str) -> Decimal:
    return value.quantize(CENT, rounding=rounding)


@pytest.fixture
def executors_log(monkeypatch):
    """The events the executors log about deferred, set-aside or retried work (still
    logged as well)."""
    return logged_events(monkeypatch, modules=(settlement, conditional),
                         events=TROUBLE | {RETRIED})


def _race(*, pairs_count: int, users_count: int, steps: int, seed: int, executors_log,
          settings) -> None:
    # The race outlives the default 60 s a paper quote stays fresh on a slow machine.
    settings.PAPER_QUOTE_MAX_AGE_SECONDS = 3600
    rng = random.Random(seed)
    users = [UserFactory() for _ in range(users_count)]
    publish(quote=Quote(venue="paper", symbol="EUR/USD", price=MID0, bid=MID0 - SPREAD,
                        ask=MID0 + SPREAD, timestamp=datetime.now(UTC), source="test"))
    for u in users:
        paper.paper_account_ensure(user_id=u.pk)
        wallet_services.grant_paper_funds(user_id=u.pk, currency="EUR", amount=EUR0,
                                          key=f"test:eur:{u.pk}")
    pairs = make_pairs(rng, count=pairs_count, users=users_count)
    lists = []
    for p in pairs:
        lists.append(services.order_list_place(
            user_id=users[p.user].pk, venue="paper", symbol="EUR/USD", kind="OCO",
            side=p.side, amount=p.amount, price=p.limit, stop_price=p.stop,
            stop_limit_price=p.stop_limit, trigger_source=p.source))
    # Beside the pairs, trailing stops on their own (a fifth as many): every quote moves
    # some of them while the executors fire others, and each fires once at most.
    trailing = [services.order_place(
        user_id=users[n % users_count].pk, venue="paper", symbol="EUR/USD",
        side=rng.choice(("BUY", "SELL")), type="TRAILING_STOP",
        amount=CENT * rng.randint(1000, 20000), trailing_delta=_ticks(rng, 200, 1500),
        trigger_source=rng.choice(("LAST", "BID_ASK"))).pk
        for n in range(pairs_count // 5)]
    assert Order.objects.filter(status=S.PENDING).count() == pairs_count + len(trailing)
    assert Order.objects.filter(status=S.OPEN).count() == pairs_count

    ticks = make_feed(rng, steps=steps)
    start = datetime.now(UTC)
    quotes = [Quote(venue="paper", symbol="EUR/USD", price=t.last, bid=t.bid, ask=t.ask,
                    timestamp=start + timedelta(milliseconds=n + 1), source="test")
              for n, t in enumerate(ticks)]
    fired: dict[int, int] = {}

    def executor(i: int) -> None:
        done = 0
        for q in quotes:
            for _ in range(2):  # every tick delivered twice
                publish(quote=q)
                done += paper.fill_crossing(quote=q)
        fired[i] = done

    assert run_threads(2, executor) == {"ok": 2}
    # Nothing deferred (a deadlock retried is counted by the test below, which makes one
    # happen every time).
    assert [e for e in executors_log if e != RETRIED] == []

    expected = {lst.pk: deciding(p, ticks) for p, lst in zip(pairs, lists, strict=True)}
    legs = {(o.group_id, o.role): o for o in Order.objects.filter(
        group_id__in=[lst.pk for lst in lists])}
    limit_wins = stop_wins = 0
    for p, lst in zip(pairs, lists, strict=True):
        position, winner = expected[lst.pk]
        won, lost = legs[lst.pk, winner], legs[lst.pk, {OrderRole.STOP: OrderRole.LIMIT,
                                                        OrderRole.LIMIT: OrderRole.STOP}[winner]]
        assert lost.status == S.CANCELED and lost.filled == 0, (p, lost)
        assert lost.reason.startswith("OCO: the other leg"), lost.reason
        if winner == OrderRole.LIMIT:
            limit_wins += 1
            assert (won.status, won.filled) == (S.FILLED, p.amount), (p, won)
        else:
            stop_wins += 1
            # Its evidence is the quote that fired it.
            assert won.triggered_at is not None
            assert won.trigger_evidence["quote"] == quotes[position].to_dict(), (p, position)
            assert won.status in (S.FILLED, S.OPEN), (p, won)
            assert won.status == S.FILLED or p.stop_limit is not None, (p, won)
    # The feed exercised both outcomes, and quotes that cross both legs.
    assert limit_wins and stop_wins
    assert any(crosses_both(p, ticks[expected[lst.pk][0]])
               for p, lst in zip(pairs, lists, strict=True))

    trailing_fired = 0
    for order in Order.objects.filter(pk__in=trailing):
        fills_of = order.fills.count()
        if order.status == S.FILLED:
            trailing_fired += 1
            assert fills_of == 1 and order.triggered_at is not None, order
        else:
            assert (order.status, fills_of, order.triggered_at) == (S.PENDING, 0, None), order
    assert trailing_fired

    # No order filled twice; one trade journal per fill.
    assert not Fill.objects.values("order").annotate(n=Count("pk")).filter(n__gt=1).exists()
    fills = list(Fill.objects.select_related("order"))
    assert sum(fired.values()) >= len(fills)
    assert Journal.objects.filter(kind="TRADE").count() == len(fills)

    # A stop-limit child the latest quote had moved past rests, and a trailing stop may
    # still wait: their owners cancel them, which releases their holds.
    for order in Order.objects.filter(status__in=[S.OPEN, S.PENDING]):
        services.order_cancel(user_id=order.user_id, venue="paper", order_id=order.pk)
    assert not Order.objects.filter(status__in=[S.PENDING, S.OPEN,
                                                S.PARTIALLY_FILLED]).exists()
    # Each pair's one hold ended once: closed with nothing left, nothing held anywhere.
    assert Hold.objects.filter(key__in={o.hold_key for o in legs.values()}).count() == (
        pairs_count)
    holds = Hold.objects.filter(key__in={o.hold_key for o in legs.values()} | set(
        Order.objects.filter(pk__in=trailing).values_list("hold_key", flat=True)))
    assert holds.count() == pairs_count + len(trailing)
    assert set(holds.values_list("status", "remaining")) == {(Hold.Status.CLOSED, 0)}

    # Every user's balances are what their fills say.
    usd = {u.pk: DEMO for u in users}
    eur = {u.pk: EUR0 for u in users}
    for fill in fills:
        order = fill.order
        rate = TAKER if fill.liquidity == "TAKER" else MAKER
        cost = _rounded(fill.price * fill.amount,
                        ROUND_UP if order.side == "BUY" else ROUND_DOWN)
        fee = _rounded(cost * rate, ROUND_UP)
        assert (fill.quote_amount, fill.fee, fill.amount) == (cost, fee, order.amount), fill
        if order.side == "BUY":
            usd[order.user_id] -= cost + fee
            eur[order.user_id] += fill.amount
        else:
            usd[order.user_id] += cost - fee
            eur[order.user_id] -= fill.amount
    for u in users:
        got = {c: (wallet(u, c).balance, wallet(u, c).held) for c in ("USD", "EUR")}
        assert got == {"USD": (usd[u.pk], 0), "EUR": (eur[u.pk], 0)}, u
    out = StringIO()
    call_command("wallets_reconcile", stdout=out)
    assert "no violations" in out.getvalue()


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_two_executors_and_duplicated_ticks_execute_one_leg_of_each_oco(
        market, quiet_bus, executors_log, settings):
    _race(pairs_count=100, users_count=20, steps=30, seed=18, executors_log=executors_log,
          settings=settings)


@pytest.mark.slow
@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_a_thousand_oco_pairs_under_two_executors_and_duplicated_ticks(
        market, quiet_bus, executors_log, settings):
    _race(pairs_count=1000, users_count=100, steps=60, seed=1018,
          executors_log=executors_log, settings=settings)


# --- a tick delivered late ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_tick_older_than_the_trigger_does_not_fill_the_limit_child_it_placed(
        market, quiet_bus, user):
    """Two executors: one runs a tick that fires a sell stop-limit through its limit (the
    child rests at 1.09850), the other runs an older tick late, whose bid 1.09950 was
    above that limit before the stop had fired. The child did not exist at that price: the
    old tick must not fill it (as it fills no order placed after it)."""
    publish(quote=Quote(venue="paper", symbol="EUR/USD", price=MID0, bid=MID0 - SPREAD,
                        ask=MID0 + SPREAD, timestamp=datetime.now(UTC), source="test"))
    paper.paper_account_ensure(user_id=user.pk)
    wallet_services.grant_paper_funds(user_id=user.pk, currency="EUR", amount=EUR0,
                                      key=f"test:eur:{user.pk}")
    order = services.order_place(user_id=user.pk, venue="paper", symbol="EUR/USD",
                                 side="SELL", type="STOP_LIMIT", amount=D("1000"),
                                 price=D("1.09850"), stop_price=D("1.09900"))
    start = max(order.created_at, order.updated_at)
    older = Quote(venue="paper", symbol="EUR/USD", price=D("1.09960"), bid=D("1.09950"),
                  ask=D("1.09970"), timestamp=start + timedelta(milliseconds=1), source="test")
    firing = Quote(venue="paper", symbol="EUR/USD", price=D("1.09800"), bid=D("1.09790"),
                   ask=D("1.09810"), timestamp=start + timedelta(milliseconds=2), source="test")
    publish(quote=firing)
    assert paper.fill_crossing(quote=firing) == 1
    order.refresh_from_db()
    assert (order.status, order.triggered_at is not None) == (S.OPEN, True)

    paper.fill_crossing(quote=older)  # the late executor

    order.refresh_from_db()
    assert (order.status, order.filled) == (S.OPEN, 0)
    assert not Fill.objects.filter(order=order).exists()


# --- the trailing stops' move against a firing ---------------------------------------------


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_moving_trailing_stops_never_deadlocks_with_a_firing_batch(market, quiet_bus, user,
                                                                  executors_log):
    """Executor A fires a trailing sell (its batch locks the order row by primary key, as
    ``OrderStore.lock`` does, then writes it, as ``OrderStore.save`` does); meanwhile
    executor B runs a higher quote, which moves the trailing sells it improves on, this
    one among them. B must wait for A's row and then leave it alone (it is no longer
    PENDING): neither may be chosen as a deadlock's victim, not even one retried (DESIGN
    rule 7: one lock order; each deadlock is a rollback, and a quote whose retries all
    lose fails)."""
    publish(quote=Quote(venue="paper", symbol="EUR/USD", price=MID0, bid=MID0 - SPREAD,
                        ask=MID0 + SPREAD, timestamp=datetime.now(UTC), source="test"))
    paper.paper_account_ensure(user_id=user.pk)
    wallet_services.grant_paper_funds(user_id=user.pk, currency="EUR", amount=EUR0,
                                      key=f"test:eur:{user.pk}")
    order = services.order_place(user_id=user.pk, venue="paper", symbol="EUR/USD",
                                 side="SELL", type="TRAILING_STOP", amount=D("1000"),
                                 trailing_delta=D("0.00500"))
    higher = Quote(venue="paper", symbol="EUR/USD", price=D("1.10200"), bid=D("1.10190"),
                   ask=D("1.10210"), timestamp=max(order.created_at, order.updated_at)
                   + timedelta(milliseconds=1), source="test")
    a_holds, b_started = threading.Event(), threading.Event()
    store = store_for("paper")

    def firing() -> None:
        with transaction.atomic():
            (locked,) = store.lock(order_ids=[order.pk])
            a_holds.set()
            assert b_started.wait(10)
            time.sleep(1)  # B is now waiting on the row (its UPDATE cannot finish)
            locked.status, locked.triggered_at = S.CANCELED, timezone.now()
            store.save(orders=[locked], fills=[])

    def moving() -> None:
        assert a_holds.wait(10)
        b_started.set()
        services.conditional_trigger(market=market, quote=higher)

    assert run_threads(2, lambda i: (firing, moving)[i]()) == {"ok": 2}
    assert executors_log == []
    order.refresh_from_db()
    assert order.status == S.CANCELED


@pytest.mark.django_db
def test_a_tick_older_than_a_trailing_move_does_not_fire_the_stop_it_moved(
        market, quiet_bus, user):
    """A trailing sell (callback 0.00500 from 1.10000: stop 1.09500). Executor A runs the
    newer tick first: last 1.10300 moves its stop to 1.09800. Executor B then runs an
    older tick late: last 1.09700, which was above the stop (1.09500) when it happened.
    The market never came back down from 1.10300: the stop must not fire on that tick."""
    publish(quote=Quote(venue="paper", symbol="EUR/USD", price=MID0, bid=MID0 - SPREAD,
                        ask=MID0 + SPREAD, timestamp=datetime.now(UTC), source="test"))
    paper.paper_account_ensure(user_id=user.pk)
    wallet_services.grant_paper_funds(user_id=user.pk, currency="EUR", amount=EUR0,
                                      key=f"test:eur:{user.pk}")
    order = services.order_place(user_id=user.pk, venue="paper", symbol="EUR/USD",
                                 side="SELL", type="TRAILING_STOP", amount=D("1000"),
                                 trailing_delta=D("0.00500"))
    assert order.stop_price == D("1.09500")
    start = max(order.created_at, order.updated_at)
    older = Quote(venue="paper", symbol="EUR/USD", price=D("1.09700"), bid=D("1.09690"),
                  ask=D("1.09710"), timestamp=start + timedelta(milliseconds=1), source="test")
    newer = Quote(venue="paper", symbol="EUR/USD", price=D("1.10300"), bid=D("1.10290"),
                  ask=D("1.10310"), timestamp=start + timedelta(milliseconds=2), source="test")
    publish(quote=newer)
    assert paper.fill_crossing(quote=newer) == 0
    order.refresh_from_db()
    assert (order.status, order.stop_price) == (S.PENDING, D("1.09800"))

    paper.fill_crossing(quote=older)  # the late executor

    order.refresh_from_db()
    assert (order.status, order.triggered_at) == (S.PENDING, None)


@pytest.mark.django_db
def test_a_tick_older_than_a_trailing_move_published_late_does_not_fire_the_stop(
        market, quiet_bus, user):
    """As above, but the older tick also reaches the quote bus late (a second feed
    connection, a redelivery): published after the newer one, it must not become the
    market's latest price, nor fire the stop the newer tick moved."""
    publish(quote=Quote(venue="paper", symbol="EUR/USD", price=MID0, bid=MID0 - SPREAD,
                        ask=MID0 + SPREAD, timestamp=datetime.now(UTC), source="test"))
    paper.paper_account_ensure(user_id=user.pk)
    wallet_services.grant_paper_funds(user_id=user.pk, currency="EUR", amount=EUR0,
                                      key=f"test:eur:{user.pk}")
    order = services.order_place(user_id=user.pk, venue="paper", symbol="EUR/USD",
                                 side="SELL", type="TRAILING_STOP", amount=D("1000"),
                                 trailing_delta=D("0.00500"))
    start = max(order.created_at, order.updated_at)
    older = Quote(venue="paper", symbol="EUR/USD", price=D("1.09700"), bid=D("1.09690"),
                  ask=D("1.09710"), timestamp=start + timedelta(milliseconds=1), source="test")
    newer = Quote(venue="paper", symbol="EUR/USD", price=D("1.10300"), bid=D("1.10290"),
                  ask=D("1.10310"), timestamp=start + timedelta(milliseconds=2), source="test")
    publish(quote=newer)
    assert paper.fill_crossing(quote=newer) == 0

    publish(quote=older)  # late, through the bus
    paper.fill_crossing(quote=older)

    order.refresh_from_db()
    assert (order.status, order.triggered_at) == (S.PENDING, None)
    assert latest_quote(venue="paper", symbol="EUR/USD").timestamp == newer.timestamp
