"""factory-boy factories shared by every app's tests."""
from decimal import Decimal

import factory
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model


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
