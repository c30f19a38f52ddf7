"""The paper venue on the trading core: ``PaperGateway`` (fills at placement) and the
executor (``fill_crossing``: resting orders a later quote crosses, partial fills where the
quote has sizes, exactly once), as a paper trader sees them in orders and wallets."""
import os
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import OperationalError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.errors import Conflict, DomainError
from apps.core.money import EXACT, round_down, round_up
from apps.marketdata import services as marketdata_services
from apps.marketdata.selectors import latest_quote
from apps.trading import services
from apps.trading.constants import FINAL_STATUSES, LIVE_STATUSES
from apps.trading.models import Fill, Order
from apps.twelvedata import paper
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as wallet_services
from apps.wallets.models import Hold, Journal, Wallet
from tests.factories import MarketFactory, UserFactory
from tests.trading.helpers import (
    DEMO,
    D,
    after,
    books_clean,
    fresh,
    hold_of,
    holding,
    place,
    publish_quote,
    quote,
    wallet,
)
from tests.wallets.test_concurrency import run_threads

pytestmark = pytest.mark.django_db


@pytest.fixture
def market(currencies):
    return MarketFactory()


@pytest.fixture
def quiet_bus(monkeypatch):
    """No listener hears published quotes: each test runs the executor itself."""
    monkeypatch.setattr(marketdata_services, "_listeners", {})


@pytest.fixture
def book(market, quiet_bus):
    """EUR/USD quoted 1.09990 / 1.10010 (no sizes) and nobody's orders yet."""
    publish_quote(bid="1.09990", ask="1.10010")
    return market


def system(account: str, currency: str) -> Decimal:
    return wallet_selectors.system_balance(system=account, wallet_type="PAPER",
                                           currency=currency)


def crossing(order: Order, **kwargs):
    """A quote newer than ``order`` (published as the latest) that crosses it."""
    return publish_quote(**{"bid": "1.09980", "ask": "1.09990", "at": after(order), **kwargs})


# --- at placement -------------------------------------------------------------------------


def test_market_orders_fill_at_once_at_the_ask_or_the_bid_as_taker(book, user):
    buy = place(user, type="MARKET", amount="1000")
    assert (buy.status, buy.filled, buy.remaining) == ("FILLED", D("1000"), 0)
    # 1000 x 1.10010 = 1100.10; taker fee 0.1% = 1.1001, rounded up to 1.11.
    assert (buy.cost, buy.fee, buy.fee_currency) == (D("1100.10"), D("1.11"), "USD")
    fill = Fill.objects.get(order=buy)
    assert (fill.price, fill.liquidity, fill.trade_id) == (D("1.10010"), "TAKER",
                                                          f"{buy.pk}-1")
    assert fill.evidence["quote"]["ask"] == "1.10010"
    sell = place(user, side="SELL", type="MARKET", amount="400")
    # 400 x 1.09990 = 439.96 received; fee 0.43996 rounded up to 0.44.
    assert (sell.status, sell.cost, sell.fee) == ("FILLED", D("439.96"), D("0.44"))
    usd, eur = wallet(user, "USD"), wallet(user, "EUR")
    assert (usd.balance, usd.held) == (DEMO - D("1101.21") + D("439.52"), 0)
    assert (eur.balance, eur.held) == (D("600"), 0)
    assert system("FEES", "USD") == D("1.55")
    assert system("PAPER_MARKET", "EUR") == D("-600")
    assert all(not holding(o) for o in (buy, sell))
    assert books_clean() == []


@pytest.mark.parametrize("age", [None, 61])
def test_a_market_order_without_a_fresh_quote_is_refused(market, quiet_bus, user, age):
    if age is not None:
        publish_quote(bid="1.09990", ask="1.10010",
                      at=datetime.now(UTC) - timedelta(seconds=age))
    with pytest.raises(Conflict) as refused:
        place(user, type="MARKET")
    assert refused.value.code == "stale_quote"
    assert not Order.objects.exists() and not Hold.objects.exists()


def test_a_limit_order_the_quote_already_crosses_fills_at_once_at_the_quote(book, user):
    order = place(user, price="1.20000")
    # Price improvement: the ask, not the limit; the hold sized at the limit is closed.
    assert (order.status, order.cost, order.fee) == ("FILLED", D("1100.10"), D("1.11"))
    assert Fill.objects.get(order=order).liquidity == "TAKER"
    assert not holding(order)
    assert wallet(user, "USD").held == 0
    assert wallet(user, "USD").balance == DEMO - D("1101.21")


def test_an_ioc_order_that_does_not_cross_expires_and_releases_its_hold(book, user):
    order = place(user, price="1.10000", time_in_force="IOC")
    assert (order.status, order.filled, order.reason) == ("EXPIRED", 0,
                                                          "Nothing to match at once.")
    assert not holding(order)
    assert (wallet(user, "USD").balance, wallet(user, "USD").held) == (DEMO, 0)
    assert not Fill.objects.exists()


def test_an_ioc_order_fills_what_the_quote_offers_and_the_rest_expires(market, quiet_bus,
                                                                       user):
    publish_quote(bid="1.09990", ask="1.10010", ask_size="300")
    order = place(user, price="1.10010", time_in_force="IOC")
    assert (order.status, order.filled, order.remaining) == ("EXPIRED", D("300"), D("700"))
    assert not holding(order) and wallet(user, "USD").held == 0
    assert wallet(user, "EUR").balance == D("300")


@pytest.mark.parametrize(("size", "status", "filled"), [("999.99", "EXPIRED", D(0)),
                                                        ("1000", "FILLED", D("1000"))])
def test_a_fill_or_kill_order_fills_whole_or_not_at_all(market, quiet_bus, user, size, status,
                                                        filled):
    publish_quote(bid="1.09990", ask="1.10010", ask_size=size)
    order = place(user, price="1.10010", time_in_force="FOK")
    assert (order.status, order.filled) == (status, filled)
    assert Fill.objects.filter(order=order).count() == (1 if filled else 0)
    assert wallet(user, "USD").held == 0
    assert wallet(user, "USD").balance == (DEMO if not filled else DEMO - D("1101.21"))


def test_a_post_only_order_that_would_take_is_refused_and_writes_nothing(book, user):
    place(user, price="1.00000", amount="10")  # the demo balance is granted
    orders, holds, journals = Order.objects.count(), Hold.objects.count(), Journal.objects.count()
    with pytest.raises(Conflict) as refused:
        place(user, price="1.10010", post_only=True)
    assert (refused.value.status, refused.value.code) == (409, "order_rejected")
    assert (Order.objects.count(), Hold.objects.count(), Journal.objects.count()) == (
        orders, holds, journals)
    assert wallet(user, "USD").held == D("10.01")
    # One that would not take rests, and fills later as a maker.
    maker = place(user, price="1.10000", post_only=True)
    assert maker.status == "OPEN"
    paper.fill_crossing(quote=crossing(maker))
    assert Fill.objects.get(order=maker).liquidity == "MAKER"


# --- resting orders -----------------------------------------------------------------------


def test_a_resting_limit_fills_as_maker_at_its_price_on_a_later_crossing_quote(book, user):
    order = place(user, price="1.10000")
    assert order.status == "OPEN" and wallet(user, "USD").held == D("1101.10")
    assert paper.fill_crossing(quote=quote(bid="1.10000", ask="1.10001",
                                           at=after(order))) == 0  # not crossed
    assert paper.fill_crossing(quote=crossing(order)) == 1
    done = fresh(order)
    # At the limit (1100.00), maker fee 0.08% = 0.88.
    assert (done.status, done.cost, done.fee) == ("FILLED", D("1100.00"), D("0.88"))
    fill = Fill.objects.get(order=order)
    assert (fill.price, fill.liquidity, fill.settlement_key) == (
        D("1.10000"), "MAKER", f"fill:paper:{order.pk}-1")
    assert fill.evidence["quote"]["ask"] == "1.09990"
    usd = wallet(user, "USD")
    assert (usd.balance, usd.held) == (DEMO - D("1100.88"), 0)
    assert books_clean() == []


def test_a_resting_sell_fills_when_the_bid_comes_up_to_it(book, user):
    place(user, type="MARKET", amount="500")
    order = place(user, side="SELL", price="1.10100", amount="500")
    assert order.status == "OPEN" and wallet(user, "EUR").held == D("500")
    paper.fill_crossing(quote=crossing(order, bid="1.10100", ask="1.10120"))
    done = fresh(order)
    assert (done.status, done.cost, done.fee) == ("FILLED", D("550.50"), D("0.45"))
    assert (wallet(user, "EUR").balance, wallet(user, "EUR").held) == (0, 0)


def test_a_quote_older_than_the_order_does_not_fill_it(book, user):
    order = place(user, price="1.10000")
    older = quote(bid="1.09980", ask="1.09990", at=order.created_at - timedelta(seconds=1))
    assert paper.fill_crossing(quote=older) == 0
    assert fresh(order).status == "OPEN"


def test_a_stale_quote_fills_nothing(book, user):
    order = place(user, price="1.10000")
    stale = quote(bid="1.09980", ask="1.09990", at=datetime.now(UTC) - timedelta(minutes=5))
    Order.objects.filter(pk=order.pk).update(created_at=stale.timestamp - timedelta(minutes=1))
    assert paper.fill_crossing(quote=stale) == 0
    assert fresh(order).status == "OPEN"


def test_a_quote_of_a_disabled_market_fills_nothing(book, user):
    order = place(user, price="1.10000")
    services.markets_set_flags(market_ids=[book.pk], status="halted")
    assert paper.fill_crossing(quote=crossing(order)) == 0
    assert fresh(order).status == "OPEN"


# --- partial fills ------------------------------------------------------------------------


def test_quote_sizes_fill_an_order_in_parts_never_costing_more_than_one_fill(book, user):
    order = place(user, price="1.10003")
    sizes = ["333.33", "333.33", "5000"]
    statuses = []
    for n, size in enumerate(sizes, start=1):
        assert paper.fill_crossing(quote=crossing(fresh(order), ask_size=size)) == 1
        now = fresh(order)
        statuses.append(now.status)
        hold = hold_of(order)
        if n < len(sizes):
            assert hold.status == Hold.Status.OPEN
            assert wallet(user, "USD").held == hold.remaining > 0
    assert statuses == ["PARTIALLY_FILLED", "PARTIALLY_FILLED", "FILLED"]
    done = fresh(order)
    fills = list(Fill.objects.filter(order=order).order_by("pk"))
    assert [f.trade_id for f in fills] == [f"{order.pk}-{n}" for n in (1, 2, 3)]
    assert [f.amount for f in fills] == [D("333.33"), D("333.33"), D("333.34")]
    assert sum(f.amount for f in fills) == done.filled == D("1000") and done.remaining == 0
    # Rounded up over the whole, not per part: 1000 x 1.10003 = 1100.03 (three parts
    # rounded up one by one would cost 1100.05), fee 0.880024 -> 0.89 (not 0.90).
    assert (done.cost, done.fee) == (D("1100.03"), D("0.89"))
    assert sum(f.quote_amount for f in fills) == done.cost
    assert sum(f.fee for f in fills) == done.fee
    assert not holding(order)
    usd = wallet(user, "USD")
    assert (usd.balance, usd.held) == (DEMO - D("1100.92"), 0)
    assert books_clean() == []


def test_a_gtc_limit_takes_what_the_quote_offers_and_rests_the_rest_as_maker(market,
                                                                           quiet_bus, user):
    publish_quote(bid="1.09990", ask="1.10010", ask_size="300")
    order = place(user, price="1.10010")
    assert (order.status, order.filled) == ("PARTIALLY_FILLED", D("300"))
    paper.fill_crossing(quote=crossing(fresh(order)))
    done = fresh(order)
    assert (done.status, done.filled) == ("FILLED", D("1000"))
    assert list(Fill.objects.filter(order=order).order_by("pk").values_list(
        "liquidity", "price")) == [("TAKER", D("1.10010")), ("MAKER", D("1.10010"))]
    # 1100.10 in all; fees 0.33003 (taker) + 0.616056 (maker), rounded up once: 0.95.
    assert (done.cost, done.fee) == (D("1100.10"), D("0.95"))
    assert wallet(user, "USD").balance == DEMO - D("1101.05")
    assert wallet(user, "USD").held == 0 and books_clean() == []


def test_a_quotes_size_is_shared_by_the_oldest_orders_first(book, user):
    first, second = place(user, price="1.10000"), place(user, price="1.10000")
    assert paper.fill_crossing(quote=crossing(second, ask_size="1500")) == 2
    assert (fresh(first).status, fresh(second).filled) == ("FILLED", D("500"))


def test_cancelling_a_partly_filled_order_releases_the_rest_of_its_hold(book, user):
    order = place(user, price="1.10000")
    paper.fill_crossing(quote=crossing(order, ask_size="250"))
    canceled = services.order_cancel(user_id=user.pk, venue="paper", order_id=order.pk)
    assert (canceled.status, canceled.filled, canceled.remaining) == ("CANCELED", D("250"),
                                                                      D("750"))
    assert not holding(order)
    usd, eur = wallet(user, "USD"), wallet(user, "EUR")
    # 250 x 1.1 = 275.00 plus the maker fee 0.22.
    assert (usd.balance, usd.held, eur.balance) == (DEMO - D("275.22"), 0, D("250"))
    assert books_clean() == []


# --- exactly once -------------------------------------------------------------------------


def test_replaying_a_quote_fills_nothing_twice(book, user):
    order = place(user, price="1.10000")
    tick = crossing(order)
    assert paper.fill_crossing(quote=tick) == 1
    journals = Journal.objects.count()
    assert paper.fill_crossing(quote=tick) == 0
    assert Journal.objects.count() == journals and Fill.objects.count() == 1


def test_replaying_a_sized_quote_fills_nothing_twice(book, user):
    order = place(user, price="1.10000")
    tick = crossing(order, ask_size="300")
    assert paper.fill_crossing(quote=tick) == 1
    # The same quote again (the sweep re-offers the latest one every few seconds, two
    # executors may get the same tick): its 300 were taken already.
    assert paper.fill_crossing(quote=tick) == 0
    assert paper.sweep(enqueue=lambda q: paper.fill_crossing(quote=q)) == 1
    assert fresh(order).filled == D("300") and Fill.objects.count() == 1
    # A newer quote offers more.
    assert paper.fill_crossing(quote=crossing(fresh(order), ask_size="300")) == 1
    assert fresh(order).filled == D("600")


def test_a_sized_quote_replayed_gives_no_other_order_what_it_gave_away(book, user):
    first, second = place(user, price="1.10000"), place(user, price="1.10000")
    tick = crossing(second, ask_size="300")
    assert paper.fill_crossing(quote=tick) == 1
    assert paper.fill_crossing(quote=tick) == 0
    assert (fresh(first).filled, fresh(second).filled) == (D("300"), 0)


def test_a_batch_sets_aside_only_the_order_that_cannot_settle(book, user):
    orders = [place(user, price="1.10000", amount="100") for _ in range(3)]
    wallet_services.hold_release(key=orders[1].hold_key)  # it has nothing left to pay with
    assert paper.fill_crossing(quote=crossing(orders[-1])) == 2
    assert [fresh(o).status for o in orders] == ["FILLED", "OPEN", "FILLED"]
    assert fresh(orders[1]).settle_error and not Fill.objects.filter(order=orders[1]).exists()
    assert paper.fill_crossing(quote=crossing(fresh(orders[1]))) == 0  # skipped while aside
    assert books_clean() == []


def test_crossing_orders_beyond_one_batch_all_fill(book, user, settings):
    settings.PAPER_FILL_BATCH = 2
    orders = [place(user, price="1.10000", amount="10") for _ in range(5)]
    assert paper.fill_crossing(quote=crossing(orders[-1])) == 5
    assert {fresh(o).status for o in orders} == {"FILLED"}
    assert books_clean() == []


def test_the_sweep_fires_a_conditional_order_whose_quote_never_reached_the_executor(book,
                                                                                  user):
    # The tick that crosses the stop is stored as the latest quote, but its fill task is
    # lost (the bus is quiet here): the sweep re-offers it, and the trigger runs first.
    place(user, type="MARKET", amount="500")
    order = place(user, type="STOP_MARKET", side="SELL", amount="500",
                  stop_price=D("1.09900"))
    publish_quote(bid="1.09880", ask="1.09900", at=after(order))
    assert fresh(order).status == "PENDING"
    assert paper.sweep(enqueue=lambda q: paper.fill_crossing(quote=q)) == 1
    done = fresh(order)
    assert (done.status, done.fills.get().price) == ("FILLED", D("1.09880"))
    assert done.trigger_evidence["quote"]["bid"] == "1.09880"
    # Swept again: it fires nothing more.
    paper.sweep(enqueue=lambda q: paper.fill_crossing(quote=q))
    assert Fill.objects.filter(order=order).count() == 1
    assert books_clean() == []


def test_the_sweep_offers_each_enabled_markets_fresh_quote_once(book, user):
    MarketFactory(symbol="GBP/USD")                       # quoted, but stale
    MarketFactory(symbol="AUD/USD", status="halted")      # quoted, not enabled
    publish_quote(symbol="GBP/USD", bid="1.2", ask="1.3",
                  at=datetime.now(UTC) - timedelta(minutes=5))
    publish_quote(symbol="AUD/USD", bid="0.6", ask="0.7")
    offered = []
    assert paper.sweep(enqueue=offered.append) == 1
    assert [q.symbol for q in offered] == ["EUR/USD"]


# --- venues -------------------------------------------------------------------------------


def test_a_spot_quote_of_the_same_symbol_neither_fills_nor_prices_paper_orders(market, user):
    # The real quote bus: the paper executor listens to the paper venue only.
    publish_quote(bid="1.09990", ask="1.10010")
    order = place(user, price="1.10000")
    spot = publish_quote(venue="spot", bid="1.00000", ask="1.00010", at=after(order))
    assert fresh(order).status == "OPEN"
    assert latest_quote(venue="paper", symbol="EUR/USD").ask == D("1.10010")
    assert paper.fill_crossing(quote=spot) == 0  # nor if handed one by mistake
    assert fresh(order).status == "OPEN"
    assert place(user, type="MARKET", amount="10").cost == D("11.01")  # the paper ask
    publish_quote(bid="1.09980", ask="1.09990", at=after(order, ms=5))
    assert fresh(order).status == "FILLED"


# --- the invariants, over random sequences ------------------------------------------------

amounts = st.integers(min_value=1, max_value=300_000).map(lambda n: D(n) / 100)
sizes = st.none() | amounts
ticks = st.integers(min_value=-30, max_value=30)
actions = st.one_of(
    st.tuples(st.just("quote"), ticks, st.integers(1, 5), sizes, sizes),
    st.tuples(st.just("limit"), st.integers(0, 1), st.sampled_from(["BUY", "SELL"]), ticks,
              amounts, st.sampled_from(["GTC", "GTC", "IOC", "FOK"])),
    st.tuples(st.just("market"), st.integers(0, 1), st.sampled_from(["BUY", "SELL"]), amounts),
    st.tuples(st.just("cancel"), st.integers(0, 1), st.integers(0, 50)),
)
TICK, MID = D("0.00001"), D("1.10000")


def check_invariants(traders) -> None:
    assert books_clean() == []
    granted = DEMO * len(traders)
    for currency in ("USD", "EUR"):
        users = sum((w.balance for w in Wallet.objects.filter(
            user__in=traders, type="PAPER", currency_id=currency)), D(0))
        # Value is conserved: what traders hold plus the paper market's and the fees'
        # accounts is what the faucet granted.
        assert users + system("PAPER_MARKET", currency) + system("FEES", currency) == (
            granted if currency == "USD" else 0)
    for trader in traders:
        for w in Wallet.objects.filter(user=trader, type="PAPER"):
            live = Order.objects.filter(user=trader, status__in=LIVE_STATUSES)
            assert w.held == sum((Hold.objects.get(key=o.hold_key).remaining for o in live
                                  if Hold.objects.get(key=o.hold_key).wallet_id == w.pk), D(0))
    for order in Order.objects.prefetch_related("fills"):
        fills = list(order.fills.all())
        assert order.filled + order.remaining == order.amount
        assert sum((f.amount for f in fills), D(0)) == order.filled
        assert sum((f.quote_amount for f in fills), D(0)) == order.cost
        assert sum((f.fee for f in fills), D(0)) == order.fee
        exact = sum((EXACT.multiply(f.price, f.amount) for f in fills), D(0))
        # Cumulative rounding: never more (BUY) or less (SELL) than one fill of the whole.
        rounded = round_up if order.side == "BUY" else round_down
        assert order.cost == rounded(exact, decimals=2)
        assert holding(order) == (order.status not in FINAL_STATUSES)


@settings(max_examples=int(os.environ.get("PAPER_EXAMPLES", "20")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(actions, min_size=1, max_size=12))
def test_random_quotes_and_orders_keep_the_books_exact(market, quiet_bus, steps):
    with transaction.atomic():
        cache.clear()
        traders = [UserFactory(), UserFactory()]
        for trader in traders:
            paper.paper_account_ensure(user_id=trader.pk)
        mid = MID
        for step in steps:
            kind, *args = step
            try:
                if kind == "quote":
                    move, spread, bid_size, ask_size = args
                    mid += move * TICK
                    q = publish_quote(bid=str(mid - spread * TICK), ask=str(mid + spread * TICK),
                                      bid_size=None if bid_size is None else str(bid_size),
                                      ask_size=None if ask_size is None else str(ask_size))
                    paper.fill_crossing(quote=q)
                elif kind == "limit":
                    who, side, offset, amount, tif = args
                    place(traders[who], side=side, price=str(mid + offset * TICK),
                          amount=str(amount), time_in_force=tif)
                elif kind == "market":
                    who, side, amount = args
                    place(traders[who], side=side, type="MARKET", amount=str(amount))
                else:
                    who, pick = args
                    live = list(Order.objects.filter(user=traders[who],
                                                     status__in=LIVE_STATUSES))
                    if live:
                        services.order_cancel(user_id=traders[who].pk, venue="paper",
                                              order_id=live[pick % len(live)].pk)
            except DomainError:
                pass  # refused (no funds, no quote yet): the invariants must hold anyway
            check_invariants(traders)
        transaction.set_rollback(True)


# --- MariaDB: a race ----------------------------------------------------------------------

DEADLOCK, LOCK_WAIT_TIMEOUT = 1213, 1205


def _race(*, seconds: float, threads: int, caplog) -> None:
    """``threads - 1`` threads place (LIMIT around the price, or MARKET) and cancel orders
    of four traders while one feeds crossing quotes (with sizes or without) and fills what
    they cross, for ``seconds``. No deadlock or lock wait timeout may surface or be
    swallowed by a fill batch; the books reconcile and every invariant of the random test
    holds afterwards."""
    traders = [UserFactory() for _ in range(4)]
    publish_quote(bid="1.09990", ask="1.10010")
    for trader in traders:  # some EUR to sell
        place(trader, type="MARKET", amount="5000")
    stop = time.monotonic() + seconds
    counts: dict[int, Counter] = {}
    mid = [MID]

    def feeder(i: int, rng: random.Random) -> None:
        while time.monotonic() < stop:
            mid[0] = min(max(mid[0] + TICK * rng.randint(-4, 4), D("1.09950")), D("1.10050"))
            spread = TICK * rng.randint(1, 3)
            q = publish_quote(bid=str(mid[0] - spread), ask=str(mid[0] + spread),
                              bid_size=rng.choice([None, "700", "2500"]),
                              ask_size=rng.choice([None, "700", "2500"]))
            counts[i]["filled"] += paper.fill_crossing(quote=q)

    def trader_work(i: int, rng: random.Random) -> None:
        trader = traders[i % len(traders)]
        while time.monotonic() < stop:
            live = list(Order.objects.filter(user=trader, status__in=LIVE_STATUSES)
                        .values_list("pk", flat=True))
            side, amount = rng.choice(["BUY", "SELL"]), str(rng.randint(1, 2000))
            if live and rng.random() < 0.4:
                services.order_cancel(user_id=trader.pk, venue="paper",
                                      order_id=rng.choice(live))
                counts[i]["cancel"] += 1
            elif rng.random() < 0.2:
                place(trader, side=side, type="MARKET", amount=amount)
                counts[i]["market"] += 1
            else:
                place(trader, side=side, price=str(mid[0] + TICK * rng.randint(-6, 6)),
                      amount=amount)
                counts[i]["place"] += 1

    def work(i: int) -> None:
        counts[i], rng = Counter(), random.Random(i)
        while time.monotonic() < stop:
            try:
                (feeder if i == -1 else trader_work)(i, rng)
            except OperationalError as exc:
                code = exc.args[0] if exc.args else None
                counts[i][{DEADLOCK: "deadlock", LOCK_WAIT_TIMEOUT: "lock wait timeout"}.get(
                    code, f"error {exc!r}")] += 1
            except Conflict as exc:  # a race the services refuse cleanly (filled meanwhile)
                counts[i][f"conflict {exc.code}"] += 1

    outcomes = run_threads(threads, lambda i: work(i - 1))
    assert outcomes == {"ok": threads}, outcomes
    total = sum(counts.values(), Counter())
    errors = {k: n for k, n in total.items()
              if k in ("deadlock", "lock wait timeout") or k.startswith("error")}
    assert errors == {}, dict(total)
    # Nor one that a fill batch swallowed and deferred to the next quote.
    deferred = [r.getMessage() for r in caplog.records
                if "Deadlock found" in r.getMessage() or "Lock wait timeout" in r.getMessage()]
    assert deferred == []
    assert total["place"] and total["market"] and total["cancel"] and total["filled"], dict(
        total)
    call_command("wallets_reconcile")
    check_invariants(traders)


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_placing_and_cancelling_while_quotes_cross_never_deadlocks(market, quiet_bus, caplog):
    _race(seconds=4, threads=9, caplog=caplog)


@pytest.mark.slow
@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_the_race_for_a_minute(market, quiet_bus, caplog):
    _race(seconds=60, threads=17, caplog=caplog)


def test_a_market_buy_by_quote_amount_fills_what_its_budget_buys_at_the_ask(book, user):
    buy = services.order_place(user_id=user.pk, venue="paper", symbol=book.symbol,
                               side="BUY", type="MARKET", quote_amount=D("1000"))
    # 1000 / 1.10010 = 909.0082...: 909 lots of 1 EUR at the ask, 999.9909 USD rounded
    # up to the cent; the taker fee (0.1%) on it; the hold (1000 + 1.00) released.
    assert (buy.status, buy.amount, buy.filled, buy.remaining, buy.quote_amount) == (
        "FILLED", D("909"), D("909"), 0, D("1000"))
    assert (buy.cost, buy.fee) == (D("1000.00"), D("1.00"))
    usd = wallet(user, "USD")
    assert (usd.balance, usd.held) == (DEMO - D("1001.00"), 0)
    assert wallet(user, "EUR").balance == D("909")
    assert not holding(buy) and books_clean() == []
