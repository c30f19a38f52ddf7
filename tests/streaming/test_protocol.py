"""The protocol's pure functions: parsing never raises anything but ProtocolError,
subscription plans respect the cap and the private-stream rule, sequences count by one."""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.core.identifiers import MARKET_SYMBOL
from apps.marketdata import streams as names
from apps.marketdata.quotes import VENUE_PATTERN
from apps.streaming import protocol
from apps.streaming.protocol import ProtocolError, Request, Stream, Subscriptions

LIMITS = {"max_bytes": 64 * 1024, "max_streams": 50}


def parse(frame: object) -> Request:
    return protocol.parse_request(json.dumps(frame), **LIMITS)


def test_a_subscribe_request_parses_and_dedupes_streams():
    request = parse({"op": "subscribe", "id": "r1",
                     "streams": ["ticker@EUR/USD", "orders", "ticker@EUR/USD"]})
    assert request == Request(op="subscribe", id="r1", streams=(
        Stream(name="ticker@EUR/USD", venue="paper", symbol="EUR/USD"), Stream(name="orders")))
    assert [s.private for s in request.streams] == [False, True]


@pytest.mark.parametrize("frame_id", [None, 0, -5, 2**53 - 1, "", "x" * 64])
def test_ids_are_echoable_strings_or_safe_integers(frame_id):
    assert parse({"op": "ping", "id": frame_id}).id == frame_id


@pytest.mark.parametrize("frame_id", [True, 2**53, 1.5, "x" * 65, [1], {"a": 1}])
def test_other_ids_are_bad_requests(frame_id):
    with pytest.raises(ProtocolError) as error:
        parse({"op": "ping", "id": frame_id})
    assert error.value.code == "bad_request"


def test_a_request_naming_more_streams_than_the_cap_is_refused_before_parsing_them():
    with pytest.raises(ProtocolError) as error:
        parse({"op": "subscribe", "id": 1, "streams": ["??"] * 51})
    assert (error.value.code, error.value.id) == ("too_many_subscriptions", 1)


def test_the_size_limit_counts_utf8_bytes():
    frame = '{"op":"ping","id":"' + "€" * 30 + '"}'  # 51 characters, 111 bytes
    assert protocol.parse_request(frame, max_bytes=111, max_streams=1).op == "ping"
    with pytest.raises(ProtocolError) as error:
        protocol.parse_request(frame, max_bytes=110, max_streams=1)
    assert (error.value.code, error.value.close_code) == ("message_too_large", 4009)


def test_deeply_nested_json_is_invalid_not_a_crash():
    with pytest.raises(ProtocolError) as error:
        protocol.parse_request("[" * 100_000, max_bytes=1_000_000, max_streams=1)
    assert error.value.code == "invalid_json"


@given(st.text(max_size=300))
def test_any_text_parses_or_raises_protocol_error(text):
    try:
        request = protocol.parse_request(text, **LIMITS)
    except ProtocolError as error:
        assert error.code in {"invalid_json", "bad_request", "unknown_op", "unknown_stream",
                              "too_many_subscriptions", "message_too_large"}
    else:
        assert request.op in {"subscribe", "unsubscribe", "ping"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)


@given(st.fixed_dictionaries({"op": st.sampled_from(["subscribe", "unsubscribe", "ping"])},
                             optional={"id": json_values, "streams": json_values}))
def test_any_json_request_parses_or_raises_protocol_error(frame):
    try:
        request = parse(frame)
    except ProtocolError as error:
        assert error.frame()["op"] == "error"
    else:
        assert all(isinstance(s, Stream) for s in request.streams)


@given(st.from_regex(VENUE_PATTERN, fullmatch=True),
       st.from_regex(MARKET_SYMBOL, fullmatch=True).filter(lambda s: len(s) <= 32))
def test_every_canonical_ticker_is_a_stream_with_a_valid_group(venue, symbol):
    name = names.ticker_stream(venue=venue, symbol=symbol)
    stream = protocol.parse_stream(name)
    assert (stream.name, stream.venue, stream.symbol) == (name, venue, symbol)
    assert not stream.private
    assert stream.group(user_id=None) == names.ticker_group(venue=venue, symbol=symbol)


def test_the_paper_venue_keeps_its_names_and_others_are_qualified():
    assert protocol.parse_stream("ticker@EUR/USD") == Stream(
        name="ticker@EUR/USD", venue="paper", symbol="EUR/USD")
    assert protocol.parse_stream("ticker@spot:BTC/USDT") == Stream(
        name="ticker@spot:BTC/USDT", venue="spot", symbol="BTC/USDT")


def test_a_paper_ticker_has_one_name_only():
    """``ticker@paper:EUR/USD`` would be a second name for ``ticker@EUR/USD``: refused,
    naming the one to use, so a client never matches frames against a name it never gets."""
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_stream("ticker@paper:EUR/USD", id=4)
    frame = caught.value.frame()
    assert (frame["code"], frame["id"]) == ("unknown_stream", 4)
    assert "ticker@EUR/USD" in frame["message"]


@pytest.mark.parametrize("symbol", [
    "eur/usd", "EUR/usd", "\uff25UR/USD", "\u00c9UR/USD", "\u200bEUR/USD", "\u200fEUR/USD",
    "EUR/USD\u200b", "EUR /USD", "EUR//USD", "/USD", "A" * 33, "",
])
@pytest.mark.parametrize("venue", ["paper", "spot"])
def test_a_look_alike_or_malformed_symbol_is_an_unknown_stream(venue, symbol):
    """Only the symbol a market row holds names its ticker: a look-alike subscribes to
    nothing, and says so, instead of to a stream that never gets data."""
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_stream(names.ticker_stream(venue=venue, symbol=symbol))
    assert caught.value.frame()["code"] == "unknown_stream"


@pytest.mark.parametrize("name", [
    "ticker@SPOT:BTC/USDT", "ticker@Spot:BTC/USDT", "ticker@:BTC/USDT", "ticker@1x:BTC/USDT",
    "ticker@sp ot:BTC/USDT", "ticker@sp.ot:BTC/USDT", "ticker@spot:", "ticker@spot::BTC/USDT",
    "ticker@spot:spot:BTC/USDT", "ticker@sp\u043et:BTC/USDT", "ticker@" + "s" * 17 + ":BTC",
    "ticker@spot\u200b:BTC/USDT",
])
def test_a_malformed_venue_is_an_unknown_stream(name):
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_stream(name)
    assert caught.value.frame()["code"] == "unknown_stream"


def test_private_streams_map_to_the_users_group():
    assert Stream(name="orders").group(user_id=7) == Stream(name="balances").group(user_id=7)
    with pytest.raises(ValueError):
        Stream(name="orders").group(user_id=None)


def request(op: str, *stream_names: str) -> Request:
    return Request(op=op, id=1, streams=tuple(protocol.parse_stream(n) for n in stream_names))


def test_plans_join_each_private_group_once_and_leave_it_with_its_last_stream():
    """Tickers go through the process's fan-out hub: the connection joins only its
    user's group."""
    subs = Subscriptions(user_id=7, limit=10)
    plan = subs.plan_subscribe(request("subscribe", "orders", "balances", "ticker@A"))
    assert plan.join == ("user.7",)
    assert [s.name for s in plan.streams] == ["orders", "balances", "ticker@A"]
    subs.apply(plan, subscribe=True)
    assert subs.plan_subscribe(request("subscribe", "orders")).join == ()

    plan = subs.plan_unsubscribe(request("unsubscribe", "orders", "ticker@B"))
    assert [s.name for s in plan.streams] == ["orders"] and plan.leave == ()
    subs.apply(plan, subscribe=False)
    plan = subs.plan_unsubscribe(request("unsubscribe", "balances"))
    assert plan.leave == ("user.7",)
    subs.apply(plan, subscribe=False)
    assert subs.groups() == set()
    assert [s.name for s in subs.public()] == ["ticker@A"]
    assert "orders" not in subs and "ticker@A" in subs


def test_anonymous_connections_cannot_plan_private_streams():
    with pytest.raises(ProtocolError) as error:
        Subscriptions(user_id=None, limit=10).plan_subscribe(
            request("subscribe", "ticker@A", "balances"))
    assert error.value.code == "unauthorized"


@given(st.lists(st.lists(st.sampled_from([f"ticker@S{i}" for i in range(8)]), min_size=1,
                         max_size=5), max_size=20),
       st.integers(min_value=1, max_value=6))
def test_the_cap_always_holds(batches, limit):
    subs = Subscriptions(user_id=None, limit=limit)
    for index, batch in enumerate(batches):
        op = "subscribe" if index % 3 else "unsubscribe"
        req = request(op, *dict.fromkeys(batch))
        try:
            plan = (subs.plan_subscribe if op == "subscribe" else subs.plan_unsubscribe)(req)
        except ProtocolError as error:
            assert error.code == "too_many_subscriptions"
        else:
            subs.apply(plan, subscribe=op == "subscribe")
        assert len(subs.active) <= limit


def test_sequence_numbers_count_per_stream_from_one():
    subs = Subscriptions(user_id=None, limit=5)
    assert [subs.next_seq("a"), subs.next_seq("a"), subs.next_seq("b"),
            subs.next_seq("a")] == [1, 2, 1, 3]


def test_frames():
    assert protocol.ack_frame(op="unsubscribe", id=3, streams=["orders"]) == {
        "op": "unsubscribed", "id": 3, "streams": ["orders"]}
    assert protocol.data_frame(stream="orders", seq=2, data={}, time_ms=5) == {
        "op": "data", "stream": "orders", "seq": 2, "time": 5, "data": {}}
    assert protocol.data_frame(stream="s", seq=1, data={}, time_ms=5, snapshot=True)["snapshot"]
    assert json.loads(protocol.encode(protocol.heartbeat_frame(time_ms=9))) == {
        "op": "heartbeat", "time": 9}
