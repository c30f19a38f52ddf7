"""A MARKET BUY by quote budget on the engine: it buys whole lots level by level while
its budget lasts, holds the budget plus the taker fee on it, ends with the amount it
bought, releases the rest of its hold once, and is replayed with its budget."""
from decimal import localcontext

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from apps.engine import books
from apps.engine.models import EngineCommand, EngineLease
from apps.engine.runner import replay
from apps.matching import MarketSpec, StpMode
from apps.trading import services
from apps.trading.constants import OrderStatus
from apps.wallets.models import Hold
from tests.engine.helpers import (
    CLEARING,
    FEES,
    SYMBOL,
    D,
    balance,
    drain,
    eco_market,
    place,
    runner,
    system_total,
    take_over,
    trader,
)
from tests.trading.helpers import books_clean, fresh

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def market(currencies):
    return eco_market()


def buy_for(user, budget: str, **kwargs):
    return services.order_place(user_id=user.pk, venue="ecosystem", symbol=SYMBOL,
                                side="BUY", type="MARKET", quote_amount=D(budget), **kwargs)


def asks(r, levels):
    seller = trader()
    for price, amount in levels:
        place(seller, side="SELL", price=price, amount=amount)
    drain(r)  # the engine publishes the ask a market order is sized at
    return seller


def test_a_budget_walks_the_book_and_the_order_ends_with_what_it_bought(market):
    r = runner(market)
    seller = asks(r, [("10.00", "0.5"), ("10.50", "1"), ("11.00", "2")])
    buyer = trader()
    order = buy_for(buyer, "15")
    # Held: the budget and the taker fee (0.2%) on all of it, nothing more.
    assert balance(buyer, "USDT") == (D("100000"), D("15.03"))
    drain(r)
    order = fresh(order)
    # 0.5 at 10.00 (5.00), then 952 lots of 0.001 at 10.50 (9.996): 0.004 left, less
    # than one lot at 10.50.
    assert (order.status, order.amount, order.filled, order.remaining, order.cost,
            order.quote_amount) == (OrderStatus.FILLED, D("1.452"), D("1.452"), 0,
                                    D("14.996"), D("15"))
    assert order.fee == D("0.029992")
    assert balance(buyer, "USDT") == (D("100000") - D("14.996") - D("0.029992"), D(0))
    assert balance(buyer, "ABC") == (D("1001.452"), D(0))
    assert not Hold.objects.filter(key=order.hold_key, remaining__gt=0).exists()
    assert balance(seller, "ABC")[0] == D("1000") - D("1.452")
    assert system_total(CLEARING, "USDT") == 0 and system_total(CLEARING, "ABC") == 0
    assert system_total(FEES, "USDT") > 0
    assert books_clean() == []


def test_a_budget_spent_to_the_last_unit_fills_without_a_cancel(market):
    r = runner(market)
    asks(r, [("10.00", "2")])
    buyer = trader()
    order = buy_for(buyer, "10")
    drain(r)
    order = fresh(order)
    assert (order.status, order.amount, order.cost) == (OrderStatus.FILLED, D("1"), D("10"))
    assert balance(buyer, "USDT") == (D("100000") - D("10") - D("0.02"), D(0))
    assert books_clean() == []


def test_a_budget_that_buys_nothing_expires_and_releases_all_of_its_hold(market):
    r = runner(market)
    asks(r, [("10.00", "1")])
    buyer = trader()
    # A limit buy queued first takes the ask: the budget order finds the book empty.
    place(trader(), side="BUY", price="10.00", amount="1")
    order = buy_for(buyer, "5")
    drain(r)
    order = fresh(order)
    assert (order.status, order.filled, order.quote_amount) == (OrderStatus.EXPIRED, 0,
                                                                D("5"))
    assert balance(buyer, "USDT") == (D("100000"), D(0))
    assert books_clean() == []


@override_settings(ENGINE_SNAPSHOT_EVERY=2, ENGINE_BATCH=1)
def test_restore_and_replay_keep_the_budget(market):
    first = runner(market)
    asks(first, [("10.00", "0.5"), ("10.50", "1"), ("11.00", "2")])
    buy_for(trader(), "15")
    place(trader(), side="SELL", price="12.00", amount="1")
    drain(first)
    logged = EngineCommand.objects.filter(market=market, payload__quote_budget__isnull=False)
    assert [c.payload["quote_budget"] for c in logged] == [1_500_000]  # 15 / (0.01 x 0.001)
    restored = take_over(market).states[market.pk].book
    lease = EngineLease.objects.get(pk=market.pk)
    scratch = replay(market=market, stp_default=StpMode.CANCEL_TAKER, upto=lease.applied_seq)
    assert restored.state_hash() == scratch.state_hash()
    assert restored.state_hash() == first.states[market.pk].book.state_hash()
    # What is left of the 10.50 level is what the budget order did not buy.
    assert restored.depth(levels=5).asks[0] == (1050, 48)


@pytest.mark.parametrize("budgets", [["0.11", "10.01", "59.99"], ["25.37", "25.37"]])
def test_budgets_never_spend_more_than_they_hold_and_money_is_conserved(market, budgets):
    r = runner(market)
    asks(r, [("10.00", "1"), ("10.37", "1.5"), ("12.01", "2")])
    buyers = [trader() for _ in budgets]
    orders = [buy_for(b, x) for b, x in zip(buyers, budgets, strict=True)]
    drain(r)
    for buyer, budget, order in zip(buyers, budgets, orders, strict=True):
        order = fresh(order)
        assert order.cost <= D(budget) and order.status == OrderStatus.FILLED
        assert order.amount == order.filled and order.remaining == 0
        assert balance(buyer, "USDT") == (D("100000") - order.cost - order.fee, D(0))
    assert system_total(CLEARING, "USDT") == 0 and system_total(CLEARING, "ABC") == 0
    assert books_clean() == []


@given(amount=st.decimals(min_value=D("0.00001"), max_value=D("10") ** 17, places=8),
       tick=st.sampled_from(["0.01", "0.5", "1", "0.00000001"]),
       lot=st.sampled_from(["0.001", "1", "0.00000001", "10"]))
def test_the_engines_budget_is_what_the_hold_covers_rounded_down(amount, tick, lot):
    spec = MarketSpec(market_id="1", tick_size=D(tick), lot_size=D(lot))
    units = books.quote_budget(amount, spec=spec)
    with localcontext() as ctx:
        ctx.prec = 80  # exact: the default 28 digits would round a 10^17 budget
        assert units * spec.quote_unit <= amount < (units + 1) * spec.quote_unit
