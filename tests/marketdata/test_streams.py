"""Stream names, group names and sending: valid, collision-free, never raising, after
commit only, on one connection per process."""
import asyncio
import logging
import os

import pytest
import redis
from channels.layers import BaseChannelLayer, get_channel_layer
from django.core.cache import cache
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from apps.marketdata import selectors, services, streams
from tests.marketdata.test_services import quote

_layer = BaseChannelLayer()


def decode_ticker_group(name: str) -> str:
    """The inverse of ticker_group's escaped form (proves it reversible)."""
    assert name.startswith("ticker.")
    out, rest = bytearray(), name[len("ticker."):]
    while rest:
        if rest[0] == "_":
            out.append(int(rest[1:3], 16))
            rest = rest[3:]
        else:
            out += rest[0].encode()
            rest = rest[1:]
    return out.decode("utf-8", "surrogatepass")


@given(st.text(max_size=200))
def test_every_symbol_maps_to_a_valid_group_name(symbol):
    name = streams.ticker_group(symbol)
    assert _layer.require_valid_group_name(name)
    if name.startswith("ticker."):
        assert decode_ticker_group(name) == symbol
    else:
        assert name.startswith("tickerh.") and len(name) == len("tickerh.") + 64


@given(st.text(max_size=60), st.text(max_size=60))
def test_distinct_symbols_get_distinct_groups(a, b):
    assert (streams.ticker_group(a) == streams.ticker_group(b)) == (a == b)


def test_group_names_are_readable_for_real_symbols():
    assert streams.ticker_group("EUR/USD") == "ticker.EUR_2FUSD"
    assert streams.ticker_group("BRK_B") == "ticker.BRK_5FB"
    assert streams.ticker_group("AAPL") == "ticker.AAPL"
    assert streams.user_group(42) == "user.42"
    assert streams.ticker_stream("EUR/USD") == "ticker@EUR/USD"


@pytest.fixture
def sent(monkeypatch):
    """Record what reaches the channel layer instead of sending it."""
    calls: list[tuple[str, dict]] = []
    monkeypatch.setattr(streams, "send_to_group",
                        lambda group, message: calls.append((group, message)) or True)
    return calls


def test_publish_sends_the_quote_to_its_ticker_group(sent, monkeypatch):
    monkeypatch.setattr(services, "_listeners", [])
    services.publish(quote=quote(symbol="EUR/USD"))
    [(group, message)] = sent
    assert group == "ticker.EUR_2FUSD"
    assert message == {"type": "stream.data", "stream": "ticker@EUR/USD",
                       "data": quote(symbol="EUR/USD").to_dict(), "seq": message["seq"]}
    # The snapshot a subscriber reads carries the number of the live frame.
    [(seq, cached)] = selectors.latest_ticks(symbols=["EUR/USD"]).values()
    assert (seq, cached) == (message["seq"], quote(symbol="EUR/USD"))


def test_ticker_numbers_are_per_symbol_strictly_increasing_by_one(sent, monkeypatch):
    monkeypatch.setattr(services, "_listeners", [])
    for symbol in ("EUR/USD", "GBP/USD", "EUR/USD", "EUR/USD", "GBP/USD"):
        services.publish(quote=quote(symbol=symbol))
    by_symbol: dict[str, list[int]] = {}
    for _, message in sent:
        by_symbol.setdefault(message["stream"], []).append(message["seq"])
    eur, gbp = by_symbol["ticker@EUR/USD"], by_symbol["ticker@GBP/USD"]
    assert eur == [eur[0], eur[0] + 1, eur[0] + 2] and gbp == [gbp[0], gbp[0] + 1]


def test_a_lost_counter_is_reseeded_above_every_number_handed_out(monkeypatch):
    """If the cache loses the counter (Redis restarted without persistence), numbering
    goes on from the clock: a jump, never a repeat."""
    before = [streams.next_ticker_seq("EUR/USD") for _ in range(3)]
    cache.delete(streams._seq_key("EUR/USD"))
    after = streams.next_ticker_seq("EUR/USD")
    assert before == [before[0], before[0] + 1, before[0] + 2] and after > before[-1]


class BrokenLayer:
    async def group_send(self, group: str, message: dict) -> None:
        raise ConnectionError("Redis is down")


def test_a_failing_channel_layer_breaks_neither_the_cache_nor_the_listeners(
        monkeypatch, caplog):
    monkeypatch.setattr(streams, "get_channel_layer", BrokenLayer)
    heard = []
    monkeypatch.setattr(services, "_listeners", [heard.append])
    with caplog.at_level(logging.ERROR):
        services.publish(quote=quote(price="1.23456"))
    assert selectors.latest_quote(symbol="EUR/USD").price == quote(price="1.23456").price
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
