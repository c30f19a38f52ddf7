from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_celery_beat.models import PeriodicTask

from apps.twelvedata.models import TwdOrder, TwdProvider

pytestmark = pytest.mark.django_db


def test_provider_row_starts_disabled_and_the_sweep_is_scheduled(settings):
    provider = TwdProvider.objects.get(name="twelvedata")
    assert not provider.status and not provider.api_key_encrypted
    sweep = PeriodicTask.objects.get(task="twelvedata.sweep")
    assert sweep.enabled
    assert (sweep.interval.every, sweep.interval.period) == (settings.PAPER_SWEEP_SECONDS,
                                                             "seconds")


@pytest.mark.django_db(transaction=True)
def test_orders_placed_before_fee_rates_were_fixed_take_their_markets_rates(user):
    before = [("twelvedata", "0003_exact_identifiers")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        market = old.get_model("twelvedata", "TwdMarket").objects.create(
            symbol="EUR/USD", type="forex", name="Euro", base_currency="EUR",
            quote_currency="USD", maker_fee=Decimal("0.0002"), taker_fee=Decimal("0.0007"))
        old.get_model("twelvedata", "TwdOrder").objects.create(
            user_id=user.pk, market_id=market.pk, client_order_id="before", type="LIMIT",
            side="BUY", price=Decimal("1.1"), amount=Decimal("1"), remaining=Decimal("1"))
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    order = TwdOrder.objects.get(client_order_id="before")
    assert (order.maker_fee_rate, order.taker_fee_rate) == (Decimal("0.0002"), Decimal("0.0007"))
    assert (order.settle_error, order.settle_error_at) == ("", None)
