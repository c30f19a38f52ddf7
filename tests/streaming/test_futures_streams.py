"""The futures streams through the /ws/ consumer (docs/STREAMING.md): the public
``mark@futures:SYMBOL`` (mark ticks with their index and premium) and the private
``positions`` (a snapshot on subscribe, then each change and each mark tick)."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async

from apps.futures import services
from apps.marketdata import streams
from tests.factories import ContractFactory, UserFactory
from tests.futures.helpers import fill_pair, futures_trader, index_quote

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
D = Decimal
MARK = "mark@futures:BTC/USDT"


@database_sync_to_async
def contract_with_positions():
    """A contract, a long and a short of 1 BTC at 60000 (10x: margin 6000 each), marked at
    60000."""
    contract = ContractFactory()
    long, short = futures_trader(), futures_trader()
    fill_pair(contract, buyer=long, seller=short, amount="1", price="60000", key="t1")
    return contract, long, short


@database_sync_to_async
def mark_at(contract, price: str, *, now: datetime | None = None):
    now = now or datetime.now(UTC)
    index_quote(price, now=now)
    ticked = services.mark_refresh(contract=contract, now=now)
    # Its ticks handed to Redis before the test goes on: a subscription made next must
    # not see this tick arrive after its snapshot (on a loaded machine it did).
    assert streams.flush(timeout=10)
    return ticked


async def test_mark_ticks_carry_the_index_and_premium_with_a_snapshot_first(
        connect, currencies):
    contract, _, _ = await contract_with_positions()
    await mark_at(contract, "60000")
    client = await connect()
    ack = await client.request({"op": "subscribe", "id": 1, "streams": [MARK]})
    assert ack == {"op": "subscribed", "id": 1, "streams": [MARK]}
    snapshot = await client.recv()
    assert (snapshot["stream"], snapshot["snapshot"]) == (MARK, True)
    assert snapshot["data"]["mark_price"] == "60000"
    assert snapshot["data"]["index_price"] == "60000"
    assert snapshot["data"]["premium"] == "0"

    await mark_at(contract, "61000.5")
    live = await client.recv()
    assert live["stream"] == MARK and "snapshot" not in live
    assert live["seq"] == snapshot["seq"] + 1
    assert {key: live["data"][key] for key in ("symbol", "mark_price", "index_price",
                                               "premium")} == {
        "symbol": "BTC/USDT", "mark_price": "61000.5", "index_price": "61000.5",
        "premium": "0"}


@pytest.mark.parametrize("name", [
    "mark@BTC/USDT",  # unqualified: the mark stream is always venue-qualified
    "mark@FUTURES:BTC/USDT", "mark@futures:btc/usdt", "Mark@futures:BTC/USDT",
    "mark@futures:BTC/USDT ", "mark@futures:ＢTC/USDT",  # a fullwidth look-alike
    "mark@spot:BTC/USDT",  # a venue without marks
    "ticker@mark:BTC/USDT",  # the pseudo-venue's quotes are not a market's ticker
    "mark@futures:ETH/USDT",  # no such contract
    "Positions", "position",
])
async def test_look_alike_and_foreign_names_are_unknown_streams(connect, currencies, name):
    await database_sync_to_async(ContractFactory)()
    client = await connect(user=await database_sync_to_async(UserFactory)())
    error = await client.request({"op": "subscribe", "id": 1, "streams": [name]})
    assert (error["op"], error["code"]) == ("error", "unknown_stream")


async def test_positions_need_a_user(connect, currencies):
    client = await connect()
    error = await client.request({"op": "subscribe", "id": 1, "streams": ["positions"]})
    assert (error["op"], error["code"]) == ("error", "unauthorized")


async def test_positions_snapshot_then_mark_ticks_and_changes(connect, currencies):
    contract, long, short = await contract_with_positions()
    await mark_at(contract, "60000")
    client = await connect(user=long)
    ack = await client.request({"op": "subscribe", "id": 1, "streams": ["positions"]})
    assert ack["op"] == "subscribed"
    snapshot = await client.recv()
    assert (snapshot["stream"], snapshot["seq"], snapshot["snapshot"]) == (
        "positions", 1, True)
    [item] = snapshot["data"]["positions"]
    assert {key: item[key] for key in ("symbol", "status", "side", "size", "entry_price",
                                       "leverage", "margin", "mark_price",
                                       "unrealised_pnl")} == {
        "symbol": "BTC/USDT", "status": "OPEN", "side": "LONG", "size": "1",
        "entry_price": "60000", "leverage": 10, "margin": "6000", "mark_price": "60000",
        "unrealised_pnl": "0"}
    liquidation = item["liquidation_price"]
    assert D(liquidation) < D(60000)

    # A mark tick: the position again, at the new mark (the short's goes to its owner).
    # (The index quote queues a tick of its own too: each comes, numbered in turn.)
    await mark_at(contract, "60500")
    tick = await client.recv()
    assert (tick["stream"], tick["seq"]) == ("positions", 2)
    assert (tick["data"]["mark_price"], tick["data"]["unrealised_pnl"]) == ("60500", "500")
    while not await client.nothing():
        await client.recv()

    # A change: margin added, sent once its transaction commits.
    await database_sync_to_async(services.position_margin_add)(
        user_id=long.pk, position_id=item["id"], amount=D("1000"), key="m1")
    change = await client.recv()
    assert change["data"]["margin"] == "7000"
    assert D(change["data"]["liquidation_price"]) < D(liquidation)

    # Closed: the flat position is sent too, so a client drops it.
    await database_sync_to_async(fill_pair)(contract, buyer=short, seller=long, amount="1",
                                            price="60500", key="t2")
    closed = await client.recv()
    assert (closed["data"]["status"], closed["data"]["size"]) == ("FLAT", "0")
    assert closed["data"]["unrealised_pnl"] is None


async def test_a_liquidation_by_a_mark_tick_is_sent_as_a_flat_position(connect, currencies):
    contract, long, _ = await contract_with_positions()
    await mark_at(contract, "60000")
    client = await connect(user=long)
    await client.request({"op": "subscribe", "id": 1, "streams": ["positions"]})
    await client.recv()  # the snapshot
    await mark_at(contract, "50000")  # far below the long's liquidation price
    frames = [await client.recv()]
    assert frames[-1]["data"]["status"] == "FLAT"
    assert frames[-1]["data"]["mark_price"] == "50000"
