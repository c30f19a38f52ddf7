"""Conditional orders on the paper venue, as a trader sees them in orders and wallets: each
type's trigger (quotes in: what fires, at what price, what is placed, what is held and
released), gaps through the trigger, trailing stops, OCO pairs and brackets, exactly once
under duplicated ticks, and the validation that refuses what could never work."""
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import OperationalError, transaction
from django.db.models import QuerySet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.errors import Conflict, InvalidInput
from apps.core.money import round_up
from apps.marketdata import streams
from apps.marketdata.quotes import Quote
from apps.marketdata.services import publish
from apps.trading import services, venues
from apps.trading.constants import OrderStatus
from apps.trading.models import Fill, Order
from apps.trading.venues import Submission
from apps.twelvedata import paper
from apps.wallets import services as wallet_services
from apps.wallets.models import Hold, Journal
from tests.factories import MarketFactory
from tests.trading.helpers import (
    DEMO,
    D,
    after,
    books_clean,
    fresh,
    hold_of,
    holding,
    identity_reviewed,
    place,
    publish_quote,
    wallet,
)
from tests.trading.test_services import FakeExchange

pytestmark = pytest.mark.django_db
S = OrderStatus
EUR0 = D("10000")
TAKER, MAKER = D("0.0010"), D("0.0008")


@pytest.fixture
def book(market, quiet_bus, user):
    """EUR/USD quoted 1.09990 / 1.10010 (last 1.10000); the user has the paper demo's
    100,000 USD and 10,000 EUR."""
    publish_quote(bid="1.09990", ask="1.10010")
    wallet_services.grant_paper_funds(user_id=user.pk, currency="EUR", amount=EUR0,
                                      key=f"test:eur:{user.pk}")
    paper.paper_account_ensure(user_id=user.pk)
    return market


def tick(order: Order, bid: str, ask: str, *, price: str | None = None, **sizes) -> int:
    """Publish a quote newer than ``order`` as it stands now and run the paper executor
    on it (triggers, then crossings). ``price``: the last price (default: the mid)."""
    at = after(fresh(order))
    q = Quote(venue="paper", symbol="EUR/USD", bid=D(bid), ask=D(ask),
              price=D(price) if price else (D(bid) + D(ask)) / 2, timestamp=at, source="test",
              **{k: D(v) for k, v in sizes.items()})
    publish(quote=q)
    return paper.fill_crossing(quote=q)


def buy_spent(price: str, amount: str, rate: Decimal) -> Decimal:
    """What a BUY of ``amount`` at ``price`` costs with its fee, rounded as the platform
    rounds (up, to the cent)."""
    cost = round_up(D(price) * D(amount), decimals=2)
    return cost + round_up(cost * rate, decimals=2)


def sell_got(price: str, amount: str, rate: Decimal) -> Decimal:
    cost = (D(price) * D(amount)).quantize(D("0.01"), rounding="ROUND_DOWN")
    return cost - round_up(cost * rate, decimals=2)


# --- each type: the table -----------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    type: str
    side: str
    params: dict
    held: str                      # what it holds from placement (USD for a buy, EUR a sell)
    quotes: list                   # (bid, ask) in order; the last price is their mid
    fires_at: int | None           # the quote that fires it
    fill: tuple | None = None      # (price, liquidity) of its one fill
    status: str = S.FILLED
    rests_after_trigger: bool = False
    extra: dict = field(default_factory=dict)


CASES = {
    # A buy stop fires when the price rises to it and buys at the ask; it holds its
    # trigger + 5% (1.10100 -> 1.15605): 1,156.05 + the fee 1.16.
    "stop-market buy": Case("STOP_MARKET", "BUY", {"stop_price": "1.10100"}, "1157.21",
                            [("1.10040", "1.10060"), ("1.10100", "1.10120")], 1,
                            ("1.10120", TAKER)),
    # A sell stop gapped through: it sells at the market, far below the trigger.
    "stop-market sell, gap": Case("STOP_MARKET", "SELL", {"stop_price": "1.09900"}, "1000",
                                  [("1.09940", "1.09960"), ("1.05000", "1.05020")], 1,
                                  ("1.05000", TAKER)),
    # Fired, and its limit child crosses at once: a taker fill at the ask.
    "stop-limit buy": Case("STOP_LIMIT", "BUY", {"stop_price": "1.10100", "price": "1.10150"},
                           "1102.61", [("1.10100", "1.10120")], 0, ("1.10120", TAKER)),
    # Gapped past its limit: the child rests, and fills as a maker when the ask comes back.
    "stop-limit buy, gap": Case("STOP_LIMIT", "BUY",
                                {"stop_price": "1.10100", "price": "1.10150"}, "1102.61",
                                [("1.10200", "1.10220"), ("1.10120", "1.10140")], 0,
                                ("1.10150", MAKER), rests_after_trigger=True),
    "stop-limit sell": Case("STOP_LIMIT", "SELL", {"stop_price": "1.09900", "price": "1.09850"},
                            "1000", [("1.09880", "1.09900")], 0, ("1.09880", TAKER)),
    "stop-limit sell, gap": Case("STOP_LIMIT", "SELL",
                                 {"stop_price": "1.09900", "price": "1.09850"}, "1000",
                                 [("1.09790", "1.09810"), ("1.09860", "1.09880")], 0,
                                 ("1.09850", MAKER), rests_after_trigger=True),
    # A take-profit buy fires when the price falls to it (1.09900 -> held at 1.15395).
    "take-profit-market buy": Case("TAKE_PROFIT_MARKET", "BUY", {"stop_price": "1.09900"},
                                   "1155.11", [("1.09940", "1.09960"),
                                               ("1.09880", "1.09900")], 1,
                                   ("1.09900", TAKER)),
    "take-profit-market sell": Case("TAKE_PROFIT_MARKET", "SELL", {"stop_price": "1.10100"},
                                    "1000", [("1.10100", "1.10120")], 0, ("1.10100", TAKER)),
    "take-profit-limit buy": Case("TAKE_PROFIT_LIMIT", "BUY",
                                  {"stop_price": "1.09900", "price": "1.09900"}, "1100.10",
                                  [("1.09880", "1.09900")], 0, ("1.09900", TAKER)),
    "take-profit-limit sell": Case("TAKE_PROFIT_LIMIT", "SELL",
                                   {"stop_price": "1.10100", "price": "1.10100"}, "1000",
                                   [("1.10100", "1.10120")], 0, ("1.10100", TAKER)),
    # Trails 0.00050 below the highest price: from 1.10000 (stop 1.09950) up to 1.10100
    # (stop 1.10050); 1.10060 does not fire it, 1.10050 does.
    "trailing sell, delta": Case("TRAILING_STOP", "SELL", {"trailing_delta": "0.00050"},
                                 "1000", [("1.10090", "1.10110"), ("1.10050", "1.10070"),
                                          ("1.10040", "1.10060")], 2, ("1.10040", TAKER),
                                 extra={"best": "1.10100", "stop": "1.10050"}),
    # Trails 0.1% above the lowest price: from 1.10000 (stop 1.10110, held at +5%:
    # 1.15616) down to 1.09900 (stop 1.10010); 1.10000 does not fire it, 1.10010 does.
    "trailing buy, rate": Case("TRAILING_STOP", "BUY", {"trailing_rate": "0.001"}, "1157.32",
                               [("1.09890", "1.09910"), ("1.09990", "1.10010"),
                                ("1.10000", "1.10020")], 2, ("1.10020", TAKER),
                               extra={"best": "1.09900", "stop": "1.10010"}),
    # Not active until the price reaches 1.10200; then it trails from there.
    "trailing sell, activation": Case("TRAILING_STOP", "SELL",
                                      {"trailing_delta": "0.00050",
                                       "activation_price": "1.10200"}, "1000",
                                      [("1.09890", "1.09910"), ("1.10190", "1.10210"),
                                       ("1.10140", "1.10160")], 2, ("1.10140", TAKER),
                                      extra={"best": "1.10200", "stop": "1.10150"}),
    # On the bid: 1.09900 fires a sell stop although the last price (1.09925) has not.
    "stop-market sell on the bid": Case("STOP_MARKET", "SELL",
                                        {"stop_price": "1.09900", "trigger_source": "BID_ASK"},
                                        "1000", [("1.09900", "1.09950")], 0,
                                        ("1.09900", TAKER)),
    # ... and on the last price the same quote fires nothing.
    "stop-market sell on the last price": Case("STOP_MARKET", "SELL",
                                               {"stop_price": "1.09900"}, "1000",
                                               [("1.09900", "1.09950")], None, None,
                                               S.PENDING),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_type_fires_places_and_pays_as_its_table_row_says(book, user, case):
    order = place(user, type=case.type, side=case.side, amount="1000", **{
        k: (D(v) if k != "trigger_source" else v) for k, v in case.params.items()})
    held_currency = "USD" if case.side == "BUY" else "EUR"
    assert order.status == S.PENDING and order.triggered_at is None
    assert (hold_of(order).amount, wallet(user, held_currency).held) == (D(case.held),
                                                                          D(case.held))
    for i, (bid, ask) in enumerate(case.quotes):
        tick(order, bid, ask)
        now = fresh(order)
        if case.fires_at is None or i < case.fires_at:
            assert (now.status, now.triggered_at) == (S.PENDING, None), i
            assert not now.fills.exists()
        elif i == case.fires_at:
            assert now.triggered_at is not None
            assert now.trigger_evidence["quote"]["bid"] == bid
            if case.rests_after_trigger:
                assert now.status == S.OPEN and holding(now)
    done = fresh(order)
    assert done.status == case.status
    if case.extra:
        assert (done.trailing_best, done.stop_price) == (D(case.extra["best"]),
                                                         D(case.extra["stop"]))
    usd, eur = wallet(user, "USD"), wallet(user, "EUR")
    if case.fill is None:
        assert not done.fills.exists() and holding(done)
        assert (usd.balance, eur.balance) == (DEMO, EUR0)
        return
    price, rate = case.fill
    (fill,) = done.fills.all()
    assert (fill.price, fill.amount, fill.liquidity) == (D(price), D("1000"),
                                                         "TAKER" if rate == TAKER else "MAKER")
    assert not holding(done) and usd.held == 0 and eur.held == 0
    if case.side == "BUY":
        assert (usd.balance, eur.balance) == (DEMO - buy_spent(price, "1000", rate),
                                              EUR0 + 1000)
    else:
        assert (usd.balance, eur.balance) == (DEMO + sell_got(price, "1000", rate),
                                              EUR0 - 1000)
    assert books_clean() == []


def test_a_buy_stop_market_gapping_beyond_its_margin_buys_what_its_hold_covers(book, user):
    order = place(user, type="STOP_MARKET", amount="1000", stop_price=D("1.10100"))
    assert hold_of(order).amount == D("1157.21")  # 1,000 at 1.15605, with the fee
    tick(order, "1.19980", "1.20000")
    done = fresh(order)
    # 1,000 x 1.15605 / 1.20000 = 963.375: 963.37 whole lots at the market.
    assert (done.status, done.filled, done.remaining) == (S.EXPIRED, D("963.37"), D("36.63"))
    assert "gapped to 1.2" in done.reason and "the rest expired" in done.reason
    assert done.fills.get().price == D("1.20000")
    usd = wallet(user, "USD")
    spent = buy_spent("1.20000", "963.37", TAKER)
    assert spent <= D("1157.21")
    assert (usd.balance, usd.held, wallet(user, "EUR").balance) == (DEMO - spent, 0,
                                                                    EUR0 + D("963.37"))
    assert books_clean() == []


def test_a_buy_stop_within_its_margin_fills_in_full_beyond_the_trigger(book, user):
    order = place(user, type="STOP_MARKET", amount="1000", stop_price=D("1.10100"))
    tick(order, "1.15580", "1.15600")  # a gap of 5%, just inside the margin
    done = fresh(order)
    assert (done.status, done.filled) == (S.FILLED, D("1000"))
    assert wallet(user, "USD").balance == DEMO - buy_spent("1.15600", "1000", TAKER)
    assert books_clean() == []


# --- exactly once -------------------------------------------------------------------------


def test_a_duplicated_tick_fires_once(book, user):
    order = place(user, type="STOP_MARKET", side="SELL", amount="1000",
                  stop_price=D("1.09900"))
    at = after(order)
    q = Quote(venue="paper", symbol="EUR/USD", bid=D("1.09880"), ask=D("1.09900"),
              price=D("1.09890"), timestamp=at, source="test")
    publish(quote=q)
    assert paper.fill_crossing(quote=q) == 1
    journals = Journal.objects.count()
    assert paper.fill_crossing(quote=q) == 0
    assert services.conditional_trigger(market=book, quote=q) == 0
    assert Journal.objects.count() == journals and Fill.objects.count() == 1
    assert wallet(user, "EUR").balance == EUR0 - 1000
    assert books_clean() == []


def test_a_trailing_stop_moved_by_a_tick_is_not_moved_again_by_its_replay(book, user):
    order = place(user, type="TRAILING_STOP", side="SELL", amount="1000",
                  trailing_delta=D("0.00050"))
    at = after(order)
    q = Quote(venue="paper", symbol="EUR/USD", bid=D("1.10090"), ask=D("1.10110"),
              price=D("1.10100"), timestamp=at, source="test")
    assert paper.fill_crossing(quote=q) == 0
    moved = fresh(order)
    paper.fill_crossing(quote=q)
    again = fresh(order)
    assert (again.trailing_best, again.stop_price, again.updated_at) == (
        D("1.10100"), D("1.10050"), moved.updated_at)


def test_an_order_placed_after_the_quote_is_not_fired_by_it(book, user):
    earlier = datetime.now(UTC) - timedelta(seconds=1)
    order = place(user, type="STOP_MARKET", side="SELL", amount="1000",
                  stop_price=D("1.09900"))
    q = Quote(venue="paper", symbol="EUR/USD", bid=D("1.09000"), ask=D("1.09020"),
              price=D("1.09010"), timestamp=earlier, source="test")
    assert services.conditional_trigger(market=book, quote=q) == 0
    assert fresh(order).status == S.PENDING


# --- cancelling ---------------------------------------------------------------------------


@pytest.mark.parametrize(("type", "params"), [
    ("STOP_MARKET", {"stop_price": D("1.10100")}),
    ("STOP_LIMIT", {"stop_price": D("1.10100"), "price": D("1.10150")}),
    ("TRAILING_STOP", {"trailing_rate": D("0.01")}),
])
def test_cancelling_a_pending_order_releases_its_hold_exactly_once(book, user, type, params):
    order = place(user, type=type, amount="1000", **params)
    assert wallet(user, "USD").held > 0
    canceled = services.order_cancel(user_id=user.pk, venue="paper", order_id=order.pk)
    assert canceled.status == S.CANCELED and canceled.closed_at is not None
    assert hold_of(order).status == Hold.Status.CLOSED and hold_of(order).remaining == 0
    assert (wallet(user, "USD").balance, wallet(user, "USD").held) == (DEMO, 0)
    with pytest.raises(Conflict):
        services.order_cancel(user_id=user.pk, venue="paper", order_id=order.pk)
    # A quote that would have fired it fires nothing now.
    assert tick(order, "1.20000", "1.20020") == 0
    assert (wallet(user, "USD").balance, wallet(user, "USD").held) == (DEMO, 0)
    assert books_clean() == []


def test_a_triggered_limit_child_resting_is_cancelled_like_any_order(book, user):
    order = place(user, type="STOP_LIMIT", amount="1000", stop_price=D("1.10100"),
                  price=D("1.10150"))
    tick(order, "1.10200", "1.10220")
    assert fresh(order).status == S.OPEN
    services.order_cancel(user_id=user.pk, venue="paper", order_id=order.pk)
    assert (fresh(order).status, wallet(user, "USD").held) == (S.CANCELED, 0)
    assert books_clean() == []


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "field", "message"), [
    ({"type": "STOP_MARKET", "side": "BUY", "stop_price": "1.09900"}, "stop_price",
     "A buy stop must be above the market price 1.1."),
    ({"type": "STOP_MARKET", "side": "SELL", "stop_price": "1.10100"}, "stop_price",
     "A sell stop must be below the market price 1.1."),
    ({"type": "STOP_LIMIT", "side": "BUY", "stop_price": "1.10000", "price": "1.1"},
     "stop_price", "A buy stop must be above"),
    ({"type": "TAKE_PROFIT_MARKET", "side": "BUY", "stop_price": "1.10100"}, "stop_price",
     "A buy take-profit must be below the market price 1.1."),
    ({"type": "TAKE_PROFIT_LIMIT", "side": "SELL", "stop_price": "1.09900",
      "price": "1.09900"}, "stop_price", "A sell take-profit must be above"),
    ({"type": "STOP_MARKET", "side": "SELL", "stop_price": "1.099001"}, "stop_price",
     "multiple of 0.00001"),
    ({"type": "STOP_MARKET", "side": "SELL"}, "stop_price", "needs a stop price"),
    ({"type": "STOP_MARKET", "side": "SELL", "stop_price": "-1"}, "stop_price",
     "greater than zero"),
    ({"type": "STOP_MARKET", "side": "SELL", "stop_price": "NaN"}, "stop_price",
     "greater than zero"),
    ({"type": "STOP_LIMIT", "side": "SELL", "stop_price": "1.09900"}, "price",
     "needs a price"),
    ({"type": "STOP_MARKET", "side": "SELL", "stop_price": "1.09900", "price": "1.09"},
     "price", "takes no price"),
    ({"type": "LIMIT", "side": "BUY", "price": "1.09", "stop_price": "1.1"}, "stop_price",
     "takes no stop_price"),
    ({"type": "STOP_MARKET", "side": "SELL", "stop_price": "1.09900",
      "trailing_delta": "0.0001"}, "trailing_delta", "Only a trailing stop"),
    ({"type": "TRAILING_STOP", "side": "SELL"}, "trailing_delta", "exactly one"),
    ({"type": "TRAILING_STOP", "side": "SELL", "trailing_delta": "0.0001",
      "trailing_rate": "0.01"}, "trailing_delta", "exactly one"),
    ({"type": "TRAILING_STOP", "side": "SELL", "trailing_rate": "0.0001"}, "trailing_rate",
     "between 0.001 and 0.2"),
    ({"type": "TRAILING_STOP", "side": "SELL", "trailing_rate": "0.25"}, "trailing_rate",
     "between 0.001 and 0.2"),
    ({"type": "TRAILING_STOP", "side": "SELL", "trailing_rate": "0.0012345"},
     "trailing_rate", "6 decimal places"),
    ({"type": "TRAILING_STOP", "side": "SELL", "trailing_delta": "0.000015"},
     "trailing_delta", "multiple of 0.00001"),
    ({"type": "TRAILING_STOP", "side": "SELL", "trailing_delta": "2"}, "trailing_delta",
     "larger than the price"),
    ({"type": "TRAILING_STOP", "side": "SELL", "trailing_delta": "0.0001",
      "stop_price": "1.09"}, "stop_price", "takes no stop price"),
    ({"type": "TRAILING_STOP", "side": "SELL", "trailing_delta": "0.0001",
      "activation_price": "1.09900"}, "activation_price",
     "A sell trailing stop's activation price must be above the market price 1.1."),
    ({"type": "TRAILING_STOP", "side": "BUY", "trailing_delta": "0.0001",
      "activation_price": "1.10100"}, "activation_price", "must be below"),
    ({"type": "STOP_MARKET", "side": "SELL", "stop_price": "1.09900",
      "trigger_source": "MARK"}, "trigger_source", "BID_ASK, LAST on paper"),
    ({"type": "STOP_MARKET", "side": "SELL", "stop_price": "1.09900",
      "trigger_source": "last"}, "trigger_source", "must be one of"),
    ({"type": "STOP_LIMIT", "side": "SELL", "stop_price": "1.09900", "price": "1.09",
      "post_only": True}, "post_only", "cannot be post-only"),
])
def test_a_conditional_order_that_could_not_work_is_refused_and_nothing_is_written(
        book, user, kwargs, field, message):
    kwargs = {k: (D(v) if k in ("stop_price", "price", "trailing_delta", "trailing_rate",
                                "activation_price") else v) for k, v in kwargs.items()}
    with pytest.raises(InvalidInput) as refused:
        place(user, amount="1000", **kwargs)
    assert message in refused.value.message
    assert field in refused.value.fields
    assert not Order.objects.filter(user=user).exists()
    assert (wallet(user, "USD").held, wallet(user, "EUR").held) == (0, 0)


def test_a_conditional_order_needs_a_fresh_price_to_be_checked_against(book, user, settings):
    settings.PAPER_QUOTE_MAX_AGE_SECONDS = 1
    cache.clear()  # the book's fresh quote: a late older tick would never replace it
    publish_quote(bid="1.09990", ask="1.10010",
                  at=datetime.now(UTC) - timedelta(seconds=5))
    with pytest.raises(Conflict) as refused:
        place(user, type="STOP_MARKET", side="SELL", amount="1000", stop_price=D("1.09900"))
    assert refused.value.code == "stale_quote"
    assert not Order.objects.filter(user=user).exists()


def test_a_replay_of_a_conditional_order_must_match(book, user):
    first = place(user, type="STOP_MARKET", side="SELL", amount="1000",
                  stop_price=D("1.09900"), client_order_id="stop-1")
    again = place(user, type="STOP_MARKET", side="SELL", amount="1000",
                  stop_price=D("1.09900"), client_order_id="stop-1")
    assert again.pk == first.pk
    with pytest.raises(Conflict) as refused:
        place(user, type="STOP_MARKET", side="SELL", amount="1000", stop_price=D("1.09800"),
              client_order_id="stop-1")
    assert refused.value.code == "duplicate_client_order_id"
    with pytest.raises(Conflict):
        place(user, type="STOP_MARKET", side="SELL", amount="1000", stop_price=D("1.09900"),
              trigger_source="BID_ASK", client_order_id="stop-1")
    assert Order.objects.filter(user=user).count() == 1
    assert wallet(user, "EUR").held == D("1000")


# --- trailing stops: the invariant --------------------------------------------------------


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(side=st.sampled_from(["SELL", "BUY"]), delta=st.integers(1, 5),
       activation=st.none() | st.integers(1, 4),
       moves=st.lists(st.integers(-4, 4), min_size=1, max_size=12))
def test_a_trailing_stop_trails_the_best_price_since_activation_and_fires_on_the_callback(
        market, quiet_bus, user, side, delta, activation, moves):
    """The reference is the running best (max for a sell, min for a buy) of the prices
    since the first that reached the activation price (or since placement), the trigger
    is that best less (sell) or plus (buy) the delta, and the order fires at the first
    price that retraces to it, not before."""
    unit = D("0.00010")
    sign = 1 if side == "SELL" else -1
    start = D("1.10000")
    # Each example in a transaction rolled back (fills and ledger entries are never
    # deleted); the cache remembers grants and quotes, so it starts empty too.
    cache.clear()
    with transaction.atomic():
        wallet_services.grant_paper_funds(user_id=user.pk, currency="EUR", amount=EUR0,
                                          key=f"test:eur:{user.pk}")
        publish_quote(bid=str(start - D("0.00001")), ask=str(start + D("0.00001")))
        params = {"trailing_delta": delta * unit}
        if activation is not None:
            params["activation_price"] = start + sign * activation * unit
        order = place(user, type="TRAILING_STOP", side=side, amount="10", **params)
        active = activation is None
        best = start if active else None
        price = start
        for move in moves:
            price += move * unit
            fired_now = tick(order, str(price - D("0.00001")), str(price + D("0.00001"))) > 0
            if not active and (price >= params["activation_price"] if side == "SELL"
                               else price <= params["activation_price"]):
                active, best = True, price
            elif active:
                best = max(best, price) if side == "SELL" else min(best, price)
            stop = best - sign * delta * unit if active else None
            expect_fire = active and (price <= stop if side == "SELL" else price >= stop)
            now = fresh(order)
            assert fired_now == expect_fire, (price, best, stop)
            assert now.trailing_best == best and now.stop_price == stop
            if expect_fire:
                assert now.status == S.FILLED
                break
            assert now.status == S.PENDING
        transaction.set_rollback(True)


# --- events -------------------------------------------------------------------------------


@pytest.fixture
def sent(monkeypatch):
    calls: list[tuple[str, dict]] = []
    monkeypatch.setattr(streams, "send_to_groups", lambda messages: calls.extend(
        (message["stream"], message["data"]) for _, message in messages) or True)
    return calls


def test_the_owner_is_told_of_the_trigger_and_of_the_oco_sibling_it_cancelled(
        book, user, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        group = services.order_list_place(
            user_id=user.pk, venue="paper", symbol="EUR/USD", kind="OCO", side="SELL",
            amount=D("1000"), price=D("1.10200"), stop_price=D("1.09800"))
    placed = [data for stream, data in sent if stream == "orders"]
    assert [(o["event"], o["role"], o["status"], o["stop_price"], o["trigger_direction"],
             o["group_id"]) for o in placed] == [
        ("placed", "STOP", "PENDING", "1.098", "FALL", group.pk),
        ("placed", "LIMIT", "OPEN", None, "", group.pk)]
    sent.clear()
    newest = Order.objects.filter(group=group).latest("updated_at")
    with django_capture_on_commit_callbacks(execute=True):
        tick(newest, "1.09780", "1.09800")
    told = {o["role"]: o for stream, o in sent if stream == "orders"}
    assert (told["STOP"]["event"], told["STOP"]["status"], told["STOP"]["fill_price"]) == (
        "triggered", "FILLED", "1.0978")
    assert told["STOP"]["triggered_at"] is not None
    assert (told["LIMIT"]["event"], told["LIMIT"]["status"], told["LIMIT"]["reason"]) == (
        "canceled", "CANCELED", "OCO: the other leg triggered.")


# --- an asynchronous venue ----------------------------------------------------------------


class ConditionalExchange(FakeExchange):
    """An exchange that has no conditional order types of its own: the platform triggers
    them on its quotes, then sends the child."""

    conditional_types: frozenset[str] = frozenset()
    trigger_sources = frozenset({"LAST", "BID_ASK"})

    def trigger_quote(self, *, market):
        return Quote(venue="spot", symbol="EUR/USD", bid=D("1.09990"), ask=D("1.10010"),
                     price=D("1.10000"), timestamp=datetime.now(UTC), source="test")


def test_an_asynchronous_venue_gets_a_conditional_order_only_once_it_triggers(
        currencies, monkeypatch, user, django_capture_on_commit_callbacks):
    fake = ConditionalExchange()
    fake.on_submit = Submission(status=S.OPEN, external_id="x-1")
    monkeypatch.setitem(venues._gateways, "spot", fake)
    spot = MarketFactory(venue="spot")
    identity_reviewed(user)  # a live venue needs KYC level 2 (TRADE_LIVE)
    wallet_services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USD",
                            amount=D("10000"), key=f"test:deposit:{user.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        order = services.order_place(user_id=user.pk, venue="spot", symbol="EUR/USD",
                                     side="BUY", type="STOP_LIMIT", amount=D("1000"),
                                     price=D("1.10200"), stop_price=D("1.10100"))
    assert (fresh(order).status, fake.submitted) == (S.PENDING, [])
    assert wallet(user, "USD", "SPOT").held == D("1103.11")  # 1,102.00 + 1.11
    q = Quote(venue="spot", symbol="EUR/USD", bid=D("1.10100"), ask=D("1.10120"),
              price=D("1.10110"), timestamp=after(order), source="test")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.conditional_trigger(market=spot, quote=q) == 1
        assert services.conditional_trigger(market=spot, quote=q) == 0
    done = fresh(order)
    assert fake.submitted == [order.pk]  # once, after the trigger committed
    assert (done.status, done.external_id) == (S.OPEN, "x-1")
    assert wallet(user, "USD", "SPOT").held == D("1103.11")
    assert books_clean() == []


@pytest.mark.django_db(transaction=True)
def test_a_trailing_move_that_loses_a_deadlock_is_tried_again(market, quiet_bus, user,
                                                               monkeypatch):
    publish_quote(bid="1.09990", ask="1.10010")
    wallet_services.grant_paper_funds(user_id=user.pk, currency="EUR", amount=EUR0,
                                      key=f"test:eur:{user.pk}")
    order = place(user, type="TRAILING_STOP", side="SELL", amount="1000",
                  trailing_delta=D("0.00050"))
    update, lost = QuerySet.update, []

    def deadlocked_once(self, **values):
        if "trailing_best" in values and not lost:
            lost.append(values)
            raise OperationalError(1213, "Deadlock found when trying to get lock")
        return update(self, **values)

    monkeypatch.setattr(QuerySet, "update", deadlocked_once)
    tick(order, "1.10090", "1.10110")
    assert lost
    assert (fresh(order).trailing_best, fresh(order).stop_price) == (D("1.10100"),
                                                                     D("1.10050"))


def test_a_fill_or_kill_stop_that_gapped_beyond_its_hold_fills_nothing(book, user):
    order = place(user, type="STOP_MARKET", amount="1000", stop_price=D("1.10100"),
                  time_in_force="FOK")
    tick(order, "1.19980", "1.20000")
    done = fresh(order)
    assert (done.status, done.filled) == (S.EXPIRED, 0)
    assert "gapped to 1.2" in done.reason
    assert (wallet(user, "USD").balance, wallet(user, "USD").held) == (DEMO, 0)
    assert books_clean() == []


def test_a_sized_quote_fills_a_stop_market_child_as_far_as_its_size_goes(book, user):
    order = place(user, type="STOP_MARKET", side="SELL", amount="1000",
                  stop_price=D("1.09900"))
    tick(order, "1.09880", "1.09900", bid_size="250")
    done = fresh(order)
    assert (done.status, done.filled, done.reason) == (
        S.EXPIRED, D("250"), "Filled in part; the rest expired.")
    assert (wallet(user, "EUR").balance, wallet(user, "EUR").held) == (EUR0 - 250, 0)
    assert books_clean() == []


def test_a_triggered_order_executes_against_the_quote_that_fired_it(book, user):
    # The cache still holds 1.09990 / 1.10010; the executor is handed a newer quote.
    order = place(user, type="STOP_LIMIT", amount="1000", price=D("1.11100"),
                  stop_price=D("1.11000"))
    firing = Quote(venue="paper", symbol="EUR/USD", bid=D("1.11040"), ask=D("1.11050"),
                   price=D("1.11050"), timestamp=after(fresh(order)), source="test")
    assert paper.fill_crossing(quote=firing) == 1
    done = fresh(order)
    (fill,) = Fill.objects.filter(order=order)
    assert (done.status, fill.price, fill.liquidity) == (S.FILLED, D("1.11050"), "TAKER")
    assert fill.evidence == done.trigger_evidence == {"quote": firing.to_dict()}
    assert wallet(user, "USD").balance == DEMO - buy_spent("1.11050", "1000", TAKER)
    assert books_clean() == []


def test_a_sized_quote_is_shared_by_the_children_it_fires_and_the_orders_it_crosses(book,
                                                                                   user):
    stops = [place(user, type="STOP_MARKET", side="SELL", amount="1000",
                   stop_price=D("1.09900")) for _ in range(2)]
    resting = place(user, side="SELL", price="1.10000", amount="1000")
    assert fresh(resting).status == S.OPEN
    # The last price fires both stops; the bid crosses the resting sell; 1,500 are bid.
    tick(resting, "1.10000", "1.10020", price="1.09890", bid_size="1500")
    filled = {o.pk: fresh(o).filled for o in (*stops, resting)}
    assert sum(filled.values()) == D("1500")
    assert [filled[o.pk] for o in stops] == [D("1000"), D("500")]
    assert wallet(user, "EUR").balance == EUR0 - D("1500")
    assert books_clean() == []
