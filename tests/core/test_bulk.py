"""update_rows and insert_rows: a settlement batch's rows written in one statement per
chunk, each value kind (Decimal, string, boolean, datetime, NULL) stored as the ORM would
store it."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core import bulk
from apps.core.bulk import update_rows
from apps.orderstore.models import StoredOrder
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


def test_inserted_rows_read_back_as_given_whatever_their_text():
    """Plain text is written into the statement, any other text is a parameter: quotes,
    backslashes, percent signs and non-ASCII land unchanged (nothing is injected), with
    booleans, NULLs, decimals and timestamps, in one statement per INSERT_CHUNK rows."""
    at = datetime(2026, 12, 1, 22, 0, 0, 123456, tzinfo=UTC)
    texts = ["plain:1/2 @x-y.z", "it's", "100%s %(x)s", "back\\slash", "ünï",
             "a'; DROP TABLE x; --"]
    rows = [["ecosystem", 7000 + i, "BNA/USDT", i, texts[i % len(texts)], "BUY", "LIMIT", "GTC",
             i % 2 == 0, None if i % 4 == 0 else Decimal("10.01"), Decimal("0.5") + i,
             Decimal(0), Decimal("0.5") + i, Decimal(0), Decimal("0.000000000000000001"),
             "USDT", "OPEN", texts[-1 - i % len(texts)], at + timedelta(seconds=i),
             at, i, i % 2 == 1] for i in range(7)]
    fields = ["venue", "order_id", "market", "user_id", "client_order_id", "side", "type",
              "time_in_force", "post_only", "price", "amount", "filled", "remaining", "cost",
              "fee", "fee_currency", "status", "reason", "created_at", "updated_at",
              "version", "is_open"]
    with CaptureQueriesContext(connection) as queries:
        pks = bulk.insert_rows(StoredOrder, fields, rows[:2], returning=True)
        bulk.insert_rows(StoredOrder, fields, rows[2:])
    assert len(queries) == 2
    stored = list(StoredOrder.objects.order_by("order_id").values_list(*fields))
    assert stored == [tuple(row) for row in rows]
    if pks is not None:
        assert pks == list(StoredOrder.objects.filter(order_id__lt=7002).order_by("order_id")
                           .values_list("pk", flat=True))


def test_text_of_plain_characters_only_is_written_into_the_statement():
    params: list = []
    assert [bulk.sql_literal(v, params) for v in
            ["FILLED", "fill:ecosystem:1:23:M", "2026-12-01 22:00:00.123456", "it's", "5%",
             "a\\b", "é", True, None, 3, Decimal("-1.50")]] == [
        "'FILLED'", "'fill:ecosystem:1:23:M'", "'2026-12-01 22:00:00.123456'", "%s", "%s",
        "%s", "%s", "TRUE", "NULL", "3", "-1.50"]
    assert params == ["it's", "5%", "a\\b", "é"]


def test_a_field_with_one_value_across_a_chunk_is_set_without_a_case():
    """A batch's timestamp (or a status every row shares) is one assignment, not a CASE of
    a hundred equal branches."""
    market = MarketFactory()
    orders = OrderFactory.create_batch(120, market=market)
    closed = datetime(2026, 12, 1, 22, 0, 0, 123456, tzinfo=UTC)
    rows = [(order.pk, "FILLED", Decimal("0.001") * (i + 1), closed)
            for i, order in enumerate(orders)]
    with CaptureQueriesContext(connection) as queries:
        bulk.update_values(Order, ["status", "filled", "closed_at"], rows)
    assert [q["sql"].count(" CASE ") for q in queries] == [1, 1]  # filled only
    stored = dict(Order.objects.filter(market=market).values_list("pk", "filled"))
    assert stored == {pk: filled for pk, _, filled, _ in rows}
    assert set(Order.objects.filter(market=market).values_list("status", "closed_at")) == {
        ("FILLED", closed)}
