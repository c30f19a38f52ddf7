"""A real uvicorn server (thread), real WebSocket clients, Redis pub/sub between them.

Transactional: the server reads the database on its own threads. Each client closes
before its test ends (the test database is flushed afterwards).
"""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle
from websockets.exceptions import ConnectionClosed

from apps.marketdata.services import publish
from apps.trading import services
from apps.trading.constants import Venue
from tests.factories import UserFactory
from tests.streaming.conftest import make_market, tick
from tests.streaming.live import RedisServer, free_port, ws_client

# currencies: the paper executor (a quote-bus listener) prices fills in them.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("currencies")]
ROOT = Path(__file__).resolve().parents[2]


def subscribe(client, *streams, id=1):
    ack = client.request({"op": "subscribe", "id": id, "streams": list(streams)})
    assert ack == {"op": "subscribed", "id": id, "streams": list(streams)}, ack


def test_ticks_arrive_in_order_and_unsubscribe_stops_them(server_url):
    make_market("EUR/USD")
    with ws_client(server_url) as client:
        subscribe(client, "ticker@EUR/USD")
        prices = [f"1.{10000 + i}" for i in range(30)]
        for price in prices:
            publish(quote=tick(price=price))
        frames = [client.recv() for _ in prices]
        assert [f["data"]["price"] for f in frames] == prices
        first = frames[0]["seq"]
        assert [f["seq"] for f in frames] == list(range(first, first + 30))
        assert {f["stream"] for f in frames} == {"ticker@EUR/USD"}

        ack = client.request({"op": "unsubscribe", "id": 2, "streams": ["ticker@EUR/USD"]})
        assert ack["op"] == "unsubscribed"
        publish(quote=tick(price="2.00000"))
        assert client.quiet()


def test_one_symbol_on_two_venues_stays_apart_through_redis(server_url):
    make_market("BTC/USD")
    make_market("BTC/USD", venue=Venue.SPOT)
    with ws_client(server_url) as paper, ws_client(server_url) as spot:
        subscribe(paper, "ticker@BTC/USD")
        subscribe(spot, "ticker@spot:BTC/USD")
        for n in range(3):
            publish(quote=tick("BTC/USD", f"9000{n}", venue=Venue.SPOT))
            publish(quote=tick("BTC/USD", f"8000{n}", venue=Venue.PAPER))
        assert [(f["stream"], f["data"]["venue"], f["data"]["price"])
                for f in (spot.recv() for _ in range(3))] == [
            ("ticker@spot:BTC/USD", "spot", f"9000{n}") for n in range(3)]
        assert [(f["stream"], f["data"]["venue"], f["data"]["price"])
                for f in (paper.recv() for _ in range(3))] == [
            ("ticker@BTC/USD", "paper", f"8000{n}") for n in range(3)]
        assert paper.quiet() and spot.quiet()


def _max_send_buffer() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        return 4 * 1024 * 1024


def test_a_client_that_stops_reading_neither_delays_others_nor_stays(server_url, settings):
    """One subscriber stops reading: the others still get every tick at once, and the
    stalled one is told it was too slow and closed (4008) once its backlog passes
    STREAMING_MAX_PENDING_FRAMES, instead of holding the server's memory or its hub."""
    settings.STREAMING_MAX_PENDING_FRAMES = 50
    make_market("EUR/USD")
    with ws_client(server_url, stalled=True) as stalled, ws_client(server_url) as reader:
        subscribe(stalled, "ticker@EUR/USD")
        subscribe(reader, "ticker@EUR/USD")
        # Frames of ~4 KB, twice what the server's socket send buffer (up to tcp_wmem's
        # maximum, 4 MiB here) and uvicorn's write buffer can take in.
        padding = "x" * 4_000
        count = max(2_000, 2 * (_max_send_buffer() + 65_536) // 4_000)
        for n in range(count):
            publish(quote=replace(tick(price=f"1.{10000 + n}"), source=padding))
            frame = reader.recv(2)
            assert frame["data"]["price"] == f"1.{10000 + n}"
        frames = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                frames.append(stalled.recv(5))
        assert closed.value.rcvd.code == 4008
        assert frames[-1]["op"] == "error" and frames[-1]["code"] == "slow_consumer"
        data = [f for f in frames if f["op"] == "data"]
        seqs = [f["seq"] for f in data]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # what came, came in order
        assert len(data) < count


def test_a_tick_published_by_another_process_arrives(server_url):
    make_market("EUR/USD")
    publish(quote=tick(price="1.00000"))
    script = ("import django; django.setup()\n"
              "from datetime import UTC, datetime\nfrom decimal import Decimal\n"
              "from apps.marketdata.quotes import Quote\n"
              "from apps.marketdata.streams import next_ticker_seq, send_quote\n"
              "assert send_quote(Quote(venue='paper', symbol='EUR/USD', "
              "price=Decimal('1.23456'), timestamp=datetime.now(UTC), "
              "source='other-process'), seq=next_ticker_seq(venue='paper', "
              "symbol='EUR/USD'))\n")
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="exchange_platform.settings")
    with ws_client(server_url) as client:
        subscribe(client, "ticker@EUR/USD")
        snapshot = client.recv()
        assert snapshot["snapshot"] is True
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True,
                       timeout=60)
        frame = client.recv()
        assert (frame["seq"], frame["data"]["price"], frame["data"]["source"]) == (
            snapshot["seq"] + 1, "1.23456", "other-process")


def test_private_streams_are_isolated_between_users(server_url):
    make_market("EUR/USD")
    alice, bob = UserFactory(), UserFactory()
    tokens = {u.pk: Token.objects.create(user=u).key for u in (alice, bob)}
    with ws_client(server_url, token=tokens[alice.pk]) as a, \
            ws_client(server_url, token=tokens[bob.pk]) as b:
        subscribe(a, "orders", "balances")
        subscribe(b, "orders", "balances")
        order = services.order_place(user_id=bob.pk, venue=Venue.PAPER, symbol="EUR/USD",
                                     side="BUY", type="LIMIT", amount=Decimal("10"),
                                     price=Decimal("1.00000"))
        frames = [b.recv() for _ in range(3)]  # demo grant, order placed, hold
        orders = [f for f in frames if f["stream"] == "orders"]
        assert [(f["data"]["event"], f["data"]["id"], f["seq"]) for f in orders] == [
            ("placed", order.pk, 1)]
        assert [f["seq"] for f in frames if f["stream"] == "balances"] == [1, 2]
        services.order_cancel(user_id=bob.pk, venue=Venue.PAPER, order_id=order.pk)
        assert {(f["stream"], f["seq"]) for f in (b.recv(), b.recv())} == {
            ("orders", 2), ("balances", 3)}
        assert a.quiet()


def test_bad_frames_over_the_wire(server_url, settings):
    settings.STREAMING_MAX_SUBSCRIPTIONS = 2
    for symbol in ("EUR/USD", "GBP/USD", "USD/JPY"):
        make_market(symbol)
    with ws_client(server_url) as client:
        client.ws.send("{oops")
        assert client.recv()["code"] == "invalid_json"
        assert client.request({"op": "dance", "id": 1})["code"] == "unknown_op"
        assert client.request({"op": "subscribe", "id": 2,
                               "streams": ["ticker@XAU/XAG"]})["code"] == "unknown_stream"
        assert client.request({"op": "subscribe", "id": 2, "streams": [
            "ticker@paper:EUR/USD"]})["code"] == "unknown_stream"
        assert client.request({"op": "subscribe", "id": 3,
                               "streams": ["orders"]})["code"] == "unauthorized"
        subscribe(client, "ticker@EUR/USD", "ticker@GBP/USD", id=4)
        assert client.request({"op": "subscribe", "id": 5, "streams": ["ticker@USD/JPY"]})[
            "code"] == "too_many_subscriptions"
        assert client.request({"op": "ping", "id": 6})["op"] == "pong"
        publish(quote=tick("GBP/USD", "1.30000"))
        assert client.recv()["data"]["symbol"] == "GBP/USD"  # still subscribed and served

        client.ws.send(json.dumps({"op": "ping", "id": "x" * 70_000}))
        assert client.recv()["code"] == "message_too_large"
        with pytest.raises(ConnectionClosed) as closed:
            client.recv()
        assert closed.value.rcvd.code == 4009

    with ws_client(server_url) as client:
        client.ws.send(b"\x00binary")
        assert client.recv()["code"] == "binary_frame"
        with pytest.raises(ConnectionClosed) as closed:
            client.recv()
        assert closed.value.rcvd.code == 4003


def test_redis_restarted_mid_stream(server_url, settings, tmp_path):
    """Kill Redis under a live subscription, publish while it is down (logged, never
    raised), restart it on the same port: the server lives on and ticks flow again to the
    same connection within 10 s. Numbers are taken at publish time, so the tick lost
    while Redis was down shows as a gap."""
    redis_server = RedisServer(port=free_port(), workdir=tmp_path)
    redis_server.start()
    try:
        settings.CHANNEL_LAYERS = {"default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis_server.url]}}}
        make_market("EUR/USD")
        with ws_client(server_url) as client:
            subscribe(client, "ticker@EUR/USD")
            publish(quote=tick(price="1.00000"))
            seq = client.recv()["seq"]

            redis_server.kill()
            publish(quote=tick(price="1.00001"))  # lost, and only logged
            assert client.request({"op": "ping", "id": "down"})["op"] == "pong"

            redis_server.start()
            started, frame = time.monotonic(), None
            while frame is None and time.monotonic() - started < 10:
                publish(quote=tick(price="1.00002"))
                try:
                    frame = client.recv(0.25)
                except TimeoutError:
                    continue
            assert frame is not None, "no tick within 10 s of Redis coming back"
            assert frame["data"]["price"] == "1.00002"
            assert frame["seq"] >= seq + 2  # 1.00001 took seq + 1 and was lost

        with ws_client(server_url) as fresh:  # and new connections are served too
            subscribe(fresh, "ticker@EUR/USD")
            assert fresh.recv()["snapshot"] is True
    finally:
        redis_server.kill()


def _ping_of(size: int) -> str:
    """A ping frame of exactly ``size`` bytes (its id far too long to be valid)."""
    head, tail = '{"op":"ping","id":"', '"}'
    return head + "x" * (size - len(head) - len(tail)) + tail


def test_frames_above_the_limit_get_the_error_and_4009_not_a_reset(server_url, settings):
    """The web server's message limit is the protocol's: a frame at it reaches the
    consumer; any larger one, up to past uvicorn's own default (16 MiB, where the
    client used to get a TCP reset), gets message_too_large and close 4009."""
    limit = settings.STREAMING_MAX_FRAME_BYTES
    with ws_client(server_url) as client:
        client.ws.send(_ping_of(limit))
        assert client.recv()["code"] == "bad_request"  # read and parsed: the id is too long
        assert client.request({"op": "ping", "id": 1})["op"] == "pong"
    for size in (limit + 1, 17 * 2**20):
        with ws_client(server_url) as client:
            client.ws.send(_ping_of(size))
            assert client.recv() == {"op": "error", "id": None, "code": "message_too_large",
                                     "message": f"Frames are limited to {limit} bytes."}
            with pytest.raises(ConnectionClosed) as closed:
                client.recv()
            assert closed.value.rcvd is not None, "no close frame: the connection was reset"
            assert closed.value.rcvd.code == 4009


def test_a_forwarded_for_header_does_not_reset_a_throttle_over_the_wire(server_url,
                                                                         monkeypatch):
    """Through the server as scripts/web.sh runs it without FORWARDED_ALLOW_IPS: the
    client is the TCP peer, whatever X-Forwarded-For it sends."""
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "anon", "3/min")
    url = server_url.replace("ws://", "http://").replace("/ws/", "/api/v1/auth/token/")

    def post(headers: dict[str, str]) -> int:
        request = urllib.request.Request(
            url, data=b"{}", method="POST",
            headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    assert [post({}) for _ in range(3)] == [400] * 3
    assert [post({"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(3)] == [429] * 3
