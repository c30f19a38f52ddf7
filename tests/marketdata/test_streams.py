"""Stream names, group names and sending: valid, collision-free, never raising, after
commit only, on one connection per process."""
import asyncio
import logging
import os
import threading

import pytest
import redis
import structlog
from channels.layers import BaseChannelLayer, get_channel_layer
from django.core.cache import cache
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from apps.marketdata import selectors, services, streams
from apps.marketdata.quotes import VENUE_PATTERN
from tests.marketdata.test_services import quote

_layer = BaseChannelLayer()


def decode(escaped: str) -> str:
    out, rest = bytearray(), escaped
    while rest:
        if rest[0] == "_":
            out.append(int(rest[1:3], 16))
            rest = rest[3:]
        else:
            out += rest[0].encode()
            rest = rest[1:]
    return out.decode("utf-8", "surrogatepass")


def decode_ticker_group(name: str) -> tuple[str, str]:
    """The inverse of ticker_group's escaped form (proves it reversible): the venue's
    escape never holds a ``.``, so the first one ends it."""
    assert name.startswith("ticker.")
    venue, _, symbol = name[len("ticker."):].partition(".")
    return decode(venue), decode(symbol)


venues = st.from_regex(VENUE_PATTERN, fullmatch=True)


@given(venues, st.text(max_size=200))
def test_every_ticker_maps_to_a_valid_group_name(venue, symbol):
    name = streams.ticker_group(venue=venue, symbol=symbol)
    assert _layer.require_valid_group_name(name)
    if name.startswith("ticker."):
        assert decode_ticker_group(name) == (venue, symbol)
    else:
        assert name.startswith("tickerh.") and len(name) == len("tickerh.") + 64


@given(venues, st.text(max_size=60), venues, st.text(max_size=60))
def test_distinct_tickers_get_distinct_groups_and_stream_names(venue_a, a, venue_b, b):
    same = (venue_a, a) == (venue_b, b)
    assert (streams.ticker_group(venue=venue_a, symbol=a)
            == streams.ticker_group(venue=venue_b, symbol=b)) == same
    assert (streams.ticker_stream(venue=venue_a, symbol=a)
            == streams.ticker_stream(venue=venue_b, symbol=b)) == same


def test_a_paper_symbol_never_takes_another_venues_stream_name():
    """``ticker@spot:X`` is only ever spot's X: a paper symbol with a ``:`` (no market has
    one, but the names must not depend on that) is qualified like any other venue's."""
    assert streams.ticker_stream(venue="paper", symbol="spot:X") == "ticker@paper:spot:X"
    assert streams.ticker_stream(venue="spot", symbol="X") == "ticker@spot:X"


def test_names_are_readable_for_real_tickers():
    assert streams.ticker_group(venue="paper", symbol="EUR/USD") == "ticker.paper.EUR_2FUSD"
    assert streams.ticker_group(venue="paper", symbol="BRK_B") == "ticker.paper.BRK_5FB"
    assert streams.ticker_group(venue="spot", symbol="AAPL") == "ticker.spot.AAPL"
    assert streams.ticker_group(venue="my_dex", symbol="X") == "ticker.my_5Fdex.X"
    assert streams.user_group(42) == "user.42"
    # The paper venue keeps the names its clients already use; the others are qualified.
    assert streams.ticker_stream(venue="paper", symbol="EUR/USD") == "ticker@EUR/USD"
    assert streams.ticker_stream(venue="spot", symbol="BTC/USDT") == "ticker@spot:BTC/USDT"


@pytest.mark.parametrize("venue", ["", "Spot", "sp.ot", "sp:ot", "s" * 17])
def test_names_refuse_a_malformed_venue(venue):
    """A venue with a ``.`` or ``:`` could pass for another ticker's group or stream."""
    for name in (streams.ticker_group, streams.ticker_stream, streams.next_ticker_seq):
        with pytest.raises(ValueError):
            name(venue=venue, symbol="EUR/USD")


def test_publish_sends_the_quote_to_its_ticker_group(sent, monkeypatch):
    monkeypatch.setattr(services, "_listeners", {})
    services.publish(quote=quote(symbol="EUR/USD"))
    services.publish(quote=quote(symbol="EUR/USD", venue="spot"))
    [(group, message), (spot_group, spot_message)] = sent
    assert group == "ticker.paper.EUR_2FUSD"
    assert message == {"type": "stream.data", "stream": "ticker@EUR/USD",
                       "data": quote(symbol="EUR/USD").to_dict(), "seq": message["seq"]}
    assert message["data"]["venue"] == "paper"
    assert spot_group == "ticker.spot.EUR_2FUSD"
    assert (spot_message["stream"], spot_message["data"]["venue"]) == (
        "ticker@spot:EUR/USD", "spot")
    # The snapshot a subscriber reads carries the number of the live frame.
    [(seq, cached)] = selectors.latest_ticks(venue="paper", symbols=["EUR/USD"]).values()
    assert (seq, cached) == (message["seq"], quote(symbol="EUR/USD"))


def test_ticker_numbers_are_per_ticker_strictly_increasing_by_one(sent, monkeypatch):
    monkeypatch.setattr(services, "_listeners", {})
    for venue, symbol in [("paper", "EUR/USD"), ("paper", "GBP/USD"), ("spot", "EUR/USD"),
                          ("paper", "EUR/USD"), ("spot", "EUR/USD"), ("paper", "EUR/USD"),
                          ("paper", "GBP/USD")]:
        services.publish(quote=quote(symbol=symbol, venue=venue))
    by_stream: dict[str, list[int]] = {}
    for _, message in sent:
        by_stream.setdefault(message["stream"], []).append(message["seq"])
    eur, gbp = by_stream["ticker@EUR/USD"], by_stream["ticker@GBP/USD"]
    spot = by_stream["ticker@spot:EUR/USD"]
    assert eur == [eur[0], eur[0] + 1, eur[0] + 2] and gbp == [gbp[0], gbp[0] + 1]
    assert spot == [spot[0], spot[0] + 1]


def test_a_lost_counter_is_reseeded_above_every_number_handed_out(monkeypatch):
    """If the cache loses the counter (Redis restarted without persistence), numbering
    goes on from the clock: a jump, never a repeat."""
    before = [streams.next_ticker_seq(venue="paper", symbol="EUR/USD") for _ in range(3)]
    cache.delete(streams._seq_key(venue="paper", symbol="EUR/USD"))
    after = streams.next_ticker_seq(venue="paper", symbol="EUR/USD")
    assert before == [before[0], before[0] + 1, before[0] + 2] and after > before[-1]


class BrokenLayer:
    async def group_send(self, group: str, message: dict) -> None:
        raise ConnectionError("Redis is down")


def test_a_failing_channel_layer_breaks_neither_the_cache_nor_the_listeners(
        monkeypatch, caplog):
    monkeypatch.setattr(streams, "get_channel_layer", BrokenLayer)
    heard = []
    monkeypatch.setattr(services, "_listeners", {"paper": [heard.append]})
    with caplog.at_level(logging.ERROR):
        services.publish(quote=quote(price="1.23456"))
    latest = selectors.latest_quote(venue="paper", symbol="EUR/USD")
    assert latest.price == quote(price="1.23456").price
    assert heard == [quote(price="1.23456")]
    assert "stream_send_failed" in caplog.text
    assert streams.send_quote(quote(), seq=1) is False


class HangingLayer:
    async def group_send(self, group: str, message: dict) -> None:
        await asyncio.Event().wait()  # a Redis that accepted the connection and went silent


def test_a_hanging_channel_layer_holds_a_send_for_the_timeout_only(monkeypatch, caplog):
    monkeypatch.setattr(streams, "get_channel_layer", HangingLayer)
    monkeypatch.setattr(streams, "SEND_TIMEOUT_SECONDS", 0.2)
    with caplog.at_level(logging.ERROR):
        assert streams.send_quote(quote(), seq=1) is False
    assert "stream_send_failed" in caplog.text
    monkeypatch.undo()
    assert streams.send_to_group("ticker.X", {"type": "stream.data"}) is True  # loop still serves


class SlowLayer:
    """A layer whose every send is a round trip: records what arrived, in order, and how
    many sends were on the way at once."""

    def __init__(self) -> None:
        self.arrived: list[tuple[str, int]] = []
        self.in_flight = self.most_in_flight = 0

    async def group_send(self, group: str, message: dict) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.005)
        self.in_flight -= 1
        self.arrived.append((group, message["n"]))


def test_one_hand_off_sends_to_many_users_at_once_each_users_events_in_order(monkeypatch):
    layer = SlowLayer()
    monkeypatch.setattr(streams, "get_channel_layer", lambda: layer)
    messages = [(f"user.{n % 40}", {"n": n}) for n in range(200)]
    assert streams.send_to_groups(messages) is True
    assert streams.flush(timeout=10) is True
    assert sorted(layer.arrived) == sorted((group, m["n"]) for group, m in messages)
    for user in range(40):  # each user's in the order given
        mine = [n for group, n in layer.arrived if group == f"user.{user}"]
        assert mine == list(range(user, 200, 40))
    # Side by side (a batch's sends one after another cost a round trip each), bounded.
    assert 1 < layer.most_in_flight <= streams.SEND_GROUPS_AT_ONCE


class GatedLayer:
    """A layer that sends nothing until its gate opens, then records what arrived, in
    order; a message's ``slow`` seconds are spent before it arrives."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.arrived: list[tuple[str, int]] = []

    async def group_send(self, group: str, message: dict) -> None:
        while not self.gate.is_set():
            await asyncio.sleep(0.002)
        await asyncio.sleep(message.get("slow", 0))
        self.arrived.append((group, message["n"]))


def test_user_events_are_handed_off_without_waiting_and_flushed(monkeypatch):
    layer = GatedLayer()
    monkeypatch.setattr(streams, "get_channel_layer", lambda: layer)
    assert streams.send_to_groups([("user.1", {"n": 1}), ("user.2", {"n": 2})]) is True
    assert layer.arrived == []  # returned before the layer sent anything
    assert streams.flush(timeout=0.05) is False  # nothing sent yet: the flush says so
    layer.gate.set()
    assert streams.flush(timeout=10) is True
    assert sorted(layer.arrived) == [("user.1", 1), ("user.2", 2)]


def test_each_users_events_arrive_in_order_across_hand_offs(monkeypatch):
    """Two settlements' events to the same users: the first's are slow to send, the
    second's quick, and still none of the second's overtakes one of the first's."""
    layer = GatedLayer()
    monkeypatch.setattr(streams, "get_channel_layer", lambda: layer)
    first = [(f"user.{n % 5}", {"n": n, "slow": 0.01}) for n in range(20)]
    second = [(f"user.{n % 5}", {"n": n}) for n in range(20, 40)]
    assert streams.send_to_groups(first) is True
    layer.gate.set()
    assert streams.send_to_groups(second) is True
    assert streams.flush(timeout=10) is True
    for user in range(5):
        assert [n for group, n in layer.arrived if group == f"user.{user}"] == list(
            range(user, 40, 5))


def test_hand_offs_made_while_the_loop_is_busy_wake_it_once_and_go_out_in_one_chunk(
        monkeypatch):
    """An order's events come in two hand-offs back to back (its own, its wallet's): the
    loop takes what waits in one wake-up and sends it as one chunk, still in order."""
    layer = SlowLayer()
    monkeypatch.setattr(streams, "get_channel_layer", lambda: layer)
    assert streams.send_to_groups([("user.0", {"n": -1})]) and streams.flush(timeout=10)
    takes, chunks = [], []
    take, send_chunk = streams._send_loop._take, streams._send_chunk
    monkeypatch.setattr(streams._send_loop, "_take", lambda: (takes.append(1), take()))

    async def counted(chunk, results):
        chunks.append(len(chunk))
        await send_chunk(chunk, results)

    monkeypatch.setattr(streams, "_send_chunk", counted)
    busy, release = threading.Event(), threading.Event()
    streams._send_loop._get().call_soon_threadsafe(lambda: (busy.set(), release.wait(10)))
    assert busy.wait(10)  # the loop's thread is held: the hand-offs below wait for it
    for n in range(3):
        assert streams.send_to_groups([("user.0", {"n": 2 * n}), ("user.1", {"n": 2 * n + 1})])
    release.set()
    assert streams.flush(timeout=10) is True
    assert (takes, chunks) == ([1], [6])
    assert [n for group, n in layer.arrived if group == "user.0"] == [-1, 0, 2, 4]
    assert [n for group, n in layer.arrived if group == "user.1"] == [1, 3, 5]


def test_a_hand_off_waits_while_too_many_messages_are_unsent(monkeypatch):
    """Back-pressure: past MAX_PENDING_MESSAGES unsent, a publisher waits for the layer
    instead of queueing without bound."""
    layer = GatedLayer()
    monkeypatch.setattr(streams, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(streams, "MAX_PENDING_MESSAGES", 4)
    assert streams.send_to_groups([(f"user.{n}", {"n": n}) for n in range(4)]) is True
    returned = threading.Event()
    late = threading.Thread(target=lambda: streams.send_to_groups(
        [("user.0", {"n": 4})]) and returned.set())
    late.start()
    assert not returned.wait(0.3)  # four unsent: the fifth waits
    layer.gate.set()
    late.join(10)
    assert returned.is_set() and streams.flush(timeout=10) is True
    assert [n for group, n in layer.arrived if group == "user.0"] == [0, 4]


@pytest.mark.django_db
def test_a_failing_layer_is_logged_never_raised_into_the_committing_work(
        monkeypatch, caplog, django_capture_on_commit_callbacks):
    monkeypatch.setattr(streams, "get_channel_layer", BrokenLayer)
    with caplog.at_level(logging.ERROR), structlog.contextvars.bound_contextvars(
            request_id="failing-layer-1"):
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                streams.publish_user_events(events=[(5, "orders", {"id": 1}),
                                                    (6, "balances", {"currency": "USD"})])
        assert streams.flush(timeout=10) is True
    [failed] = [r.msg for r in caplog.records
                if isinstance(r.msg, dict) and r.msg.get("event") == "stream_send_failed"]
    # Once for the hand-off, with the line of the work that published it.
    assert failed["failed"] == 2 and failed["request_id"] == "failing-layer-1"
    assert "Redis is down" in failed["error"]


def test_a_send_from_async_code_is_refused_not_blocking_its_loop(caplog):
    async def from_a_coroutine() -> bool:
        return streams.send_to_group("ticker.X", {"type": "stream.data"})

    with caplog.at_level(logging.ERROR):
        assert asyncio.run(from_a_coroutine()) is False
    assert "called from async code" in caplog.text


@pytest.fixture
def redis_layer(settings):
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs REDIS_URL (counts the connections Redis accepts)")
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [url]}}}
    return redis.Redis.from_url(url)


def test_sends_from_sync_code_share_one_redis_connection(redis_layer):
    """A publisher process sends every tick over the connection it already has."""
    assert streams.send_quote(quote(), seq=1) is True  # the first send connects
    accepted = redis_layer.info("stats")["total_connections_received"]
    assert all(streams.send_quote(quote(), seq=n) for n in range(2, 52))
    assert redis_layer.info("stats")["total_connections_received"] - accepted <= 1


def test_user_events_reach_a_redis_subscriber_each_users_in_order(redis_layer):
    """On the Redis pub/sub layer a chunk of messages goes out as one pipeline: every message
    still reaches the group's subscriber, each user's in the order handed off."""
    layer = get_channel_layer()
    first = [(f"user.{900 + n % 3}", {"type": "stream.data", "n": n}) for n in range(30)]
    second = [(f"user.{900 + n % 3}", {"type": "stream.data", "n": n}) for n in range(30, 60)]

    async def subscribe_and_receive() -> list[tuple[int, int]]:
        channels = {}
        for user in range(900, 903):
            channels[user] = await layer.new_channel()
            await layer.group_add(f"user.{user}", channels[user])
        handed = await asyncio.to_thread(lambda: streams.send_to_groups(first)
                                         and streams.send_to_groups(second)
                                         and streams.flush(timeout=10))
        assert handed
        return [(user, (await asyncio.wait_for(layer.receive(channel), 5))["n"])
                for user, channel in channels.items() for _ in range(20)]

    received = asyncio.run(subscribe_and_receive())
    for user in range(900, 903):
        assert [n for u, n in received if u == user] == list(range(user - 900, 60, 3))


def test_a_forked_child_sends_on_its_own_loop(settings):
    """A Celery prefork worker is forked from a parent that may have sent already: the
    parent's send loop has no thread in the child, so the child must start its own."""
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "apps.streaming.layers.InProcessChannelLayer"}}
    get_channel_layer()  # built in the parent, as a worker inherits it
    assert streams.send_to_group("ticker.X", {"type": "stream.data"}) is True
    pid = os.fork()
    if pid == 0:  # the child: exit code 0 only if its send went through
        code = 1
        try:
            streams.SEND_TIMEOUT_SECONDS = 2.0  # type: ignore[misc]
            code = 0 if streams.send_to_group("ticker.X", {"type": "stream.data"}) else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.django_db
def test_user_events_are_sent_only_after_commit(sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            streams.publish_user_event(user_id=5, stream="orders", data={"id": 1})
            assert sent == []
    assert sent == [("user.5", {"type": "stream.data", "stream": "orders", "data": {"id": 1}})]


@pytest.mark.django_db
def test_user_events_of_a_rolled_back_transaction_are_never_sent(
        sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            streams.publish_user_event(user_id=5, stream="balances", data={})
            raise RuntimeError("roll back")
    assert callbacks == [] and sent == []


def test_only_user_streams_take_user_events():
    with pytest.raises(ValueError):
        streams.publish_user_event(user_id=1, stream="ticker@EUR/USD", data={})


@pytest.mark.django_db
def test_a_transactions_user_events_go_in_order_in_one_hand_off(
        monkeypatch, django_capture_on_commit_callbacks):
    # A settlement touches hundreds of wallets: one wait for the send loop, not one each.
    hand_offs: list[list] = []
    monkeypatch.setattr(streams, "send_to_groups",
                        lambda messages: hand_offs.append(list(messages)) or True)
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            streams.publish_user_events(events=[(5, "orders", {"id": 1}),
                                                (6, "balances", {"currency": "USD"})])
    assert hand_offs == [[("user.5", {"type": "stream.data", "stream": "orders",
                                      "data": {"id": 1}}),
                          ("user.6", {"type": "stream.data", "stream": "balances",
                                      "data": {"currency": "USD"}})]]
