"""Placing on an engine venue: one transaction of a handful of statements, whose command
is numbered in the market's gapless order and whose order row reads back as placed."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.engine.models import EngineCommand, EngineSequence
from apps.trading import services
from apps.trading.constants import OrderStatus
from apps.trading.models import Order
from tests.engine.helpers import D, drain, eco_market, place, runner, trader

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def market(currencies):
    return eco_market()


def test_a_placement_is_a_handful_of_statements_and_its_command_is_numbered(market):
    user = trader()
    place(user, side="BUY", price="9.00", amount="1")  # this process's caches filled
    with CaptureQueriesContext(connection) as placing:
        order = place(user, side="BUY", price="9.50", amount="2")
    # The engine's part: the market's command number, counted and said in one
    # statement, and the command's row.
    engine = [q["sql"] for q in placing if "engine_" in q["sql"]]
    assert len(engine) == 2, engine
    assert len(placing) <= 10, [q["sql"][:40] for q in placing]
    commands = EngineCommand.objects.filter(order_id=order.pk)
    assert list(commands.values_list("seq", "kind")) == [(2, "place")]
    assert EngineSequence.objects.get(pk=market.pk).last_seq == 2
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.amount, stored.price) == (OrderStatus.NEW, D("2"),
                                                            D("9.50"))
    assert stored.created_at is not None and stored.created_at == order.created_at


def test_a_repeated_cancel_is_logged_once_and_the_engine_cancels(market):
    user = trader()
    order = place(user, side="SELL", price="12.00", amount="1")
    services.order_cancel(user_id=user.pk, venue="ecosystem", order_id=order.pk)
    services.order_cancel(user_id=user.pk, venue="ecosystem", order_id=order.pk)
    assert list(EngineCommand.objects.order_by("seq").values_list("seq", "kind")) == [
        (1, "place"), (2, "cancel")]
    assert drain(runner(market)) == 2
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELED
