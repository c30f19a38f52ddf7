"""The order rendering every venue's API shares (apps/trading/apis.py)."""
import pytest
from rest_framework import serializers

from apps.trading.apis import OrderOutput
from apps.trading.models import Order
from tests.trading.helpers import D, place, publish_quote

pytestmark = pytest.mark.django_db


def test_an_order_renders_as_drf_renders_its_declared_fields(market, user):
    """OrderOutput renders without copying its fields per order (core OutputSerializer):
    what a client gets is still, field for field, DRF's own rendering of the declared
    fields, for an order resting, filled with its fill's evidence, and waiting on a
    trigger."""
    publish_quote(bid="1.09990", ask="1.10010")
    placed = [place(user, price="1.09000"),
              place(user, type="MARKET", amount="100"),
              place(user, side="SELL", type="STOP_LIMIT", amount="100", price="1.08000",
                    stop_price=D("1.08500"))]
    orders = list(Order.objects.filter(pk__in=[o.pk for o in placed])
                  .select_related("market").order_by("pk"))
    assert [o.status for o in orders] == ["OPEN", "FILLED", "PENDING"]

    rendered = OrderOutput(orders, many=True).data
    expected = [serializers.Serializer.to_representation(OrderOutput(), o) for o in orders]
    assert rendered == expected
    assert set(rendered[0]) == set(OrderOutput().fields)
    assert rendered[1]["fill"]["quote_source"] == "test" and len(rendered[1]["fills"]) == 1
    assert rendered[2]["trigger_by"] == "platform" and rendered[2]["stop_price"] == "1.085"
