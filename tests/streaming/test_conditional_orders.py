"""Conditional orders on a WebSocket subscriber's private ``orders`` stream: placed
PENDING, triggered by a later quote (with the quote's time), and an OCO's other leg
cancelled with the reason, each as one frame, in order, to the owner only."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command

from apps.marketdata import services as marketdata_services
from apps.trading import services
from apps.trading.constants import Venue
from tests.factories import UserFactory
from tests.streaming.conftest import make_market, tick

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def setup_market():
    """EUR/USD quoted 1.10000, and two traders."""
    call_command("loaddata", "fixtures/currencies.json", verbosity=0)
    make_market("EUR/USD")
    publish(tick("EUR/USD", "1.10000"))
    return UserFactory(), UserFactory()


def publish(quote) -> None:
    """As the price stream does: the quote cached, then the paper executor (an eager
    Celery task here) runs on it."""
    marketdata_services.publish(quote=quote)


async def frames(client, count: int) -> list[dict]:
    received = [await client.recv() for _ in range(count)]
    assert {f["stream"] for f in received} == {"orders"}
    return [f["data"] for f in received]


async def test_an_oco_placed_then_one_leg_triggered_and_the_other_cancelled(connect):
    alice, bob = await setup_market()
    a, b = await connect(alice), await connect(bob)
    for client in (a, b):
        assert (await client.request({"op": "subscribe", "id": 1, "streams": ["orders"]})
                )["op"] == "subscribed"

    group = await database_sync_to_async(services.order_list_place)(
        user_id=alice.pk, venue=Venue.PAPER, symbol="EUR/USD", kind="OCO", side="BUY",
        amount=Decimal("100"), price=Decimal("1.09000"), stop_price=Decimal("1.11000"),
        stop_limit_price=Decimal("1.11200"))
    placed = await frames(a, 2)
    assert sorted((f["event"], f["role"], f["type"], f["status"], f["stop_price"])
                  for f in placed) == [
        ("placed", "LIMIT", "LIMIT", "OPEN", None),
        ("placed", "STOP", "STOP_LIMIT", "PENDING", "1.11")]
    assert {f["group_id"] for f in placed} == {group.pk}
    assert all(f["triggered_at"] is None and f["trigger_direction"] in ("", "RISE")
               for f in placed)

    # Through the stop (last and ask 1.1105, under its 1.112 limit): the stop leg fires
    # and fills; the limit leg is cancelled in the same transaction.
    at = datetime.now(UTC) + timedelta(seconds=1)
    await database_sync_to_async(publish)(tick("EUR/USD", "1.11050", at=at))
    moved = {f["role"]: f for f in await frames(a, 2)}
    assert (moved["STOP"]["event"], moved["STOP"]["status"], moved["STOP"]["fill_price"]) == (
        "triggered", "FILLED", "1.1105")
    assert moved["STOP"]["triggered_at"] is not None
    assert (moved["LIMIT"]["event"], moved["LIMIT"]["status"], moved["LIMIT"]["reason"]) == (
        "canceled", "CANCELED", "OCO: the other leg triggered.")
    assert await a.nothing() and await b.nothing()  # bob hears nothing of alice's orders


async def test_a_trailing_stop_placed_then_triggered_fills_at_the_market(connect):
    alice, _ = await setup_market()
    a = await connect(alice)
    await a.request({"op": "subscribe", "id": 1, "streams": ["orders"]})
    order = await database_sync_to_async(services.order_place)(
        user_id=alice.pk, venue=Venue.PAPER, symbol="EUR/USD", side="BUY",
        type="TRAILING_STOP", amount=Decimal("100"), trailing_delta=Decimal("0.00500"))
    [placed] = await frames(a, 1)
    assert (placed["event"], placed["id"], placed["status"], placed["stop_price"],
            placed["trailing_best"], placed["trailing_delta"]) == (
        "placed", order.pk, "PENDING", "1.105", "1.1", "0.005")
    start = datetime.now(UTC)
    # Down to 1.09 (the trigger follows to 1.095: no frame, nothing fired), then up
    # through it.
    for n, price in enumerate(("1.09000", "1.09600"), start=1):
        await database_sync_to_async(publish)(
            tick("EUR/USD", price, at=start + timedelta(seconds=n)))
    [fired] = await frames(a, 1)
    assert (fired["event"], fired["status"], fired["fill_price"], fired["stop_price"],
            fired["trailing_best"]) == ("triggered", "FILLED", "1.096", "1.095", "1.09")
    assert await a.nothing()
