"""One writer per market: a second runner refuses and says why; a runner whose lease was
taken over settles nothing."""
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.engine.models import EngineLease
from apps.engine.runner import Fenced, LeaseHeld, Runner
from apps.trading.constants import OrderStatus
from tests.engine.helpers import drain, eco_market, place, runner, trader
from tests.trading.helpers import fresh

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def market(currencies):
    return eco_market()


def test_a_second_runner_for_the_market_refuses_naming_the_holder(market):
    first = runner(market, name="one")
    with pytest.raises(LeaseHeld) as refused:
        Runner(name="two", markets=[market]).start()
    assert first.owner in str(refused.value) and "ecosystem:ABC/USDT" in str(refused.value)
    with pytest.raises(CommandError, match=r"refused: market ecosystem:ABC/USDT is run by one@"):
        call_command("run_engine", "--runner", "two", "--markets", "ecosystem:ABC/USDT")
    assert EngineLease.objects.get(pk=market.pk).owner == first.owner


def test_a_runner_whose_lease_was_taken_over_settles_nothing(market):
    old = runner(market, name="old")
    EngineLease.objects.filter(pk=market.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))  # paused past its lease
    new = runner(market, name="new")
    order = place(trader(), side="BUY", price="9.00", amount="1")
    with pytest.raises(Fenced):
        old.step()
    assert fresh(order).status == OrderStatus.NEW
    assert drain(new) == 1
    assert fresh(order).status == OrderStatus.OPEN
