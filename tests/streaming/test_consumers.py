"""The /ws/ consumer in-process (WebsocketCommunicator, in-memory layer): the protocol."""
import json

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from apps.marketdata import services, streams
from apps.streaming import fanout
from tests.factories import UserFactory
from tests.streaming.conftest import make_market, tick

# Transactional: the consumer reads the database from another thread (and channels closes
# stale connections on every message), so test data must be committed.
pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
publish = sync_to_async(lambda quote: services.publish(quote=quote))


async def test_ping_answers_pong_with_the_request_id(connect):
    client = await connect()
    pong = await client.request({"op": "ping", "id": "p-1"})
    assert pong["op"] == "pong" and pong["id"] == "p-1" and isinstance(pong["time"], int)


async def test_ticker_snapshot_then_ticks_in_order_then_unsubscribe_stops_them(connect):
    await database_sync_to_async(make_market)("EUR/USD")
    await publish(tick(price="1.10000"))
    client = await connect()

    ack = await client.request({"op": "subscribe", "id": 1, "streams": ["ticker@EUR/USD"]})
    assert ack == {"op": "subscribed", "id": 1, "streams": ["ticker@EUR/USD"]}
    snapshot = await client.recv()
    assert snapshot["snapshot"] is True and isinstance(snapshot["seq"], int)
    assert snapshot["stream"] == "ticker@EUR/USD" and snapshot["data"]["price"] == "1.10000"

    prices = ["1.10001", "1.10002", "1.10003"]
    for price in prices:
        await publish(tick(price=price))
    frames = [await client.recv() for _ in prices]
    assert [f["data"]["price"] for f in frames] == prices
    # Numbered at publish time: the snapshot's tick and the live ones count on by one.
    seq = snapshot["seq"]
    assert [f["seq"] for f in frames] == [seq + 1, seq + 2, seq + 3]
    assert all(f["op"] == "data" and "snapshot" not in f for f in frames)
    assert [f["time"] for f in frames] == sorted(f["time"] for f in frames)

    ack = await client.request({"op": "unsubscribe", "id": 2, "streams": ["ticker@EUR/USD"]})
    assert ack == {"op": "unsubscribed", "id": 2, "streams": ["ticker@EUR/USD"]}
    await publish(tick(price="1.20000"))
    assert await client.nothing()

    # Re-subscribing: the snapshot is the tick published meanwhile, with its own number.
    await client.request({"op": "subscribe", "id": 3, "streams": ["ticker@EUR/USD"]})
    snapshot = await client.recv()
    assert (snapshot["seq"], snapshot["data"]["price"]) == (seq + 4, "1.20000")


async def test_every_connection_gets_the_same_frame_for_a_tick(connect):
    await database_sync_to_async(make_market)("EUR/USD")
    clients = [await connect() for _ in range(3)]
    for client in clients:
        await client.request({"op": "subscribe", "id": 1, "streams": ["ticker@EUR/USD"]})
    await publish(tick(price="1.30000"))
    await publish(tick(price="1.30001"))
    received = [[await client.ws.receive_from(), await client.ws.receive_from()]
                for client in clients]
    assert received[0] == received[1] == received[2]  # the same text: encoded once
    first, second = (json.loads(text) for text in received[0])
    assert second["seq"] == first["seq"] + 1


async def test_a_disconnected_client_leaves_the_hub(connect):
    await database_sync_to_async(make_market)("EUR/USD")
    stays, leaves = await connect(), await connect()
    for client in (stays, leaves):
        await client.request({"op": "subscribe", "id": 1, "streams": ["ticker@EUR/USD"]})
    hub = fanout.hub_for(get_channel_layer())
    assert len(hub.subscribers("ticker@EUR/USD")) == 2
    await leaves.ws.disconnect()
    assert len(hub.subscribers("ticker@EUR/USD")) == 1
    await publish(tick(price="1.40000"))
    assert (await stays.recv())["data"]["price"] == "1.40000"
    await stays.request({"op": "unsubscribe", "id": 2, "streams": ["ticker@EUR/USD"]})
    assert hub.subscribers("ticker@EUR/USD") == ()
    assert not hub.joined("ticker@EUR/USD")  # the last one out leaves the group


async def test_a_ticker_without_a_cached_quote_sends_no_snapshot(connect):
    await database_sync_to_async(make_market)("GBP/USD")
    client = await connect()
    await client.request({"op": "subscribe", "id": 1, "streams": ["ticker@GBP/USD"]})
    assert await client.nothing()


async def test_unknown_or_disabled_markets_are_refused_and_nothing_is_subscribed(connect):
    await database_sync_to_async(make_market)("EUR/USD")
    await database_sync_to_async(make_market)("USD/JPY", enabled=False)
    client = await connect()
    for streams_ in (["ticker@USD/JPY"], ["ticker@EUR/USD", "ticker@NOPE"], ["tickers"],
                     ["ticker@"], ["ticker@EUR USD"], [42]):
        error = await client.request({"op": "subscribe", "id": 9, "streams": streams_})
        assert error["op"] == "error" and error["code"] == "unknown_stream", streams_
        assert error["id"] == 9
    await publish(tick("EUR/USD"))
    assert await client.nothing()  # the failed mixed request subscribed nothing
    assert (await client.request({"op": "ping"}))["op"] == "pong"


async def test_one_symbol_on_two_venues_is_two_streams(connect):
    """A spot BTC/USD and a paper BTC/USD never mix: each subscriber hears its venue's
    ticks only, and every frame says which venue it is."""
    await database_sync_to_async(make_market)("BTC/USD")
    await database_sync_to_async(make_market)("BTC/USD", venue="spot")
    await publish(tick("BTC/USD", "90000", venue="spot"))
    await publish(tick("BTC/USD", "89000", venue="paper"))
    paper, spot = await connect(), await connect()
    assert (await paper.request({"op": "subscribe", "id": 1, "streams": ["ticker@BTC/USD"]})
            )["op"] == "subscribed"
    assert (await spot.request({"op": "subscribe", "id": 1,
                                "streams": ["ticker@spot:BTC/USD"]}))["op"] == "subscribed"
    paper_snapshot, spot_snapshot = await paper.recv(), await spot.recv()
    assert (paper_snapshot["stream"], paper_snapshot["data"]["venue"],
            paper_snapshot["data"]["price"]) == ("ticker@BTC/USD", "paper", "89000")
    assert (spot_snapshot["stream"], spot_snapshot["data"]["venue"],
            spot_snapshot["data"]["price"]) == ("ticker@spot:BTC/USD", "spot", "90000")

    await publish(tick("BTC/USD", "90001", venue="spot"))
    await publish(tick("BTC/USD", "89001", venue="paper"))
    frame = await spot.recv()
    assert (frame["stream"], frame["data"]["venue"], frame["data"]["price"]) == (
        "ticker@spot:BTC/USD", "spot", "90001")
    assert frame["seq"] == spot_snapshot["seq"] + 1
    frame = await paper.recv()
    assert (frame["stream"], frame["data"]["venue"], frame["data"]["price"]) == (
        "ticker@BTC/USD", "paper", "89001")
    assert frame["seq"] == paper_snapshot["seq"] + 1
    assert await paper.nothing() and await spot.nothing()


async def test_a_ticker_needs_an_enabled_market_on_its_own_venue(connect):
    for symbol, venue in [("EUR/USD", "paper"), ("BTC/USD", "spot"), ("ETH/USD", "spot")]:
        await database_sync_to_async(make_market)(symbol, venue=venue)
    await database_sync_to_async(make_market)("XRP/USD", venue="spot", enabled=False)
    client = await connect()
    for name in ("ticker@spot:EUR/USD", "ticker@futures:BTC/USD", "ticker@spot:XRP/USD",
                 "ticker@nowhere:BTC/USD"):
        error = await client.request({"op": "subscribe", "id": 1, "streams": [name]})
        assert (error["code"], error["message"]) == (
            "unknown_stream", f"No enabled market: {name}."), name
    error = await client.request({"op": "subscribe", "id": 2,
                                  "streams": ["ticker@BTC/USD", "ticker@spot:BTC/USD"]})
    assert (error["code"], error["message"]) == (
        "unknown_stream", "No enabled market: ticker@BTC/USD.")
    ack = await client.request({"op": "subscribe", "id": 3,
                                "streams": ["ticker@EUR/USD", "ticker@spot:ETH/USD"]})
    assert ack["streams"] == ["ticker@EUR/USD", "ticker@spot:ETH/USD"]


async def test_the_paper_venue_named_explicitly_gets_its_one_name_back(connect):
    await database_sync_to_async(make_market)("EUR/USD")
    client = await connect()
    error = await client.request({"op": "subscribe", "id": 1,
                                  "streams": ["ticker@paper:EUR/USD"]})
    assert error["code"] == "unknown_stream" and "ticker@EUR/USD" in error["message"]
    await publish(tick("EUR/USD"))
    assert await client.nothing()


async def test_private_streams_need_a_user(connect):
    client = await connect()
    for stream in ("orders", "balances", "fixedtime"):
        error = await client.request({"op": "subscribe", "id": "a", "streams": [stream]})
        assert (error["op"], error["code"], error["id"]) == ("error", "unauthorized", "a")


@pytest.mark.parametrize(("frame", "code"), [
    ("{not json", "invalid_json"),
    ("NaN", "invalid_json"),
    ("[1, 2]", "bad_request"),
    ('{"op": 5}', "bad_request"),
    ('{"op": "subscribe", "streams": []}', "bad_request"),
    ('{"op": "subscribe", "streams": "orders"}', "bad_request"),
    ('{"op": "ping", "id": {"x": 1}}', "bad_request"),
    ('{"op": "explode", "id": 7}', "unknown_op"),
])
async def test_bad_frames_get_an_error_and_the_connection_keeps_working(connect, frame, code):
    client = await connect()
    await client.ws.send_to(text_data=frame)
    error = await client.recv()
    assert error["op"] == "error" and error["code"] == code
    assert error["message"]
    assert (await client.request({"op": "ping", "id": 1}))["op"] == "pong"


async def test_subscriptions_are_capped_per_connection(connect, settings):
    settings.STREAMING_MAX_SUBSCRIPTIONS = 2
    for symbol in ("EUR/USD", "GBP/USD", "USD/JPY"):
        await database_sync_to_async(make_market)(symbol)
    client = await connect()
    error = await client.request({"op": "subscribe", "id": 1, "streams": [
        "ticker@EUR/USD", "ticker@GBP/USD", "ticker@USD/JPY"]})
    assert error["code"] == "too_many_subscriptions"
    await client.request({"op": "subscribe", "id": 2, "streams": ["ticker@EUR/USD"]})
    # Already subscribed streams do not count twice.
    ack = await client.request({"op": "subscribe", "id": 3,
                                "streams": ["ticker@EUR/USD", "ticker@GBP/USD"]})
    assert ack["op"] == "subscribed"
    error = await client.request({"op": "subscribe", "id": 4, "streams": ["ticker@USD/JPY"]})
    assert error["code"] == "too_many_subscriptions"
    await client.request({"op": "unsubscribe", "id": 5, "streams": ["ticker@GBP/USD"]})
    ack = await client.request({"op": "subscribe", "id": 6, "streams": ["ticker@USD/JPY"]})
    assert ack["op"] == "subscribed"


async def test_an_oversized_frame_gets_an_error_then_close_4009(connect, settings):
    settings.STREAMING_MAX_FRAME_BYTES = 1024
    client = await connect()
    await client.ws.send_to(text_data='{"op":"ping","id":"' + "é" * 600 + '"}')
    assert (await client.recv())["code"] == "message_too_large"
    assert await client.ws.receive_output(timeout=1) == {"type": "websocket.close",
                                                         "code": 4009}


async def test_a_binary_frame_gets_an_error_then_close_4003(connect):
    client = await connect()
    await client.ws.send_to(bytes_data=b'{"op":"ping"}')
    assert (await client.recv())["code"] == "binary_frame"
    assert await client.ws.receive_output(timeout=1) == {"type": "websocket.close",
                                                         "code": 4003}


async def test_the_server_sends_heartbeats(connect, settings):
    settings.STREAMING_HEARTBEAT_SECONDS = 0.05
    client = await connect()
    first, second = await client.recv(), await client.recv()
    assert first["op"] == second["op"] == "heartbeat"
    assert second["time"] >= first["time"]


async def test_private_streams_carry_only_their_own_users_events(connect):
    alice, bob = await database_sync_to_async(lambda: (UserFactory(), UserFactory()))()
    a, b = await connect(alice), await connect(bob)
    for client in (a, b):
        ack = await client.request({"op": "subscribe", "id": 1, "streams": ["orders"]})
        assert ack["op"] == "subscribed"

    await database_sync_to_async(streams.publish_user_event)(
        user_id=bob.pk, stream="orders", data={"event": "placed", "id": 1})
    await database_sync_to_async(streams.publish_user_event)(
        user_id=bob.pk, stream="balances", data={"currency": "USD"})
    frame = await b.recv()
    assert (frame["stream"], frame["seq"], frame["data"]) == (
        "orders", 1, {"event": "placed", "id": 1})
    assert await b.nothing()  # balances is not subscribed: the shared group is filtered
    assert await a.nothing()


async def test_token_auth_through_the_asgi_application(memory_layer):
    from rest_framework.authtoken.models import Token

    from exchange_platform.asgi import application

    token = await database_sync_to_async(lambda: Token.objects.create(user=UserFactory()))()
    offers = {
        "header": ("/ws/", [(b"authorization", f"Token {token.key}".encode())], "subscribed"),
        "query": (f"/ws/?token={token.key}", [], "subscribed"),
        "bad token": ("/ws/?token=not-a-token", [], "error"),
        "nothing": ("/ws/", [], "error"),
    }
    for path, headers, expected in offers.values():
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        await communicator.send_json_to({"op": "subscribe", "id": 1, "streams": ["balances"]})
        assert (await communicator.receive_json_from())["op"] == expected, path
        await communicator.disconnect()


async def test_browsers_must_come_from_an_allowed_host(memory_layer):
    from exchange_platform.asgi import application

    refused = WebsocketCommunicator(application, "/ws/",
                                    headers=[(b"origin", b"https://evil.example")])
    assert (await refused.connect())[0] is False
    allowed = WebsocketCommunicator(application, "/ws/",
                                    headers=[(b"origin", b"http://localhost")])
    assert (await allowed.connect())[0] is True
    await allowed.send_json_to({"op": "ping", "id": 1})
    assert (await allowed.receive_json_from())["op"] == "pong"
    await allowed.disconnect()


async def test_without_an_origin_the_session_cookie_is_ignored(memory_layer, client):
    from exchange_platform.asgi import application

    user = await database_sync_to_async(UserFactory)()
    await database_sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    verdicts = {}
    for origin in ([(b"origin", b"http://localhost")], []):
        communicator = WebsocketCommunicator(application, "/ws/",
                                             headers=[(b"cookie", cookie), *origin])
        assert (await communicator.connect())[0]
        await communicator.send_json_to({"op": "subscribe", "id": 1, "streams": ["orders"]})
        verdicts[bool(origin)] = (await communicator.receive_json_from())["op"]
        await communicator.disconnect()
    assert verdicts == {True: "subscribed", False: "error"}


async def test_a_tick_during_the_subscribe_waits_for_the_ack_and_the_snapshot(
        connect, monkeypatch):
    """The hub hands a tick over while the consumer reads the snapshot: it still goes out
    after the acknowledgement and the snapshot, numbered after the snapshot's tick."""
    from apps.streaming import selectors

    await database_sync_to_async(make_market)("EUR/USD")
    await publish(tick(price="1.10000"))
    read_snapshots = selectors.ticker_snapshots

    def snapshots_then_a_tick(*, tickers):
        found = read_snapshots(tickers=tickers)
        services.publish(quote=tick(price="1.10001"))  # delivered by the hub meanwhile
        return found

    monkeypatch.setattr(selectors, "ticker_snapshots", snapshots_then_a_tick)
    client = await connect()
    await client.send({"op": "subscribe", "id": 1, "streams": ["ticker@EUR/USD"]})
    ack, snapshot, live = await client.recv(), await client.recv(), await client.recv()
    assert ack["op"] == "subscribed"
    assert (snapshot["snapshot"], snapshot["data"]["price"]) == (True, "1.10000")
    assert (live["seq"], live["data"]["price"]) == (snapshot["seq"] + 1, "1.10001")
