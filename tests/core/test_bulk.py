"""update_rows: a settlement batch's order rows written in one UPDATE per 100 rows, each
value kind (Decimal, string, datetime, NULL) stored as the ORM would store it."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.bulk import update_rows
from apps.trading.models import Order
from tests.factories import MarketFactory, OrderFactory

pytestmark = pytest.mark.django_db


def test_rows_written_in_one_statement_per_hundred_and_read_back_as_set():
    market = MarketFactory()
    orders = OrderFactory.create_batch(230, market=market)
    closed = datetime(2026, 12, 1, 22, 0, 0, 123456, tzinfo=UTC)
    for i, order in enumerate(orders):
        order.status = "FILLED" if i % 2 else "CANCELED"
        order.filled = Decimal("0.001") * (i + 1)
        order.remaining = order.amount - order.filled
        order.reason = "" if i % 3 else f"why {i} 'quoted'"
        order.closed_at = None if i % 5 == 0 else closed + timedelta(seconds=i)
    with CaptureQueriesContext(connection) as queries:
        update_rows(orders, ["status", "filled", "remaining", "reason", "closed_at"])
    assert len(queries) == 3
    stored = {o.pk: o for o in Order.objects.filter(market=market)}
    for i, order in enumerate(orders):
        row = stored[order.pk]
        assert (row.status, row.filled, row.remaining, row.reason, row.closed_at) == (
            order.status, order.filled, order.remaining, order.reason, order.closed_at), i
