"""``make run``'s embedded runner (a thread of the web process) follows the engine's
markets as ``run_engine`` does: a market listed after it started is run; and, as
``run_engine``, it freezes what the process held at its start out of the collector."""
import gc

import pytest
from django.test import override_settings

from apps.engine import embedded
from apps.engine.models import EngineLease
from apps.trading.constants import OrderStatus
from tests.engine.helpers import eco_market
from tests.engine.test_runner_markets import crossing_pair, wait_for
from tests.trading.helpers import books_clean, fresh

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.mariadb  # the runner's thread writes while the test does
@override_settings(ENGINE_LEASE_SECONDS=3)  # a renewal, and so a re-read, every second
def test_the_embedded_runner_runs_a_market_listed_after_it_started(currencies):
    eco_market()
    assert gc.get_freeze_count() == 0
    stop = embedded.start_in_background()
    try:
        assert wait_for(lambda: EngineLease.objects.exclude(owner="").exists())
        assert wait_for(lambda: gc.get_freeze_count() > 0)
        xyz = eco_market(base="XYZ")
        ask, bid = crossing_pair()
        assert wait_for(lambda: fresh(bid).status == OrderStatus.FILLED)
        assert fresh(ask).status == OrderStatus.FILLED
        assert EngineLease.objects.get(pk=xyz.pk).owner != ""
    finally:
        stop.set()
        assert wait_for(lambda: not EngineLease.objects.exclude(owner="").exists())
        gc.unfreeze()
    assert books_clean() == []
