"""What the database itself guarantees about markets, orders and fills, whatever code
writes them."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from apps.trading.models import Fill, Market
from tests.factories import MarketFactory, OrderFactory

pytestmark = pytest.mark.django_db
D = Decimal


def refused(factory, **fields) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**fields)


def test_a_symbol_is_unique_per_venue_and_exact(currencies):
    MarketFactory()
    refused(MarketFactory)
    MarketFactory(venue="spot")
    MarketFactory(symbol="eur/usd", base_currency="EUR", quote_currency="USD")
    assert Market.objects.filter(symbol="EUR/USD").count() == 2
    assert sorted(Market.objects.values_list("symbol", flat=True)) == [
        "EUR/USD", "EUR/USD", "eur/usd"]


@pytest.mark.parametrize("fields", [
    {"tick_size": D(0)}, {"lot_size": D("-0.01")}, {"maker_fee": D(1)}, {"taker_fee": D(-1)},
    {"min_amount": D(-1)}, {"min_amount": D(10), "max_amount": D(5)},
    {"min_notional": D(10), "max_notional": D(5)},
])
def test_market_steps_fees_and_limits_must_make_sense(currencies, fields):
    refused(MarketFactory, **fields)


def test_precisions_follow_the_steps(currencies):
    market = MarketFactory(tick_size=D("0.00025"), lot_size=D("1"))
    assert (market.price_precision, market.amount_precision) == (5, 0)
    assert market.is_tradeable and not MarketFactory(symbol="GBP/USD",
                                                    status="halted").is_tradeable
    assert str(market) == "paper:EUR/USD"


@pytest.mark.parametrize("fields", [
    {"amount": D(0), "filled": D(0)},
    {"amount": D(10), "filled": D(11), "remaining": D(0)},
    {"remaining": D(-1)},
    {"type": "LIMIT", "price": None},
    {"type": "LIMIT", "price": D(0)},
    {"maker_fee_rate": D(1)},
])
def test_order_amounts_and_prices_must_make_sense(currencies, fields):
    refused(OrderFactory, **fields)


def test_a_market_order_needs_no_price_and_hold_keys_are_unique(currencies):
    order = OrderFactory(type="MARKET", price=None)
    refused(OrderFactory, hold_key=order.hold_key)


def test_a_trade_id_is_unique_per_venue(currencies):
    order = OrderFactory()

    def fill(venue: str, key: str) -> Fill:
        return Fill.objects.create(order=order, venue=venue, trade_id="T-1", price=D("1.1"),
                                   amount=D(1), quote_amount=D("1.1"), liquidity="MAKER",
                                   fee_currency="USD", settlement_key=key,
                                   executed_at=datetime.now(UTC))

    fill("paper", "k1")
    refused(fill, venue="paper", key="k2")
    refused(fill, venue="spot", key="k1")  # a settlement key is unique everywhere
    fill("spot", "k3")
    refused(Fill.objects.create, order=order, venue="paper", trade_id="T-2", price=D(0),
            amount=D(1), quote_amount=D(0), liquidity="MAKER", fee_currency="USD",
            settlement_key="k4", executed_at=datetime.now(UTC))
