"""The engine's readiness check: commands waiting without a runner, or too long (a halted
market named with its error)."""
from datetime import timedelta

import pytest
from django.utils import timezone
from health_check.exceptions import ServiceUnavailable

from apps.engine.health import EngineLag
from apps.engine.models import EngineCommand, EngineLease
from apps.trading.services import settlement
from tests.engine.helpers import drain, eco_market, place, runner, trader

pytestmark = pytest.mark.django_db(transaction=True)


def test_waiting_commands_need_a_live_runner_that_keeps_up(currencies):
    market = eco_market()
    user = trader()
    place(user, side="BUY", price="9.00", amount="1")
    with pytest.raises(ServiceUnavailable, match="no runner holds its lease"):
        EngineLag().run()
    r = runner(market)
    EngineCommand.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ServiceUnavailable, match="command 1 waits since"):
        EngineLag().run()
    drain(r)
    EngineLag().run()
    EngineLease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    EngineLag().run()  # nothing waits: a stopped runner is no outage


def test_a_halted_market_that_lags_is_named_with_its_error(currencies, monkeypatch):
    market = eco_market()
    r = runner(market)
    place(trader(), side="BUY", price="9.00", amount="1")

    def poison(*args, **kwargs):
        raise RuntimeError("poison")

    monkeypatch.setattr(settlement, "settle", poison)
    assert drain(r) == 0  # halted, not raised
    EngineLag().run()  # a fresh halt is retried before anyone is told
    EngineCommand.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ServiceUnavailable, match=r"command 1 waits since .*, halted since "
                                                 r".* after 1 failed tries: RuntimeError: "
                                                 r"poison"):
        EngineLag().run()
    monkeypatch.undo()
    r.halts[market.pk].retry_at = 0.0
    assert drain(r) == 1
    EngineLag().run()
