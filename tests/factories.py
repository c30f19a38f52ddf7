"""factory-boy factories shared by every app's tests."""
from datetime import UTC, datetime
from decimal import Decimal

import factory
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

from apps.orderstore.records import OrderRecord, TradeRecord


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True  # email_verified writes its own rows

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.django.Password("pw-for-tests-only")

    @factory.post_generation
    def email_verified(user, create, verified, **kwargs):
        """Its address confirmed, as every account that can log in has it
        (ACCOUNT_EMAIL_VERIFICATION); ``UserFactory(email_verified=False)`` for one not yet."""
        if create and user.email and verified is not False:
            EmailAddress.objects.create(user=user, email=user.email, primary=True,
                                        verified=True)


class MarketFactory(factory.django.DjangoModelFactory):
    """An enabled paper market EUR/USD (ticks of 0.00001, lots of 0.01) unless told
    otherwise; its currencies must exist (the ``currencies`` fixture)."""

    class Meta:
        model = "trading.Market"

    venue = "paper"
    symbol = "EUR/USD"
    base_currency = factory.LazyAttribute(lambda m: m.symbol.split("/")[0])
    quote_currency = factory.LazyAttribute(lambda m: m.symbol.split("/")[1])
    kind = "spot"
    tick_size = Decimal("0.00001")
    lot_size = Decimal("0.01")
    maker_fee = Decimal("0.0008")
    taker_fee = Decimal("0.0010")
    status = "enabled"


class OrderFactory(factory.django.DjangoModelFactory):
    """A resting LIMIT BUY written as a row (no hold, no venue): for the order store's
    contract, which is below the services."""

    class Meta:
        model = "trading.Order"

    user = factory.SubFactory(UserFactory)
    market = factory.SubFactory(MarketFactory)
    venue = factory.LazyAttribute(lambda o: o.market.venue)
    client_order_id = factory.Sequence(lambda n: f"cid-{n}")
    type = "LIMIT"
    side = "BUY"
    status = "OPEN"
    price = Decimal("1.10000")
    reference_price = factory.LazyAttribute(lambda o: o.price or Decimal("1.10000"))
    amount = Decimal("10")
    remaining = factory.LazyAttribute(lambda o: o.amount - o.filled)
    filled = Decimal(0)
    maker_fee_rate = factory.LazyAttribute(lambda o: o.market.maker_fee)
    taker_fee_rate = factory.LazyAttribute(lambda o: o.market.taker_fee)
    hold_key = factory.Sequence(lambda n: f"test:order:{n}")


# The reference's BTCUSDT brackets (futures.md §3), the last one uncapped.
BTC_TIERS = [
    # floor, cap, max leverage, mmr, cum
    ("0", "50000", 125, "0.004", "0"),
    ("50000", "600000", 100, "0.005", "50"),
    ("600000", "3000000", 75, "0.0065", "950"),
    ("3000000", None, 50, "0.01", "11450"),
]


class ContractFactory(factory.django.DjangoModelFactory):
    """A futures perpetual BTC/USDT (ticks of 0.01, lots of 0.001, 0.02 % maker, 0.05 %
    taker) indexed on the spot venue's BTC/USDT, with ``BTC_TIERS``; its currencies must
    exist (the ``currencies`` fixture)."""

    class Meta:
        model = "futures.Contract"
        skip_postgeneration_save = True

    market = factory.SubFactory(
        MarketFactory, venue="futures", symbol="BTC/USDT", kind="perpetual",
        tick_size=Decimal("0.01"), lot_size=Decimal("0.001"), maker_fee=Decimal("0.0002"),
        taker_fee=Decimal("0.0005"))
    contract_size = Decimal("0.001")
    max_leverage = 125
    index_sources = factory.LazyFunction(lambda: [{"venue": "spot", "symbol": "BTC/USDT"}])

    @factory.post_generation
    def tiers(contract, create, tiers, **kwargs):
        if create:
            from apps.futures.models import MarginTier

            MarginTier.objects.bulk_create([
                MarginTier(contract=contract, floor=Decimal(floor),
                           cap=None if cap is None else Decimal(cap), max_leverage=leverage,
                           mmr=Decimal(mmr), maintenance_amount=Decimal(cum))
                for floor, cap, leverage, mmr, cum in (tiers or BTC_TIERS)])


class OrderRecordFactory(factory.Factory):
    """An internal order's state for the order store (apps.orderstore.records): a resting
    ecosystem limit buy, version 1, unless told otherwise."""

    class Meta:
        model = OrderRecord

    venue = "ecosystem"
    market = "ABC/USDT"
    order_id = factory.Sequence(lambda n: 1000 + n)
    user_id = 7
    client_order_id = factory.LazyAttribute(lambda o: f"c-{o.order_id}")
    side = "BUY"
    type = "LIMIT"
    time_in_force = "GTC"
    post_only = False
    price = Decimal("1.25")
    amount = Decimal("10")
    filled = Decimal("0")
    remaining = factory.LazyAttribute(lambda o: o.amount - o.filled)
    cost = Decimal("0")
    fee = Decimal("0")
    fee_currency = "USDT"
    status = "OPEN"
    reason = ""
    created_at = factory.LazyFunction(lambda: datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC))
    updated_at = factory.LazyAttribute(lambda o: o.created_at)
    version = 1


class TradeRecordFactory(factory.Factory):
    """An engine trade of ecosystem ABC/USDT for the order store; ``seq`` counts up."""

    class Meta:
        model = TradeRecord

    venue = "ecosystem"
    market = "ABC/USDT"
    seq = factory.Sequence(lambda n: n + 1)
    trade_id = factory.LazyAttribute(lambda t: f"ABC-{t.seq}")
    price = Decimal("1.25")
    amount = Decimal("2")
    taker_side = "SELL"
    maker_order_id = 1
    taker_order_id = 2
    maker_user_id = 7
    taker_user_id = 8
    maker_fee = Decimal("0.0025")
    taker_fee = Decimal("0.005")
    executed_at = factory.LazyFunction(lambda: datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC))
    bot = False
